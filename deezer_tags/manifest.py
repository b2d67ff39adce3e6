"""The manifest: one SQLite file (WAL) per work dir, one row per track.

It is what makes a build resumable and auditable. Every write is one
transaction, so a build killed at any moment (SIGKILL included) leaves rows that
are either as before or complete; the next build asks the manifest what is left.
Only the build's main thread writes; readers (other processes, `status`) may
read at any time thanks to WAL.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

SCHEMA_VERSION = 1

# States. `pending` and `failed` are (re)tried by the next build; the others are
# final: `ok`, `no_data` (metadata: Deezer has no such track), `none` (audio: no
# usable clip from that source).
PENDING, OK, NO_DATA, FAILED, NONE = "pending", "ok", "no_data", "failed", "none"
RETRIED_STATES = (PENDING, FAILED)

# Audio sources.
PREVIEW, YOUTUBE = "deezer_preview", "youtube"

# The info key under which a running build keeps its YouTube progress (youtube/progress.py);
# `deezer-tags status` reads it from another process.
YOUTUBE_PROGRESS_INFO = "youtube_progress"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tracks (
    track_id    INTEGER PRIMARY KEY,
    meta_status TEXT    NOT NULL DEFAULT 'pending',
    metadata    TEXT,               -- JSON of the kept Deezer fields
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    -- Audio, per source. preview_status / youtube_status: pending, ok, none (no usable
    -- audio there: final), failed (transient: retried by the next build).
    preview_status   TEXT NOT NULL DEFAULT 'pending',
    youtube_status   TEXT NOT NULL DEFAULT 'pending',
    audio_attempts   INTEGER NOT NULL DEFAULT 0,
    audio_error      TEXT,
    youtube_video_id TEXT,
    match_evidence   TEXT,          -- JSON: the candidate checks that chose (or refused) a video
    -- The stored clip (a preview when there is one, else a YouTube clip).
    audio_source     TEXT,          -- deezer_preview, youtube, or NULL
    audio_path       TEXT,          -- relative to the work dir
    audio_sha256     TEXT,
    audio_duration   REAL,
    created_at  REAL    NOT NULL,
    updated_at  REAL    NOT NULL
);
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- The calibration of the YouTube path (see deezer_tags.calibration): one row per sampled
-- track with a preview, once it has an outcome. No clip: only what was chosen and heard.
CREATE TABLE IF NOT EXISTS calibration (
    track_id      INTEGER PRIMARY KEY,
    status        TEXT NOT NULL,    -- same, other, not_found (final) or failed (tried again)
    video_id      TEXT,
    found_by      TEXT,             -- the candidate source of the chosen video
    score         REAL,             -- the acoustic score at the best offset
    offset        REAL,             -- seconds into the video where the preview was found
    error         TEXT,
    evidence      TEXT,             -- JSON: the recovery's candidates and checks
    bytes_fetched INTEGER NOT NULL DEFAULT 0,
    seconds       REAL,
    updated_at    REAL NOT NULL
);
-- One row per run of a build (see deezer_tags.provenance): a killed run has no finished_at.
CREATE TABLE IF NOT EXISTS runs (
    run_id      INTEGER PRIMARY KEY,
    config      TEXT,
    tracks      INTEGER,
    started_at  REAL NOT NULL,
    finished_at REAL,
    outcome     TEXT           -- complete, stopped (network, quota, disk: resumable), or NULL: killed
);
"""


@dataclass(frozen=True)
class MetadataOutcome:
    track_id: int
    status: str                        # OK, NO_DATA or FAILED
    metadata: dict[str, Any] | None = None
    error: str | None = None


@dataclass(frozen=True)
class AudioOutcome:
    track_id: int
    source: str                        # PREVIEW or YOUTUBE
    status: str                        # OK, NONE or FAILED
    error: str | None = None
    path: str | None = None            # relative to the work dir, when OK
    sha256: str | None = None
    duration: float | None = None
    video_id: str | None = None        # YOUTUBE: the chosen (or last refused) video
    evidence: dict[str, Any] | None = None


@dataclass(frozen=True)
class CalibrationOutcome:
    track_id: int
    status: str                        # see deezer_tags.calibration
    video_id: str | None = None
    found_by: str | None = None
    score: float | None = None
    offset: float | None = None
    error: str | None = None
    evidence: dict[str, Any] | None = None
    bytes_fetched: int = 0
    seconds: float | None = None


_CALIBRATION_COLUMNS = ("track_id", "status", "video_id", "found_by", "score", "offset", "error", "evidence",
                        "bytes_fetched", "seconds")


@dataclass(frozen=True)
class TrackRow:
    track_id: int
    meta_status: str
    metadata: dict[str, Any] | None
    attempts: int
    last_error: str | None
    preview_status: str = PENDING
    youtube_status: str = PENDING
    audio_source: str | None = None
    audio_path: str | None = None
    audio_sha256: str | None = None
    audio_duration: float | None = None
    youtube_video_id: str | None = None
    match_evidence: dict[str, Any] | None = None
    audio_error: str | None = None


class Manifest:
    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        if readonly:
            uri = f"file:{self.path}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._writing():
                self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
                self._db.execute("PRAGMA journal_mode=WAL")
                # NORMAL in WAL mode survives a killed process; only power loss can
                # cost the last transactions, and those are simply fetched again.
                self._db.execute("PRAGMA synchronous=NORMAL")
                with self._db:
                    self._db.executescript(_SCHEMA)
                    self._db.execute(
                        "INSERT OR IGNORE INTO info VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                    )
        self._db.execute("PRAGMA busy_timeout=30000")

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A write the disk refused (full, read-only, not ours) raises the OSError it is,
        so that callers tell it apart from a bug; SQLite has rolled the transaction back."""
        try:
            yield
        except sqlite3.OperationalError as error:
            cause = _disk_error_of(error, self.path)
            if cause is None:
                raise
            raise cause from error

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Manifest":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_tracks(self, track_ids: Iterable[int]) -> None:
        now = time.time()
        with self._writing(), self._db:
            self._db.executemany(
                "INSERT OR IGNORE INTO tracks (track_id, created_at, updated_at) VALUES (?, ?, ?)",
                ((int(t), now, now) for t in track_ids),
            )

    def needing_metadata(self, track_ids: Iterable[int]) -> list[int]:
        """The ids among `track_ids`, in their order, whose metadata is still to fetch."""
        wanted = list(track_ids)
        final = {
            row[0]
            for row in self._db.execute(
                "SELECT track_id FROM tracks WHERE meta_status NOT IN (?, ?)", RETRIED_STATES
            )
        }
        return [t for t in wanted if t not in final]

    def record_metadata(self, outcomes: Iterable[MetadataOutcome]) -> None:
        """Write a batch of outcomes in one transaction."""
        now = time.time()
        rows = [
            (o.status, json.dumps(o.metadata) if o.metadata is not None else None, o.error, now, o.track_id)
            for o in outcomes
        ]
        with self._writing(), self._db:
            self._db.executemany(
                "UPDATE tracks SET meta_status = ?, metadata = COALESCE(?, metadata), last_error = ?, "
                "attempts = attempts + 1, updated_at = ? WHERE track_id = ?",
                rows,
            )

    def record_audio(self, outcomes: Iterable[AudioOutcome]) -> None:
        """Write a batch of audio outcomes in one transaction. Only an OK outcome sets
        the stored clip; a preview always wins over a YouTube clip."""
        now = time.time()
        with self._writing(), self._db:
            for o in outcomes:
                evidence = json.dumps(o.evidence) if o.evidence is not None else None
                if o.source == PREVIEW:
                    self._db.execute(
                        "UPDATE tracks SET preview_status = ?, audio_error = ?, "
                        "audio_attempts = audio_attempts + 1, updated_at = ? WHERE track_id = ?",
                        (o.status, o.error, now, o.track_id),
                    )
                else:
                    self._db.execute(
                        "UPDATE tracks SET youtube_status = ?, audio_error = ?, youtube_video_id = ?, "
                        "match_evidence = COALESCE(?, match_evidence), audio_attempts = audio_attempts + 1, "
                        "updated_at = ? WHERE track_id = ?",
                        (o.status, o.error, o.video_id, evidence, now, o.track_id),
                    )
                if o.status == OK:
                    self._db.execute(
                        "UPDATE tracks SET audio_source = ?, audio_path = ?, audio_sha256 = ?, "
                        "audio_duration = ?, audio_error = NULL WHERE track_id = ? "
                        "AND (audio_source IS NULL OR audio_source = ? OR ? = ?)",
                        (o.source, o.path, o.sha256, o.duration, o.track_id, o.source, o.source, PREVIEW),
                    )

    def record_calibration(self, outcomes: Iterable[CalibrationOutcome]) -> None:
        now = time.time()
        rows = [(o.track_id, o.status, o.video_id, o.found_by, o.score, o.offset, o.error,
                 json.dumps(o.evidence) if o.evidence is not None else None, o.bytes_fetched, o.seconds, now)
                for o in outcomes]
        with self._writing(), self._db:
            self._db.executemany(
                f"INSERT OR REPLACE INTO calibration ({', '.join(_CALIBRATION_COLUMNS)}, updated_at) "
                f"VALUES ({', '.join('?' * (len(_CALIBRATION_COLUMNS) + 1))})", rows)

    def calibration(self, track_ids: Iterable[int] | None = None) -> dict[int, CalibrationOutcome]:
        """The calibration outcomes by track id (of ``track_ids``, or all)."""
        query = f"SELECT {', '.join(_CALIBRATION_COLUMNS)} FROM calibration"
        try:
            found = self._db.execute(query).fetchall()
        except sqlite3.OperationalError:  # opened read-only before the table existed
            return {}
        wanted = None if track_ids is None else set(track_ids)
        outcomes = {}
        for row in found:
            if wanted is None or row[0] in wanted:
                values = dict(zip(_CALIBRATION_COLUMNS, row))
                values["evidence"] = json.loads(values["evidence"]) if values["evidence"] else None
                outcomes[row[0]] = CalibrationOutcome(**values)
        return outcomes

    def set_info(self, key: str, value: Any) -> None:
        """Keep ``value`` (JSON) under ``key``: what a running build says of itself (its YouTube
        pace, for `status` and for the next run)."""
        with self._writing(), self._db:
            self._db.execute("INSERT OR REPLACE INTO info VALUES (?, ?)", (key, json.dumps(value)))

    def info(self, key: str) -> Any:
        """What ``set_info`` kept under ``key``, or None."""
        try:
            found = self._db.execute("SELECT value FROM info WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:  # opened read-only before the table existed
            return None
        if found is None:
            return None
        try:
            return json.loads(found[0])
        except ValueError:  # a plain value (schema_version)
            return found[0]

    def start_run(self, config: str, tracks: int) -> int:
        with self._writing(), self._db:
            cursor = self._db.execute("INSERT INTO runs (config, tracks, started_at) VALUES (?, ?, ?)",
                                      (config, tracks, time.time()))
        return int(cursor.lastrowid)

    def finish_run(self, run_id: int, outcome: str) -> None:
        with self._writing(), self._db:
            self._db.execute("UPDATE runs SET finished_at = ?, outcome = ? WHERE run_id = ?",
                             (time.time(), outcome, run_id))

    def runs(self) -> list[dict[str, Any]]:
        """Every run so far, oldest first (none in a manifest from before runs were kept)."""
        try:
            found = self._db.execute(
                "SELECT run_id, config, tracks, started_at, finished_at, outcome FROM runs ORDER BY run_id").fetchall()
        except sqlite3.OperationalError:  # opened read-only before the table existed
            return []
        keys = ("run_id", "config", "tracks", "started_at", "finished_at", "outcome")
        return [dict(zip(keys, row)) for row in found]

    def rows(self, track_ids: Iterable[int] | None = None) -> Iterator[TrackRow]:
        """Rows in `track_ids` order (all rows by id when None); unknown ids are skipped."""
        query = f"SELECT {_ROW_COLUMNS} FROM tracks"
        if track_ids is None:
            for row in self._db.execute(query + " ORDER BY track_id"):
                yield _row(row)
            return
        ids = list(track_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            found = {
                r[0]: r
                for r in self._db.execute(
                    query + f" WHERE track_id IN ({','.join('?' * len(chunk))})", chunk
                )
            }
            for track_id in chunk:
                if track_id in found:
                    yield _row(found[track_id])



def _disk_error_of(error: sqlite3.OperationalError, path: Path) -> OSError | None:
    """The OSError behind a failed SQLite write, when the disk is to blame. SQLite says
    SQLITE_FULL for a full disk; for the rest (read-only, cannot open, I/O error) a test
    write beside the database tells what the disk says."""
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF  # the primary code
    if code == sqlite3.SQLITE_FULL:
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR):
        try:
            with tempfile.TemporaryFile(dir=path.parent) as probe:
                probe.write(b"\0")
                probe.flush()
        except OSError as disk_says:
            return OSError(disk_says.errno, disk_says.strerror, str(path))
    return None


def chosen_candidate(row: TrackRow) -> dict:
    """The candidate of the match evidence whose video the track's clip is from ({} if none)."""
    for candidate in (row.match_evidence or {}).get("candidates", []):
        if candidate.get("video_id") == row.youtube_video_id and candidate.get("verdict") != "refused":
            return candidate
    return {}


def found_by(row: TrackRow) -> str | None:
    """The candidate source that found the track's YouTube video; a manifest from before
    the sources were recorded named the id map's candidates "map"."""
    source = (row.match_evidence or {}).get("found_by") or chosen_candidate(row).get("source")
    return "id_map" if source == "map" else source


def metadata_counts(rows: Iterable[TrackRow]) -> dict[str, int]:
    """How many of `rows` are in each metadata state."""
    counts = {PENDING: 0, OK: 0, NO_DATA: 0, FAILED: 0}
    for row in rows:
        counts[row.meta_status] += 1
    return counts


_ROW_COLUMNS = (
    "track_id, meta_status, metadata, attempts, last_error, preview_status, youtube_status, "
    "audio_source, audio_path, audio_sha256, audio_duration, youtube_video_id, match_evidence, audio_error"
)


def _row(row: tuple) -> TrackRow:
    values = list(row)
    values[2] = json.loads(values[2]) if values[2] else None
    values[12] = json.loads(values[12]) if values[12] else None
    return TrackRow(*values)
