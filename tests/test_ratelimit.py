"""The limiter keeps the server's count, however late the calls reach it."""

from __future__ import annotations

import random
import threading
import time

from deezer_tags.ratelimit import RollingWindowLimiter


def most_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    most, first = 0, 0
    for last, t in enumerate(times):
        while t - times[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most


def test_calls_delayed_on_their_way_still_keep_the_quota():
    """Each call reaches the "server" 0-60 ms after the limiter let it go (a loaded machine,
    a slow connect) and is answered 0-10 ms later. Counted where they arrive, no 0.25 s
    holds more than 5. A limiter that stamps a call when it lets it go counts 6 or more here."""
    limiter = RollingWindowLimiter(5, 0.25)
    arrivals: list[float] = []
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(6):
            with limiter.call():
                time.sleep(rng.uniform(0.0, 0.06))
                with lock:
                    arrivals.append(time.monotonic())
                time.sleep(rng.uniform(0.0, 0.01))

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(8)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(arrivals) == 48
    assert most_in_window(arrivals, 0.25) <= 5
    # ... and it does not get there by crawling: 48 calls at 5 per 0.25 s take 2.25 s at best.
    assert time.monotonic() - started < 2.25 * 2
