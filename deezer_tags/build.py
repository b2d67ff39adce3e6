"""One build: planned from a builder config, run from its download function, split.

``Build.from_config`` reads and checks everything the user gave before any request
(``inputs``); ``Build.run`` downloads the published files through the ``datasets`` download
manager (so ``datasets`` caches and counts them), verifies and parses them, fetches what the
manifest lacks (``acquire``: the pipeline), assigns the splits and says which tracks each
split gets. The loading script only calls these two.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from filelock import FileLock, Timeout

from deezer_tags import buildreport, defaults
from deezer_tags.calibration import FINAL as CALIBRATED
from deezer_tags.calibration import CalibrationScheduler, Calibrator
from deezer_tags.deezer import DeezerClient, RetryPolicy
from deezer_tags.errors import (
    BadTrackSelectionError, BuildLockedError, BuildStoppedError, NetworkUnreachableError, cause_chain, storage_error,
)
from deezer_tags.importer import import_existing
from deezer_tags.inputs import UserInputs, read_user_inputs, select_tracks, split_of_every_track
from deezer_tags.manifest import NO_DATA, OK, PENDING, YOUTUBE_PROGRESS_INFO, Manifest, metadata_counts
from deezer_tags.pipeline import Pipeline, PipelineOptions, RunCounts
from deezer_tags.previews import PreviewDownloader
from deezer_tags.provenance import build_settings
from deezer_tags.published import Sources, parse_sources, read_source_text, sha256_of, source_urls, verify_sources
from deezer_tags.sources import ENDPOINT_FIELDS, Endpoints, Quota, resolve_endpoints, resolve_quota
from deezer_tags.splits import artist_assignment, group_by_split, merge_artists, parse_folds
from deezer_tags.workdir import WorkDir, csv_text, write_atomically
from deezer_tags.youtube import Pace, YouTubeRecoverer, parse_youtube_map
from deezer_tags.youtube.budget import DEFAULT_PATIENCE_HOURS, Budget, resolve_budget
from deezer_tags.youtube.progress import pace_state_of

log = logging.getLogger("deezer_tags")

SOURCE_KEYS = ("annotation", "train", "validation", "test", "folds")  # folds: artist ids


@dataclass(frozen=True)
class Built:
    """What a build hands the loading script: each split's (track id, labels), the work dir
    the examples are read from, and whether the split sizes are the card's (the published
    files, the paper's split, every track, no audio filter)."""

    splits: dict[str, list[tuple[int, list[int]]]]
    work_dir: Path
    card_sizes: bool


@dataclass
class Build:
    """The engine side of one builder run, rooted in a work dir that outlives it."""

    work_dir: Path
    endpoints: Endpoints = field(default_factory=Endpoints)
    quota: Quota = field(default_factory=Quota)
    workers: int = defaults.API_WORKERS
    preview_workers: int = defaults.PREVIEW_WORKERS
    youtube_workers: int = defaults.YOUTUBE_WORKERS
    progress: bool = True
    # The calibration of the YouTube path (deezer_tags.calibration): None, the default sample
    # (1 % of the tracks with a preview); 0, none.
    calibration_tracks: int | None = None
    calibration_seed: int = 0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # YouTube's budget (youtube.budget), the hours of bot checks before the run stops, and
    # this run's cap on YouTube work (None: until every YouTube track is settled).
    youtube_budget: Budget = field(default_factory=resolve_budget)
    youtube_patience: float | None = None   # seconds; None: the default
    youtube_seconds: float | None = None
    # The dir a user chose for the build (the datasets cache dir), named when its disk
    # is full or read-only; default: the work dir's parent.
    storage_root: Path | None = None
    # What shapes the data, for the report's provenance (see deezer_tags.provenance).
    settings: dict = field(default_factory=dict)
    config: Any = None          # the builder config, when planned from one
    inputs: UserInputs | None = None

    def __post_init__(self) -> None:
        self.work_dir = Path(self.work_dir)
        self.layout = WorkDir(self.work_dir)

    @classmethod
    def from_config(cls, config: Any, cache_root: str | os.PathLike) -> Build:
        """A build of the loading script's ``config``, every user input checked first."""
        inputs = read_user_inputs(config)
        endpoints = resolve_endpoints({name: getattr(config, name) for name in ENDPOINT_FIELDS})
        work_dir = WorkDir.of(cache_root, config.work_dir)
        return cls(
            work_dir=work_dir.root, endpoints=endpoints,
            quota=resolve_quota(config.quota_calls, config.quota_window),
            workers=config.workers, preview_workers=config.preview_workers, youtube_workers=config.youtube_workers,
            calibration_tracks=inputs.calibration_tracks,
            retry=RetryPolicy.resolve(config.quota_patience, config.unreachable_after),
            youtube_budget=inputs.youtube_budget, youtube_patience=inputs.youtube_patience,
            youtube_seconds=inputs.youtube_seconds,
            storage_root=Path(cache_root), config=config, inputs=inputs,
        )

    @property
    def manifest_path(self) -> Path:
        return self.layout.manifest

    # -- the whole build, as the loading script runs it ------------------------------------------

    def run(self, download: Callable[[dict[str, str]], dict[str, str]], *, verify: bool = True) -> Built:
        """Download, verify and parse the sources; fetch what the manifest lacks; split.
        ``download``: the datasets download manager's. ``verify`` False: no checksums
        (verification_mode="no_checks")."""
        config, inputs = self.config, self.inputs
        urls = source_urls(self.endpoints, SOURCE_KEYS + (("youtube_map",) if config.youtube else ()))
        paths = self.download_sources(download, urls)
        digests = (verify_sources(paths, urls, config.checksums) if verify
                   else {key: sha256_of(path) for key, path in paths.items()})
        self.settings = build_settings(
            config=config.name, sources_sha256=digests, split_scheme=config.split_scheme,
            split_file_sha256=sha256_of(config.split_file) if config.split_file else None,
            section_start=config.section_start, quota=self.quota, api_language=self.endpoints.api_language,
            youtube=config.youtube, recipe_sha256=sha256_of(config.recipe) if inputs.recipe else None,
            calibration_tracks=self.calibration_tracks)
        sources = parse_sources(paths)
        selected = select_tracks(sources.matrix, inputs.track_ids, config.max_tracks)
        paper = config.split_scheme == "paper" and not config.split_file
        card_sizes = (not config.audio and len(selected) == len(sources.matrix.labels) and verify
                      and not config.checksums and paper)
        writing = self._gather(selected, paths)
        split_of = self.split_assignment(config.split_scheme, sources, selected, folds_path=paths["folds"],
                                         split_file=inputs.split_file, write=writing)
        if writing:
            self.report_splits(split_of, audio=config.audio, youtube=config.youtube)
        if config.audio:
            selected = self.with_audio(selected, youtube=config.youtube)
        return Built(
            splits={split: [(t, sources.matrix.labels[t]) for t in ids]
                    for split, ids in group_by_split(selected, split_of).items() if ids},
            work_dir=self.work_dir, card_sizes=card_sizes)

    def _gather(self, selected: Sequence[int], paths: Mapping[str, str]) -> bool:
        """Fetch what the manifest lacks for ``selected``, holding the work dir's lock; False
        when another build holds it and the manifest already has all this config needs (a
        `previews` or `metadata` build while a `full` one is on YouTube): the examples are
        then read as they are, and the other build's reports left alone."""
        try:
            with self.locked():
                self._fetch(selected, paths)
        except BuildLockedError:
            if self.config.youtube or not self.complete_for(selected, audio=self.config.audio):
                raise
            log.info("another build holds %s; this config's data is complete there, so it is read as it is",
                     self.work_dir)
            return False
        return True

    def _fetch(self, selected: Sequence[int], paths: Mapping[str, str]) -> None:
        config = self.config
        youtube = self.recoverer(parse_youtube_map(read_source_text(paths["youtube_map"]))) if config.youtube else None
        try:
            if config.data_dir and config.audio:
                import_existing(self.work_dir, config.data_dir, selected)
            self.acquire(selected, audio=config.audio, youtube=youtube)
        finally:
            if youtube is not None:
                youtube.close()

    def recoverer(self, youtube_map: Mapping[int, dict]) -> YouTubeRecoverer:
        """The YouTube recoverer of this build, paced by its budget from where the last run left it."""
        config, inputs = self.config, self.inputs
        state = None
        if self.manifest_path.exists():
            with suppress(sqlite3.Error), Manifest(self.manifest_path, readonly=True) as manifest:
                state = pace_state_of(manifest.info(YOUTUBE_PROGRESS_INFO))
        patience = self.youtube_patience if self.youtube_patience is not None else DEFAULT_PATIENCE_HOURS * 3600
        deadline = time.monotonic() + self.youtube_seconds if self.youtube_seconds else None
        pace = Pace(self.youtube_budget, patience=patience, deadline=deadline, state=state)
        return YouTubeRecoverer(
            self.endpoints, youtube_map, cookies=config.youtube_cookies, section_start=config.section_start,
            recipe=inputs.recipe, options=config.youtube_options,
            cookies_from_browser=config.youtube_cookies_from_browser, pace=pace,
            sessions=self.youtube_workers + 2)

    def complete_for(self, track_ids: Sequence[int], *, audio: bool) -> bool:
        """The manifest has a settled outcome for every track of ``track_ids``: its metadata
        (and, with ``audio``, its preview), as a build leaves them once its calls end."""
        if not self.manifest_path.exists():
            return False
        with Manifest(self.manifest_path, readonly=True) as manifest:
            rows = list(manifest.rows(track_ids))
        return len(rows) == len(track_ids) and all(
            r.meta_status != PENDING and (not audio or r.meta_status != OK or r.preview_status != PENDING)
            for r in rows)

    # -- the parts -------------------------------------------------------------------------------

    @contextmanager
    def locked(self) -> Iterator[None]:
        """One build per work dir at a time; a second one is refused, not interleaved."""
        with self.disk_errors():
            self.work_dir.mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(self.layout.lock))
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
        Raises BuildStoppedError (no network, quota spent for long, YouTube's bot check for
        longer than youtube_patience) or a disk's UserError; every outcome that arrived
        before is in the manifest."""
        client = DeezerClient(self.endpoints.api_url, self.quota, pool_size=self.workers, retry=self.retry,
                              language=self.endpoints.api_language)
        options = PipelineOptions(api_workers=self.workers, preview_workers=self.preview_workers,
                                  youtube_workers=self.youtube_workers, audio=audio,
                                  youtube=youtube is not None)
        started = time.monotonic()
        try:
            with self.disk_errors(), Manifest(self.manifest_path) as manifest:
                run_id = manifest.start_run(self.settings.get("config") or "", len(track_ids))
                calibration = None
                if audio and youtube is not None and self.calibration_tracks != 0:
                    done = [t for t, o in manifest.calibration(track_ids).items() if o.status in CALIBRATED]
                    calibrator = Calibrator(manifest, youtube, self.work_dir, workers=self.youtube_workers,
                                            progress=self.progress)
                    calibration = CalibrationScheduler(calibrator, track_ids, self.calibration_tracks,
                                                       self.calibration_seed, done)
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
                if youtube is not None and youtube.pace.gave_up is not None:
                    manifest.finish_run(run_id, "stopped")
                    raise youtube.pace.gave_up.with_kept(self.tracks_fetched(manifest, track_ids))
                calibrated = None
                if calibration is not None and counts.youtube_blocked is None:
                    calibrated = calibration.after_build(track_ids)
                manifest.finish_run(run_id, "complete")
                buildreport.write_run_report(
                    self.layout, manifest, track_ids, counts, client, time.monotonic() - started,
                    settings=self.settings, audio=audio, youtube=youtube,
                    calibration=(self.calibration_tracks, self.calibration_seed, calibrated)
                    if calibration is not None else None)
                log.info("Deezer metadata: %s", ", ".join(f"{k} {v:,}" for k, v in counts.calls.items()))
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
                         folds_path: str | None = None, split_file: Mapping[int, str] | None = None,
                         *, write: bool = True) -> dict[int, str]:
        """Each track's split under `scheme` ("paper" or "artist"), or as the user's split file
        says; written to splits.csv (track_id, artist_id, split) beside the manifest."""
        with Manifest(self.manifest_path, readonly=True) as manifest:
            deezer_artist = {r.track_id: (r.metadata or {}).get("artist_id") for r in manifest.rows(track_ids)}
        folds = parse_folds(read_source_text(folds_path), "the paper's folds file (artist ids)") if folds_path else {}
        artist_of = merge_artists(folds, deezer_artist)
        if split_file is not None:
            assignment = split_of_every_track(split_file, track_ids, getattr(self.config, "split_file", ""))
        elif scheme == "artist":
            assignment = artist_assignment(track_ids, sources.split_of, artist_of)
        elif scheme == "paper":
            assignment = {t: sources.split_of.get(t, "unassigned") for t in track_ids}
        else:
            raise BadTrackSelectionError(f"split_scheme={scheme!r}: choose 'paper' or 'artist'")
        if write:
            rows = [("track_id", "artist_id", "split")]
            rows += [(t, artist_of.get(t) or "", assignment[t]) for t in track_ids]
            with self.disk_errors():
                write_atomically(self.layout.splits, csv_text(rows))
        return assignment

    def report_splits(self, split_of: Mapping[int, str], *, audio: bool, youtube: bool) -> None:
        """Add the counts per split (tracks, and with audio per source) to build_report.json."""
        with Manifest(self.manifest_path, readonly=True) as manifest:
            rows = {row.track_id: row for row in manifest.rows(split_of)}
        with self.disk_errors():
            buildreport.add_splits(self.layout, buildreport.split_counts(split_of, rows, audio=audio, youtube=youtube))

    def with_audio(self, track_ids: Sequence[int], *, youtube: bool) -> list[int]:
        """The tracks of `track_ids`, in order, that have a clip for a config (with or without YouTube)."""
        with Manifest(self.manifest_path, readonly=True) as manifest:
            return [row.track_id for row in manifest.rows(track_ids) if buildreport.has_audio(row, youtube)]

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
