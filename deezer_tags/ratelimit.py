"""A rolling-window rate limiter shared by every thread of the process.

Deezer allows `calls` requests per IP in any `window` seconds. A token bucket
would let up to 2 x calls into one window, so we keep the send times of the last
`calls` requests and let a new one go only when the oldest of them has left the
window. The window is widened by a small safety margin because the server counts
arrival times, which trail our send times by a jittery few milliseconds. The
margin adapts: a quota answer the server still gives widens it (at most once a
window), and every few quiet windows narrow it back towards the base, so the
limiter settles just under the ceiling on whatever network it runs on.
"""

from __future__ import annotations

import threading
import time
from collections import deque

SAFETY_MARGIN = 0.03  # fraction of the window; costs 3 % of the ceiling, buys no quota errors
MIN_MARGIN_SECONDS = 0.015  # jitter does not shrink with the window (benchmarks scale time)
WIDEN_STEP, MAX_MARGIN = 0.02, 0.15
NARROW_STEP, QUIET_WINDOWS = 0.005, 4  # back by 0.5 % after 4 windows without a quota answer


class RollingWindowLimiter:
    def __init__(self, calls: int, window: float, margin: float = SAFETY_MARGIN) -> None:
        self.calls = calls
        self.window = window
        self.base_margin = self.margin = margin
        self._span = self._span_for(margin)
        self._sent: deque[float] = deque()
        self._paused_until = 0.0
        self._changed_at = float("-inf")
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Block until one more call fits in the window, then count it as sent."""
        while True:
            with self._lock:
                now = time.monotonic()
                wait = self._paused_until - now
                if wait <= 0:
                    self._relax(now)
                    while self._sent and now - self._sent[0] >= self._span:
                        self._sent.popleft()
                    if len(self._sent) < self.calls:
                        self._sent.append(now)
                        return
                    wait = self._sent[0] + self._span - now
            time.sleep(wait)

    def pause(self, seconds: float) -> None:
        """Hold every thread back, e.g. after the server said the quota is spent."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def widen(self) -> None:
        """The server counted more than we did: leave more room from now on.

        Once per window at most: one overshoot answers several threads at once."""
        with self._lock:
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
