"""One pipeline, not stages: Deezer calls, preview downloads and YouTube recoveries at once.

Worker pools run side by side. The calling thread is the conductor and the manifest's only
writer: it feeds track ids to the Deezer pool (holding back when the preview pool has a
backlog, so signed URLs are used soon after they are issued), reads every outcome from one
queue of typed events, decides each track's next step, and commits outcomes in small
batches. The Deezer quota paces the calls and previews; the YouTube budget
(``youtube.budget.Pace``, inside the recoverer) paces YouTube, which goes on after the calls
until every YouTube track is settled, or this run's ``youtube_hours`` is up. A kill loses at
most the last half second of outcomes.

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
from typing import Any, Callable, Iterable, Union

from tqdm.auto import tqdm

from deezer_tags import defaults
from deezer_tags.calibration import BESIDE, CalibrationScheduler
from deezer_tags.deezer import DeezerClient, TrackFetchFailed, TrackNotFound, keep_fields
from deezer_tags.errors import DISK_FULL_ERRNOS, NOT_WRITABLE_ERRNOS, BuildStoppedError
from deezer_tags.manifest import (
    FAILED, NO_DATA, NONE, OK, PENDING, PREVIEW, RETRIED_STATES, YOUTUBE, YOUTUBE_PROGRESS_INFO, AudioOutcome,
    Manifest, MetadataOutcome,
)
from deezer_tags.previews import PreviewDownloader, PreviewExpired, PreviewUnavailable, partial_path
from deezer_tags.workdir import WorkDir
from deezer_tags.youtube import YouTubeBlocked, YouTubeRecoverer, YouTubeStopped
from deezer_tags.youtube.progress import YouTubeProgress

log = logging.getLogger("deezer_tags")

COMMIT_EVERY = 0.5  # seconds between manifest commits


@dataclass(frozen=True)
class PipelineOptions:
    api_workers: int = defaults.API_WORKERS
    preview_workers: int = defaults.PREVIEW_WORKERS
    youtube_workers: int = defaults.YOUTUBE_WORKERS
    audio: bool = True     # False: metadata only
    youtube: bool = True   # False: previews only


@dataclass
class RunCounts:
    """What this run did, per stream."""

    calls: dict[str, int] = field(default_factory=lambda: {OK: 0, NO_DATA: 0, FAILED: 0})
    previews: dict[str, int] = field(default_factory=lambda: {OK: 0, NONE: 0, FAILED: 0})
    youtube: dict[str, int] = field(default_factory=lambda: {OK: 0, NONE: 0, FAILED: 0})
    youtube_blocked: str | None = None   # without a budget: YouTube refused us, and was left alone
    youtube_left: int = 0                # YouTube tracks left pending (youtube_hours reached)
    bytes_fetched: dict[str, int] = field(default_factory=lambda: {PREVIEW: 0, YOUTUBE: 0})


# -- events: what a worker reports to the conductor -------------------------------------------

@dataclass(frozen=True)
class Called:
    track_id: int
    outcome: MetadataOutcome | BaseException
    refreshing: bool          # a fresh call for a preview URL that expired
    stream = "meta"


@dataclass(frozen=True)
class Downloaded:
    track_id: int
    result: Any               # previews.StoredAudio, or the exception
    refreshed: bool
    stream = "preview"


@dataclass(frozen=True)
class Recovered:
    track_id: int
    result: Any               # youtube.YouTubeOutcome, or the exception
    stream = "youtube"


@dataclass(frozen=True)
class Calibrated:
    track_id: int
    result: Any               # manifest.CalibrationOutcome, or the exception
    stream = "calibration"


Event = Union[Called, Downloaded, Recovered, Calibrated]
STREAMS = ("meta", "preview", "youtube", "calibration")


class Pipeline:
    def __init__(self, manifest: Manifest, client: DeezerClient, work_dir: Path, *,
                 preview_allowed: Callable[[str], bool],
                 previews: PreviewDownloader | None = None,
                 youtube: YouTubeRecoverer | None = None,
                 options: PipelineOptions = PipelineOptions(), progress: bool = True,
                 calibration: CalibrationScheduler | None = None) -> None:
        self.manifest = manifest
        self.client = client
        self.work_dir = WorkDir(Path(work_dir))
        self.preview_allowed = preview_allowed
        self.previews = previews
        self.youtube = youtube if options.youtube else None
        self.options = options
        self.progress = progress
        self.counts = RunCounts()
        self.calibration = calibration if self.youtube else None
        self._events: queue.Queue[Event] = queue.Queue()
        self._meta_batch: list[MetadataOutcome] = []
        self._audio_batch: list[AudioOutcome] = []
        self._calibration_batch: list = []
        self._in_flight = dict.fromkeys(STREAMS, 0)
        self._calling = True  # Deezer calls still to make or in flight
        self._metadata: dict[int, dict[str, Any] | None] = {}
        self._preview_status: dict[int, str] = {}  # as the manifest had them when the run began
        self._youtube_status: dict[int, str] = {}
        self._youtube_progress = YouTubeProgress(self.youtube.pace) if self.youtube else None

    # -- the conductor -----------------------------------------------------------------

    def run(self, track_ids: Iterable[int]) -> RunCounts:
        wanted = list(track_ids)
        self.manifest.add_tracks(wanted)
        self.work_dir.audio_dir.mkdir(parents=True, exist_ok=True)
        self.work_dir.remove_orphans()
        to_call, to_preview, to_recover, to_calibrate = self._plan(wanted)
        self._bars = progress_bars(len(to_call), shown=self.progress, audio=self.options.audio,
                                   youtube=bool(self.youtube), calibration=bool(self.calibration))
        self._pools = {
            "meta": ThreadPoolExecutor(self.options.api_workers, thread_name_prefix="deezer"),
            "preview": ThreadPoolExecutor(self.options.preview_workers, thread_name_prefix="preview"),
            "youtube": ThreadPoolExecutor(self.options.youtube_workers, thread_name_prefix="youtube"),
            "calibration": ThreadPoolExecutor(max(BESIDE, self.options.youtube_workers),
                                              thread_name_prefix="calibration"),
        }
        try:
            for track_id in to_recover:
                self._submit("youtube", track_id)
            for track_id in to_calibrate:
                self.calibration.offer(track_id, self._calling)
            last_commit = time.monotonic()
            while to_call or to_preview or any(self._in_flight.values()) or self._calibration_waits():
                self._calling = bool(to_call) or self._in_flight["meta"] > 0
                if self.calibration:
                    self._schedule_calibration(wanted, settled=not (self._calling or to_preview
                                                                    or self._in_flight["preview"]))
                # Previews left by an earlier run first: their stored URLs may still be valid.
                while to_preview and self._room_for_previews():
                    self._submit("preview", *to_preview.popleft())
                while to_call and self._room_for_calls():
                    self._submit("meta", to_call.popleft(), False)
                try:
                    event = self._events.get(timeout=COMMIT_EVERY)
                    self._in_flight[event.stream] -= 1
                    self._handle(event)
                except queue.Empty:
                    pass
                if time.monotonic() - last_commit >= COMMIT_EVERY:
                    self._commit()
                    last_commit = time.monotonic()
        except BaseException:
            if self.youtube:
                self.youtube.pace.close()  # YouTube workers waiting on the budget give up now
            raise
        finally:
            # Ctrl-C, quota exhausted, a bug: keep every outcome that arrived.
            for pool in self._pools.values():
                pool.shutdown(wait=False, cancel_futures=True)
            try:
                self._commit(final=True)
            finally:  # a full disk can refuse this last commit too: the bars end before any message
                for bar in self._bars.values():
                    bar.close()
        return self.counts

    def _calibration_waits(self) -> bool:
        return bool(self.calibration and self.calibration.waiting)

    def _schedule_calibration(self, track_ids: list[int], *, settled: bool) -> None:
        """Once every preview is settled the calibration's sample is exact (from the manifest,
        committed first); calibrations start beside the build's own work."""
        if settled and not self.calibration.sample_known:
            self._commit()
            self.calibration.previews_settled(self.manifest.rows(track_ids))
        busy = self._calling or self._in_flight["youtube"] > 0
        for track_id in self.calibration.take(busy, self._in_flight["calibration"]):
            self._submit("calibration", track_id)

    def _room_for_previews(self) -> bool:
        # A short queue: a signed URL must not wait behind thousands of downloads.
        return self._in_flight["preview"] < 4 * self.options.preview_workers

    def _room_for_calls(self) -> bool:
        # Keep the Deezer pool busy, but not ahead of the previews it feeds.
        return self._in_flight["meta"] < 2 * self.options.api_workers and self._room_for_previews()

    def _plan(self, track_ids: list[int]) -> tuple[deque[int], deque[tuple[int, str, bool]], list[int], list[int]]:
        """Ids to call Deezer for, and the audio work an earlier run left: previews to
        download, YouTube tracks to recover, stored previews to calibrate."""
        to_call: deque[int] = deque()
        to_preview: deque[tuple[int, str, bool]] = deque()
        to_recover: list[int] = []
        to_calibrate: list[int] = []
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
            if self.calibration and row.preview_status not in RETRIED_STATES:
                self.calibration.saw(row.preview_status == OK)
                if row.preview_status == OK:
                    to_calibrate.append(row.track_id)
            if row.preview_status in RETRIED_STATES and preview_url:
                # The stored URL may have expired: a 403 gets a fresh one.
                to_preview.append((row.track_id, preview_url, False))
            elif row.preview_status != OK:
                if row.preview_status in RETRIED_STATES:
                    self._audio_batch.append(no_preview(row.track_id, row.meta_status, row.metadata))
                if self._wants_youtube(row.track_id):
                    to_recover.append(row.track_id)
        return to_call, to_preview, to_recover, to_calibrate

    def _wants_youtube(self, track_id: int) -> bool:
        return (self.youtube is not None and self.counts.youtube_blocked is None
                and self._youtube_status.get(track_id, PENDING) in RETRIED_STATES)

    def _maybe_youtube(self, track_id: int) -> None:
        """Send a track without a preview to YouTube, unless it has a clip already or
        YouTube stopped us this run."""
        if self._wants_youtube(track_id):
            self._submit("youtube", track_id)

    # -- outcomes ----------------------------------------------------------------------

    def _handle(self, event: Event) -> None:
        self._bars[event.stream].update()
        if isinstance(event, Called):
            if isinstance(event.outcome, BaseException):
                raise event.outcome  # quota exhausted for long, or a bug: stop, keeping what we have
            self._after_call(event.outcome, event.refreshing)
        elif isinstance(event, Downloaded):
            self._after_preview(event.track_id, event.result, event.refreshed)
        elif isinstance(event, Recovered):
            self._after_youtube(event.track_id, event.result)
        else:
            self._after_calibration(event.result)

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
            self._audio_batch.append(no_preview(track_id, outcome.status, outcome.metadata))
            self.counts.previews[NONE] += 1
            if self.calibration:
                self.calibration.saw(False)
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
            outcome = AudioOutcome(track_id, PREVIEW, OK, path=self.work_dir.relative(stored.path),
                                   sha256=stored.sha256, duration=stored.duration)
            self.counts.bytes_fetched[PREVIEW] += stored.bytes_fetched
        self.counts.previews[outcome.status] += 1
        self._audio_batch.append(outcome)
        if outcome.status != OK:
            partial_path(self.work_dir.audio_path(track_id, PREVIEW)).unlink(missing_ok=True)
        if self.calibration and outcome.status != FAILED:
            self.calibration.saw(outcome.status == OK)
        if outcome.status == OK and self.calibration:
            self.calibration.offer(track_id, self._calling)
        if outcome.status == NONE:
            self._maybe_youtube(track_id)

    def _after_calibration(self, result: object) -> None:
        if self._youtube_refused(result):
            return
        if isinstance(result, BaseException):  # a bug in one calibration must not stop the build
            log.warning("calibration failed: %s: %s (it is tried again after the build)", type(result).__name__, result)
            return
        self._calibration_batch.append(result)

    def _youtube_refused(self, result: object) -> bool:
        """True when YouTube work ended for this run: a budget-less recoverer refused (said once,
        and YouTube left alone), or the budget stopped it (youtube_hours, closing). Patience
        spent on bot checks stops the build."""
        if isinstance(result, BuildStoppedError):
            raise result
        if not isinstance(result, (YouTubeStopped, YouTubeBlocked)):
            return False
        if self.calibration:
            self.calibration.stopped = True  # the calibration after the build is skipped too
        if isinstance(result, YouTubeStopped):
            return True
        if self.counts.youtube_blocked is None:
            self.counts.youtube_blocked = str(result)
            log.warning("%s", result)
        return True

    def _after_youtube(self, track_id: int, result: object) -> None:
        if self._youtube_refused(result):
            self.counts.youtube_left += 1
            return  # left pending: the next build goes on
        _stop_if_disk_trouble(result)
        if isinstance(result, Exception):
            outcome = AudioOutcome(track_id, YOUTUBE, FAILED, error=f"{type(result).__name__}: {result}")
        else:
            outcome = AudioOutcome(
                track_id, YOUTUBE, result.status, error=result.error, video_id=result.video_id,
                evidence=result.evidence,
                path=self.work_dir.relative(result.audio.path) if result.audio else None,
                sha256=result.audio.sha256 if result.audio else None,
                duration=result.audio.duration if result.audio else None,
            )
            if result.audio:
                self.counts.bytes_fetched[YOUTUBE] += result.audio.bytes_fetched
        self.counts.youtube[outcome.status] += 1
        self._audio_batch.append(outcome)

    # -- workers -----------------------------------------------------------------------

    def _submit(self, stream: str, track_id: int, *args: Any) -> None:
        self._in_flight[stream] += 1
        if stream != "meta":
            self._bars[stream].total += 1
            self._bars[stream].refresh()
        work = {"meta": self._call, "preview": self._download, "youtube": self._recover,
                "calibration": self._calibrate}[stream]
        self._pools[stream].submit(self._report, stream, work, track_id, *args)

    def _report(self, stream: str, work: Callable[..., Event], track_id: int, *args: Any) -> None:
        try:
            event = work(track_id, *args)
        except BaseException as error:  # a worker must always report, or the conductor waits forever
            event = _failed(stream, track_id, error, args)
        self._events.put(event)

    def _call(self, track_id: int, refreshing: bool) -> Called:
        try:
            fields = keep_fields(self.client.track(track_id))
        except TrackNotFound as error:
            return Called(track_id, MetadataOutcome(track_id, NO_DATA, error=str(error)), refreshing)
        except TrackFetchFailed as error:
            return Called(track_id, MetadataOutcome(track_id, FAILED, error=str(error)), refreshing)
        preview = fields["preview"]
        if preview and not self.preview_allowed(preview):
            fields["preview"] = None  # never follow a preview link off the configured CDN hosts
            fields["preview_refused"] = _shortened(preview)
        return Called(track_id, MetadataOutcome(track_id, OK, metadata=fields), refreshing)

    def _download(self, track_id: int, url: str, refreshed: bool) -> Downloaded:
        try:
            result: object = self.previews.download(url, self.work_dir.audio_path(track_id, PREVIEW))
        except (PreviewExpired, PreviewUnavailable) as error:
            result = error
        return Downloaded(track_id, result, refreshed)

    def _recover(self, track_id: int) -> Recovered:
        return Recovered(track_id, self.youtube.recover(track_id, self._metadata.get(track_id),
                                                        self.work_dir.audio_path(track_id, YOUTUBE)))

    def _calibrate(self, track_id: int) -> Calibrated:
        return Calibrated(track_id, self.calibration.calibrate(track_id, self._metadata.get(track_id),
                                                               self.work_dir.audio_path(track_id, PREVIEW)))

    # -- bookkeeping -------------------------------------------------------------------

    def _commit(self, final: bool = False) -> None:
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
        if self._youtube_progress is not None:
            left = self._in_flight["youtube"]
            said = self._youtube_progress.update(left, self.counts.youtube, final=final)
            if said is not None:
                self.manifest.set_info(YOUTUBE_PROGRESS_INFO, said)
                self._bars["youtube"].set_postfix_str(self._youtube_progress.line(), refresh=False)


def progress_bars(calls: int, *, shown: bool, audio: bool, youtube: bool, calibration: bool) -> dict[str, tqdm]:
    """A bar per stream: the Deezer calls' total is known; the others grow as work is handed out."""
    def bar(total: int, desc: str, unit: str, position: int, wanted: bool) -> tqdm:
        return tqdm(total=total, desc=desc, unit=unit, position=position, disable=not (shown and wanted),
                    dynamic_ncols=True)
    return {
        "meta": bar(calls, "Deezer calls", "track", 0, True),
        "preview": bar(0, "Previews", "clip", 1, audio),
        "youtube": bar(0, "YouTube", "track", 2, youtube),
        "calibration": bar(0, "Calibration", "track", 3, calibration),
    }


def no_preview(track_id: int, meta_status: str, metadata: dict | None) -> AudioOutcome:
    """The preview outcome of a track Deezer gives no usable preview for, and why."""
    refused = (metadata or {}).get("preview_refused")
    if meta_status == NO_DATA:
        reason = "Deezer has no data for the track"
    elif refused:
        reason = f"the preview URL {refused} is not on the configured CDN hosts; refused"
    else:
        reason = "Deezer lists no preview"
    return AudioOutcome(track_id, PREVIEW, NONE, error=reason)


def _failed(stream: str, track_id: int, error: BaseException, args: tuple) -> Event:
    """The event of a worker of ``stream`` that raised: the exception in its result."""
    if stream == "meta":
        return Called(track_id, error, *args)        # args: (refreshing,)
    if stream == "preview":
        return Downloaded(track_id, error, args[-1])  # args: (url, refreshed)
    if stream == "youtube":
        return Recovered(track_id, error)
    return Calibrated(track_id, error)


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
