"""A loopback relay between ffmpeg and a remote media file, so that ffmpeg reads only checked bytes.

Why: ffmpeg cuts a section by seeking with an HTTP Range request and starting at the first
frame after the byte it computed. When the answer at that byte is damaged, ffmpeg resyncs a
frame or more away and says nothing; when an answer is slow or cut off, it asks again, and
the new answer may be the damaged one. The reliability campaign found such shifted clips.

So ffmpeg reads from here, on 127.0.0.1, and never from the network:
- every answer ffmpeg gets is whole: the relay fetches the media in closed ranges, checks
  each (206, the Content-Range asked for, the full length) and retries resets, 5xx, short,
  stalled or non-partial answers, resuming where the last good byte was;
- every range is read twice and handed on only when both reads agree (a third read breaks
  a tie): a damaged answer cannot reach ffmpeg, wherever its seek lands. Checking only the
  first bytes of each request, where a seek usually lands, still let one shifted clip
  through in a test run under load; twice the bytes buys a guarantee instead of odds.

A client error from the media host (403 expired, 429 throttled, 404, 416) is passed on to
ffmpeg as is, so what ffmpeg reports still says why. Only URLs registered by the caller are
relayed, under unguessable paths, with the caller's headers (cookies never reach ffmpeg's
command line).
"""

from __future__ import annotations

import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import requests

from deezer_tags.loopback import LoopbackServer
from deezer_tags.ranges import parse_content_range

FIRST_PIECE = 16 * 1024  # bytes of the first range of each request: headers come back sooner
# Measured on 8 clips of the local web, the clips' bytes unchanged by the relay: every range read
# twice, 128 KB pieces with an 8 KB send buffer fetch 1.64 MB a clip in 16 requests, 1.47x
# the bytes the host sent ffmpeg when it read directly (in 2 requests). Read once they took
# 0.75x; 32 KB pieces 0.68x in 25 requests; pieces growing from 16 KB did worse (1.74 MB).
# With 50-100 ms per media request, one worker: 1.63 s a clip against 1.17 s reading directly
# (1.91 s with the two reads one after the other).
PIECE = 128 * 1024       # bytes per range after the first
ATTEMPTS = 5             # per upstream range, on resets, 5xx, short or stalled answers
BACKOFF = 0.25           # seconds before the 2nd attempt, doubled after
CONNECT_TIMEOUT = 10.0   # seconds
READ_TIMEOUT = 15.0      # seconds without a byte before an answer counts as stalled
SEND_BUFFER = 8 * 1024   # what the kernel may hold for ffmpeg: bounds the bytes fetched but never read

_RANGE = re.compile(r"bytes=(\d+)-(\d*)")


@dataclass
class Relayed:
    """One registered media URL and what relaying it took."""

    url: str
    headers: dict[str, str]
    bytes_fetched: int = 0     # body bytes read from the media host, second reads included
    disagreements: int = 0     # ranges whose two reads differed: a damaged answer was caught
    failure: str | None = None  # why the relay gave up on an answer, if it did
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _count(self, body_bytes: int = 0, disagreements: int = 0) -> None:
        with self._lock:
            self.bytes_fetched += body_bytes
            self.disagreements += disagreements

    def _fail(self, why: str) -> None:
        with self._lock:
            self.failure = self.failure or why


class UpstreamRefused(Exception):
    """The media host answered with a client error: passed on to ffmpeg."""

    def __init__(self, status: int, reason: str, content_range: str | None) -> None:
        super().__init__(f"{status} {reason}")
        self.status, self.reason, self.content_range = status, reason, content_range


class UpstreamFailed(Exception):
    """No good answer for a range after ``ATTEMPTS`` tries, or three reads of it all differ."""


@dataclass(frozen=True)
class _Piece:
    body: bytes
    total: int           # the media file's size, from Content-Range
    content_type: str


class MediaRelay:
    """An HTTP server on 127.0.0.1 (ephemeral port) relaying registered media URLs; thread-safe."""

    def __init__(self) -> None:
        self._routes: dict[str, Relayed] = {}
        self._routes_lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.relay = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="media-relay", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @contextmanager
    def relaying(self, url: str, headers: Mapping[str, str] | None = None) -> Iterator[tuple[str, Relayed]]:
        """The loopback URL ffmpeg reads ``url`` from while the block runs, and its figures."""
        token = secrets.token_urlsafe(18)
        relayed = Relayed(url, dict(headers or {}))
        with self._routes_lock:
            self._routes[token] = relayed
        try:
            yield f"http://127.0.0.1:{self.port}/{token}", relayed
        finally:
            with self._routes_lock:
                del self._routes[token]

    def route(self, path: str) -> Relayed | None:
        with self._routes_lock:
            return self._routes.get(path.lstrip("/").partition("?")[0])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _Server(LoopbackServer):
    relay: MediaRelay


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass  # ffmpeg's own log says what it asked for

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        relayed = self.server.relay.route(self.path)
        if relayed is None:
            self._answer(404, "Not Found")
            return
        asked = _RANGE.fullmatch(self.headers.get("Range", "").strip())
        first = int(asked[1]) if asked else 0
        with _Upstream(relayed) as upstream:
            try:
                head = upstream.agreed(first, first + FIRST_PIECE - 1)
            except UpstreamRefused as refused:
                self._answer(refused.status, refused.reason, refused.content_range)
                return
            except UpstreamFailed as error:
                relayed._fail(str(error))
                self._answer(502, "Bad Gateway")
                return
            last = head.total - 1
            if asked and asked[2]:
                last = min(last, int(asked[2]))
            self._stream(upstream, relayed, head, first, last, ranged=asked is not None)

    def _stream(self, upstream: _Upstream, relayed: Relayed, head: _Piece, first: int, last: int, *,
                ranged: bool) -> None:
        self.send_response(206 if ranged else 200)
        self.send_header("Content-Type", head.content_type)
        self.send_header("Accept-Ranges", "bytes")
        if ranged:
            self.send_header("Content-Range", f"bytes {first}-{last}/{head.total}")
        self.send_header("Content-Length", str(last - first + 1))
        self.end_headers()
        position, body = first, head.body[: last - first + 1]
        try:
            while True:
                self.wfile.write(body)
                position += len(body)
                if position > last:
                    return
                body = upstream.agreed(position, min(last, position + PIECE - 1)).body
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # ffmpeg has what it needs and hung up
        except (UpstreamRefused, UpstreamFailed) as error:
            relayed._fail(f"at byte {position}: {error}")
            self.close_connection = True  # ffmpeg sees a short answer; the cut is not kept

    def _answer(self, status: int, reason: str, content_range: str | None = None) -> None:
        body = f"{status} {reason}\n".encode()
        self.send_response(status, reason)
        self.send_header("Content-Type", "text/plain")
        if content_range:
            self.send_header("Content-Range", content_range)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Upstream:
    """Checked range reads of one media URL, two at a time: each on its own connection."""

    def __init__(self, relayed: Relayed) -> None:
        self._relayed = relayed
        self._sessions = (requests.Session(), requests.Session())
        self._second = ThreadPoolExecutor(max_workers=1, thread_name_prefix="media-relay-read")

    def __enter__(self) -> _Upstream:
        return self

    def __exit__(self, *exc: object) -> None:
        self._second.shutdown(wait=True)  # a read in flight finishes: its session is closed after
        for session in self._sessions:
            session.close()

    def agreed(self, first: int, last: int) -> _Piece:
        """Bytes ``first..last`` as two reads, made at once, give them; a third read breaks a tie."""
        second = self._second.submit(self.checked, first, last, self._sessions[1])
        try:
            one = self.checked(first, last, self._sessions[0])
        except (UpstreamRefused, UpstreamFailed):
            wait([second])  # the first read's verdict is the one passed on
            raise
        two = second.result()
        if one == two:
            return one
        self._relayed._count(disagreements=1)
        three = self.checked(first, last, self._sessions[0])
        if three in (one, two):
            return three
        raise UpstreamFailed(f"three reads of bytes {first}-{last} all differ")

    def checked(self, first: int, last: int, session: requests.Session) -> _Piece:
        """Bytes ``first..last`` (fewer at the end of the file), from a whole, partial answer."""
        problem = ""
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(BACKOFF * 2 ** (attempt - 1))
            try:
                piece, problem = self._read(first, last, session)
            except requests.Timeout:
                piece, problem = None, f"no byte for {READ_TIMEOUT:.0f} s"
            except requests.RequestException as error:  # reset, refused, cut off
                piece, problem = None, f"the connection broke ({type(error).__name__})"
            if piece is not None:
                return piece
        raise UpstreamFailed(f"bytes {first}-{last}: {problem} ({ATTEMPTS} attempts)")

    def _read(self, first: int, last: int, session: requests.Session) -> tuple[_Piece | None, str]:
        """One read: the piece, or None and what was wrong with the answer."""
        headers = {**self._relayed.headers, "Range": f"bytes={first}-{last}"}
        with session.get(self._relayed.url, headers=headers, stream=True,
                               timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)) as answer:
            status = answer.status_code
            if 400 <= status < 500:
                raise UpstreamRefused(status, answer.reason or "Client Error", answer.headers.get("Content-Range"))
            if status != 206:
                return None, f"answered {status} to a range request"
            span = parse_content_range(answer.headers.get("Content-Range"))
            if span is None or span.total is None or span.first != first:
                return None, f"answered the wrong range ({answer.headers.get('Content-Range')!r})"
            total = span.total
            expected = min(last, total - 1) - first + 1
            if span.last != first + expected - 1:
                return None, f"answered the wrong range ({answer.headers.get('Content-Range')!r})"
            # A body longer than asked stops one chunk past: it is wrong whatever follows.
            body = b""
            for chunk in answer.iter_content(64 * 1024):
                body += chunk
                if len(body) > expected:
                    break
        self._relayed._count(body_bytes=len(body))
        if len(body) != expected:
            return None, f"the answer held {len(body)} of {expected} bytes"
        return _Piece(body, total, answer.headers.get("Content-Type", "application/octet-stream")), ""
