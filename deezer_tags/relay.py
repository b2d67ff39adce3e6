"""A loopback relay between ffmpeg and a remote media file, so that ffmpeg gets whole answers.

Why: ffmpeg cuts a section by seeking with an HTTP Range request. When an answer is cut
off, stalls or resets, ffmpeg asks again or stops early, and says little: the clip may
come out short or shifted. So ffmpeg reads from here, on 127.0.0.1, never from the network:
- every answer ffmpeg gets is whole: the relay fetches the media in closed ranges, checks
  each (206, the Content-Range asked for, the same file size throughout) and, when one
  resets, stalls, ends short or answers 5xx, asks for the rest from the last good byte,
  a bounded number of times;
- each byte is read once and handed on as it arrives. The media host speaks HTTPS: a
  complete answer is not silently damaged on the way, so there is nothing a second read
  could catch (a host that stored wrong bytes would serve them on every read);
- the ranges are sized to what ffmpeg will read. After its seek ffmpeg reads about the
  section, and the caller says how many bytes that is (the format's byte rate times the
  section's length): the first range asks for that, later ones for little more, so the
  host sends few bytes past the point where ffmpeg hangs up.

A client error from the media host (403 expired, 429 throttled, 404, 416) before the first
byte is passed on to ffmpeg as is, so what ffmpeg reports still says why; one in the middle
of an answer cuts the answer short and is kept in ``Relayed.failure``. Only URLs registered
by the caller are relayed, under unguessable paths, with the caller's headers (cookies never
reach ffmpeg's command line).
"""

from __future__ import annotations

import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import requests
import requests.adapters
from urllib3.connection import HTTPConnection

from deezer_tags.loopback import LoopbackServer
from deezer_tags.ranges import parse_content_range

# Range sizes. ffmpeg reads a file's head (its header and index: under 2 KB for YouTube's
# DASH files, tens of KB for an M4A with its tables up front, plus the first packets it
# probes), then seeks and reads the section. Measured on the local web's files: ffmpeg
# itself reads 1.07 x (MP4) to 1.25 x (WebM) the section's bytes, index included.
HEAD_PIECE = 48 * 1024        # the first range of a read from byte 0
READ_AHEAD = 32 * 1024        # ffmpeg's read buffer: it reads this far past the section's end
NEXT_PIECE = 32 * 1024        # a range after the first, doubled each time ffmpeg reads on ...
MAX_PIECE = 1024 * 1024       # ... up to this (an unknown byte rate starts here too)
CHUNK = 16 * 1024             # bytes handed to ffmpeg at a time
ATTEMPTS = 5                  # per range, on resets, 5xx, short or stalled answers
BACKOFF = 0.25                # seconds before the 2nd attempt, doubled after
CONNECT_TIMEOUT = 10.0        # seconds
READ_TIMEOUT = 15.0           # seconds without a byte before an answer counts as stalled
SEND_BUFFER = 8 * 1024        # what the kernel may hold for ffmpeg: the relay reads as ffmpeg does
# The TCP window offered to the media host: bytes it can have in flight when ffmpeg hangs up
# (the rest of a range is never sent). 64 KB in flight at 50 ms is 1.3 MB/s a connection,
# a 30 s section in under half a second.
UPSTREAM_WINDOW = 64 * 1024

_RANGE = re.compile(r"bytes=(\d+)-(\d*)")


@dataclass
class Relayed:
    """One registered media URL and what relaying it took."""

    url: str
    headers: dict[str, str]
    section_bytes: int | None = None  # what ffmpeg is expected to read from its seek on
    bytes_fetched: int = 0     # body bytes read from the media host
    requests: int = 0          # range requests made to the media host
    failure: str | None = None  # why the relay gave up on an answer, if it did
    _section_end: int | None = field(default=None, repr=False)  # the byte the section should end at
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _count(self, body_bytes: int = 0, requests: int = 0) -> None:
        with self._lock:
            self.bytes_fetched += body_bytes
            self.requests += requests

    def _first_piece(self, first: int) -> int:
        """How much to ask for first when ffmpeg reads from ``first``. The first read past
        the head is its seek: the section is expected to end ``section_bytes`` after it. A
        later read before that end (ffmpeg skipping ahead inside an MP4 fragment) asks for
        the rest of the section only."""
        if first == 0:
            return HEAD_PIECE
        if not self.section_bytes:
            return MAX_PIECE
        with self._lock:
            if self._section_end is None or first >= self._section_end:
                self._section_end = first + self.section_bytes
            end = self._section_end
        return max(NEXT_PIECE, end - first) + READ_AHEAD

    def _fail(self, why: str) -> None:
        with self._lock:
            self.failure = self.failure or why


class UpstreamRefused(Exception):
    """The media host answered with a client error."""

    def __init__(self, status: int, reason: str, content_range: str | None) -> None:
        super().__init__(f"{status} {reason}")
        self.status, self.reason, self.content_range = status, reason, content_range


class UpstreamFailed(Exception):
    """No good answer for a range after ``ATTEMPTS`` tries."""


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
    def relaying(self, url: str, headers: Mapping[str, str] | None = None, *,
                 section_bytes: int | None = None) -> Iterator[tuple[str, Relayed]]:
        """The loopback URL ffmpeg reads ``url`` from while the block runs, and its figures.
        ``section_bytes``: how much ffmpeg will read after its seek, if the caller knows."""
        token = secrets.token_urlsafe(18)
        relayed = Relayed(url, dict(headers or {}), section_bytes)
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
        asked_last = int(asked[2]) if asked and asked[2] else None
        with _Reader(relayed, first, asked_last) as reader:
            try:
                reader.open_first()
            except UpstreamRefused as refused:
                self._answer(refused.status, refused.reason, refused.content_range)
                return
            except UpstreamFailed as error:
                relayed._fail(str(error))
                self._answer(502, "Bad Gateway")
                return
            last = reader.total - 1 if asked_last is None else min(reader.total - 1, asked_last)
            self._stream(reader, relayed, first, last, ranged=asked is not None)

    def _stream(self, reader: _Reader, relayed: Relayed, first: int, last: int, *, ranged: bool) -> None:
        self.send_response(206 if ranged else 200)
        self.send_header("Content-Type", reader.content_type)
        self.send_header("Accept-Ranges", "bytes")
        if ranged:
            self.send_header("Content-Range", f"bytes {first}-{last}/{reader.total}")
        self.send_header("Content-Length", str(last - first + 1))
        self.end_headers()
        try:
            for chunk in reader.chunks(last):
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # ffmpeg has what it needs and hung up
        except (UpstreamRefused, UpstreamFailed) as error:
            relayed._fail(f"at byte {reader.position}: {error}")
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


class _Reader:
    """The bytes of one ffmpeg request, from ``first`` on, as checked closed ranges of the
    media URL, each byte read once; after a broken answer, the rest from the last good byte."""

    def __init__(self, relayed: Relayed, first: int, asked_last: int | None) -> None:
        self._relayed = relayed
        self._session = requests.Session()
        self._session.mount("http://", _SmallWindow())
        self._session.mount("https://", _SmallWindow())
        self._answer: requests.Response | None = None
        self._failures = 0          # broken answers in a row, without a byte of progress
        self.position = first       # the next byte to hand on
        self.total = 0              # the file's size, from the first answer
        self.content_type = "application/octet-stream"
        self._piece_last = first + relayed._first_piece(first) - 1  # the last byte of the range being read
        if asked_last is not None:
            self._piece_last = min(self._piece_last, asked_last)
        self._next = NEXT_PIECE

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._release()  # ffmpeg hung up: the rest of the range is not read
        self._session.close()

    def open_first(self) -> None:
        """The first answer, before ffmpeg is told anything: it gives the file's size."""
        while (problem := self._open()) is not None:
            self._failed(problem)

    def chunks(self, last: int) -> Iterator[bytes]:
        """Bytes from ``position`` to ``last``, in order, each once."""
        while self.position <= last:
            if self._answer is None:
                if self.position > self._piece_last:  # that range is done and ffmpeg reads on
                    self._piece_last = min(last, self.position + self._next - 1)
                    self._next = min(MAX_PIECE, 2 * self._next)
                problem = self._open()
                if problem:
                    self._failed(problem)
                    continue
            before = self.position
            try:
                yield from self._body()
                problem = None if self.position > self._piece_last else (
                    f"the answer ended {self._piece_last - self.position + 1} bytes short")
            except requests.RequestException as error:  # reset, stalled, cut off
                problem = _broken(error)
            if self.position > before:
                self._failures = 0
            if problem:
                self._failed(problem)
            else:
                self._release()

    def _body(self) -> Iterator[bytes]:
        assert self._answer is not None
        wanted = self._piece_last - self.position + 1
        for data in self._answer.iter_content(CHUNK):
            if len(data) > wanted:
                raise requests.RequestException("the answer ran past the range asked for")
            self._relayed._count(body_bytes=len(data))
            self.position += len(data)
            wanted -= len(data)
            yield data

    def _failed(self, problem: str) -> None:
        """One more broken answer: give up after ``ATTEMPTS`` in a row, else wait and go on."""
        self._release()
        self._failures += 1
        if self._failures >= ATTEMPTS:
            raise UpstreamFailed(f"bytes {self.position}-{self._piece_last}: {problem} ({ATTEMPTS} attempts)")
        time.sleep(BACKOFF * 2 ** (self._failures - 1))

    def _open(self) -> str | None:
        """Ask for ``position..piece_last``; None when the answer is the right one (it is
        then read from), else what was wrong. A client error is raised as UpstreamRefused."""
        headers = {**self._relayed.headers, "Range": f"bytes={self.position}-{self._piece_last}"}
        self._relayed._count(requests=1)
        try:
            answer = self._session.get(self._relayed.url, headers=headers, stream=True,
                                       timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
        except requests.RequestException as error:
            return _broken(error)
        status = answer.status_code
        if 400 <= status < 500:
            answer.close()
            raise UpstreamRefused(status, answer.reason or "Client Error", answer.headers.get("Content-Range"))
        span = parse_content_range(answer.headers.get("Content-Range"))
        problem = None
        if status != 206:
            problem = f"answered {status} to a range request"
        elif span is None or span.total is None or span.first != self.position or (
                span.last != min(self._piece_last, span.total - 1)):
            problem = f"answered the wrong range ({answer.headers.get('Content-Range')!r})"
        elif self.total and span.total != self.total:
            problem = f"the file's size changed from {self.total} to {span.total} bytes"
        if problem:
            answer.close()
            return problem
        if not self.total:
            self.total = span.total
            self.content_type = answer.headers.get("Content-Type", self.content_type)
        self._piece_last = span.last
        self._answer = answer
        return None

    def _release(self) -> None:
        if self._answer is not None:
            self._answer.close()
            self._answer = None


class _SmallWindow(requests.adapters.HTTPAdapter):
    """Connections to the media host with a receive buffer of ``UPSTREAM_WINDOW``."""

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        kwargs["socket_options"] = [*HTTPConnection.default_socket_options,
                                    (socket.SOL_SOCKET, socket.SO_RCVBUF, UPSTREAM_WINDOW)]
        super().init_poolmanager(*args, **kwargs)


def _broken(error: requests.RequestException) -> str:
    if isinstance(error, requests.Timeout) or "timed out" in str(error).lower():
        return f"no byte for {READ_TIMEOUT:.0f} s"
    if type(error) is requests.RequestException:
        return str(error)
    return f"the connection broke ({type(error).__name__})"
