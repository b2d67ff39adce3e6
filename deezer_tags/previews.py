"""Downloading Deezer's 30 s previews into the cache, verified, resumable.

Bytes go to a hidden `.part` file next to the destination; a retry (or the next
build, after a kill) resumes it with an HTTP Range request that starts `OVERLAP`
bytes early: those must match the end of the `.part`, else it is started again (a
killed download may have kept the start of a damaged answer, or the file may have
changed since: splicing would store a file no answer holds). Only a file that
passed the MP3 check is renamed into place, so a file in the cache is complete
and verified, or absent. A 403 means the signed URL expired: the caller
re-resolves the track and calls again with the fresh URL (the `.part` survives).
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import requests

from deezer_tags.audio import InvalidAudio, checked_clip
from deezer_tags.ranges import parse_content_range
from deezer_tags.sessions import ThreadSessions

# Deezer previews are 30 s (30.72 s as encoded); anything far off is not one.
PREVIEW_SECONDS = (25.0, 35.0)
# 35 s at 320 kbps is 1.4 MB; twice that leaves room for tags. A bigger body is not a
# preview (a whole track, a video): stop reading it rather than fetch it once per attempt.
MAX_PREVIEW_BYTES = 3 * 1024 * 1024
CHUNK = 64 * 1024
OVERLAP = 16 * 1024  # bytes a resumed download reads again, to check it goes on the same file


class PreviewExpired(Exception):
    """The CDN refused the signed URL (HTTP 403): resolve the track again for a fresh one."""


class PreviewUnavailable(Exception):
    """No usable preview behind this URL (gone, refused host, or never valid audio)."""


class PreviewFetchFailed(Exception):
    """Every attempt met a network error, a 5xx or a cut-off body: the preview may well be
    fine, so the track is recorded failed and the next build tries again."""


class _Retry(Exception):
    pass


@dataclass(frozen=True)
class StoredAudio:
    path: Path
    sha256: str
    duration: float
    bytes_fetched: int  # over the network, this call (resumed bytes not counted twice)


class PreviewDownloader:
    def __init__(self, allowed: Callable[[str], bool], *, pool_size: int = 16,
                 timeout: tuple[float, float] = (5.0, 30.0), max_attempts: int = 5,
                 backoff: float = 0.5) -> None:
        self.allowed = allowed
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = backoff
        self._sessions = ThreadSessions(pool_size, pool_connections=4)

    def download(self, url: str, dest: Path) -> StoredAudio:
        """Fetch `url` into `dest`. Raises PreviewExpired, PreviewUnavailable or PreviewFetchFailed."""
        if not self.allowed(url):
            raise PreviewUnavailable("preview URL is not on the configured CDN hosts; refused")
        part = partial_path(dest)
        fetched = 0
        last_problem, transient = "no attempt made", False
        for attempt in range(self.max_attempts):
            if attempt:
                time.sleep(self.backoff * (2 ** (attempt - 1)) * random.uniform(0.5, 1.0))
            try:
                fetched += self._fetch_to(url, part)
                data = part.read_bytes()
                info = checked_clip(data, min_seconds=PREVIEW_SECONDS[0], max_seconds=PREVIEW_SECONDS[1])
            except _Retry as problem:
                last_problem, transient = str(problem), True
                continue
            except InvalidAudio as problem:
                # What arrived is not a preview: start again from nothing.
                last_problem, transient = f"invalid audio: {problem}", False
                part.unlink(missing_ok=True)
                continue
            os.replace(part, dest)
            return StoredAudio(dest, hashlib.sha256(data).hexdigest(), round(info.duration, 3), fetched)
        part.unlink(missing_ok=True)  # nothing worth resuming: leave no temp file behind
        raise (PreviewFetchFailed if transient else PreviewUnavailable)(
            f"{last_problem} (after {self.max_attempts} attempts)")

    def _fetch_to(self, url: str, part: Path) -> int:
        """Append the rest of `url` to `part` (or restart it). Returns the bytes received."""
        have = part.stat().st_size if part.exists() else 0
        start = max(0, have - OVERLAP)
        headers = {"Range": f"bytes={start}-"} if have else {}
        try:
            response = self._sessions.get().get(url, headers=headers, timeout=self.timeout, stream=True)
        except requests.RequestException as error:
            raise _Retry(f"network error: {type(error).__name__}") from None
        with response:
            status = response.status_code
            if status == 403:
                raise PreviewExpired("the CDN refused the signed URL (HTTP 403)")
            if status in (404, 410):
                raise PreviewUnavailable(f"the CDN has no such preview (HTTP {status})")
            if status == 416:
                part.unlink(missing_ok=True)  # our partial file is longer than theirs: restart
                raise _Retry("HTTP 416 on resume")
            if status >= 400:
                raise _Retry(f"HTTP {status}")
            if "html" in response.headers.get("Content-Type", "").lower():
                part.unlink(missing_ok=True)
                raise _Retry("the CDN answered with an HTML page")
            resumed = have > 0 and status == 206 and _resumes_at(response, start)
            _refuse_if_too_large(_announced_size(response, resumed), part)
            kept_tail = _tail(part, have - start) if resumed else b""
            overlap = b""
            received = 0
            try:
                with open(part, "r+b" if resumed else "wb") as handle:
                    handle.seek(have if resumed else 0)
                    for chunk in response.iter_content(CHUNK):
                        received += len(chunk)
                        if (start if resumed else 0) + received > MAX_PREVIEW_BYTES:
                            break  # no Content-Length, or a false one: stop reading all the same
                        if len(overlap) < len(kept_tail):
                            needed = len(kept_tail) - len(overlap)
                            overlap, chunk = overlap + chunk[:needed], chunk[needed:]
                            if len(overlap) == len(kept_tail) and overlap != kept_tail:
                                break
                        handle.write(chunk)
            except requests.RequestException as error:
                # Keep what arrived: the next attempt resumes from there.
                raise _Retry(f"download cut off: {type(error).__name__}") from None
            if overlap != kept_tail:
                part.unlink(missing_ok=True)
                raise _Retry("the bytes kept from an earlier download do not match the file: started again")
            _refuse_if_too_large((start if resumed else 0) + received, part)
            return received


def _tail(path: Path, size: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(-size, os.SEEK_END)
        return handle.read()


def partial_path(dest: Path) -> Path:
    """Where the bytes of `dest` collect until they are complete and checked."""
    return dest.with_name(f".{dest.name}.part")


def _announced_size(response: requests.Response, resumed: bool) -> int | None:
    """The whole file's size as the headers give it (Content-Range total when resuming)."""
    if resumed:
        span = parse_content_range(response.headers.get("Content-Range"))
        return span.total if span else None
    length = response.headers.get("Content-Length", "")
    return int(length) if length.isdigit() else None


def _refuse_if_too_large(size: int | None, part: Path) -> None:
    if size is not None and size > MAX_PREVIEW_BYTES:
        part.unlink(missing_ok=True)
        raise PreviewUnavailable(
            f"the CDN sends {size:,} bytes or more, more than any 30 s preview ({MAX_PREVIEW_BYTES:,}); refused"
        )


def _resumes_at(response: requests.Response, offset: int) -> bool:
    span = parse_content_range(response.headers.get("Content-Range"))
    return span is not None and span.first == offset
