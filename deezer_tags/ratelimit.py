"""A rolling-window rate limiter shared by every thread of the process.

Deezer allows `calls` requests per IP in any `window` seconds, counted as they arrive at
its server. A token bucket would let up to 2 x calls into one window, so we keep a stamp
for each of the last `calls` requests and let a new one go only when the oldest stamp has
left the window.

A call is stamped when its answer is in, not when it is let go. The send may be delayed
(a loaded 2-core machine, a slow connect), so calls stamped at the let-go could reach the
server closer together than we counted: measured, 54 arrivals in one 5 s window with
YouTube work beside the calls. The answer comes after the arrival, so an answer-time stamp
is never earlier than the server's count: a call that leaves one window after it cannot
land in the same window at the server, whatever the delays. While a call is in flight its
slot stays taken. The price is each call's round trip (about 2 % of the ceiling at 100 ms
in a 5 s window).

The window is widened by a small safety margin for clock granularity. The margin adapts:
a quota answer the server still gives (another client on our address) widens it, at most
once a window, and every few quiet windows narrow it back towards the base.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

SAFETY_MARGIN = 0.01  # fraction of the window: the answer-time stamp already covers send delays
MIN_MARGIN_SECONDS = 0.01  # timer granularity does not shrink with the window (benchmarks scale time)
WIDEN_STEP, MAX_MARGIN = 0.02, 0.15
NARROW_STEP, QUIET_WINDOWS = 0.005, 4  # back by 0.5 % after 4 windows without a quota answer


class RollingWindowLimiter:
    def __init__(self, calls: int, window: float, margin: float = SAFETY_MARGIN) -> None:
        self.calls = calls
        self.window = window
        self.base_margin = self.margin = margin
        self._span = self._span_for(margin)
        self._answered: list[float] = []  # answer times of calls still inside the span
        self._in_flight = 0
        self._paused_until = 0.0
        self._changed_at = float("-inf")
        self._cond = threading.Condition()

    @contextmanager
    def call(self) -> Iterator[None]:
        """Wait until one more call fits in the window, hold its slot while the block makes
        the call, and stamp it when the block ends (the answer is in, or the call failed)."""
        self._acquire()
        try:
            yield
        finally:
            with self._cond:
                self._in_flight -= 1
                self._answered.append(time.monotonic())
                self._cond.notify_all()

    def _acquire(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                wait = self._paused_until - now
                if wait <= 0:
                    self._relax(now)
                    self._answered = [t for t in self._answered if now - t < self._span]
                    if self._in_flight + len(self._answered) < self.calls:
                        self._in_flight += 1
                        return
                    # Full: the oldest answer leaves the span, or a call in flight is answered.
                    wait = min(self._answered) + self._span - now if self._answered else None
                self._cond.wait(wait)

    def pause(self, seconds: float) -> None:
        """Hold every thread back, e.g. after the server said the quota is spent."""
        with self._cond:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def widen(self) -> None:
        """The server counted more than we did: leave more room from now on.

        Once per window at most: one overshoot answers several threads at once."""
        with self._cond:
            now = time.monotonic()
            if now - self._changed_at < self.window:
                return
            self._set_margin(min(MAX_MARGIN, self.margin + WIDEN_STEP), now)

    def _relax(self, now: float) -> None:
        """Quiet for a while: give back some of the margin (called with the lock held)."""
        if self.margin > self.base_margin and now - self._changed_at >= QUIET_WINDOWS * self.window:
            self._set_margin(max(self.base_margin, self.margin - NARROW_STEP), now)

    def _set_margin(self, margin: float, now: float) -> None:
        self.margin = margin
        self._span = self._span_for(margin)
        self._changed_at = now

    def _span_for(self, margin: float) -> float:
        return self.window + max(self.window * margin, MIN_MARGIN_SECONDS)


_shared: dict[tuple[str, int, float], RollingWindowLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter(key: str, calls: int, window: float) -> RollingWindowLimiter:
    """The one limiter of this process for `key` (the API's host) and quota."""
    with _shared_lock:
        limiter = _shared.get((key, calls, window))
        if limiter is None:
            limiter = _shared[(key, calls, window)] = RollingWindowLimiter(calls, window)
        return limiter
