"""Reusing an earlier crawl's audio (`data_dir=`) instead of downloading it again.

The earlier three-script crawl left `dataset/audio/{id}.mp3` (Deezer previews) and
`dataset/audio_crawl/{id}.mp3` (whole YouTube downloads). A preview that passes
the same check as a fresh download is copied in as it is; from a YouTube
download the same 30 s section a fresh recovery would take is cut, locally. A
file that fails its check is skipped and the track is fetched as usual.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path
from typing import Sequence

from tqdm.auto import tqdm

from deezer_tags.audio import InvalidAudio, checked_clip, inspect_mp3
from deezer_tags.errors import UserError
from deezer_tags.ffmpeg import FfmpegFailed, fetch_section
from deezer_tags.manifest import OK, PREVIEW, YOUTUBE, AudioOutcome, Manifest
from deezer_tags.previews import PREVIEW_SECONDS
from deezer_tags.workdir import WorkDir

log = logging.getLogger("deezer_tags")

PREVIEW_FOLDERS = ("audio", "dataset/audio")
YOUTUBE_FOLDERS = ("audio_crawl", "dataset/audio_crawl")
SECTION_SECONDS = 30.0


def import_existing(work_dir: Path, data_dir: str | os.PathLike, track_ids: Sequence[int],
                    *, progress: bool = True) -> dict[str, int]:
    """Take into the cache every valid clip `data_dir` has for `track_ids` that the cache lacks."""
    root = Path(data_dir).expanduser()
    previews = _first_existing(root, PREVIEW_FOLDERS)
    crawled = _first_existing(root, YOUTUBE_FOLDERS)
    if previews is None and crawled is None:
        raise UserError(
            f"data_dir {root} has neither an audio/ nor an audio_crawl/ folder of <track id>.mp3 files; "
            "point data_dir at the earlier crawl's dataset folder"
        )
    counts = {"previews": 0, "youtube": 0, "rejected": 0}
    WorkDir(work_dir).audio_dir.mkdir(parents=True, exist_ok=True)
    with Manifest(WorkDir(work_dir).manifest) as manifest:
        manifest.add_tracks(track_ids)
        rows = list(manifest.rows(track_ids))
        outcomes: list[AudioOutcome] = []
        for row in tqdm(rows, desc="Importing", unit="track", disable=not progress, dynamic_ncols=True):
            track_id = int(row.track_id)  # an integer before it touches a path
            outcome = None
            if previews is not None and row.preview_status != OK:
                outcome = _import_preview(previews / f"{track_id}.mp3", work_dir, track_id)
            if outcome is None and crawled is not None and row.youtube_status != OK and row.preview_status != OK:
                outcome = _import_youtube(crawled / f"{track_id}.mp3", work_dir, track_id)
            if outcome is False:
                counts["rejected"] += 1
            elif outcome is not None:
                counts["previews" if outcome.source == PREVIEW else "youtube"] += 1
                outcomes.append(outcome)
            if len(outcomes) >= 200:
                manifest.record_audio(outcomes)
                outcomes = []
        manifest.record_audio(outcomes)
    log.info("Imported from %s: %s", root, counts)
    return counts


def _first_existing(root: Path, folders: Sequence[str]) -> Path | None:
    return next((root / f for f in folders if (root / f).is_dir()), None)


def _import_preview(source: Path, work_dir: Path, track_id: int) -> AudioOutcome | None | bool:
    """The outcome, None when there is no file, False when the file is not a valid preview."""
    if not source.is_file():
        return None
    data = source.read_bytes()
    try:
        info = checked_clip(data, min_seconds=PREVIEW_SECONDS[0], max_seconds=PREVIEW_SECONDS[1])
    except InvalidAudio as problem:
        log.info("not importing %s: %s", source, problem)
        return False
    dest = WorkDir(work_dir).audio_path(track_id, PREVIEW)
    tmp = dest.with_name(f".{dest.name}.import")
    shutil.copyfile(source, tmp)
    os.replace(tmp, dest)
    return AudioOutcome(track_id, PREVIEW, OK, path=str(dest.relative_to(work_dir)),
                        sha256=hashlib.sha256(data).hexdigest(), duration=round(info.duration, 3))


def _import_youtube(source: Path, work_dir: Path, track_id: int) -> AudioOutcome | None | bool:
    """A 30 s section from the middle of a whole downloaded track, like a fresh recovery."""
    if not source.is_file():
        return None
    try:
        whole = inspect_mp3(source.read_bytes())
    except InvalidAudio as problem:
        log.info("not importing %s: %s", source, problem)
        return False
    dest = WorkDir(work_dir).audio_path(track_id, YOUTUBE)
    tmp = dest.with_name(f".{dest.name}.import")
    start = max(0.0, whole.duration / 2 - SECTION_SECONDS / 2)
    try:
        fetch_section(str(source), tmp, start=start, seconds=SECTION_SECONDS)
        data = tmp.read_bytes()
        info = checked_clip(data, min_seconds=PREVIEW_SECONDS[0], max_seconds=PREVIEW_SECONDS[1])
    except (FfmpegFailed, InvalidAudio) as problem:
        tmp.unlink(missing_ok=True)
        log.info("not importing %s: %s", source, problem)
        return False
    os.replace(tmp, dest)
    evidence = {"imported_from": str(source), "section_start": round(start, 3),
                "source_duration": round(whole.duration, 3)}
    return AudioOutcome(track_id, YOUTUBE, OK, path=str(dest.relative_to(work_dir)),
                        sha256=hashlib.sha256(data).hexdigest(), duration=round(info.duration, 3),
                        evidence=evidence)
