"""`deezer-tags`: build the dataset (or try it offline with `demo`), then look at it and ship it.

Commands: build, demo, status (the manifest now, even mid-build), report (Markdown and
plots of what a build got), export (Parquet with the audio embedded), push (to the Hub).
Errors a user can act on are printed as one sentence, not a traceback.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Sequence

from deezer_tags import defaults
from deezer_tags.errors import UserError, cause_chain, user_error_in
from deezer_tags.workdir import WorkDir

CONFIGS = ("full", "previews", "metadata")
# The command that builds into a cache dir the user chose: a full or read-only disk there is
# theirs to fix. (The engine's own disk errors carry their sentence for `demo` too.)
BUILDING = ("build",)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _say_warnings()
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("deezer-tags: interrupted; everything fetched so far is kept, run the same command to resume",
              file=sys.stderr)
        return 130
    except Exception as error:
        # `datasets` wraps what happens while it writes the dataset (DatasetGenerationError):
        # the sentence is found along the cause chain, and a disk error becomes one.
        explained = user_error_in(error, _storage_root(args))
        if explained is None:
            raise
        _close_what_failed(error)
        print(f"deezer-tags: {explained}", file=sys.stderr)
        return 2


class _ToStderr(logging.Handler):
    """The engine's warnings (YouTube's bot check and the pause, a calibration that failed)
    as lines of their own on the terminal, written to whatever sys.stderr is now."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"deezer-tags warning: {self.format(record)}", file=sys.stderr)


def _say_warnings() -> None:
    engine = logging.getLogger("deezer_tags")
    if not any(isinstance(h, _ToStderr) for h in engine.handlers):
        handler = _ToStderr(logging.WARNING)
        engine.addHandler(handler)


def _close_what_failed(error: BaseException) -> None:
    """Let go of the frames the error passed through, so that what they held open (a
    progress bar of `datasets`, which redraws itself when closed) closes now: the sentence
    is then the last line of the output, not one buried under a bar."""
    for link in cause_chain(error):
        traceback.clear_frames(link.__traceback__)
    gc.collect()


def _storage_root(args: argparse.Namespace) -> str | None:
    """The cache dir a building command writes to; None for the others (their disk
    errors are not about the cache dir)."""
    if args.command not in BUILDING:
        return None
    if getattr(args, "cache_dir", None):
        return args.cache_dir
    import datasets

    return datasets.config.HF_DATASETS_CACHE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deezer-tags", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND", dest="command")

    _add_build(commands)

    demo = commands.add_parser("demo", help="the whole pipeline offline, against the local web")
    demo.add_argument("--cache-dir", help="where to build (default: a new temp dir)")
    demo.set_defaults(run=_run_demo)

    status = commands.add_parser("status", help="what the manifest says now (also while a build runs)")
    status.add_argument("--cache-dir", help="the build's datasets cache dir (default: the datasets default)")
    status.add_argument("--work-dir", help="the manifest's folder, if the build was given one (work_dir=)")
    status.add_argument("--json", action="store_true", help="print the counts as JSON")
    status.set_defaults(run=_run_status)

    report = commands.add_parser("report", help="report.md and plots: coverage, reasons, tags per split, "
                                                "YouTube match scores")
    report.add_argument("--cache-dir", help="the build's datasets cache dir (default: the datasets default)")
    report.add_argument("--work-dir", help="the manifest's folder, if the build was given one (work_dir=)")
    report.add_argument("--out", help="output dir (default: <work dir>/report)")
    report.add_argument("--matrix", help="the tag matrix CSV the build used (default: found in the "
                                         "datasets download cache of the cache dir)")
    report.set_defaults(run=_run_report)

    export = commands.add_parser("export", help="write the built dataset as Parquet, audio embedded "
                                                "(OUT/<config>/<split>-00000-of-00001.parquet)")
    export.add_argument("--format", choices=("parquet",), default="parquet")
    export.add_argument("--out", help="output dir (for the Parquet copy and its card)")
    export.add_argument("--recipe", metavar="FILE", help="also write the build's recipe: for each track with "
                        "audio its source, video, section and digest (build --recipe FILE makes the same clips)")
    export.add_argument("--config", choices=CONFIGS, default="full")
    export.add_argument("--cache-dir", help="the build's datasets cache dir (default: the datasets default)")
    export.add_argument("--training", action="store_true",
                        help="write the training copy instead: every clip at --rate and --channels, "
                             "as OUT/<config>-<rate>hz-<channels>ch/ (deezer_tags/training.py)")
    export.add_argument("--rate", type=int, default=16000, help="the training copy's sampling rate (default 16000)")
    export.add_argument("--channels", type=int, default=1, help="the training copy's channels: 1 (the mean) or 2")
    export.add_argument("--form", choices=("pcm", "flac"), default="pcm",
                        help="the training copy's samples: int16 PCM (fastest to read) or FLAC (smaller)")
    export.add_argument("--num-proc", type=int, help="processes converting the clips (default: one per core)")
    export.set_defaults(run=_run_export)

    push = commands.add_parser("push", help="push the built dataset to the Hugging Face Hub, then the card")
    push.add_argument("repo_id", metavar="REPO_ID", help="the dataset repo, e.g. user/deezer-contextual-tags")
    push.add_argument("--private", action="store_true", help="create the repo private")
    push.add_argument("--config", choices=CONFIGS, default="full")
    push.add_argument("--cache-dir", help="the build's datasets cache dir (default: the datasets default)")
    push.add_argument("--card", help="the dataset card to upload as README.md (default: a card made for this "
                                     "copy: the pushed config's splits and sizes, and how it was built)")
    push.set_defaults(run=_run_push)
    return parser


def _add_build(commands: argparse._SubParsersAction) -> None:
    build = commands.add_parser("build", help="build the dataset into the datasets cache (resumable)")
    build.add_argument("--config", choices=CONFIGS, default="full")
    build.add_argument("--cache-dir", help="datasets cache dir (default: the datasets default)")
    build.add_argument("--workers", type=int, default=defaults.API_WORKERS,
                       help=f"concurrent Deezer calls (default {defaults.API_WORKERS})")
    build.add_argument("--max-tracks", type=int, help="only the first N tracks of the matrix (a trial build)")
    build.add_argument("--track-ids", help="a file of track ids to build (a trial build)")
    build.add_argument("--split-scheme", choices=("paper", "artist"), default="paper",
                       help="the paper's split, or the artist-disjoint one (default: paper)")
    build.add_argument("--data-dir", help="an earlier crawl's dataset/ folder (audio/, audio_crawl/) to reuse")
    build.add_argument("--youtube-cookies", metavar="FILE",
                       help="a cookies file for YouTube, if it asks to sign in")
    build.add_argument("--youtube-cookies-from-browser", metavar="BROWSER[:PROFILE]",
                       help="read YouTube's cookies from this browser (yt-dlp's --cookies-from-browser)")
    build.add_argument("--yt-dlp-option", metavar="KEY=JSON", action="append", default=[],
                       help="a yt-dlp option for the YouTube fallback, e.g. 'sleep_interval_requests=1' or "
                            "'extractor_args={\"youtube\": {\"player_client\": [\"web\"]}}' (repeatable)")
    build.add_argument("--calibration-tracks", type=int, metavar="N",
                       help="tracks with a preview on which to measure the YouTube path's precision "
                            "(default: 1 %% of them, which costs about 1 %% of the YouTube budget; 0: none)")
    build.add_argument("--youtube-budget", metavar="VIDEOS/SECONDS",
                       help="videos the whole build may resolve on YouTube per window (default 250/3600, a guest's; "
                            "an account's cookies allow more, see docs/engine.md)")
    build.add_argument("--youtube-hours", type=float, metavar="HOURS",
                       help="stop this run's YouTube work after this long and leave the rest for the next run "
                            "(default: go on until every YouTube track is settled)")
    build.add_argument("--youtube-patience", type=float, metavar="HOURS",
                       help="hours of YouTube's bot check, with nothing answered between, before the run stops "
                            "(resumable; default 12)")
    build.add_argument("--work-dir", help="the manifest's folder, if the build was given one (work_dir=)")
    build.add_argument("--recipe", metavar="FILE",
                       help="another build's recipe (export --recipe): the same YouTube videos and sections")
    build.add_argument("--force-redownload", action="store_true",
                       help="download the source files again (if a server sent a broken one)")
    build.set_defaults(run=_run_build)


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
    if args.work_dir:
        kwargs["work_dir"] = str(Path(args.work_dir).expanduser().resolve())
    if args.recipe:
        kwargs["recipe"] = str(Path(args.recipe).expanduser().resolve())
    if args.youtube_cookies_from_browser:
        kwargs["youtube_cookies_from_browser"] = args.youtube_cookies_from_browser
    if args.calibration_tracks is not None:
        kwargs["calibration_tracks"] = args.calibration_tracks
    for name in ("youtube_budget", "youtube_hours", "youtube_patience"):
        if getattr(args, name) is not None:
            kwargs[name] = getattr(args, name)
    if args.yt_dlp_option:
        kwargs["youtube_options"] = dict(map(_yt_dlp_option, args.yt_dlp_option))
    # Regenerate the Arrow cache from the manifest each time, so that a second run
    # retries the tracks that failed and picks up what a killed run left.
    mode = "force_redownload" if args.force_redownload else "reuse_cache_if_exists"
    dataset = load(args.config, args.cache_dir, download_mode=mode, **kwargs)
    print(summary(dataset, args.cache_dir, kwargs.get("work_dir")))
    return 0


def _yt_dlp_option(text: str) -> tuple[str, object]:
    """ "KEY=JSON" -> (key, value); a value that is not JSON is taken as a string."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise UserError(f"--yt-dlp-option {text!r} is not KEY=JSON; write it like sleep_interval_requests=1")
    try:
        return key.strip(), json.loads(value)
    except ValueError:
        return key.strip(), value


DEMO_CALIBRATION_TRACKS = 20


def _run_demo(args: argparse.Namespace) -> int:
    from deezer_tags.testing.demo import DEMO_YOUTUBE_BUDGET, demo_web

    cache_dir = args.cache_dir or tempfile.mkdtemp(prefix="deezer-tags-demo-")
    with demo_web() as web:
        print(f"Local web (stand-in for Zenodo, GitHub, Deezer, YouTube) at {web.base_url}")
        # 20 calibration tracks, not the default 200 (most of the demo's): a glimpse, in seconds.
        dataset = load("full", cache_dir, **web.config_kwargs(), checksums=web.checksums(),
                       quota_calls=web.quota, quota_window=web.window, youtube_budget=DEMO_YOUTUBE_BUDGET,
                       calibration_tracks=DEMO_CALIBRATION_TRACKS)
    print(summary(dataset, cache_dir))
    print(_demo_report(Path(cache_dir)))
    return 0


def _demo_report(cache_dir: Path) -> str:
    """The report with its plots, in the demo's folder: what a first run should end with."""
    from deezer_tags.report import PLOTS, write_report

    report = write_report(WorkDir.of(cache_dir).root, cache_dir, cache_dir / "report")
    return "\n".join([f"Report with plots: {report.markdown_path}",
                      *(f"  {report.out_dir / name}" for name in PLOTS)])


def _run_status(args: argparse.Namespace) -> int:
    from deezer_tags.status import format_counts, manifest_path_of, read_counts

    manifest = manifest_path_of(args.cache_dir, args.work_dir)
    counts = read_counts(manifest)
    if args.json:
        print(json.dumps({"manifest": str(manifest), **counts.as_json()}, indent=2))
    else:
        print(format_counts(counts, manifest))
    return 0


def _run_report(args: argparse.Namespace) -> int:
    from deezer_tags.report import PLOTS, WITHOUT_AUDIO_NAME, write_report
    from deezer_tags.status import manifest_path_of
    from deezer_tags.workdir import default_cache_root

    work_dir = manifest_path_of(args.cache_dir, args.work_dir).parent
    cache_root = Path(args.cache_dir).expanduser() if args.cache_dir else default_cache_root()
    report = write_report(work_dir, cache_root, Path(args.out) if args.out else None, args.matrix)
    print(f"Report: {report.markdown_path}")
    print(f"Plots: {', '.join(PLOTS)}; tracks without audio: {WITHOUT_AUDIO_NAME} (same folder)")
    if report.tags is None:
        print(f"Tags per split left out: {report.tags_note}")
    return 0


def _run_export(args: argparse.Namespace) -> int:
    from deezer_tags.card import write_card
    from deezer_tags.export import export_parquet, load_built
    from deezer_tags.workdir import default_cache_root

    if not (args.out or args.recipe):
        raise UserError("export needs --out DIR (the Parquet copy) or --recipe FILE (the build's recipe), or both")
    root = Path(args.cache_dir).expanduser() if args.cache_dir else default_cache_root()
    dataset, directory = load_built(root, args.config)
    if args.out:
        print(f"Exporting the `{args.config}` build at {directory}: "
              + ", ".join(f"{name} {len(split):,}" for name, split in dataset.items()))
        if args.training:
            from deezer_tags.training import export_training

            paths = export_training(dataset, Path(args.out), args.config, rate=args.rate, channels=args.channels,
                                    form=args.form, num_proc=args.num_proc)
        else:
            paths = export_parquet(dataset, Path(args.out), args.config)
        for path in paths:
            print(path)
        # The copy's own card: load_dataset(OUT) finds every config exported there, all splits.
        print(write_card(Path(args.out), WorkDir.of(root).root, root))
    if args.recipe:
        print(_export_recipe(dataset, WorkDir.of(root), Path(args.recipe), youtube=args.config == "full"))
    return 0


def _export_recipe(dataset, work_dir: WorkDir, path: Path, *, youtube: bool) -> str:
    """The recipe of the tracks in the built dataset, from the manifest that made it."""
    from deezer_tags.manifest import Manifest
    from deezer_tags.recipe import recipe_rows, write_recipe

    track_ids = [t for split in dataset.values() for t in split["track_id"]]
    with Manifest(work_dir.manifest, readonly=True) as manifest:
        rows = recipe_rows(manifest.rows(track_ids), youtube=youtube)
    write_recipe(rows, path)
    return f"Recipe: {path} ({len(rows):,} tracks, {sum(r['audio_source'] == 'youtube' for r in rows):,} from YouTube)"


def _run_push(args: argparse.Namespace) -> int:
    from huggingface_hub import get_token
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    from deezer_tags.card import card_text, dataset_layout
    from deezer_tags.export import check_card, load_built, push
    from deezer_tags.workdir import default_cache_root

    token = get_token()
    if not token:
        raise UserError(f"no Hugging Face token found; run `hf auth login` (or set HF_TOKEN) with a token "
                        f"that can write to {args.repo_id}, then push again")
    if args.card:
        check_card(Path(args.card), args.config)
    root = Path(args.cache_dir).expanduser() if args.cache_dir else default_cache_root()
    dataset, directory = load_built(root, args.config)
    with tempfile.TemporaryDirectory(prefix="deezer-tags-card-") as staging_dir:
        staging = Path(staging_dir)
        if args.card:
            files = [Path(args.card)]
        else:  # this copy's card: the pushed config's splits and sizes, and how it was built
            (staging / "README.md").write_text(card_text(dataset_layout(args.config, dataset), staging,
                                                         WorkDir.of(root).root, root), encoding="utf-8")
            files = [staging / "README.md", *staging.glob("coverage.png")]
        print(f"Pushing the `{args.config}` build at {directory} to {args.repo_id}")
        try:
            push(dataset, args.repo_id, args.config, args.private, files, token)
        except OfflineModeIsEnabled:
            raise UserError("HF_HUB_OFFLINE is set, so nothing can be pushed; unset it and push again") from None
        except HfHubHTTPError as error:
            status = error.response.status_code if error.response is not None else "?"
            raise UserError(f"the Hub refused the push to {args.repo_id} (HTTP {status}); check that the token "
                            "can write to that repo and push again") from None
    print(f"Done: https://huggingface.co/datasets/{args.repo_id}")
    return 0


def load(config: str, cache_dir: str | None, **kwargs):
    """`load_dataset` on the installed loading script, as a user would call it; on datasets 4+,
    which runs no scripts, the builder class itself (deezer_tags/direct.py)."""
    from deezer_tags.direct import load as load_any_line

    return load_any_line(config, cache_dir, **kwargs)


def summary(dataset, cache_dir: str | None, work_dir: str | None = None) -> str:
    """One screen: split sizes and what the last build recorded."""
    import datasets

    from deezer_tags.buildreport import BuildReport
    from deezer_tags.calibration import calibration_line

    root = Path(cache_dir or datasets.config.HF_DATASETS_CACHE).expanduser()
    layout = WorkDir.of(root, work_dir)
    lines = ["", "Splits: " + ", ".join(f"{name} {len(split):,}" for name, split in dataset.items())]
    report = BuildReport.read(layout)
    if report.exists:
        lines.append("Deezer metadata: " + ", ".join(f"{k} {v:,}" for k, v in report.metadata.items()))
        if report.audio:
            audio = report.audio
            lines.append("Audio: " + ", ".join(f"{k} {v:,}" for k, v in audio["with_audio"].items())
                         + "; without audio: "
                         + (", ".join(f"{k} {v:,}" for k, v in audio["without_audio"].items()) or "none"))
            left = (report.this_run.get("youtube_budget") or {}).get("left_pending")
            if left:
                lines.append(f"YouTube: {left:,} tracks left for the next run (youtube_hours reached); "
                             "run the same command again to go on")
        if report.calibration:
            lines.append(calibration_line(report.calibration))
            lines.append(f"Calibration, track by track: {layout.calibration}")
        lines.append(f"Report: {layout.report}")
        lines.append(f"Tracks left out, and why: {layout.failed}")
    lines.append(f"Cache: {os.path.abspath(root)}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
