"""The YouTube budget: how fast one build may ask YouTube for videos and searches, and what it
does when YouTube says no.

YouTube's limits, as yt-dlp's wiki documents them (Extractors, "Common YouTube Errors", from
yt-dlp/yt-dlp-wiki#52; yt-dlp issue #11426): a session may resolve about 300 videos an hour
with yt-dlp's default clients (about 1,000 with the `web` client and a PO token, about 2,000
with an account's cookies, which risks the account); over it, videos answer "This content
isn't available, try again later" until the hour frees; the advice is 5-10 s between
downloads, or several sessions. Heavy use from one address meets the bot check ("Sign in to
confirm you're not a bot"), which lasts far longer than the hour.

So a build spends a budget it knows, ``VIDEOS/SECONDS`` (the videos resolved per window by
the whole build: every worker, the dataset's clips, the calibration and a recipe's videos
alike), one video every ``SECONDS / VIDEOS`` and never more than VIDEOS in any window.
Searches are pages too, but no video: they have a second, equal pace of
``SEARCHES_PER_VIDEO`` times the videos, so that a stretch of tracks that find nothing
cannot hammer the address, and videos plus searches stay under the ~1,000 pages an hour
reported for a guest at the default (250 + 500).

What YouTube says changes the pace:
- "try again later" (one session's limit): the pool sets that session aside (see ytdlp), and
  the pace halves, then climbs back by a tenth of the budget per quiet window, so that a
  budget set too high settles on what YouTube allows instead of meeting refusals forever;
- the bot check: every YouTube request waits, first ``BOT_CHECK_PAUSE`` windows, doubled at
  each bot check met right after a pause, at most ``BOT_CHECK_PAUSE_CAP`` windows; the pace
  halves too. It resumes by itself, and says so once. After ``patience`` seconds of bot
  checks with no request answered between them, YouTube work ends for the run, and the
  build stops (resumable) with the cookies hint once its Deezer calls and previews are done.
  Every pause is counted in windows: scaling the window scales the pauses.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from deezer_tags.errors import UserError, YouTubeBotCheckError
from deezer_tags.youtube.errors import YouTubeBlocked, YouTubeStopped, YouTubeTimeUp

log = logging.getLogger("deezer_tags.youtube")

# 250 videos an hour: the wiki's ~300 for a guest session, with a sixth to spare.
DEFAULT_BUDGET = "250/3600"
SEARCHES_PER_VIDEO = 2
BOT_CHECK_PAUSE = 2.0        # windows: the bot check lasts longer than the hour's limit
BOT_CHECK_PAUSE_CAP = 8.0    # windows
DEFAULT_PATIENCE_HOURS = 12.0
SLOWEST = 1 / 16             # the pace never drops below this share of the budget
RECOVERY = 0.1               # share of the budget the pace climbs back per quiet window
ENV_BUDGET = "DEEZER_TAGS_YOUTUBE_BUDGET"
_SPEC = re.compile(r"\s*(\d+)\s*/\s*(\d+(?:\.\d*)?|\.\d+)\s*")


@dataclass(frozen=True)
class Budget:
    """At most ``videos`` videos (and ``SEARCHES_PER_VIDEO`` times as many searches) per ``window`` s."""

    videos: int
    window: float

    @property
    def searches(self) -> int:
        return SEARCHES_PER_VIDEO * self.videos

    def allowed(self, kind: str) -> int:
        return self.videos if kind == "video" else self.searches

    def __str__(self) -> str:
        return f"{self.videos}/{self.window:g}"


def parse_budget(spec: object, where: str = "youtube_budget") -> Budget:
    """``"VIDEOS/SECONDS"`` (e.g. "250/3600") as a Budget, or a UserError naming ``where``."""
    if isinstance(spec, Budget):
        return spec
    match = _SPEC.fullmatch(spec) if isinstance(spec, str) else None
    budget = Budget(int(match[1]), float(match[2])) if match else None
    if budget is None or budget.videos < 1 or budget.window <= 0:
        raise UserError(f"{where}={spec!r} is not VIDEOS/SECONDS with at least 1 video in a positive window; "
                        f"write it like {DEFAULT_BUDGET} (250 videos an hour)")
    return budget


def resolve_budget(value: object = None, environ: Mapping[str, str] | None = None) -> Budget:
    """The config's value, else ``DEEZER_TAGS_YOUTUBE_BUDGET``, else the default."""
    environ = os.environ if environ is None else environ
    if value is not None:
        return parse_budget(value)
    if environ.get(ENV_BUDGET):
        return parse_budget(environ[ENV_BUDGET], ENV_BUDGET)
    return parse_budget(DEFAULT_BUDGET)


@dataclass
class PaceState:
    """What outlives a run (the manifest keeps it): a pause in force, the pace it had come down
    to. Wall-clock times, so that a resumed build goes on waiting where a killed one was."""

    pause_until: float = 0.0          # unix time
    pause_windows: float = 0.0        # the last pause's length, for the next doubling
    streak_started: float | None = None  # unix time of the first bot check of the current run of them
    share: float = 1.0                # the pace, as a share of the budget

    def as_dict(self) -> dict:
        return asdict(self)


class Pace:
    """The gate every YouTube page request passes: ``with pace.spend("video"): ...``. Thread-safe.

    ``deadline`` (monotonic seconds) ends this run's YouTube work (youtube_hours): a request
    that would start after it raises YouTubeTimeUp. ``budget`` None: no pace, and a bot check
    raises YouTubeBlocked at once (for the recoverer used on its own)."""

    def __init__(self, budget: Budget | None, *, patience: float | None = DEFAULT_PATIENCE_HOURS * 3600,
                 deadline: float | None = None, state: PaceState | None = None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        self.budget = budget
        self.patience = patience
        self.deadline = deadline
        self._clock, self._wall = clock, wall
        self.state = state or PaceState()
        self._next = {"video": 0.0, "search": 0.0}
        # Completion times of the latest requests (inf while in flight): the rolling cap.
        self._done: dict[str, deque[list[float]]] = {"video": deque(), "search": deque()}
        self._quiet_since = clock()
        self._closed = False
        self._said_paused = False
        self._changed = threading.Condition()
        self.spent = {"video": 0, "search": 0}
        self.gave_up: YouTubeBotCheckError | None = None  # the bot check outlasted the patience
        self.refusals = {"session_limit": 0, "bot_check": 0}

    # -- the gate ----------------------------------------------------------------------------

    @contextmanager
    def spend(self, kind: str) -> Iterator[None]:
        """Wait for the budget, then let one request of ``kind`` ("video" or "search") through;
        its slot is stamped when it is answered. Raises YouTubeStopped."""
        slot = self._acquire(kind)
        answered = False
        try:
            yield
            answered = True
        except (YouTubeBlocked, YouTubeStopped):
            raise
        except Exception:
            answered = True  # YouTube answered (a gone video, a transient failure): not a refusal
            raise
        finally:
            with self._changed:
                slot[0] = self._clock()
                if answered and self.state.streak_started is not None:
                    self.state.streak_started = None  # the bot check has lifted
                    self.state.pause_windows = 0.0
                self._changed.notify_all()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _acquire(self, kind: str) -> list[float]:
        with self._changed:
            while True:
                now = self._clock()
                if self._closed:
                    raise YouTubeStopped("the build is closing")
                if self.deadline is not None and now >= self.deadline:
                    raise YouTubeTimeUp("youtube_hours is reached")
                start = max(now, self._paused_until(now), self._spaced(kind), self._capped(kind))
                if start <= now:
                    return self._grant(kind, now)
                if self.deadline is not None:
                    start = min(start, self.deadline)
                # inf: the request a window back is still in flight; its answer notifies.
                self._changed.wait(timeout=None if math.isinf(start) else max(0.001, start - now))

    def _grant(self, kind: str, now: float) -> list[float]:
        if self._said_paused:
            self._said_paused = False
            log.warning("YouTube: the pause is over, YouTube work resumes")
        if self.budget is not None:
            window = self.budget.window
            if now - self._quiet_since >= window and self.state.share < 1.0:
                self.state.share = min(1.0, self.state.share + RECOVERY)
                self._quiet_since = now
            spacing = window / (self.budget.allowed(kind) * self.state.share)
            self._next[kind] = max(now, self._next[kind]) + spacing
        slot = [math.inf]
        done = self._done[kind]
        done.append(slot)
        if self.budget is not None:
            while len(done) > self.budget.allowed(kind):
                done.popleft()
        self.spent[kind] += 1
        return slot

    def _paused_until(self, now: float) -> float:
        remaining = self.state.pause_until - self._wall()
        if remaining > 0:
            if not self._said_paused:
                self._said_paused = True
            return now + remaining
        return now

    def _spaced(self, kind: str) -> float:
        return self._next[kind] if self.budget is not None else 0.0

    def _capped(self, kind: str) -> float:
        """Never more than the budget in any window: the request ``allowed`` back must have been
        answered a whole window ago (stamped on its answer, so arrivals cannot bunch)."""
        if self.budget is None:
            return 0.0
        done = self._done[kind]
        if len(done) < self.budget.allowed(kind):
            return 0.0
        return done[0][0] + self.budget.window

    # -- what YouTube said -----------------------------------------------------------------------

    def slow_down(self) -> None:
        """A session met its limit: the pace halves (see the module docstring)."""
        with self._changed:
            self.refusals["session_limit"] += 1
            self._halve()

    def bot_check(self, blocked: YouTubeBlocked) -> None:
        """YouTube's bot check: pause every request (or raise ``blocked`` without a budget).
        Past ``patience``, every request from now on raises YouTubeStopped, and ``gave_up``
        holds the error the build stops with once its Deezer part is done."""
        if self.budget is None:
            raise blocked
        with self._changed:
            self.refusals["bot_check"] += 1
            now, wall = self._clock(), self._wall()
            if self.state.pause_until > wall:
                return  # another request met it too: the pause is set already
            state = self.state
            if state.streak_started is None:
                state.streak_started = wall
            elif self.patience is not None and wall - state.streak_started >= self.patience:
                # This run asks YouTube nothing more; the build stops once the rest is done.
                self.gave_up = YouTubeBotCheckError.after((wall - state.streak_started) / 3600)
                self._closed = True
                self._changed.notify_all()
                raise YouTubeStopped(str(self.gave_up))
            windows = BOT_CHECK_PAUSE if not state.pause_windows else min(2 * state.pause_windows,
                                                                          BOT_CHECK_PAUSE_CAP)
            seconds = windows * self.budget.window
            if self.deadline is not None and now + seconds > self.deadline:
                seconds = max(0.0, self.deadline - now)
            state.pause_windows = windows
            state.pause_until = wall + seconds
            self._halve()
            self._said_paused = True
            log.warning("YouTube's bot check (%s): YouTube work pauses for %s, until %s, and resumes by itself",
                        blocked.detail, duration(seconds), time.strftime("%H:%M:%S", time.localtime(wall + seconds)))
            self._changed.notify_all()

    def _halve(self) -> None:
        self.state.share = max(SLOWEST, self.state.share / 2)
        self._quiet_since = self._clock()

    # -- figures ----------------------------------------------------------------------------------

    def seconds_per(self, kind: str = "video") -> float | None:
        """The pace now: seconds between two requests of ``kind``."""
        if self.budget is None:
            return None
        return self.budget.window / (self.budget.allowed(kind) * self.state.share)


def duration(seconds: float) -> str:
    """3 d 4 h, 5 h 12 min, 7 min, 40 s."""
    seconds = max(0.0, float(seconds))
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{seconds:.1f} s"
