"""`deezer-tags status`: what the manifest says now, even while a build runs.

The manifest is opened read-only; in WAL mode a reader sees the last committed
state and never blocks the build's writer (nor is blocked by it). One GROUP BY
query, so it is instant at 49,929 tracks. Nothing here imports `datasets`: the
command starts in well under a second.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable

from deezer_tags.errors import UserError
from deezer_tags.manifest import FAILED, NO_DATA, NONE, OK, PENDING, PREVIEW, YOUTUBE, YOUTUBE_PROGRESS_INFO
from deezer_tags.provenance import utc
from deezer_tags.workdir import MANIFEST_NAME, WORK_DIR_NAME, WorkDir


META_STATES = (OK, NO_DATA, FAILED, PENDING)
AUDIO_STATES = (OK, NONE, FAILED, PENDING)


class NoBuildError(UserError):
    pass


def work_dir_of(cache_dir: str | os.PathLike | None, work_dir: str | os.PathLike | None = None) -> Path:
    """Where the manifest lives: the build's `work_dir=` if it had one, else under the cache dir."""
    return WorkDir.of(cache_dir, work_dir).root


def manifest_path_of(cache_dir: str | os.PathLike | None, work_dir: str | os.PathLike | None = None) -> Path:
    """The manifest of the build in `cache_dir` (or `work_dir`); a one-sentence error when there is none."""
    path = work_dir_of(cache_dir, work_dir) / MANIFEST_NAME
    if work_dir and not path.is_file():
        raise NoBuildError(f"no build has used the work dir {work_dir} (no {MANIFEST_NAME} there); "
                           "pass the work dir the build was given, or leave --work-dir out for the default")
    if not path.is_file():
        where = f" --cache-dir {cache_dir}" if cache_dir else ""
        raise NoBuildError(
            f"no build has run in {path.parent.parent} (no {WORK_DIR_NAME}/{MANIFEST_NAME} there); "
            f"run `deezer-tags build{where}` first, or `deezer-tags demo{where}` to try it offline"
        )
    return path


@dataclass(frozen=True)
class Counts:
    """Counts of manifest rows. Every group sums to `tracks`."""

    tracks: int
    metadata: dict[str, int]      # ok, no_data, failed, pending
    previews: dict[str, int]      # ok, none, failed, pending
    youtube: dict[str, int]       # ok, none, failed, pending (preview none), not_needed, awaiting_preview
    with_audio: dict[str, int]    # deezer_preview, youtube (the stored clip's source)
    last_update: float | None     # unix time of the last change to any row
    # The build's runs (see deezer_tags.provenance): how many, the first start, the last end.
    runs: tuple[int, float | None, float | None] = (0, None, None)
    # What the last (or running) build said of its YouTube stream: budget, pace, ETA (see
    # youtube.progress); None before any build with YouTube.
    youtube_progress: dict | None = None

    @property
    def tracks_with_audio(self) -> int:
        return sum(self.with_audio.values())

    def as_json(self) -> dict:
        return {
            "tracks": self.tracks,
            "metadata": self.metadata,
            "previews": self.previews,
            "youtube": self.youtube,
            "with_audio": {**self.with_audio, "total": self.tracks_with_audio},
            "without_audio": self.tracks - self.tracks_with_audio,
            "last_update": self.last_update,
            "runs": self.runs[0],
            "first_started_at": utc(self.runs[1]),
            "last_finished_at": utc(self.runs[2]),
            "youtube_progress": self.youtube_progress,
        }


def count_groups(groups: Iterable[tuple[str, str, str, str | None, int]], last_update: float | None) -> Counts:
    """Counts from (meta_status, preview_status, youtube_status, audio_source, n) groups.

    YouTube is asked only for tracks whose preview is `none` (final); the others count
    as `not_needed` (preview ok) or `awaiting_preview` (preview pending, or failed: the
    next build retries the preview first), whatever their youtube_status."""
    metadata = dict.fromkeys(META_STATES, 0)
    previews = dict.fromkeys(AUDIO_STATES, 0)
    youtube = {**dict.fromkeys(AUDIO_STATES, 0), "not_needed": 0, "awaiting_preview": 0}
    with_audio = {PREVIEW: 0, YOUTUBE: 0}
    tracks = 0
    for meta, preview, yt, source, n in groups:
        tracks += n
        metadata[meta] = metadata.get(meta, 0) + n
        previews[preview] = previews.get(preview, 0) + n
        key = yt if preview == NONE else "not_needed" if preview == OK else "awaiting_preview"
        youtube[key] = youtube.get(key, 0) + n
        if source is not None:
            with_audio[source] = with_audio.get(source, 0) + n
    return Counts(tracks, metadata, previews, youtube, with_audio, last_update)


def read_counts(manifest: Path) -> Counts:
    """One read transaction on the manifest, opened read-only."""
    try:
        db = sqlite3.connect(f"file:{manifest}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as error:
        raise UserError(f"cannot open the manifest {manifest} ({error}); check its permissions") from None
    try:
        with db:
            groups = db.execute(
                "SELECT meta_status, preview_status, youtube_status, audio_source, COUNT(*) "
                "FROM tracks GROUP BY 1, 2, 3, 4").fetchall()
            last_update = db.execute("SELECT MAX(updated_at) FROM tracks").fetchone()[0]
            try:
                runs = tuple(db.execute("SELECT COUNT(*), MIN(started_at), MAX(finished_at) FROM runs").fetchone())
            except sqlite3.OperationalError:  # a manifest from before runs were kept
                runs = (0, None, None)
            said = db.execute("SELECT value FROM info WHERE key = ?", (YOUTUBE_PROGRESS_INFO,)).fetchone()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            raise UserError(f"the manifest {manifest} is still being created by a starting build; "
                            "run the command again in a moment") from None
        raise UserError(f"cannot read the manifest {manifest} ({error}); run the command again") from None
    except sqlite3.DatabaseError as error:
        raise UserError(f"{manifest} is not a readable manifest ({error}); "
                        "rebuild into a fresh --cache-dir") from None
    finally:
        db.close()
    progress = _json(said[0]) if said else None
    return replace(count_groups(groups, last_update), runs=runs, youtube_progress=progress)


def _json(text: str) -> dict | None:
    try:
        found = json.loads(text)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def format_counts(counts: Counts, manifest: Path, now: float | None = None) -> str:
    """One screen of plain text."""
    def states(values: dict[str, int]) -> str:
        return ", ".join(f"{k} {v:,}" for k, v in values.items())

    youtube = {k: counts.youtube[k] for k in AUDIO_STATES}
    lines = [
        f"Manifest: {manifest}",
        f"Tracks known: {counts.tracks:,}",
        f"Deezer metadata: {states(counts.metadata)}",
        f"Previews: {states(counts.previews)}",
        f"YouTube (the {sum(youtube.values()):,} tracks whose preview is none): {states(youtube)}",
        *youtube_lines(counts, now),
        f"Tracks with audio: {counts.tracks_with_audio:,} "
        f"({', '.join(f'{k} {v:,}' for k, v in counts.with_audio.items())}); "
        f"without: {counts.tracks - counts.tracks_with_audio:,}",
    ]
    if counts.last_update is not None:
        ago = max(0.0, (now or time.time()) - counts.last_update)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(counts.last_update))
        lines.append(f"Last change: {stamp} ({_ago(ago)} ago)")
    n, first, last = counts.runs
    if n:
        lines.append(f"Built: {n} run{'s' if n > 1 else ''}, the first started {utc(first)}, "
                     + (f"the last finished {utc(last)}" if last else "none finished yet"))
    return "\n".join(lines)


def youtube_lines(counts: Counts, now: float | None = None) -> list[str]:
    """The YouTube stream in plain words: done, pending, without a video, and (from what the
    build last said) its budget, pace or pause, and ETA."""
    youtube = counts.youtube
    if not sum(youtube[k] for k in AUDIO_STATES):
        return []
    lines = [f"YouTube tracks: {youtube[OK]:,} done, {youtube[PENDING] + youtube[FAILED]:,} pending "
             f"({youtube[FAILED]:,} of them failed once, retried), {youtube[NONE]:,} without a video"]
    said = counts.youtube_progress
    if not said or not said.get("budget"):
        return lines
    now = now or time.time()
    as_of = time.strftime("%H:%M:%S", time.localtime(said.get("updated_at") or now))
    pause = ((said.get("pace_state") or {}).get("pause_until") or 0) - now
    pace = (f"paused for {_ago(pause)} more (YouTube's bot check)" if pause > 0
            else f"one video every {said['seconds_per_video']:.1f} s")
    running = "running" if said.get("running") else "the last run's"
    eta = said.get("eta_seconds")
    videos, seconds = said["budget"].split("/")
    lines.append(f"YouTube budget {videos} videos per {seconds} s ({running}, as of {as_of}): {pace}; "
                 f"spent {said['spent']['video']:,} videos, {said['spent']['search']:,} searches"
                 + (f"; ETA {_ago(eta)}" if eta is not None and said.get("running") else ""))
    return lines


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"
