"""One build, as the loading script drives it: sources in, tracks resolved, rows out.

The loading script downloads through `dl_manager` (so `datasets` caches and
counts the files) and hands the local paths here; everything after that is the
engine's: checksums, parsing, track selection, the Deezer calls, the manifest.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import logging
import os
import socket
import sqlite3
import time
from collections import Counter
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Sequence
from urllib.parse import urlsplit

from filelock import FileLock, Timeout

from deezer_tags.calibration import FINAL as CALIBRATED
from deezer_tags.calibration import (
    CalibrationRun, Calibrator, Speculation, calibration_table, sampled_outcomes, summarize,
)
from deezer_tags.deezer import DeezerClient, RetryPolicy
from deezer_tags.errors import (
    BadTrackSelectionError, BuildLockedError, BuildStoppedError, ChecksumMismatchError, MalformedSourceError,
    NetworkUnreachableError,
    cause_chain, storage_error,
)
from deezer_tags.manifest import (
    FAILED, MANIFEST_NAME, NO_DATA, OK, PREVIEW, YOUTUBE, Manifest, TrackRow, chosen_candidate, found_by,
    metadata_counts,
)
from deezer_tags.matrix import TagMatrix, parse_split_file, parse_tag_matrix
from deezer_tags.pipeline import Pipeline, PipelineOptions, RunCounts
from deezer_tags.ffmpeg import ffmpeg_exe
from deezer_tags.previews import PreviewDownloader
from deezer_tags.provenance import summarize_runs, tool_versions
from deezer_tags.sources import PINNED_SHA256, Endpoints, Quota
from deezer_tags.splits import SPLITS, artist_assignment, merge_artists, paper_assignment, parse_folds
from deezer_tags.youtube import YouTubeRecoverer

log = logging.getLogger("deezer_tags")

# The work dir (manifest, reports) under the datasets cache dir; not the name datasets
# uses for its own Arrow cache of this script (deezer_contextual_tags/).
WORK_DIR_NAME = "deezer_tags"
REPORT_NAME = "build_report.json"
SPLITS_NAME = "splits.csv"
FAILED_NAME = "failed_tracks.csv"
CALIBRATION_NAME = "calibration.csv"

SOURCE_TITLES = {
    "annotation": "the tag matrix (Zenodo Context_tags_dataset.csv)",
    "train": "the paper's train split file",
    "validation": "the paper's validation split file",
    "test": "the paper's test split file",
    "folds": "the paper's folds file (artist ids)",
    "youtube_map": "the YouTube id map (id_to_url.json)",
}


def source_urls(endpoints: Endpoints, keys: Sequence[str]) -> dict[str, str]:
    """The URL of each wanted source file."""
    urls = {"annotation": endpoints.zenodo_url, "youtube_map": endpoints.youtube_map_url}
    return {key: urls[key] if key in urls else endpoints.split_file_url(key) for key in keys}


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sources(paths: Mapping[str, str], urls: Mapping[str, str],
                   overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each downloaded file must have its pinned sha256 (or the one `overrides` gives);
    returns the digests, by key."""
    expected_of = {**PINNED_SHA256, **(overrides or {})}
    digests = {}
    for key, path in paths.items():
        expected = expected_of[key]
        actual = digests[key] = sha256_of(path)
        if actual != expected:
            raise ChecksumMismatchError(
                f"{SOURCE_TITLES[key]} from {urls[key]} has sha256 {actual}, expected {expected}: "
                "if the server sent a broken file, build again with download_mode='force_redownload' "
                "(deezer-tags build --force-redownload); "
                "if you chose other files on purpose, pass verification_mode='no_checks' to load_dataset "
                f"(or checksums={{'{key}': '<sha256>'}} in the config)"
            )
    return digests


@dataclass(frozen=True)
class Sources:
    matrix: TagMatrix
    split_of: dict[int, str]  # the paper's assignment; absent = unassigned


def parse_sources(paths: Mapping[str, str]) -> Sources:
    matrix = parse_tag_matrix(read_source_text(paths["annotation"]), "the tag matrix")
    split_ids = {
        split: parse_split_file(read_source_text(paths[split]), SOURCE_TITLES[split], matrix)
        for split in ("train", "validation", "test")
    }
    return Sources(matrix=matrix, split_of=paper_assignment(split_ids))


def read_source_text(path: str | os.PathLike) -> str:
    """A downloaded source file as text (UTF-8, with or without a byte-order mark)."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            return handle.read()
    except UnicodeDecodeError as error:
        raise MalformedSourceError(
            f"the source file {os.fspath(path)} is not UTF-8 text (byte {error.start} is {error.object[error.start]:#04x}); "
            "download it again with download_mode='force_redownload', or, if you chose it on purpose, save it as UTF-8"
        ) from None


def select_tracks(matrix: TagMatrix, track_ids: Sequence[int] | str | os.PathLike | None = None,
                  max_tracks: int | None = None) -> list[int]:
    """The tracks a build covers: all, a given list (or file of ids), and/or the first N."""
    if track_ids is None:
        selected = matrix.ids
    else:
        if isinstance(track_ids, (str, os.PathLike)):
            track_ids = _read_id_file(Path(track_ids))
        selected = list(dict.fromkeys(_as_id(t) for t in track_ids))
        unknown = [t for t in selected if t not in matrix.labels]
        if unknown:
            raise BadTrackSelectionError(
                f"{len(unknown)} of the requested track_ids are not in the tag matrix "
                f"(e.g. {', '.join(map(str, unknown[:5]))}); remove them from track_ids"
            )
    if max_tracks is not None:
        if max_tracks < 1:
            raise BadTrackSelectionError(f"max_tracks={max_tracks}: give a positive number of tracks")
        selected = selected[:max_tracks]
    return selected


def read_split_file(path: str | os.PathLike, track_ids: Sequence[int]) -> dict[int, str]:
    """A user's own split: a CSV with `track_id` and `split` columns covering every built track."""
    try:
        rows = list(csv.DictReader(io.StringIO(read_source_text(str(path)))))
    except OSError as error:
        raise BadTrackSelectionError(f"cannot read the split_file {path}: {error.strerror}") from None
    if not rows or not {"track_id", "split"} <= set(rows[0]):
        raise BadTrackSelectionError(f"split_file {path} needs a header with track_id and split columns")
    assignment: dict[int, str] = {}
    for line_no, row in enumerate(rows, start=2):
        if row["split"] not in SPLITS:
            raise BadTrackSelectionError(
                f"split_file {path} line {line_no}: split {row['split']!r} is not one of {', '.join(SPLITS)}")
        assignment[_as_id(row["track_id"])] = row["split"]
    missing = [t for t in track_ids if t not in assignment]
    if missing:
        raise BadTrackSelectionError(
            f"split_file {path} has no split for {len(missing)} tracks (e.g. {', '.join(map(str, missing[:5]))}); "
            "add them, or leave them out of the build with track_ids")
    return {t: assignment[t] for t in track_ids}


def _as_id(value: object) -> int:
    try:
        track_id = int(str(value).strip())
    except ValueError:
        track_id = 0
    if track_id <= 0:
        raise BadTrackSelectionError(f"track_ids holds {value!r}, which is not a positive integer track id")
    return track_id


def _read_id_file(path: Path) -> list[str]:
    """Ids separated by newlines, commas or spaces; a `song_id` header and # comments are skipped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise BadTrackSelectionError(f"cannot read the track_ids file {path}: {error.strerror}") from None
    tokens = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        tokens += [t for t in line.replace(",", " ").split() if t != "song_id"]
    return tokens


@dataclass
class Build:
    """The engine side of one builder run, rooted in a work dir that outlives it."""

    work_dir: Path
    endpoints: Endpoints = field(default_factory=Endpoints)
    quota: Quota = field(default_factory=Quota)
    workers: int = 16           # Deezer calls in flight
    preview_workers: int = 8
    # Each waits on YouTube (pages, manifest, media: ~1 s a clip) and runs an ffmpeg: at the
    # real quota 2 kept the build at 1.86 x the quota floor on 2 cores, 4 at 1.08 x; with the
    # calibration beside the build (200 tracks in 2,000) 4 gave 1.15-1.22 x, 6 gave 1.09-1.15 x.
    youtube_workers: int = 6
    progress: bool = True
    # The calibration of the YouTube path (deezer_tags.calibration): None, the default sample
    # (1 % of the tracks with a preview, at least 200); 0, none.
    calibration_tracks: int | None = None
    calibration_seed: int = 0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # The dir a user chose for the build (the datasets cache dir), named when its disk
    # is full or read-only; default: the work dir's parent.
    storage_root: Path | None = None
    # What shapes the data, for the report's provenance: the config's name, the sources'
    # sha256, the split scheme, the section rule, the match rules, the quota (see
    # deezer_tags.provenance). The loading script fills it in.
    settings: dict = field(default_factory=dict)

    @property
    def manifest_path(self) -> Path:
        return self.work_dir / MANIFEST_NAME

    @contextmanager
    def locked(self) -> Iterator[None]:
        """One build per work dir at a time; a second one is refused, not interleaved."""
        with self.disk_errors():
            self.work_dir.mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(self.work_dir / "build.lock"))
            try:
                lock.acquire(timeout=0)
            except Timeout:
                raise BuildLockedError(
                    f"another build is using {self.work_dir}: wait for it to finish, then run the same "
                    "command again (or build into another cache dir)"
                ) from None
        try:
            yield
        finally:
            lock.release()

    @contextmanager
    def disk_errors(self) -> Iterator[None]:
        """A full or read-only disk under the build becomes its one-sentence UserError."""
        try:
            yield
        except OSError as error:
            explained = storage_error(error, self.storage_root or self.work_dir.parent)
            if explained is None:
                raise
            raise explained from error

    def download_sources(self, download: Callable[[dict[str, str]], dict[str, str]],
                         urls: dict[str, str]) -> dict[str, str]:
        """`download` (the datasets download manager's) on `urls`: local paths by key. A host
        that cannot be reached stops the build with NetworkUnreachableError; a full or
        read-only cache disk with its own sentence."""
        try:
            with self.disk_errors():
                return download(urls)
        except Exception as error:
            host = unreachable_host(error, urls.values())
            if host is None:
                raise
            raise NetworkUnreachableError.of(host).with_kept(self.tracks_fetched()) from error

    def acquire(self, track_ids: Sequence[int], *, audio: bool = False,
                youtube: YouTubeRecoverer | None = None) -> RunCounts:
        """Fetch what the manifest lacks for `track_ids` (metadata, and audio when asked
        for, with YouTube as the fallback when given); returns this run's counts.
        Raises BuildStoppedError (no network, quota spent for long) or a disk's UserError;
        every outcome that arrived before is in the manifest."""
        client = DeezerClient(self.endpoints.api_url, self.quota, pool_size=self.workers, retry=self.retry,
                              language=self.endpoints.api_language)
        options = PipelineOptions(api_workers=self.workers, preview_workers=self.preview_workers,
                                  youtube_workers=self.youtube_workers, audio=audio,
                                  youtube=youtube is not None)
        started = time.monotonic()
        try:
            with self.disk_errors(), Manifest(self.manifest_path) as manifest:
                run_id = manifest.start_run(self.settings.get("config") or "", len(track_ids))
                calibrator = calibration = None
                if audio and youtube is not None and self.calibration_tracks != 0:
                    calibrator = Calibrator(manifest, youtube, self.work_dir, workers=self.youtube_workers,
                                            progress=self.progress)
                    done = [t for t, o in manifest.calibration(track_ids).items() if o.status in CALIBRATED]
                    calibration = (Speculation(track_ids, self.calibration_tracks, self.calibration_seed, done),
                                   calibrator)
                pipeline = Pipeline(
                    manifest, client, self.work_dir, preview_allowed=self.endpoints.is_preview_url,
                    previews=PreviewDownloader(self.endpoints.is_preview_url, pool_size=self.preview_workers),
                    youtube=youtube, options=options, progress=self.progress, calibration=calibration,
                )
                try:
                    counts = pipeline.run(track_ids)
                except BuildStoppedError as stopped:
                    with suppress(OSError, sqlite3.Error):  # the stop's own sentence matters more
                        manifest.finish_run(run_id, "stopped")
                    raise stopped.with_kept(self.tracks_fetched(manifest, track_ids)) from None
                # What the calibration beside the build missed (a sample not yet known then).
                calibrated = None
                if calibrator is not None and counts.youtube_blocked is None:
                    calibrated = calibrator.run(track_ids, self.calibration_tracks, self.calibration_seed)
                manifest.finish_run(run_id, "complete")
                self._write_report(manifest, track_ids, counts, client, time.monotonic() - started,
                                   audio=audio, youtube=youtube is not None, calibrating=calibrator is not None,
                                   calibrated=calibrated)
        finally:
            client.close()  # calls still retrying in other threads stop now
        return counts

    def tracks_fetched(self, manifest: Manifest | None = None, track_ids: Sequence[int] | None = None) -> int | None:
        """Tracks whose Deezer metadata is in the manifest (final: ok or gone); 0 without a
        manifest, None when it cannot be read (the count is only told, never relied on)."""
        try:
            if manifest is None:
                if not self.manifest_path.exists():
                    return 0
                with Manifest(self.manifest_path, readonly=True) as readonly:
                    return self.tracks_fetched(readonly, track_ids)
            counts = metadata_counts(manifest.rows(track_ids))
        except (sqlite3.Error, OSError):
            return None
        return counts[OK] + counts[NO_DATA]

    def split_assignment(self, scheme: str, sources: Sources, track_ids: Sequence[int],
                         folds_path: str | None = None, split_file: str | None = None) -> dict[int, str]:
        """Each track's split under `scheme` ("paper" or "artist"), or as `split_file` says;
        written to splits.csv (track_id, artist_id, split) beside the manifest."""
        with Manifest(self.manifest_path, readonly=True) as manifest:
            deezer_artist = {r.track_id: (r.metadata or {}).get("artist_id") for r in manifest.rows(track_ids)}
        folds = parse_folds(read_source_text(folds_path), SOURCE_TITLES["folds"]) if folds_path else {}
        artist_of = merge_artists(folds, deezer_artist)
        if split_file:
            assignment = read_split_file(split_file, track_ids)
        elif scheme == "artist":
            assignment = artist_assignment(track_ids, sources.split_of, artist_of)
        elif scheme == "paper":
            assignment = {t: sources.split_of.get(t, "unassigned") for t in track_ids}
        else:
            raise BadTrackSelectionError(f"split_scheme={scheme!r}: choose 'paper' or 'artist'")
        rows = [("track_id", "artist_id", "split")]
        rows += [(t, artist_of.get(t) or "", assignment[t]) for t in track_ids]
        with self.disk_errors():
            _write_atomically(self.work_dir / SPLITS_NAME, _csv_text(rows))
        return assignment

    def report_splits(self, split_of: Mapping[int, str], *, audio: bool, youtube: bool) -> None:
        """Add the counts per split (tracks, and with audio per source) to build_report.json."""
        path = self.work_dir / REPORT_NAME
        with Manifest(self.manifest_path, readonly=True) as manifest:
            rows = {row.track_id: row for row in manifest.rows(split_of)}
        splits: dict[str, dict] = {}
        for track_id, split in split_of.items():
            entry = splits.setdefault(split, {"tracks": 0, **({"with_audio": Counter()} if audio else {})})
            entry["tracks"] += 1
            row = rows.get(track_id)
            if audio and row is not None and _has_audio(row, youtube):
                entry["with_audio"][row.audio_source] += 1
        with self.disk_errors():
            report = json.loads(path.read_text(encoding="utf-8"))
            report["splits"] = {name: {**e, **({"with_audio": dict(e["with_audio"])} if audio else {})}
                                for name, e in sorted(splits.items())}
            _write_atomically(path, json.dumps(report, indent=2) + "\n")

    def with_audio(self, track_ids: Sequence[int], *, youtube: bool) -> list[int]:
        """The tracks of `track_ids`, in order, that have a clip for a config (with or without YouTube)."""
        with Manifest(self.manifest_path, readonly=True) as manifest:
            return [row.track_id for row in manifest.rows(track_ids) if _has_audio(row, youtube)]

    def _write_report(self, manifest: Manifest, track_ids: Sequence[int], counts: RunCounts,
                      client: DeezerClient, seconds: float, *, audio: bool, youtube: bool,
                      calibrating: bool = False, calibrated: CalibrationRun | None = None) -> None:
        """build_report.json (totals), failed_tracks.csv (every track left without what this
        config wants, and why) and, when the build calibrated, calibration.csv."""
        rows = list(manifest.rows(track_ids))
        report: dict = {
            "tracks": len(track_ids),
            "provenance": {
                **summarize_runs(manifest.runs()),
                "versions": tool_versions(ffmpeg_exe() if youtube else None),
                **self.settings,
            },
            "metadata": metadata_counts(rows),
            "this_run": {
                "calls": client.calls_made, "quota_answers": client.quota_answers,
                "seconds": round(seconds, 2), "deezer": counts.calls,
            },
        }
        missing = [(r.track_id, "metadata", r.meta_status, r.last_error or "")
                   for r in rows if r.meta_status in (NO_DATA, FAILED, "pending")]
        if audio:
            report["audio"] = _audio_counts(rows, youtube)
            followed = Counter(_recipe_outcome(r) for r in rows if r.audio_source != PREVIEW)
            if followed["followed"] or followed["fell_back"]:
                report["audio"]["recipe"] = {"followed": followed["followed"], "fell_back": followed["fell_back"]}
            report["this_run"].update(previews=counts.previews, youtube=counts.youtube,
                                      bytes_fetched=counts.bytes_fetched)
            if counts.youtube_blocked:
                report["this_run"]["youtube_blocked"] = counts.youtube_blocked
            missing = [(r.track_id, "audio", _why_no_audio(r, youtube), r.audio_error or r.last_error or "")
                       for r in rows if not _has_audio(r, youtube)]
        if calibrating:
            sampled, outcomes = sampled_outcomes(manifest, track_ids, self.calibration_tracks, self.calibration_seed)
            after = calibrated or CalibrationRun()
            report["calibration"] = {
                **summarize(outcomes, len(sampled)),
                "sample": sampled,
                "this_run": {"after_build_s": after.seconds, "after_build_tracks": sum(after.outcomes.values()),
                             **({"blocked": after.blocked} if after.blocked else {})},
            }
            _write_atomically(self.work_dir / CALIBRATION_NAME, _csv_text(calibration_table(rows, outcomes)))
        _write_atomically(self.work_dir / REPORT_NAME, json.dumps(report, indent=2) + "\n")
        _write_atomically(self.work_dir / FAILED_NAME,
                          _csv_text([("track_id", "stage", "status", "reason"), *missing]))
        log.info("Deezer metadata: %s", ", ".join(f"{k} {v}" for k, v in report["metadata"].items()))


# A connection that could not be made (as opposed to a server that answered badly).
_CONNECT_ERRNOS = frozenset({errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ETIMEDOUT,
                             errno.ECONNRESET, errno.ENETDOWN, errno.EHOSTDOWN})


def unreachable_host(error: BaseException, urls: Iterable[str]) -> str | None:
    """The host (of `urls`) that `error` failed to connect to, or None if it did not fail
    that way. `datasets` reports a failed download as FileNotFoundError(url) caused by the
    HTTP client's connection error (aiohttp's, an OSError with the socket's errno)."""
    links = list(cause_chain(error))
    if not any(_is_connect_failure(link) for link in links):
        return None
    text = " ".join(str(link) for link in links)
    for url in urls:
        if url in text:
            return urlsplit(url).netloc
    return next((f"{link.host}:{link.port}" for link in links if hasattr(link, "host") and hasattr(link, "port")),
                "the source files' host")


def _is_connect_failure(error: BaseException) -> bool:
    if isinstance(error, (ConnectionError, socket.gaierror, TimeoutError)):
        return True
    return isinstance(error, OSError) and error.errno in _CONNECT_ERRNOS


def _has_audio(row: TrackRow, youtube: bool) -> bool:
    return row.audio_source == PREVIEW or (youtube and row.audio_source == YOUTUBE)


def _why_no_audio(row: TrackRow, youtube: bool) -> str:
    """One word per reason, for the counts: where the track's audio search stopped."""
    if row.meta_status in (FAILED, "pending"):
        return "metadata_" + row.meta_status
    if row.preview_status in (FAILED, "pending"):
        return "preview_" + row.preview_status
    if not youtube:
        return "no_preview" if row.meta_status == OK else "no_deezer_data"
    return "youtube_" + row.youtube_status


def _audio_counts(rows: Sequence[TrackRow], youtube: bool) -> dict:
    with_audio = {PREVIEW: 0, YOUTUBE: 0}
    without: dict[str, int] = {}
    for row in rows:
        if _has_audio(row, youtube):
            with_audio[row.audio_source] += 1
        else:
            reason = _why_no_audio(row, youtube)
            without[reason] = without.get(reason, 0) + 1
    return {"with_audio": with_audio, "without_audio": dict(sorted(without.items()))}


def _csv_text(rows: Sequence[Sequence[object]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # a disk that filled up mid-write leaves no half file


def metadata_example(track_id: int, labels: Sequence[int], row: TrackRow | None) -> dict:
    """One example of the `metadata` config: tags, labels, and Deezer's fields (None when absent)."""
    meta = (row.metadata if row is not None and row.meta_status == OK else None) or {}
    return {
        "track_id": track_id,
        "tags": [i for i, value in enumerate(labels) if value],
        "labels": list(labels),
        **{name: meta.get(name) for name in METADATA_FIELDS},
        "has_preview": bool(meta.get("preview")) if meta else None,
        "metadata_status": row.meta_status if row is not None else "pending",
    }


# Deezer fields copied as they are into every example (see deezer.keep_fields).
METADATA_FIELDS = (
    "title", "title_short", "title_version", "artist_id", "artist_name", "album_id", "album_title",
    "duration", "isrc", "release_date", "bpm", "gain", "readable",
)


def audio_example(track_id: int, labels: Sequence[int], row: TrackRow | None, work_dir: Path, *,
                  youtube: bool) -> dict | None:
    """One example of an audio config, or None when the track has no clip for it."""
    if row is None or not _has_audio(row, youtube):
        return None
    chosen = chosen_candidate(row) if row.audio_source == YOUTUBE else {}
    return {
        **metadata_example(track_id, labels, row),
        "audio": str(work_dir / row.audio_path),
        "audio_source": row.audio_source,
        "audio_sha256": row.audio_sha256,
        "audio_duration": row.audio_duration,
        "youtube_video_id": row.youtube_video_id if row.audio_source == YOUTUBE else None,
        "youtube_title": chosen.get("title"),
        "youtube_match_score": chosen.get("title_score"),
        "youtube_found_by": found_by(row) if row.audio_source == YOUTUBE else None,
    }


# Where a YouTube clip's video was found (youtube.SOURCES), as the report names them.
FOUND_BY_TITLES = {"isrc": "by ISRC on YouTube Music", "id_map": "from the id map",
                   "music_search": "by name on YouTube Music", "search": "by a video search"}


def _recipe_outcome(row: TrackRow) -> str | None:
    """"followed" when the track's clip is the recipe's, "fell_back" when its recipe video
    failed the checks and the normal recovery ran, None without a recipe row."""
    said = (row.match_evidence or {}).get("recipe")
    return None if not said else "followed" if said == "followed" else "fell_back"
