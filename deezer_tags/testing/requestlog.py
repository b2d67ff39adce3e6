"""The record of every request the local web answered, and the quota it enforces."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Served:
    """One request. Times are ``time.monotonic()`` seconds: ``started`` on arrival, ``finished``
    after the last byte. ``status`` is 0 when the connection was reset without a response."""

    method: str
    path: str
    query: str
    status: int
    bytes_sent: int  # body bytes actually written
    started: float
    finished: float
    fault: str | None
    client_range: str | None  # the Range header as sent
    user_agent: str = ""      # the User-Agent header as sent
    session: str = ""         # the YouTube session of a page (with youtube_limits; see youtube_limits)


class RequestLog:
    """A thread-safe list of Served: the requests that arrived since the last ``clear``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Served] = []
        self._cleared_at = float("-inf")

    def add(self, served: Served) -> None:
        with self._lock:
            # A request that arrived before the last clear and finished after it (one in
            # flight when a client was killed, say) belongs to what was cleared.
            if served.started >= self._cleared_at:
                self._items.append(served)

    def replace(self, old: Served, new: Served) -> None:
        """Correct a recent entry (a client hung up after it was logged)."""
        with self._lock:
            for i in range(len(self._items) - 1, -1, -1):
                if self._items[i] is old:
                    self._items[i] = new
                    return

    def snapshot(self) -> list[Served]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._cleared_at = time.monotonic()

    def max_in_window(self, prefix: str, window: float) -> int:
        """The most requests under ``prefix`` that arrived within any ``window`` seconds."""
        return most_in_any_window([s.started for s in self.snapshot() if s.path.startswith(prefix)], window)


def most_in_any_window(times: list[float], window: float) -> int:
    """The most of ``times`` within any ``window`` seconds (a half-open window)."""
    times = sorted(times)
    best = first = 0
    for last, t in enumerate(times):
        while t - times[first] >= window:
            first += 1
        best = max(best, last - first + 1)
    return best


class SlidingWindowQuota:
    """At most ``limit`` requests in any ``window`` seconds, like the Deezer API's 50 per 5 s.

    Every arrival counts, rejected ones included: the real API counts what reaches it, so a
    client that keeps knocking while locked out stays locked out. Clients must pace
    themselves rather than retry into the wall, and the stand-in should not hide that.
    """

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.rejections = 0
        self._arrivals: deque[float] = deque()
        self._lock = threading.Lock()

    def admit(self, now: float) -> bool:
        with self._lock:
            arrivals = self._arrivals
            while arrivals and now - arrivals[0] >= self.window:
                arrivals.popleft()
            arrivals.append(now)
            if len(arrivals) <= self.limit:
                return True
            self.rejections += 1
            return False
