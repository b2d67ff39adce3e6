"""Benchmark: the whole `full` build over N real tracks against the local web.

Deezer calls, preview downloads and YouTube recoveries run as one pipeline; the
local web answers with realistic latency under the real quota's shape scaled in
time (50 calls per 0.5 s instead of per 5 s). A quarter of the tracks have no
preview (as measured on the real service), mostly the ones the YouTube id map
covers. The build runs in a child process (`load_dataset`, as a user runs it) so
its peak RSS is its own. Prints JSON.

    python benchmarks/rebuild.py --tracks 2000                  # no YouTube limits, a budget that does not bind
    python benchmarks/rebuild.py --tracks 2000 --youtube-limits --hour 36
                                 # YouTube's limits on, its hour 100x shorter, the default budget at that scale
    python benchmarks/rebuild.py --tracks 2000 --window 5 --youtube-limits --hour 240 --session-videos 30 \
                                 --address-pages 1000000 --budget-over-allowed 2
                                 # sessions that bind: the build's 515 videos take over 2 of their hours

YouTube's figures: the videos (watch pages) and searches the build spent, by source and
for the calibration, per recovered clip and per YouTube track; the floor its budget sets
(what it spent over what the budget allows) beside the Deezer quota's, and with the limits
on, the floor the local web's own limits set and what YouTube refused.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import LATENCY, add_youtube_arguments, rebuild_scenario, requests_per_service, save_manifest, youtube_settings
from deezer_tags.testing import LocalWeb
from deezer_tags.youtube.budget import parse_budget

CHILD = """
import sys, deezer_tags
calibration = None if sys.argv[4] == "default" else int(sys.argv[4])
d = deezer_tags.load_dataset("full", cache_dir=sys.argv[1], max_tracks=int(sys.argv[2]), youtube_workers=int(sys.argv[3]),
                             calibration_tracks=calibration, youtube_budget=sys.argv[5])
print(sum(len(s) for s in d.values()))
"""
PAGE = re.compile(r"^/youtube/(watch|results|music/search)$")
MEDIA = re.compile(r"^/media/videoplayback/id/([A-Za-z0-9_-]{11})/itag/(\d+)$")
SECTION_SECONDS = 30.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=2000)
    parser.add_argument("--quota", type=int, default=50)
    parser.add_argument("--window", type=float, default=0.5)
    parser.add_argument("--latency", default="0.06,0.15", help="min,max seconds per API call")
    parser.add_argument("--keep", help="build into this folder and keep it (default: a temp dir)")
    parser.add_argument("--save-manifest", metavar="FILE",
                        help="copy the finished build's manifest here (a reference for reliability.py)")
    add_youtube_arguments(parser)
    parser.add_argument("--calibration-tracks", default="default",
                        help="the builder's calibration sample (default: its default, 1 %% of the tracks "
                             "with a preview; 0: none)")
    args = parser.parse_args()
    latency = tuple(float(x) for x in args.latency.split(","))


    scenario = rebuild_scenario()
    api_latency = {**LATENCY, "/deezer/": latency}
    cache_dir = args.keep or tempfile.mkdtemp(prefix="bench-rebuild-")
    limits, budget, allowed = youtube_settings(args)
    with LocalWeb(scenario, quota=args.quota, window=args.window, latency=api_latency, youtube_limits=limits) as web:
        env = {**os.environ, **web.env(), "DEEZER_TAGS_QUOTA": f"{args.quota}/{args.window}"}
        started = time.monotonic()
        child = subprocess.run(
            [sys.executable, "-c", CHILD, cache_dir, str(args.tracks),
             str(args.youtube_workers), str(args.calibration_tracks), budget],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=True,
        )
        wall = time.monotonic() - started
        log = list(web.requests)
        quota_rejections, max_in_window = web.quota_rejections, web.max_api_calls_in_window()
        refusals = {"try_again_later": web.try_again_later_answers, "bot_check": web.bot_check_answers,
                    "sessions": web.youtube_sessions}

    report = json.loads((Path(cache_dir) / "deezer_tags" / "build_report.json").read_text())
    manifest = Path(cache_dir) / "deezer_tags" / "manifest.sqlite"
    if args.save_manifest:
        save_manifest(manifest, Path(args.save_manifest))
    sections = youtube_sections(manifest)
    calibrated = calibrated_tracks(manifest)
    spending = youtube_spending(manifest)
    if not args.keep:
        shutil.rmtree(cache_dir, ignore_errors=True)  # a full-scale build is ~20 GB of clips
    api = [r.started for r in log if r.path.startswith("/deezer/")]
    first_clip = min(r.finished for r in log if r.path.startswith("/cdn/") and r.status == 200)
    media = media_figures(web, log, sections)
    recovered = report["audio"]["with_audio"]["youtube"]
    ceiling = args.quota / args.window
    quota_floor = args.tracks / ceiling
    youtube = youtube_figures(log, spending, parse_budget(budget), recovered, limits, allowed)
    larger_floor = max(quota_floor, youtube["budget_floor_s"])
    figures = {
        "tracks": args.tracks,
        "youtube_workers": args.youtube_workers,
        "examples": int(child.stdout.split()[-1]),
        "quota": f"{args.quota} calls / {args.window} s",
        "api_calls": len(api),
        "quota_rejections": quota_rejections,
        "max_calls_in_any_window": max_in_window,
        "achieved_over_ceiling": round((len(api) - 1) / (max(api) - min(api)) / ceiling, 4),
        "wall_s": round(wall, 1),
        "quota_floor_s": round(args.tracks / ceiling, 1),
        "wall_over_floor": round(wall / (args.tracks / ceiling), 3),
        "youtube_budget": budget,
        "youtube": youtube,
        "wall_over_larger_floor": round(wall / larger_floor, 3),
        **({"youtube_refusals": refusals,
            "wall_over_local_web_floor": round(wall / max(quota_floor, youtube["local_web_floor_s"]), 3)}
           if limits else {}),
        "first_clip_s": round(first_clip - started, 2),
        "timeline_s": timeline(log, sections, started),
        "audio": report["audio"],
        "youtube_recovered": recovered,
        **media,
        "preview_bytes": report["this_run"]["bytes_fetched"]["deezer_preview"],
        **calibration_figures(report, wall, args.tracks / ceiling, calibrated),
        "requests_per_service": requests_per_service(log),
        "builder_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }
    print(json.dumps(figures, indent=2))


def youtube_spending(manifest: Path) -> dict:
    """What the evidence says the YouTube work spent: per source, the searches asked and the
    videos resolved, for the dataset's YouTube tracks and for the calibration apart."""
    def add(into: dict, evidence: dict | None) -> None:
        if not evidence:
            return
        into["tracks"] += 1
        for source in evidence.get("queries") or {}:
            into["searches"][source] = into["searches"].get(source, 0) + 1
        for candidate in evidence.get("candidates") or []:
            resolved = candidate.get("resolved") or 0
            if resolved:
                source = candidate.get("source")
                into["videos"][source] = into["videos"].get(source, 0) + resolved

    dataset = {"tracks": 0, "searches": {}, "videos": {}}
    calibration = {"tracks": 0, "searches": {}, "videos": {}}
    with sqlite3.connect(f"file:{manifest}?mode=ro", uri=True) as db:
        for (evidence,) in db.execute("SELECT match_evidence FROM tracks WHERE preview_status = 'none' "
                                      "AND youtube_status IN ('ok', 'none', 'failed')"):
            add(dataset, json.loads(evidence) if evidence else None)
        for (evidence,) in db.execute("SELECT evidence FROM calibration"):
            add(calibration, json.loads(evidence) if evidence else None)
    return {"dataset": dataset, "calibration": calibration}


def youtube_figures(log: list, spending: dict, budget, recovered: int, limits, allowed: int | None) -> dict:
    """The YouTube pages the build asked for (the local web's log), what they were spent on
    (the evidence), and the floors: what was spent over what the budget allows, and over what
    the local web's limits allow."""
    pages = [m.group(1) for r in log if (m := PAGE.match(r.path))]
    videos, searches = pages.count("watch"), len(pages) - pages.count("watch")
    dataset, calibration = spending["dataset"], spending["calibration"]
    spent_on_calibration = sum(calibration["videos"].values()) + sum(calibration["searches"].values())
    spent_in_all = sum(dataset["videos"].values()) + sum(dataset["searches"].values()) + spent_on_calibration
    figures = {
        "videos": videos,
        "searches": searches,
        "youtube_tracks": dataset["tracks"],
        "recovered_clips": recovered,
        "videos_by_source": dataset["videos"],
        "searches_by_source": dataset["searches"],
        "video_resolutions_per_recovered_clip": round(sum(dataset["videos"].values()) / max(recovered, 1), 3),
        "searches_per_youtube_track": round(sum(dataset["searches"].values()) / max(dataset["tracks"], 1), 3),
        "calibration": calibration,
        "calibration_share_of_spending": round(spent_on_calibration / max(spent_in_all, 1), 4),
        "budget_floor_s": round(budget.window * max(videos / budget.videos, searches / budget.searches), 1),
    }
    if limits is not None:
        figures["local_web_floor_s"] = round(limits.hour * max(videos / allowed, len(pages) / limits.address_pages), 1)
    return figures


def calibration_figures(report: dict, wall: float, floor: float, calibrated: int) -> dict:
    """The calibration's time and bytes, apart from the dataset's: most of it runs beside the
    build, the rest after it (``after_build_s``, the part that adds to the wall). Calibrated
    beyond the sample: the speculation's misses, work that is kept but not counted."""
    calibration = report.get("calibration")
    if not calibration:
        return {"calibration_tracks": 0}
    after = calibration["this_run"]["after_build_s"]
    return {
        "calibration_tracks": calibration["tracks"],
        "calibration_after_build_s": after,
        "calibration_after_build_tracks": calibration["this_run"]["after_build_tracks"],
        "calibrated_beyond_sample": calibrated - calibration["tracks"],
        "calibration_after_build_over_wall": round(after / wall, 4),
        "wall_over_floor_without_calibration_tail": round((wall - after) / floor, 3),
        "calibration_media_bytes": calibration["bytes_fetched"],
        "calibration_precision": calibration["precision"],
    }


def timeline(log: list, sections: dict[str, list[float]], started: float) -> dict:
    """When, from the build's start, the Deezer calls began and ended and the last dataset
    YouTube clip and the last calibration read finished: the wall past the calls is the tail."""
    def last(requests) -> float | None:
        ends = [r.finished for r in requests]
        return round(max(ends) - started, 1) if ends else None
    api = [r for r in log if r.path.startswith("/deezer/")]
    media = [(m.group(1), r) for r in log if (m := MEDIA.match(r.path))]
    return {
        "first_call": round(min(r.started for r in api) - started, 1),
        "last_call": last(api),
        "last_youtube_clip": last(r for video, r in media if video in sections),
        "last_calibration_read": last(r for video, r in media if video not in sections),
    }


def calibrated_tracks(manifest: Path) -> int:
    with sqlite3.connect(f"file:{manifest}?mode=ro", uri=True) as db:
        return db.execute("SELECT count(*) FROM calibration").fetchone()[0]


def youtube_sections(manifest: Path) -> dict[str, list[float]]:
    """The section start of each YouTube clip, by video."""
    starts: dict[str, list[float]] = {}
    with sqlite3.connect(f"file:{manifest}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT youtube_video_id, match_evidence FROM tracks "
                          "WHERE audio_source = 'youtube' AND youtube_video_id IS NOT NULL")
        for video_id, evidence in rows:
            starts.setdefault(video_id, []).append(float(json.loads(evidence)["section_start"]))
    return starts


def media_figures(web: LocalWeb, log: list, sections: dict[str, list[float]]) -> dict:
    """What the YouTube clips cost the media host, against what their sections are in the
    files: the bytes of the 30 s (packets and their fragment or cluster headers) plus the
    file's head (init segment and index), which ffmpeg must read first."""
    sent: dict[tuple[str, int], int] = {}
    asked: dict[tuple[str, int], int] = {}
    for r in log:
        if m := MEDIA.match(r.path):
            key = (m.group(1), int(m.group(2)))
            sent[key] = sent.get(key, 0) + r.bytes_sent
            asked[key] = asked.get(key, 0) + 1
    needed = head = clips = 0
    by_itag: dict[int, int] = {}
    for (video_id, itag) in list(sent):
        if video_id not in sections:  # a calibration's whole-stream read: counted apart (calibration_*)
            del sent[(video_id, itag)], asked[(video_id, itag)]
            continue
        muxed = web.media_file(video_id, itag)
        for start in sections.get(video_id, []):
            clips += 1
            needed += muxed.section_bytes(start, SECTION_SECONDS)
            head += muxed.index_range[1] + 1
            by_itag[itag] = by_itag.get(itag, 0) + 1
    total = sum(sent.values())
    return {
        "youtube_clips_fetched": clips,
        "youtube_clips_by_itag": by_itag,
        "media_bytes_per_clip": round(total / max(clips, 1)),
        "media_requests_per_clip": round(sum(asked.values()) / max(clips, 1), 2),
        "media_bytes_over_section_bytes": round(total / max(needed, 1), 4),
        "media_bytes_over_section_plus_head": round(total / max(needed + head, 1), 4),
        "media_bytes_beyond_section_and_head_over_section": round((total - needed - head) / max(needed, 1), 4),
    }


if __name__ == "__main__":
    main()
