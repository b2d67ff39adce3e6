"""``python -m deezer_tags.testing serve``: run the local web by hand, e.g. to try the CLI.

Prints ``export DEEZER_TAGS_...=...`` lines to paste into a shell, then serves until
Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import shlex
import signal
import sys
import threading

from .scenario import Scenario
from .server import LocalWeb


def _range(text: str) -> tuple[float, float]:
    low, _, high = text.partition(",")
    return float(low), float(high or low)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m deezer_tags.testing")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the local web until interrupted")
    serve.add_argument("--port", type=int, default=0, help="0: a free port")
    serve.add_argument("--tracks", type=int, default=None, help="the API knows the matrix's first N tracks (default: all)")
    serve.add_argument("--quota", type=int, default=50, help="API calls allowed per window")
    serve.add_argument("--window", type=float, default=5.0, help="quota window, seconds")
    serve.add_argument("--latency", type=_range, default=(0.0, 0.0), help="MIN,MAX seconds before each answer")
    serve.add_argument("--bandwidth", type=float, default=None, help="bytes/s per response body")
    serve.add_argument("--preview-ttl", type=float, default=900.0, help="seconds a preview URL stays valid")
    serve.add_argument("--no-preview", type=float, default=0.0, help="fraction of tracks without a preview")
    serve.add_argument("--dead-preview", type=float, default=0.0, help="fraction whose preview URL answers 404")
    serve.add_argument("--no-data", type=float, default=0.0, help="fraction the API answers 'no data'")
    serve.add_argument("--wrong-video", type=float, default=0.0, help="fraction of videos far off the track's duration")
    serve.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    track_ids = None
    if args.tracks is not None:  # the matrix's first N tracks
        track_ids = list(itertools.islice(Scenario.from_public_data().tracks, args.tracks))
    scenario = Scenario.from_public_data(
        track_ids=track_ids, seed=args.seed, no_data_fraction=args.no_data,
        no_preview_fraction=args.no_preview, dead_preview_fraction=args.dead_preview,
        wrong_video_fraction=args.wrong_video,
    )
    web = LocalWeb(scenario, quota=args.quota, window=args.window, latency=args.latency,
                   bandwidth=args.bandwidth, preview_ttl=args.preview_ttl, seed=args.seed, port=args.port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with web:
        for name, value in web.env().items():
            print(f"export {name}={shlex.quote(value)}")
        print(f"# serving {len(scenario.tracks)} tracks on {web.base_url}; Ctrl-C to stop", file=sys.stderr, flush=True)
        sys.stdout.flush()
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
