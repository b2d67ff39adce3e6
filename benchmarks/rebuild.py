"""Benchmark: the whole `full` build over N real tracks against the local web.

Deezer calls, preview downloads and YouTube recoveries run as one pipeline; the
local web answers with realistic latency under the real quota's shape scaled in
time (50 calls per 0.5 s instead of per 5 s). A quarter of the tracks have no
preview (as measured on the real service), mostly the ones the YouTube id map
covers. The build runs in a child process (`load_dataset`, as a user runs it) so
its peak RSS is its own. Prints JSON.

    python benchmarks/rebuild.py --tracks 2000
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import LATENCY, rebuild_scenario, requests_per_service, save_manifest
from deezer_tags.testing import LocalWeb

CHILD = """
import sys, datasets
d = datasets.load_dataset(sys.argv[1], "full", cache_dir=sys.argv[2], trust_remote_code=True,
                          max_tracks=int(sys.argv[3]), youtube_workers=int(sys.argv[4]))
print(sum(len(s) for s in d.values()))
"""
MEDIA = re.compile(r"^/media/([A-Za-z0-9_-]{11})\.mp3$")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=2000)
    parser.add_argument("--quota", type=int, default=50)
    parser.add_argument("--window", type=float, default=0.5)
    parser.add_argument("--latency", default="0.06,0.15", help="min,max seconds per API call")
    parser.add_argument("--keep", help="build into this folder and keep it (default: a temp dir)")
    parser.add_argument("--save-manifest", metavar="FILE",
                        help="copy the finished build's manifest here (a reference for reliability.py)")
    parser.add_argument("--youtube-workers", type=int, default=2,
                        help="the builder's default is 2; reliability.py's campaigns use 6 (time is scaled 10x)")
    args = parser.parse_args()
    latency = tuple(float(x) for x in args.latency.split(","))

    import deezer_contextual_tags

    scenario = rebuild_scenario()
    api_latency = {**LATENCY, "/deezer/": latency}
    cache_dir = args.keep or tempfile.mkdtemp(prefix="bench-rebuild-")
    with LocalWeb(scenario, quota=args.quota, window=args.window, latency=api_latency) as web:
        env = {**os.environ, **web.env(), "DEEZER_TAGS_QUOTA": f"{args.quota}/{args.window}"}
        started = time.monotonic()
        child = subprocess.run(
            [sys.executable, "-c", CHILD, deezer_contextual_tags.__file__, cache_dir, str(args.tracks),
             str(args.youtube_workers)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=True,
        )
        wall = time.monotonic() - started
        log = list(web.requests)
        quota_rejections, max_in_window = web.quota_rejections, web.max_api_calls_in_window()

    report = json.loads((Path(cache_dir) / "deezer_tags" / "build_report.json").read_text())
    if args.save_manifest:
        save_manifest(Path(cache_dir) / "deezer_tags" / "manifest.sqlite", Path(args.save_manifest))
    if not args.keep:
        shutil.rmtree(cache_dir, ignore_errors=True)  # a full-scale build is ~20 GB of clips
    api = [r.started for r in log if r.path.startswith("/deezer/")]
    first_clip = min(r.finished for r in log if r.path.startswith("/cdn/") and r.status == 200)
    media_bytes: dict[str, int] = {}
    for r in log:
        if m := MEDIA.match(r.path):
            media_bytes[m.group(1)] = media_bytes.get(m.group(1), 0) + r.bytes_sent
    full_media = sum(scenario.videos[v].duration * 16000 for v in media_bytes)  # 128 kbps files
    recovered = report["audio"]["with_audio"]["youtube"]
    ceiling = args.quota / args.window
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
        "first_clip_s": round(first_clip - started, 2),
        "audio": report["audio"],
        "youtube_recovered": recovered,
        "youtube_media_bytes_per_recovered_track": round(sum(media_bytes.values()) / max(recovered, 1)),
        "youtube_media_bytes_over_full_size": round(sum(media_bytes.values()) / max(full_media, 1), 4),
        "preview_bytes": report["this_run"]["bytes_fetched"]["deezer_preview"],
        "requests_per_service": requests_per_service(log),
        "builder_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
