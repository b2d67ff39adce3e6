"""`deezer-tags`: build the dataset, or try the whole pipeline offline with `demo`.

Errors a user can act on are printed as one sentence, not a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from deezer_tags.build import REPORT_NAME, WORK_DIR_NAME
from deezer_tags.errors import UserError

CONFIGS = ("full", "previews", "metadata")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except UserError as error:
        print(f"deezer-tags: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("deezer-tags: interrupted; everything fetched so far is kept, run the same command to resume",
              file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deezer-tags", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    build = commands.add_parser("build", help="build the dataset into the datasets cache (resumable)")
    build.add_argument("--config", choices=CONFIGS, default="full")
    build.add_argument("--cache-dir", help="datasets cache dir (default: the datasets default)")
    build.add_argument("--workers", type=int, default=16, help="concurrent Deezer calls (default 16)")
    build.add_argument("--max-tracks", type=int, help="only the first N tracks of the matrix (a trial build)")
    build.add_argument("--track-ids", help="a file of track ids to build (a trial build)")
    build.add_argument("--split-scheme", choices=("paper", "artist"), default="paper",
                       help="the paper's split, or the artist-disjoint one (default: paper)")
    build.add_argument("--data-dir", help="an earlier crawl's dataset/ folder (audio/, audio_crawl/) to reuse")
    build.add_argument("--youtube-cookies", help="a cookies file for YouTube, if it asks to sign in")
    build.set_defaults(run=_run_build)

    demo = commands.add_parser("demo", help="the whole pipeline offline, against the local web")
    demo.add_argument("--cache-dir", help="where to build (default: a new temp dir)")
    demo.set_defaults(run=_run_demo)
    return parser


def _run_build(args: argparse.Namespace) -> int:
    kwargs = {"workers": args.workers, "split_scheme": args.split_scheme}
    if args.max_tracks is not None:
        kwargs["max_tracks"] = args.max_tracks
    if args.track_ids:
        kwargs["track_ids"] = str(Path(args.track_ids).resolve())
    if args.data_dir:
        kwargs["data_dir"] = str(Path(args.data_dir).resolve())
    if args.youtube_cookies:
        kwargs["youtube_cookies"] = str(Path(args.youtube_cookies).resolve())
    # Regenerate the Arrow cache from the manifest each time, so that a second run
    # retries the tracks that failed and picks up what a killed run left.
    dataset = load(args.config, args.cache_dir, download_mode="reuse_cache_if_exists", **kwargs)
    print(summary(dataset, args.cache_dir))
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    from deezer_tags.testing.demo import demo_web

    cache_dir = args.cache_dir or tempfile.mkdtemp(prefix="deezer-tags-demo-")
    with demo_web() as web:
        print(f"Local web (stand-in for Zenodo, GitHub, Deezer, YouTube) at {web.base_url}")
        dataset = load("full", cache_dir, **web.config_kwargs(), checksums=web.checksums(),
                       quota_calls=web.quota, quota_window=web.window)
    print(summary(dataset, cache_dir))
    return 0


def load(config: str, cache_dir: str | None, **kwargs):
    """`load_dataset` on the installed loading script, as a user would call it."""
    import datasets

    import deezer_contextual_tags

    return datasets.load_dataset(
        deezer_contextual_tags.__file__, config, cache_dir=cache_dir, trust_remote_code=True, **kwargs
    )


def summary(dataset, cache_dir: str | None) -> str:
    """One screen: split sizes and what the last build recorded."""
    import datasets

    root = Path(cache_dir or datasets.config.HF_DATASETS_CACHE).expanduser()
    lines = ["", "Splits: " + ", ".join(f"{name} {len(split):,}" for name, split in dataset.items())]
    report_path = root / WORK_DIR_NAME / REPORT_NAME
    if report_path.exists():
        report = json.loads(report_path.read_text())
        lines.append("Deezer metadata: " + ", ".join(f"{k} {v:,}" for k, v in report["metadata"].items()))
        if "audio" in report:
            audio = report["audio"]
            lines.append("Audio: " + ", ".join(f"{k} {v:,}" for k, v in audio["with_audio"].items())
                         + "; without audio: "
                         + (", ".join(f"{k} {v:,}" for k, v in audio["without_audio"].items()) or "none"))
            if report["this_run"].get("youtube_blocked"):
                lines.append("YouTube: " + report["this_run"]["youtube_blocked"])
        lines.append(f"Report: {report_path}")
        lines.append(f"Tracks left out, and why: {report_path.with_name('failed_tracks.csv')}")
    lines.append(f"Cache: {os.path.abspath(root)}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
