"""A small client for the Deezer API's ``GET /track/{id}``.

Deezer reports errors in the JSON body, usually with HTTP 200:
``{"error": {"type": ..., "message": ..., "code": N}}``. Code 4 is the quota
(wait and retry), 800 is "no data" (the track is gone: not retried). Anything
else transient (other codes, 5xx, resets, timeouts, bodies that are not the
expected JSON) gets a bounded number of retries with backoff.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from deezer_tags.errors import QuotaExhaustedError
from deezer_tags.ratelimit import RollingWindowLimiter, shared_limiter
from deezer_tags.sessions import ThreadSessions
from deezer_tags.sources import Quota

QUOTA_CODE = 4
NO_DATA_CODE = 800


class TrackNotFound(Exception):
    """Deezer has no data for this id (code 800): the track is gone."""


class TrackFetchFailed(Exception):
    """Every retry failed; the message says why the last one did."""


class _Transient(Exception):
    pass


class _QuotaHit(Exception):
    pass


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6          # for transient failures, quota answers not counted
    backoff: float = 0.5           # seconds before the 2nd attempt, doubled after each failure
    max_backoff: float = 8.0
    quota_patience: float = 600.0  # give up when the quota stays spent this long
    timeout: tuple[float, float] = (5.0, 20.0)  # connect, read


def keep_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The fields a user of the dataset wants, flattened; absent ones are None."""
    artist = body.get("artist") or {}
    album = body.get("album") or {}
    return {
        "title": body.get("title"),
        "title_short": body.get("title_short"),
        "artist_id": artist.get("id"),
        "artist_name": artist.get("name"),
        "album_id": album.get("id"),
        "album_title": album.get("title"),
        "duration": body.get("duration"),
        "isrc": body.get("isrc"),
        "release_date": body.get("release_date"),
        "bpm": body.get("bpm"),
        "gain": body.get("gain"),
        "readable": body.get("readable"),
        "preview": body.get("preview") or None,
    }


class DeezerClient:
    def __init__(self, api_url: str, quota: Quota = Quota(), *, pool_size: int = 16,
                 retry: RetryPolicy = RetryPolicy(),
                 limiter: RollingWindowLimiter | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.retry = retry
        self.limiter = limiter or shared_limiter(urlsplit(self.api_url).netloc, quota.calls, quota.window)
        self._sessions = ThreadSessions(pool_size, user_agent="deezer-contextual-tags (dataset rebuild)")
        self.calls_made = 0
        self.quota_answers = 0
        self._count_lock = threading.Lock()

    def track(self, track_id: int) -> dict[str, Any]:
        """The raw ``/track/{id}`` body. Raises TrackNotFound, TrackFetchFailed or QuotaExhaustedError."""
        track_id = int(track_id)
        failures = 0
        quota_since: float | None = None
        delay = self.retry.backoff
        while True:
            try:
                return self._attempt(track_id)
            except _QuotaHit:
                now = time.monotonic()
                quota_since = quota_since or now
                if now - quota_since > self.retry.quota_patience:
                    raise QuotaExhaustedError(
                        f"the Deezer API has refused calls for over {self.retry.quota_patience:.0f} s "
                        "(quota exceeded); another program may share this IP: stop it, "
                        "or run the build again later (it resumes)"
                    ) from None
                # Hold every thread back: the server's window has to roll first.
                self.limiter.widen()
                self.limiter.pause(self.limiter.window / 5)
            except _Transient as error:
                failures += 1
                if failures >= self.retry.max_attempts:
                    raise TrackFetchFailed(f"{error} (after {failures} attempts)") from None
                time.sleep(min(delay, self.retry.max_backoff) * random.uniform(0.5, 1.0))
                delay *= 2

    def _attempt(self, track_id: int) -> dict[str, Any]:
        self.limiter.acquire()
        with self._count_lock:
            self.calls_made += 1
        url = f"{self.api_url}/track/{track_id}"
        try:
            response = self._sessions.get().get(url, timeout=self.retry.timeout)
            content = response.content
        except requests.RequestException as error:
            raise _Transient(f"network error: {type(error).__name__}") from None
        if response.status_code == 429:
            self._count_quota_answer()
            raise _QuotaHit()
        try:
            body = json.loads(content)
        except ValueError:
            raise _Transient(f"HTTP {response.status_code}, body is not JSON") from None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            code = body["error"].get("code")
            if code == QUOTA_CODE:
                self._count_quota_answer()
                raise _QuotaHit()
            if code == NO_DATA_CODE:
                raise TrackNotFound(f"Deezer has no data for track {track_id} (code 800)")
            raise _Transient(f"Deezer error {code}: {body['error'].get('message')}")
        if response.status_code >= 400:
            raise _Transient(f"HTTP {response.status_code}")
        if not isinstance(body, dict) or body.get("id") != track_id:
            raise _Transient("response is not a track body for this id")
        return body

    def _count_quota_answer(self) -> None:
        with self._count_lock:
            self.quota_answers += 1
