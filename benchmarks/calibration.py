"""Benchmark: the YouTube calibration on the local web, where the truth is known.

Builds `full` for N tracks with a preview whose id map video carries their song: the master
for most, a live take (same title and length, another recording) for a share of them, and
calibrates every one. Prints JSON: the acoustic scores of the preview in the chosen video, by
what the video truly is (the master, a live take), the scores of previews against other
songs' videos, how many verdicts the threshold gets wrong, and what calibrating a track
costs (seconds of the calibration phase and media bytes per track). The README's threshold
and overhead figures come from here.

    python benchmarks/calibration.py --tracks 300
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import statistics
import tempfile
from pathlib import Path

import deezer_tags
from common import UNBINDING_BUDGET
from deezer_tags import acoustic
from deezer_tags.ffmpeg import ffmpeg_exe
from deezer_tags.testing import LocalWeb, Scenario, media
from deezer_tags.testing.scenario import video_id_of

# The full build's quota floor at the real quota: 49,929 calls at 10 per second.
FULL_BUILD_FLOOR_S = 49_929 / 10
FULL_BUILD_SAMPLE = 370  # the default sample of a full build: 1 % of ~37,000 tracks with a preview


def own_video_tracks(scenario: Scenario, youtube_map: dict) -> list[int]:
    """Tracks whose map video carries their own song under a title the matcher accepts."""
    found = []
    for key, entry in youtube_map.items():
        video = scenario.videos.get(video_id_of(entry.get("url", "")) or "")
        track = scenario.tracks[int(key)] if int(key) in scenario.tracks else None
        if (video and track and video.track_id == track.id and not video.wrong
                and video.title.casefold().startswith(f"{track.artist_name} - {track.title}".casefold())):
            found.append(track.id)
    return found


def spread(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"n": len(ordered), "min": ordered[0], "p05": pick(0.05), "median": statistics.median(ordered),
            "p95": pick(0.95), "max": ordered[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=300)
    parser.add_argument("--live-share", type=float, default=0.3, help="share of map videos that are live takes")
    parser.add_argument("--other-pairs", type=int, default=100, help="previews scored against other songs' videos")
    parser.add_argument("--youtube-workers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()

    whole = Scenario.from_public_data(seed=args.seed, live_take_fraction=args.live_share)
    youtube_map = json.loads(whole.files["youtube_map"])
    ids = sorted(own_video_tracks(whole, youtube_map)[:args.tracks])
    scenario = Scenario.from_public_data(track_ids=ids, seed=args.seed, live_take_fraction=args.live_share)
    video_of = {int(k): video_id_of(e["url"]) for k, e in youtube_map.items() if int(k) in set(ids)}
    cache_dir = Path(tempfile.mkdtemp(prefix="bench-calibration-"))
    try:
        with LocalWeb(scenario, quota=50, window=5.0) as web:
            deezer_tags.load_dataset("full", cache_dir=str(cache_dir), **web.config_kwargs(), quota_calls=50,
                                     quota_window=5.0, track_ids=ids, calibration_tracks=len(ids),
                                     youtube_workers=args.youtube_workers, youtube_budget=UNBINDING_BUDGET)
            work = cache_dir / "deezer_tags"
            report = json.loads((work / "build_report.json").read_text())
            with sqlite3.connect(work / "manifest.sqlite") as db:
                rows = db.execute("SELECT track_id, status, score, video_id FROM calibration").fetchall()
                worker_s, fetched = db.execute("SELECT SUM(seconds), SUM(bytes_fetched) FROM calibration").fetchone()
                previews = dict(db.execute("SELECT track_id, audio_path FROM tracks WHERE audio_source = 'deezer_preview'"))
            by_truth: dict[str, list[float]] = {"master": [], "live": []}
            wrong = 0
            for track_id, status, score, video_id in rows:
                if score is None:
                    continue
                truth = "live" if video_id in scenario.live_take_ids else "master"
                by_truth[truth].append(score)
                wrong += (status == "same") != (truth == "master")
            # Other songs: each preview against the best format of another track's video.
            rng = random.Random(args.seed)
            other: list[float] = []
            exe = ffmpeg_exe()
            for _ in range(args.other_pairs):
                mine, theirs = rng.sample(ids, 2)
                video = video_of[theirs]
                itag = media.formats_of(video, scenario.seed)[0].itag
                path = cache_dir / f"other.{itag}"
                path.write_bytes(web.media_file(video, itag).data)
                score = acoustic.compare(acoustic.decode(work / previews[mine], exe=exe),
                                         acoustic.decode(path, exe=exe)).score
                other.append(score)
                wrong += score >= acoustic.SAME_RECORDING
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)

    calibration = report["calibration"]
    per_track = worker_s / max(len(rows), 1)
    figures = {
        "tracks": len(ids),
        "threshold": acoustic.SAME_RECORDING,
        "scores": {"master": spread(by_truth["master"]), "live_take": spread(by_truth["live"]),
                   "another_song": spread(other)},
        "wrong_verdicts": wrong,
        "precision": calibration["precision"],
        "true_precision": round(len(by_truth["master"]) / max(len(by_truth["master"]) + len(by_truth["live"]), 1), 4),
        "calibration_after_build_s": calibration["this_run"]["after_build_s"],
        # Worker-seconds per calibrated track (wall time of one calibration on a busy machine).
        "calibration_worker_s_per_track": round(per_track, 3),
        "media_bytes_per_track": round(fetched / max(len(rows), 1)),
        # A projection, not a measurement: the share of one worker's time the default sample
        # of a full build takes, one track after the other, against the full build's quota floor.
        "projected_one_worker_busy_share_of_full_build": round(FULL_BUILD_SAMPLE * per_track / FULL_BUILD_FLOOR_S, 4),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
