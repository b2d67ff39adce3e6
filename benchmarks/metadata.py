"""Benchmark: the `metadata` config over N real tracks against the local web.

The local web answers with realistic latency (60-150 ms a call) under the real
quota's shape scaled in time (50 calls per 0.5 s instead of per 5 s), so a
49,929-track run takes minutes instead of 83. The build runs in a child process
(`load_dataset`, as a user runs it) so its peak RSS is its own. Prints JSON.

    python benchmarks/metadata.py --tracks 49929
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from deezer_tags.testing import LocalWeb, Scenario

CHILD = """
import sys, deezer_tags
d = deezer_tags.load_dataset("metadata", cache_dir=sys.argv[1], max_tracks=int(sys.argv[2]), workers=int(sys.argv[3]))
print(sum(len(s) for s in d.values()))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=2000)
    parser.add_argument("--quota", type=int, default=50)
    parser.add_argument("--window", type=float, default=0.5)
    parser.add_argument("--latency", default="0.06,0.15", help="min,max seconds per API call")
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    latency = tuple(float(x) for x in args.latency.split(","))


    scenario = Scenario.from_public_data(no_data_fraction=0.01, no_preview_fraction=0.25, seed=0)
    with LocalWeb(scenario, quota=args.quota, window=args.window, latency=latency) as web, \
            tempfile.TemporaryDirectory(prefix="bench-metadata-") as cache_dir:
        env = {**os.environ, **web.env(), "DEEZER_TAGS_QUOTA": f"{args.quota}/{args.window}"}
        started = time.monotonic()
        child = subprocess.run(
            [sys.executable, "-c", CHILD, cache_dir,
             str(args.tracks), str(args.workers)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=True,
        )
        wall = time.monotonic() - started
        api = [r for r in web.requests if r.path.startswith("/deezer/")]
        first, last = min(r.started for r in api), max(r.started for r in api)
        ceiling = args.quota / args.window
        achieved = (len(api) - 1) / (last - first)
        figures = {
            "tracks": args.tracks,
            "examples": int(child.stdout.split()[-1]),
            "quota": f"{args.quota} calls / {args.window} s",
            "latency_s": list(latency),
            "workers": args.workers,
            "api_calls": len(api),
            "quota_rejections": web.quota_rejections,
            "max_calls_in_any_window": web.max_api_calls_in_window(),
            "achieved_calls_per_s": round(achieved, 2),
            "ceiling_calls_per_s": ceiling,
            "achieved_over_ceiling": round(achieved / ceiling, 4),
            "wall_s": round(wall, 1),
            "quota_floor_s": round(args.tracks / ceiling, 1),
            "wall_over_floor": round(wall / (args.tracks / ceiling), 3),
            "builder_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
