"""A small client for the Deezer API's ``GET /track/{id}``.

Deezer reports errors in the JSON body, usually with HTTP 200:
``{"error": {"type": ..., "message": ..., "code": N}}``. Code 4 is the quota
(wait and retry), 800 is "no data" (the track is gone: not retried). Anything
else transient (other codes, 5xx, resets, timeouts, bodies that are not the
expected JSON) gets a bounded number of retries with backoff.

Two conditions stop the whole build rather than one track, because no retry can
help: the quota stays spent for longer than ``quota_patience`` (another program
on the IP), or the API cannot be connected to at all for ``unreachable_after``
seconds (no network). Both are tunable through ``DEEZER_TAGS_QUOTA_PATIENCE`` and
``DEEZER_TAGS_UNREACHABLE_AFTER`` (seconds) or the config kwargs of the same names.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit

import requests
import urllib3

from deezer_tags.errors import NetworkUnreachableError, QuotaExhaustedError, UserError
from deezer_tags.ratelimit import RollingWindowLimiter, shared_limiter
from deezer_tags.sessions import ThreadSessions
from deezer_tags.sources import ENV_PREFIX, Quota

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


class _NoConnection(_Transient):
    """Not even a connection: refused, no route, DNS failed, connect timed out."""


class _Stopped(Exception):
    """The build stopped (client closed); the track stays pending for the next build."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6          # for transient failures, quota answers not counted
    backoff: float = 0.5           # seconds before the 2nd attempt, doubled after each failure
    max_backoff: float = 8.0
    quota_patience: float = 600.0  # give up when the quota stays spent this long
    # Give up when no connection to the API could be made for this long (and at least
    # max_attempts times in a row, so one track's worth of evidence). Without it a build
    # with no network grinds through every track x max_attempts, about 13 h for the full
    # set. 30 s rides out what a network blip takes (Wi-Fi roaming, a DHCP renewal, a
    # router restart is longer: then the build stops and resumes where it stopped).
    unreachable_after: float = 30.0
    timeout: tuple[float, float] = (5.0, 20.0)  # connect, read

    @classmethod
    def resolve(cls, quota_patience: float | None = None, unreachable_after: float | None = None,
                environ: Mapping[str, str] | None = None) -> "RetryPolicy":
        """The defaults, then ``DEEZER_TAGS_QUOTA_PATIENCE`` / ``DEEZER_TAGS_UNREACHABLE_AFTER``
        (seconds), then the arguments when not None."""
        environ = os.environ if environ is None else environ
        chosen = {}
        for name, given in (("quota_patience", quota_patience), ("unreachable_after", unreachable_after)):
            variable = ENV_PREFIX + name.upper()
            if given is not None:
                chosen[name] = _seconds(given, f"{name}={given!r}")
            elif environ.get(variable):
                chosen[name] = _seconds(environ[variable], f"{variable}={environ[variable]!r}")
        return cls(**chosen)


def _seconds(value: object, setting: str) -> float:
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seconds = -1.0
    if not seconds > 0:
        raise UserError(f"{setting} is not a positive number of seconds; set it like 600")
    return seconds


def keep_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The fields a user of the dataset wants, flattened; absent ones are None."""
    artist = _object(body.get("artist"))
    album = _object(body.get("album"))
    preview = body.get("preview")
    contributors = body.get("contributors")
    return {
        "title": body.get("title"),
        "title_short": body.get("title_short"),
        "title_version": body.get("title_version"),
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
        "preview": preview if isinstance(preview, str) and preview else None,
        # Every credited artist's name (the main one too): a YouTube title may name any of them.
        "contributors": [c["name"] for c in contributors if isinstance(c, dict) and isinstance(c.get("name"), str)]
        if isinstance(contributors, list) else [],
    }


def _object(value: object) -> dict[str, Any]:
    """A nested object of the body, or {} when Deezer (or a proxy) sent something else."""
    return value if isinstance(value, dict) else {}


class DeezerClient:
    def __init__(self, api_url: str, quota: Quota = Quota(), *, pool_size: int = 16,
                 retry: RetryPolicy = RetryPolicy(),
                 limiter: RollingWindowLimiter | None = None, language: str = "en") -> None:
        self.api_url = api_url.rstrip("/")
        self.retry = retry
        self.limiter = limiter or shared_limiter(urlsplit(self.api_url).netloc, quota.calls, quota.window)
        # Accept-Language: Deezer answers in the caller's country's language otherwise.
        self._sessions = ThreadSessions(pool_size, user_agent="deezer-contextual-tags (dataset rebuild)",
                                        headers={"Accept-Language": language})
        self.calls_made = 0
        self.quota_answers = 0
        self._count_lock = threading.Lock()
        self._host = urlsplit(self.api_url).netloc or self.api_url
        # The run of connection failures since the last answer (any thread's).
        self._no_connection_count = 0
        self._no_connection_since: float | None = None
        # Set when the build stops (or the API is given up on): every thread's waits end.
        self._stopped = threading.Event()
        self._stop_reason: UserError | None = None

    def close(self) -> None:
        """Stop: calls still retrying give up at once (they would only delay the exit)."""
        self._stopped.set()

    def track(self, track_id: int) -> dict[str, Any]:
        """The raw ``/track/{id}`` body. Raises TrackNotFound or TrackFetchFailed (this track),
        QuotaExhaustedError or NetworkUnreachableError (the build must stop)."""
        track_id = int(track_id)
        failures = 0
        quota_since: float | None = None
        delay = self.retry.backoff
        while True:
            self._raise_if_stopped()
            try:
                body = self._attempt(track_id)
            except _QuotaHit:
                self._connected()
                now = time.monotonic()
                quota_since = quota_since or now
                if now - quota_since > self.retry.quota_patience:
                    self._stop(QuotaExhaustedError.after(self.retry.quota_patience))
                # Hold every thread back: the server's window has to roll first.
                self.limiter.widen()
                self.limiter.pause(self.limiter.window / 5)
            except TrackNotFound:
                self._connected()
                raise
            except _Transient as error:
                if isinstance(error, _NoConnection):
                    self._not_connected()
                else:
                    self._connected()
                failures += 1
                if failures >= self.retry.max_attempts:
                    raise TrackFetchFailed(f"{error} (after {failures} attempts)") from None
                self._stopped.wait(min(delay, self.retry.max_backoff) * random.uniform(0.5, 1.0))
                delay *= 2
            else:
                self._connected()
                return body

    def _raise_if_stopped(self) -> None:
        if self._stopped.is_set():
            raise self._stop_reason or _Stopped()

    def _stop(self, reason: UserError) -> None:
        """Give up on the API for the whole build: this thread raises `reason`, the others stop."""
        with self._count_lock:
            self._stop_reason = self._stop_reason or reason
        self._stopped.set()
        raise self._stop_reason

    def _connected(self) -> None:
        with self._count_lock:
            self._no_connection_count = 0
            self._no_connection_since = None

    def _not_connected(self) -> None:
        """One more connection failure in a row; stop when they have lasted too long."""
        now = time.monotonic()
        with self._count_lock:
            self._no_connection_count += 1
            self._no_connection_since = self._no_connection_since or now
            given_up = (self._no_connection_count >= self.retry.max_attempts
                        and now - self._no_connection_since >= self.retry.unreachable_after)
        if given_up:
            self._stop(NetworkUnreachableError.of(self._host))

    def _attempt(self, track_id: int) -> dict[str, Any]:
        url = f"{self.api_url}/track/{track_id}"
        try:
            with self.limiter.call():  # stamped once answered: see ratelimit
                self._raise_if_stopped()  # the wait for the quota may have outlasted the build
                with self._count_lock:
                    self.calls_made += 1
                response = self._sessions.get().get(url, timeout=self.retry.timeout)
                content = response.content
        except (requests.ConnectionError, requests.ConnectTimeout) as error:
            if _no_connection(error):
                raise _NoConnection(f"network error: {type(error).__name__}") from None
            raise _Transient(f"network error: {type(error).__name__}") from None
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


def _no_connection(error: requests.RequestException) -> bool:
    """True when no connection was made at all; a reset or a cut-off answer means the
    server is there (those are the server's or the path's trouble, retried per track)."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = error.args[0] if error.args else None
    # urllib3 wraps a failed connect as MaxRetryError(reason=NewConnectionError / NameResolutionError).
    reason = getattr(reason, "reason", reason)
    return isinstance(reason, urllib3.exceptions.NewConnectionError)
