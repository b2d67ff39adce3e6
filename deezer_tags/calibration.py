"""How often does the YouTube fallback pick the right recording? Each `full` build measures it.

About three quarters of the tracks have a Deezer preview: 30 s of the exact recording. For
a seeded sample of them, the YouTube recovery runs as if the preview were gone (the same
sources, judge and format: ``YouTubeRecoverer.listen``), the chosen video's whole audio
stream is decoded, and the preview is looked for in it (``deezer_tags.acoustic``). The
share of found videos that are the preview's recording is the precision of the YouTube
clips, on this build, on the YouTube of that day; the share of sampled tracks that would get
the right recording is the YouTube path's recall.

The sample: the tracks with a stored preview, ordered by a hash of the seed and the track
id, the first ``size`` of them. The order does not depend on when or in which run a track
got its preview, so two builds of the same tracks, and a build and its resume, calibrate
the same tracks. Nothing is stored but the outcome (the manifest's ``calibration`` table):
calibration never adds a clip to the dataset.
"""

from __future__ import annotations

import hashlib
import logging
import math
import queue
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from tqdm.auto import tqdm

from deezer_tags import acoustic
from deezer_tags.errors import UserError
from deezer_tags.manifest import OK, PREVIEW, CalibrationOutcome, Manifest, TrackRow
from deezer_tags.youtube import SOURCES, YouTubeBlocked, YouTubeRecoverer, YouTubeStopped

log = logging.getLogger("deezer_tags")

# The default sample: this percentage of the tracks with a preview. A calibration track asks
# YouTube what a dataset track asks, so the calibration costs about this share of the YouTube
# budget at any size of build (issue 22: at most 5 %). A small build's interval is wide, and
# the report says how wide; calibration_tracks=200 gives one of a few points.
PERCENT = 1
Z95 = 1.959964  # the normal quantile of a two-sided 95 % interval

# Outcomes. "same"/"other": a video was chosen and the acoustic check says whether it is the
# preview's recording; "not_found": no acceptable video (final, as for a dataset track);
# "failed": a transient problem, tried again by the next build.
SAME, OTHER, NOT_FOUND, FAILED = "same", "other", "not_found", "failed"
FINAL = (SAME, OTHER, NOT_FOUND)
# Calibrations beside the Deezer calls: 2 fit in the CPU the quota leaves idle on 2 cores
# (measured with 200 calibrations in a 2,000-track build, most done while its 200 s of calls lasted).
BESIDE = 2


def default_size(with_preview: int) -> int:
    """1 % of the tracks with a preview, rounded down: 370 of 37,000, 15 of 1,500, none of 40."""
    return with_preview * PERCENT // 100  # in integers: exact, no float rounding to guard


def sample(with_preview: Iterable[int], size: int | None, seed: int = 0) -> list[int]:
    """The calibration tracks among those with a stored preview (``size`` None: the default)."""
    ids = list(with_preview)
    size = default_size(len(ids)) if size is None else min(size, len(ids))
    return sorted(ids, key=lambda t: hashlib.blake2b(f"calibration:{seed}:{t}".encode(), digest_size=8).digest())[:size]


def check_size(value: object) -> int | None:
    """calibration_tracks as given: None (the default), or a count of at least 0 (0: off)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UserError(f"calibration_tracks={value!r}: give a number of tracks (0 turns the calibration off), "
                         "or leave it unset for 1 % of the tracks with a preview")
    return value


@dataclass
class CalibrationRun:
    """What the calibration after the build did."""

    outcomes: Counter = field(default_factory=Counter)  # by status
    blocked: str | None = None
    seconds: float = 0.0


class Calibrator:
    """Runs the calibration of one build's sample; outcomes go to the manifest as they come."""

    def __init__(self, manifest: Manifest, youtube: YouTubeRecoverer, work_dir: Path, *,
                 workers: int = 4, progress: bool = True) -> None:
        self.manifest = manifest
        self.youtube = youtube
        self.work_dir = work_dir
        self.workers = workers
        self.progress = progress

    def run(self, track_ids: Sequence[int], size: int | None, seed: int = 0) -> CalibrationRun:
        rows = {row.track_id: row for row in self.manifest.rows(track_ids)}
        chosen = sample_of(rows.values(), size, seed)
        done = {t for t, o in self.manifest.calibration(chosen).items() if o.status in FINAL}
        todo = [t for t in chosen if t not in done]
        run = CalibrationRun()
        if not todo:
            return run
        started = time.monotonic()
        results: queue.Queue = queue.Queue()
        bar = tqdm(total=len(todo), desc="Calibration", unit="track", disable=not self.progress, dynamic_ncols=True)
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="calibration")
        try:
            for track_id in todo:
                pool.submit(self._report, results, rows[track_id])
            for _ in todo:
                outcome = results.get()
                if isinstance(outcome, (YouTubeBlocked, YouTubeStopped)):
                    run.blocked = str(outcome)
                    log.warning("calibration stopped: %s", outcome)
                    break
                if isinstance(outcome, BaseException):
                    raise outcome
                self.manifest.record_calibration([outcome])
                run.outcomes[outcome.status] += 1
                bar.update()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            bar.close()
            run.seconds = round(time.monotonic() - started, 2)
        return run

    def _report(self, results: queue.Queue, row: TrackRow) -> None:
        try:
            results.put(self.calibrate(row.track_id, row.metadata, self.work_dir / row.audio_path))
        except BaseException as error:  # the conductor must hear from every track
            results.put(error)

    def calibrate(self, track_id: int, metadata: dict | None, preview: Path) -> CalibrationOutcome:
        """One track: what the YouTube recovery would choose, and whether it is the preview's
        recording (``preview``: the stored clip). Raises YouTubeBlocked."""
        started = time.monotonic()
        found = self.youtube.listen(track_id, metadata)
        evidence = found.evidence
        heard = found.audio
        common = dict(track_id=track_id, video_id=found.video_id, found_by=evidence.get("found_by"),
                      evidence=evidence, bytes_fetched=heard.bytes_fetched if heard else 0)
        if found.status != OK:
            status = NOT_FOUND if found.status == "none" else FAILED
            return CalibrationOutcome(status=status, error=found.error,
                                      seconds=round(time.monotonic() - started, 2), **common)
        try:
            samples = acoustic.decode(preview, exe=self.youtube.ffmpeg)
        except acoustic.DecodeFailed as error:
            return CalibrationOutcome(status=FAILED, error=f"the stored preview: {error}",
                                      seconds=round(time.monotonic() - started, 2), **common)
        match = acoustic.compare(samples, heard.samples)
        return CalibrationOutcome(status=SAME if match.same else OTHER, score=match.score, offset=match.offset,
                                  seconds=round(time.monotonic() - started, 2), **common)


class Speculation:
    """Which tracks to calibrate while the build runs, before the sample is known: the sample
    is the first tracks with a preview in the seeded order, so a track is worth calibrating
    as soon as its preview is stored if its place in that order is within what the share of
    tracks with a preview seen so far predicts, with a margin. What it misses is calibrated
    after the build (``Calibrator.run``); what it calibrates beyond the sample is kept but
    not counted. Running beside the Deezer calls, a couple at a time (pipeline's
    BESIDE), the calibration of a full build costs its wall time nothing
    measurable: the build waits on the quota, not on the CPU (README, Performance)."""

    MARGIN = 1.1

    def __init__(self, track_ids: Sequence[int], size: int | None, seed: int, done: Iterable[int]) -> None:
        self.rank = {t: i for i, t in enumerate(sample(track_ids, len(track_ids), seed))}
        self.size = size
        self.done = set(done)
        self.with_preview = 0
        self.decided = 0

    def saw(self, stored: bool) -> None:
        """A track's preview is settled: stored, or none to be had."""
        self.decided += 1
        self.with_preview += stored

    def wants(self, track_id: int) -> bool:
        if track_id in self.done or track_id not in self.rank:
            return False
        share = (self.with_preview + 1) / (self.decided + 1)
        expected = share * len(self.rank)
        size = default_size(int(expected)) if self.size is None else min(self.size, expected)
        return self.rank[track_id] < self.MARGIN * size / share + 2


class CalibrationScheduler:
    """When the build calibrates which track, in one place. While the Deezer calls pace the
    build, a track whose preview is stored is calibrated at once if the ``Speculation`` says
    it is likely in the sample. Once every preview is settled the sample is known: the rest of
    it is queued too. The queue is worked ``BESIDE`` at a time while the calls or the dataset's
    YouTube tracks are under way (the calibration shares the YouTube budget with them, and
    fills what they leave of it), with every YouTube worker once they are done.
    ``after_build`` retries what failed. A YouTube that stopped us stops all of it."""

    def __init__(self, calibrator: Calibrator, track_ids: Sequence[int], size: int | None, seed: int,
                 done: Iterable[int]) -> None:
        self.calibrator = calibrator
        self.size, self.seed = size, seed
        self.speculation = Speculation(track_ids, size, seed, done)
        self._waiting: deque[int] = deque()
        self.stopped = False
        self.sample_known = False

    def saw(self, stored: bool) -> None:
        """A track's preview is settled: stored, or none to be had."""
        self.speculation.saw(stored)

    def offer(self, track_id: int, calling: bool) -> None:
        """A track with a stored preview: queued to calibrate now if it is likely in the
        sample and the calls still pace the build."""
        if calling and not self.stopped and self.speculation.wants(track_id):
            self.speculation.done.add(track_id)
            self._waiting.append(track_id)

    def previews_settled(self, rows: Iterable[TrackRow]) -> None:
        """Every preview is stored or known to be missing (``rows``: the manifest's now): the
        sample is exact, and what the speculation did not start is queued."""
        self.sample_known = True
        sample = sample_of(rows, self.size, self.seed)
        exact = set(sample)
        # Speculated tracks not yet started that the sample does not hold are spared.
        self._waiting = deque(t for t in self._waiting if t in exact)
        for track_id in sample:
            if track_id not in self.speculation.done:
                self.speculation.done.add(track_id)
                self._waiting.append(track_id)

    @property
    def waiting(self) -> int:
        return 0 if self.stopped else len(self._waiting)

    def take(self, busy: bool, in_flight: int) -> list[int]:
        """The tracks to start calibrating now: ``BESIDE`` at a time while the build is ``busy``
        with its own work (the calls, the dataset's YouTube tracks), so that it never waits on
        a queue of calibrations; every worker once it is not."""
        room = BESIDE if busy else max(BESIDE, self.calibrator.workers)
        started = []
        while not self.stopped and self._waiting and in_flight + len(started) < room:
            started.append(self._waiting.popleft())
        return started

    def calibrate(self, track_id: int, metadata: dict | None, preview: Path) -> CalibrationOutcome:
        return self.calibrator.calibrate(track_id, metadata, preview)

    def after_build(self, track_ids: Sequence[int]) -> CalibrationRun | None:
        """What the calibration beside the build left: a failed calibration is tried again, and
        the whole sample when the build ended before its previews were settled."""
        if self.stopped:
            return None
        return self.calibrator.run(track_ids, self.size, self.seed)


def has_preview(row: TrackRow) -> bool:
    return row.audio_source == PREVIEW and row.preview_status == OK and bool(row.audio_path)


def sample_of(rows: Iterable[TrackRow], size: int | None, seed: int = 0) -> list[int]:
    """The calibration sample of a build's manifest rows."""
    return sample([r.track_id for r in rows if has_preview(r)], size, seed)


# -- figures -----------------------------------------------------------------------------

def wilson(successes: int, trials: int) -> dict:
    """The share with its 95 % Wilson score interval (sound at small counts and near 0 or 1)."""
    if trials == 0:
        return {"estimate": None, "low": None, "high": None, "of": 0}
    p = successes / trials
    z2 = Z95 ** 2
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = Z95 * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials ** 2)) / (1 + z2 / trials)
    return {"estimate": round(p, 4), "low": round(max(0.0, centre - half), 4),
            "high": round(min(1.0, centre + half), 4), "of": trials}


def summarize(outcomes: Sequence[CalibrationOutcome], tracks: int) -> dict:
    """The calibration's figures: over the sample's final outcomes (``tracks``: the sample's size)."""
    final = [o for o in outcomes if o.status in FINAL]
    counts = Counter(o.status for o in outcomes)
    found = counts[SAME] + counts[OTHER]
    by_source = {}
    for source in SOURCES:
        mine = [o for o in final if o.found_by == source]
        if mine:
            same = sum(o.status == SAME for o in mine)
            by_source[source] = {"found": len(mine), "same": same, "precision": wilson(same, len(mine))}
    return {
        "tracks": tracks,
        "calibrated": len(final),
        "found": found,
        "same": counts[SAME],
        "other": counts[OTHER],
        "not_found": counts[NOT_FOUND],
        "failed": counts[FAILED],
        "pending": tracks - len(outcomes),
        "precision": wilson(counts[SAME], found),
        "recall": wilson(counts[SAME], len(final)),
        "by_source": by_source,
        "threshold": acoustic.SAME_RECORDING,
        "bytes_fetched": sum(o.bytes_fetched for o in outcomes),
    }


def sampled_outcomes(manifest: Manifest, track_ids: Sequence[int], size: int | None, seed: int = 0
                     ) -> tuple[list[int], list[CalibrationOutcome]]:
    """The sample as it stands and the outcomes of its tracks (in sample order)."""
    chosen = sample_of(manifest.rows(track_ids), size, seed)
    known = manifest.calibration(chosen)
    return chosen, [known[t] for t in chosen if t in known]


CSV_HEADER = ("track_id", "artist", "title", "verdict", "score", "preview_at", "found_by", "video_id",
              "youtube_title", "title_score", "reason")


def calibration_table(rows: Iterable[TrackRow], outcomes: Sequence[CalibrationOutcome]) -> list[tuple]:
    """calibration.csv: each calibrated track, what was chosen for it and the verdict, the
    disagreements first (the ones worth a listen), then by score."""
    meta = {row.track_id: row.metadata or {} for row in rows}
    order = {OTHER: 0, FAILED: 1, NOT_FOUND: 2, SAME: 3}
    table = [CSV_HEADER]
    for o in sorted(outcomes, key=lambda o: (order[o.status], o.score if o.score is not None else 2.0, o.track_id)):
        chosen = next((c for c in (o.evidence or {}).get("candidates", [])
                       if c.get("verdict") == "accepted"), {})
        m = meta.get(o.track_id, {})
        table.append((o.track_id, m.get("artist_name") or "", m.get("title") or "", o.status,
                      "" if o.score is None else o.score, "" if o.offset is None else o.offset,
                      o.found_by or "", o.video_id or "", chosen.get("title") or "",
                      "" if chosen.get("title_score") is None else chosen["title_score"], o.error or ""))
    return table


def _share(interval: dict) -> str:
    if interval["estimate"] is None:
        return "not measurable (none)"
    return (f"{interval['estimate']:.1%} (95 % interval {interval['low']:.1%} to {interval['high']:.1%}, "
            f"of {interval['of']:,})")


def calibration_line(figures: dict) -> str:
    """The calibration in one sentence, for the end of a build."""
    left = figures["pending"] + figures["failed"]
    return (f"YouTube calibration on {figures['tracks']:,} tracks with a preview: a video found for "
            f"{figures['found']:,}, the preview's recording in {figures['same']:,}; precision "
            f"{_share(figures['precision'])}, recall {_share(figures['recall'])}"
            + (f"; {left:,} not calibrated yet (the next build goes on)" if left else ""))
