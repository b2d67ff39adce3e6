"""One pipeline, not stages: Deezer calls, preview downloads and YouTube recoveries at once.

Three worker pools run side by side. The calling thread is the conductor and the
manifest's only writer: it feeds track ids to the Deezer pool (holding back when
the preview pool has a backlog, so signed URLs are used soon after they are
issued), reads every outcome from one queue, decides each track's next step, and
commits outcomes in small batches. The Deezer quota is the only thing the whole
build waits on; a kill loses at most the last half second of outcomes.

A track's way through:
    Deezer call --ok, preview--> preview download --ok--> done
        |  \\--no data / no preview--> YouTube          \\--gone / invalid--> YouTube
        \\--failed--> retried by the next build    403 (expired) --> one fresh Deezer call, then again
"""

from __future__ import annotations

import logging
import queue
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from tqdm.auto import tqdm

from deezer_tags.calibration import Calibrator, Speculation
from deezer_tags.deezer import DeezerClient, TrackFetchFailed, TrackNotFound, keep_fields
from deezer_tags.errors import DISK_FULL_ERRNOS, NOT_WRITABLE_ERRNOS
from deezer_tags.manifest import (
    FAILED, NO_DATA, NONE, OK, PENDING, PREVIEW, RETRIED_STATES, YOUTUBE, AudioOutcome, CalibrationOutcome, Manifest,
    MetadataOutcome,
)
from deezer_tags.previews import PreviewDownloader, PreviewExpired, PreviewUnavailable, partial_path
from deezer_tags.youtube import YouTubeBlocked, YouTubeRecoverer

log = logging.getLogger("deezer_tags")

COMMIT_EVERY = 0.5  # seconds between manifest commits
# Calibrations beside the Deezer calls: 2 fit in the CPU the quota leaves idle on 2 cores
# (a 2,000-track build calibrates 200, most of them while its 200 s of calls last).
CALIBRATING_BESIDE = 2


@dataclass(frozen=True)
class PipelineOptions:
    api_workers: int = 16
    preview_workers: int = 8
    youtube_workers: int = 6
    audio: bool = True     # False: metadata only
    youtube: bool = True   # False: previews only


@dataclass
class RunCounts:
    """What this run did, per stream."""

    calls: dict[str, int] = field(default_factory=lambda: {OK: 0, NO_DATA: 0, FAILED: 0})
    previews: dict[str, int] = field(default_factory=lambda: {OK: 0, NONE: 0, FAILED: 0})
    youtube: dict[str, int] = field(default_factory=lambda: {OK: 0, NONE: 0, FAILED: 0})
    youtube_blocked: str | None = None
    bytes_fetched: dict[str, int] = field(default_factory=lambda: {PREVIEW: 0, YOUTUBE: 0})


class Pipeline:
    def __init__(self, manifest: Manifest, client: DeezerClient, work_dir: Path, *,
                 preview_allowed: Callable[[str], bool],
                 previews: PreviewDownloader | None = None,
                 youtube: YouTubeRecoverer | None = None,
                 options: PipelineOptions = PipelineOptions(), progress: bool = True,
                 calibration: tuple[Speculation, Calibrator] | None = None) -> None:
        self.manifest = manifest
        self.client = client
        self.work_dir = work_dir
        self.preview_allowed = preview_allowed
        self.previews = previews
        self.youtube = youtube if options.youtube else None
        self.options = options
        self.progress = progress
        self.counts = RunCounts()
        self._events: queue.Queue = queue.Queue()
        self._meta_batch: list[MetadataOutcome] = []
        self._audio_batch: list[AudioOutcome] = []
        self._in_flight = {"meta": 0, "preview": 0, "youtube": 0, "calibration": 0}
        # The YouTube calibration, beside the build (see calibration.Speculation).
        self.speculation, self.calibrator = calibration if self.youtube and calibration else (None, None)
        self._calibration_batch: list[CalibrationOutcome] = []
        self._calling = True  # Deezer calls still to make or in flight
        self._to_calibrate: deque[int] = deque()
        self._metadata: dict[int, dict[str, Any] | None] = {}
        self._preview_status: dict[int, str] = {}  # as the manifest had them when the run began
        self._youtube_status: dict[int, str] = {}

    # -- the conductor -----------------------------------------------------------------

    def run(self, track_ids: Iterable[int]) -> RunCounts:
        wanted = list(track_ids)
        self.manifest.add_tracks(wanted)
        (self.work_dir / "audio").mkdir(parents=True, exist_ok=True)
        remove_orphans(self.work_dir / "audio")
        to_call = self._plan(wanted)
        total_calls = len(to_call)
        self._bars = {
            "meta": tqdm(total=total_calls, desc="Deezer calls", unit="track", position=0,
                         disable=not self.progress, dynamic_ncols=True),
            "preview": tqdm(total=0, desc="Previews", unit="clip", position=1,
                            disable=not (self.progress and self.options.audio), dynamic_ncols=True),
            "youtube": tqdm(total=0, desc="YouTube", unit="clip", position=2,
                            disable=not (self.progress and self.youtube), dynamic_ncols=True),
            "calibration": tqdm(total=0, desc="Calibration", unit="track", position=3,
                                disable=not (self.progress and self.speculation), dynamic_ncols=True),
        }
        pools = {
            "meta": ThreadPoolExecutor(self.options.api_workers, thread_name_prefix="deezer"),
            "preview": ThreadPoolExecutor(self.options.preview_workers, thread_name_prefix="preview"),
            "youtube": ThreadPoolExecutor(self.options.youtube_workers, thread_name_prefix="youtube"),
            "calibration": ThreadPoolExecutor(CALIBRATING_BESIDE, thread_name_prefix="calibration"),
        }
        self._pools = pools
        try:
            for job in self._resume_youtube:
                self._submit("youtube", job)
            for track_id in self._resume_calibration:
                self._maybe_calibrate(track_id)
            to_preview = self._resume_previews
            last_commit = time.monotonic()
            while to_call or to_preview or any(self._in_flight.values()):
                self._calling = bool(to_call) or self._in_flight["meta"] > 0
                # A few calibrations at a time, and only while the calls pace the build: the
                # build never waits on a queue of them (the rest is calibrated after it).
                while (self._calling and self._to_calibrate
                       and self._in_flight["calibration"] < CALIBRATING_BESIDE):
                    self._submit("calibration", self._to_calibrate.popleft())
                # Previews left by an earlier run first: their stored URLs may still be valid.
                while to_preview and self._room_for_previews():
                    self._submit("preview", *to_preview.popleft())
                while to_call and self._room_for_calls():
                    self._submit("meta", to_call.popleft(), False)
                try:
                    kind, payload = self._events.get(timeout=COMMIT_EVERY)
                    self._in_flight[kind] -= 1
                    self._handle(kind, payload)
                except queue.Empty:
                    pass
                if time.monotonic() - last_commit >= COMMIT_EVERY:
                    self._commit()
                    last_commit = time.monotonic()
        finally:
            # Ctrl-C, quota exhausted, a bug: keep every outcome that arrived.
            for pool in pools.values():
                pool.shutdown(wait=False, cancel_futures=True)
            try:
                self._commit()
            finally:  # a full disk can refuse this last commit too: the bars end before any message
                for bar in self._bars.values():
                    bar.close()
        return self.counts

    def _room_for_previews(self) -> bool:
        # A short queue: a signed URL must not wait behind thousands of downloads.
        return self._in_flight["preview"] < 4 * self.options.preview_workers

    def _room_for_calls(self) -> bool:
        # Keep the Deezer pool busy, but not ahead of the previews it feeds.
        return self._in_flight["meta"] < 2 * self.options.api_workers and self._room_for_previews()

    def _plan(self, track_ids: list[int]) -> deque[int]:
        """Ids to call Deezer for; audio work an earlier run left goes to the _resume queues."""
        to_call: deque[int] = deque()
        self._resume_previews: deque[tuple[int, str, bool]] = deque()
        self._resume_youtube: list[int] = []
        self._resume_calibration: list[int] = []
        for row in self.manifest.rows(track_ids):
            self._preview_status[row.track_id] = row.preview_status
            self._youtube_status[row.track_id] = row.youtube_status
            if row.meta_status in RETRIED_STATES:
                to_call.append(row.track_id)
                continue
            self._metadata[row.track_id] = row.metadata
            if not self.options.audio:
                continue
            preview_url = (row.metadata or {}).get("preview")
            if self.speculation and row.preview_status not in RETRIED_STATES:
                self.speculation.saw(row.preview_status == OK)
                if row.preview_status == OK:
                    self._resume_calibration.append(row.track_id)
            if row.preview_status in RETRIED_STATES and preview_url:
                # The stored URL may have expired: a 403 gets a fresh one.
                self._resume_previews.append((row.track_id, preview_url, False))
            elif row.preview_status != OK:
                if row.preview_status in RETRIED_STATES:
                    self._audio_batch.append(self._no_preview(row.track_id, row.meta_status))
                if self._wants_youtube(row.track_id):
                    self._resume_youtube.append(row.track_id)
        return to_call

    def _wants_youtube(self, track_id: int) -> bool:
        return (self.youtube is not None and self.counts.youtube_blocked is None
                and self._youtube_status.get(track_id, PENDING) in RETRIED_STATES)

    def _maybe_calibrate(self, track_id: int) -> None:
        """Calibrate a track with a stored preview now if it is likely in the sample, while the
        Deezer calls pace the build; once they are done, the calibration after the build takes
        the rest with every YouTube worker."""
        if (self.speculation and self._calling and self.counts.youtube_blocked is None
                and self.speculation.wants(track_id)):
            self.speculation.done.add(track_id)
            self._to_calibrate.append(track_id)

    def _maybe_youtube(self, track_id: int) -> None:
        """Send a track without a preview to YouTube, unless it has a clip already or
        YouTube stopped us this run."""
        if self._wants_youtube(track_id):
            self._submit("youtube", track_id)

    # -- outcomes ----------------------------------------------------------------------

    def _handle(self, kind: str, payload: tuple) -> None:
        track_id = payload[0]
        self._bars[kind].update()
        if kind == "meta" and isinstance(payload[1], BaseException):
            raise payload[1]  # quota exhausted for long, or a bug: stop, keeping what we have
        if kind == "meta":
            _, outcome, refreshing = payload
            self._after_call(outcome, refreshing)
        elif kind == "preview":
            _, result, _url, refreshed = payload
            self._after_preview(track_id, result, refreshed)
        elif kind == "calibration":
            self._after_calibration(payload[1])
        else:
            _, result = payload
            self._after_youtube(track_id, result)

    def _after_call(self, outcome: MetadataOutcome, refreshing: bool) -> None:
        track_id = outcome.track_id
        self.counts.calls[outcome.status] += 1
        self._meta_batch.append(outcome)
        if outcome.status == FAILED or not self.options.audio:
            return
        self._metadata[track_id] = outcome.metadata
        if self._preview_status.get(track_id) == OK:
            return  # the preview is in the cache already (imported, or a refreshed call)
        preview_url = (outcome.metadata or {}).get("preview")
        if preview_url:
            self._submit("preview", track_id, preview_url, refreshing)
        else:
            self._audio_batch.append(self._no_preview(track_id, outcome.status))
            self.counts.previews[NONE] += 1
            if self.speculation:
                self.speculation.saw(False)
            self._maybe_youtube(track_id)

    def _after_preview(self, track_id: int, result: object, refreshed: bool) -> None:
        _stop_if_disk_trouble(result)
        if isinstance(result, PreviewExpired) and not refreshed:
            self._bars["meta"].total += 1
            self._submit("meta", track_id, True)  # one fresh signed URL, then try again
            return
        if isinstance(result, PreviewExpired):
            outcome = AudioOutcome(track_id, PREVIEW, FAILED, error=f"{result} twice")
        elif isinstance(result, PreviewUnavailable):
            outcome = AudioOutcome(track_id, PREVIEW, NONE, error=str(result))
        elif isinstance(result, Exception):
            outcome = AudioOutcome(track_id, PREVIEW, FAILED, error=f"{type(result).__name__}: {result}")
        else:
            stored = result
            outcome = AudioOutcome(track_id, PREVIEW, OK, path=self._relative(stored.path),
                                   sha256=stored.sha256, duration=stored.duration)
            self.counts.bytes_fetched[PREVIEW] += stored.bytes_fetched
        self.counts.previews[outcome.status] += 1
        self._audio_batch.append(outcome)
        if outcome.status != OK:
            partial_path(self._audio_path(track_id, PREVIEW)).unlink(missing_ok=True)
        if self.speculation and outcome.status != FAILED:
            self.speculation.saw(outcome.status == OK)
        if outcome.status == OK:
            self._maybe_calibrate(track_id)
        if outcome.status == NONE:
            self._maybe_youtube(track_id)

    def _after_calibration(self, result: object) -> None:
        if self._blocked(result):
            return  # the calibration after the build is skipped too; the next build goes on
        if isinstance(result, BaseException):  # a bug in one calibration must not stop the build
            log.warning("calibration failed: %s: %s (it is tried again after the build)", type(result).__name__, result)
            return
        self._calibration_batch.append(result)

    def _blocked(self, result: object) -> bool:
        """True when YouTube refused us (said once, and YouTube left alone for this run)."""
        if not isinstance(result, YouTubeBlocked):
            return False
        if self.counts.youtube_blocked is None:
            self.counts.youtube_blocked = str(result)
            log.warning("%s", result)
        return True

    def _after_youtube(self, track_id: int, result: object) -> None:
        if self._blocked(result):
            return  # left pending: the next build tries again
        _stop_if_disk_trouble(result)
        if isinstance(result, Exception):
            outcome = AudioOutcome(track_id, YOUTUBE, FAILED, error=f"{type(result).__name__}: {result}")
        else:
            outcome = AudioOutcome(
                track_id, YOUTUBE, result.status, error=result.error, video_id=result.video_id,
                evidence=result.evidence,
                path=self._relative(result.audio.path) if result.audio else None,
                sha256=result.audio.sha256 if result.audio else None,
                duration=result.audio.duration if result.audio else None,
            )
            if result.audio:
                self.counts.bytes_fetched[YOUTUBE] += result.audio.bytes_fetched
        self.counts.youtube[outcome.status] += 1
        self._audio_batch.append(outcome)

    def _no_preview(self, track_id: int, meta_status: str) -> AudioOutcome:
        refused = (self._metadata.get(track_id) or {}).get("preview_refused")
        if meta_status == NO_DATA:
            reason = "Deezer has no data for the track"
        elif refused:
            reason = f"the preview URL {refused} is not on the configured CDN hosts; refused"
        else:
            reason = "Deezer lists no preview"
        return AudioOutcome(track_id, PREVIEW, NONE, error=reason)

    # -- workers -----------------------------------------------------------------------

    def _submit(self, kind: str, track_id: int, *args: Any) -> None:
        self._in_flight[kind] += 1
        if kind != "meta":
            self._bars[kind].total += 1
            self._bars[kind].refresh()
        work = {"meta": self._call, "preview": self._download, "youtube": self._recover,
                "calibration": self._calibrate}[kind]
        self._pools[kind].submit(self._report, kind, work, track_id, *args)

    def _report(self, kind: str, work: Callable, track_id: int, *args: Any) -> None:
        try:
            payload = work(track_id, *args)
        except BaseException as error:  # a worker must always report, or the conductor waits forever
            payload = (track_id, error, *args)
        self._events.put((kind, payload))

    def _call(self, track_id: int, refreshing: bool) -> tuple:
        try:
            fields = keep_fields(self.client.track(track_id))
        except TrackNotFound as error:
            return track_id, MetadataOutcome(track_id, NO_DATA, error=str(error)), refreshing
        except TrackFetchFailed as error:
            return track_id, MetadataOutcome(track_id, FAILED, error=str(error)), refreshing
        preview = fields["preview"]
        if preview and not self.preview_allowed(preview):
            fields["preview"] = None  # never follow a preview link off the configured CDN hosts
            fields["preview_refused"] = _shortened(preview)
        return track_id, MetadataOutcome(track_id, OK, metadata=fields), refreshing

    def _download(self, track_id: int, url: str, refreshed: bool) -> tuple:
        try:
            result: object = self.previews.download(url, self._audio_path(track_id, PREVIEW))
        except (PreviewExpired, PreviewUnavailable) as error:
            result = error
        return track_id, result, url, refreshed

    def _recover(self, track_id: int) -> tuple:
        try:
            result: object = self.youtube.recover(track_id, self._metadata.get(track_id),
                                                  self._audio_path(track_id, YOUTUBE))
        except YouTubeBlocked as error:
            result = error
        return track_id, result

    def _calibrate(self, track_id: int) -> tuple:
        try:
            result: object = self.calibrator.calibrate(track_id, self._metadata.get(track_id),
                                                       self._audio_path(track_id, PREVIEW))
        except YouTubeBlocked as error:
            result = error
        return track_id, result

    # -- bookkeeping -------------------------------------------------------------------

    def _audio_path(self, track_id: int, source: str) -> Path:
        return audio_path(self.work_dir, track_id, source)

    def _relative(self, path: Path) -> str:
        return str(Path(path).relative_to(self.work_dir))

    def _commit(self) -> None:
        if self._meta_batch:
            self.manifest.record_metadata(self._meta_batch)
            self._meta_batch = []
        if self._audio_batch:
            self.manifest.record_audio(self._audio_batch)
            self._audio_batch = []
        if self._calibration_batch:
            self.manifest.record_calibration(self._calibration_batch)
            self._calibration_batch = []
        self._bars["meta"].set_postfix(self.counts.calls, refresh=False)


def audio_path(work_dir: Path, track_id: int, source: str) -> Path:
    """Where a track's clip from `source` lives. One file per source, so that a preview
    arriving for a track that has a YouTube clip never overwrites the file the
    manifest still points at."""
    suffix = ".mp3" if source == PREVIEW else ".youtube.mp3"
    return work_dir / "audio" / f"{int(track_id)}{suffix}"


def remove_orphans(audio_dir: Path) -> None:
    """Delete the temp files a killed build left that cannot be resumed (an ffmpeg
    output or an import cut short). A preview's `.part` stays: its download resumes.
    Only one build holds the work dir, so no live build owns these."""
    for pattern in (".*.youtube.mp3.*", ".*.import"):
        for orphan in audio_dir.glob(pattern):
            orphan.unlink(missing_ok=True)


def _stop_if_disk_trouble(result: object) -> None:
    """A worker could not write because of the disk (full, read-only): every next track
    would fail the same way, so the build stops; the track stays as it was (a preview's
    `.part` is kept for the resume) instead of being recorded as failed."""
    if isinstance(result, OSError) and result.errno in DISK_FULL_ERRNOS | NOT_WRITABLE_ERRNOS:
        raise result


def _shortened(url: str, limit: int = 120) -> str:
    """A refused URL as recorded: enough to see where it pointed, without its signature."""
    url = url.split("?", 1)[0]
    return url if len(url) <= limit else url[: limit - 1] + "…"
