"""The local web: one threaded HTTP server on 127.0.0.1 playing Zenodo, GitHub raw, the
Deezer API, the Deezer preview CDN and YouTube (watch pages, search and media), with knobs
for the API quota, latency, bandwidth, injected faults and YouTube's limits and bot check,
and a log of every request.

Each request goes through the same steps: count it (quota, per-path sequence number),
pick its fault, wait its latency, build the reply (a YouTube page first meets YouTube's
session and limits), apply Range, send it (paced), log it.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import socket
import struct
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler
from types import TracebackType

from ..loopback import LoopbackServer
from . import media
from .audio import ByteCache
from .endpoints import TEXT, Endpoints, Reply, bot_check, corrupt, fault_reply, kind_of, try_again_later
from .faults import API_FAULTS, BODY_FAULTS, CDN_FAULTS, FILE_FAULTS, MEDIA_FAULTS, PAGE_FAULTS, Faults, unit
from .ranges import Unsatisfiable, byte_range
from .requestlog import RequestLog, Served, SlidingWindowQuota
from .scenario import Scenario
from .signing import MediaSigner, PreviewSigner
from .urls import API_PREFIX, engine_config
from .youtube_limits import BOT_CHECK, TRY_AGAIN_LATER, YouTubeGate, YouTubeLimits

Latency = tuple[float, float] | Mapping[str, tuple[float, float]]

_SLOW_BYTES, _SLOW_SECONDS = 16 * 1024, 1.0  # slow_body: the first 16 KB take a second
# Bodies go out in pieces through a small send buffer, so that bytes_sent stays close to
# what the client read when it hangs up early (ffmpeg reading a 30 s section).
_PIECE = 32 * 1024
_SEND_BUFFER = 32 * 1024
_FAULTS_BY_KIND = {"api": API_FAULTS, "cdn": CDN_FAULTS, "media": MEDIA_FAULTS, "file": FILE_FAULTS,
                   "watch": PAGE_FAULTS, "search": PAGE_FAULTS, "music_search": PAGE_FAULTS}
# Pages named by their query (one path serves every video and every search): their faults
# count per page, so the k-th request of a page meets the same fate however threads interleave.
_QUERY_NAMED = frozenset({"watch", "search", "music_search"})


@dataclass(frozen=True, slots=True)
class _Final:
    """The last piece of a response, written after the request is logged."""

    data: bytes
    body_bytes: int  # how many of its bytes are body (not headers)


class LocalWeb:
    """A stand-in for every remote service the engine talks to, on ``base_url``.

    ``with LocalWeb(scenario) as web:`` serves until the block ends; ``web.env()`` and
    ``web.config_kwargs()`` point the engine at it. ``latency`` is a (min, max) range of
    seconds waited before each answer, or a mapping from path prefix (e.g. "/deezer/")
    to such a range; ``bandwidth`` caps each response body in bytes per second;
    ``preview_ttl`` and ``media_ttl`` are how long signed preview and media URLs live
    (Deezer's previews about 15 minutes, googlevideo's URLs six hours).
    ``youtube_blocked`` (also settable while serving) makes watch and search pages answer
    429 "Sign in to confirm you're not a bot", as YouTube does to a client it throttles.
    ``youtube_limits`` (default None: none) gives YouTube guest sessions (a cookie) and
    their limits: videos per session an hour, then 403 "This content isn't available, try
    again later"; pages per address an hour, then the bot check for hours (see
    ``youtube_limits``). ``isrc_needs_space`` (default True, as YouTube Music behaves; also
    settable while serving): its search finds an ISRC only when spaced after its country
    code ("US FZ2275105"), as yt-dlp issue #15389 shows.
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        quota: int = 50,
        window: float = 5.0,
        latency: Latency = (0.0, 0.0),
        bandwidth: float | None = None,
        preview_ttl: float = 900.0,
        media_ttl: float = 21_600.0,
        faults: Faults | None = None,
        seed: int = 0,
        port: int = 0,
        audio_cache_bytes: int = 256 * 1024 * 1024,
        youtube_blocked: bool = False,
        youtube_limits: YouTubeLimits | None = None,
        isrc_needs_space: bool = True,
    ) -> None:
        self.scenario = scenario if scenario is not None else Scenario.from_public_data(seed=seed)
        self.quota = quota
        self.window = window
        self.latency = latency
        self.bandwidth = bandwidth
        self.faults = faults or Faults()
        self.seed = seed
        self.youtube_blocked = youtube_blocked
        self.youtube_limits = youtube_limits
        self._gate = YouTubeGate(youtube_limits) if youtube_limits is not None else None
        self._refusals = {BOT_CHECK: 0, TRY_AGAIN_LATER: 0}  # answers sent, by refusal
        self._refusals_lock = threading.Lock()
        self._port = port
        self._limiter = SlidingWindowQuota(quota, window)
        self._endpoints = Endpoints(self.scenario, PreviewSigner(preview_ttl), ByteCache(audio_cache_bytes),
                                    MediaSigner(media_ttl), isrc_needs_space=isrc_needs_space)
        self._log = RequestLog()
        self._seen: dict[str, int] = {}
        self._seen_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._base = ""  # kept after stop() for requests still in flight

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> LocalWeb:
        if self._server is None:
            self._server = _Server(("127.0.0.1", self._port), self)
            self._base = f"http://127.0.0.1:{self._server.server_address[1]}"
            self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                            name="local-web", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        server.close_connections()  # idle keep-alive connections would hold their threads
        server.server_close()
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> LocalWeb:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("LocalWeb is not running: call start() or use it in a with block")
        return self._base

    # -- what the engine needs -----------------------------------------------------------

    def config_kwargs(self) -> dict[str, str]:
        """Builder kwargs (zenodo_url, splits_url, ...) that point the engine here."""
        return engine_config(self.base_url)

    def env(self) -> dict[str, str]:
        """The same settings as ``DEEZER_TAGS_*`` environment variables."""
        return {f"DEEZER_TAGS_{key.upper()}": value for key, value in self.config_kwargs().items()}

    def checksums(self) -> dict[str, str]:
        """sha256 of each file as currently served, by Scenario.files key."""
        return {key: hashlib.sha256(data).hexdigest() for key, data in self.scenario.files.items()}

    def media_url(self, video_id: str, itag: int | None = None) -> str:
        """A fresh signed URL of a video's format (its best, as yt-dlp ranks them, by default)."""
        video = self.scenario.video(video_id)
        if video is None:
            raise KeyError(video_id)
        itag = itag or media.formats_of(video_id, self.scenario.seed)[0].itag
        return self._endpoints.media_url(video, itag, self.base_url)

    def media_file(self, video_id: str, itag: int) -> media.containers.Muxed:
        """The file a video's format is, as served (with its index and byte layout)."""
        video = self.scenario.video(video_id)
        fmt = media.format_of(video_id, itag, self.scenario.seed) if video else None
        if video is None or fmt is None:
            raise KeyError((video_id, itag))
        return self._endpoints.media_file(video, fmt)

    # -- what happened -------------------------------------------------------------------

    @property
    def requests(self) -> list[Served]:
        return self._log.snapshot()

    def clear_log(self) -> None:
        self._log.clear()

    def count(self, prefix: str, method: str | None = None) -> int:
        """How many requests with a path starting with ``prefix`` (and of ``method``, if
        given: ``datasets`` sends a HEAD before each GET of a file) were answered."""
        return sum(1 for s in self._log.snapshot()
                   if s.path.startswith(prefix) and (method is None or s.method == method))

    def max_api_calls_in_window(self) -> int:
        """The most API requests that arrived within any ``window`` seconds (quota: ``quota``)."""
        return self._log.max_in_window(API_PREFIX, self.window)

    @property
    def quota_rejections(self) -> int:
        return self._limiter.rejections

    @property
    def bot_check_answers(self) -> int:
        """Pages answered with the bot check (forced by ``youtube_blocked`` or earned)."""
        with self._refusals_lock:
            return self._refusals[BOT_CHECK]

    @property
    def try_again_later_answers(self) -> int:
        """Watch pages answered "This content isn't available, try again later"."""
        with self._refusals_lock:
            return self._refusals[TRY_AGAIN_LATER]

    @property
    def youtube_sessions(self) -> int:
        """YouTube sessions started (cookies issued); 0 without ``youtube_limits``."""
        return self._gate.sessions if self._gate is not None else 0

    def videos_by_session(self) -> dict[str, int]:
        """Session (its cookie value, as in ``Served.session``) -> videos it was answered."""
        return self._gate.videos_by_session() if self._gate is not None else {}

    @property
    def isrc_needs_space(self) -> bool:
        return self._endpoints.isrc_needs_space

    @isrc_needs_space.setter
    def isrc_needs_space(self, value: bool) -> None:
        self._endpoints.isrc_needs_space = value

    # -- serving ----------------------------------------------------------------------------

    def _serve(self, h: _Handler, head: bool) -> None:
        """Answer one request (see the module docstring for the steps) and log it."""
        started = time.monotonic()
        path, _, query = h.path.partition("?")
        kind = kind_of(path)
        resource = f"{path}?{query}" if kind in _QUERY_NAMED else path
        with self._seen_lock:
            nth = self._seen.get(resource, 0)
            self._seen[resource] = nth + 1
        admitted = self._limiter.admit(started) if kind == "api" else True
        fault = None
        if kind in _FAULTS_BY_KIND and (kind != "file" or self.faults.include_files):
            fault = self.faults.pick(_FAULTS_BY_KIND[kind], resource, nth)
        low, high = self._latency_for(path)
        if high > 0:
            time.sleep(low + (high - low) * unit(self.seed, "latency", path, nth))

        client_range = h.headers.get("Range")
        if fault == "reset":
            self._log.add(Served(h.command, path, query, 0, 0, started, time.monotonic(), fault, client_range,
                                 h.headers.get("User-Agent", "")))
            _reset(h)
            return
        if fault == "expire_early" and kind == "media":
            self._endpoints.media_signer.expire_now(query, time.time())  # dead from now on
        blocked = self.youtube_blocked
        session, cookies = "", []
        reply = fault_reply(fault, self.faults.seed, resource, nth)
        if reply is None and kind in _QUERY_NAMED:  # a page YouTube answers (a fault's never reached it)
            reply, session, cookies = self._youtube_page(h, kind, started, blocked)
        if reply is None:
            reply = self._endpoints.reply(kind, path, query, admitted=admitted, base=self._base,
                                          youtube_blocked=blocked, language=h.headers.get("Accept-Language", ""))
        if fault in BODY_FAULTS and reply.status != 200:
            fault = None  # body faults spoil good answers only
        if fault == "corrupt_audio":
            reply = corrupt(reply, random.Random(f"{self.faults.seed}:{path}:{nth}"))
        status, headers, body = _apply_range(reply, client_range)
        headers.extend(cookies)
        sent, final = self._send(h, status, headers, body, head=head, fault=fault,
                                 reason=reply.reason if status == reply.status else "")
        # Logged before the final write: a client holding a whole answer finds it in the log.
        served = Served(h.command, path, query, status, sent + final.body_bytes, started, time.monotonic(),
                        fault, client_range, h.headers.get("User-Agent", ""), session)
        self._log.add(served)
        if final.data:
            try:
                h.connection.sendall(final.data)
            except (ConnectionError, TimeoutError):
                h.close_connection = True
                self._log.replace(served, replace(served, bytes_sent=sent, finished=time.monotonic()))

    def _youtube_page(self, h: _Handler, kind: str, now: float,
                      blocked: bool) -> tuple[Reply | None, str, list[tuple[str, str]]]:
        """YouTube's gate before a page: the refusal that answers it (None: the page is
        answered), its session ("" without limits) and the headers that start a new session."""
        refusal, session, cookies = BOT_CHECK if blocked else None, "", []
        if self._gate is not None:
            session, new = self._gate.session(h.headers.get_all("Cookie") or [])
            if new:  # YouTube sets its guest cookie on a client's first page, whatever the answer
                cookies.append(("Set-Cookie", self._gate.set_cookie(session)))
            if not blocked:  # a forced bot check is not counted against the limits
                refusal = self._gate.admit(h.client_address[0], session, kind, now)
        if refusal is None:
            return None, session, cookies
        with self._refusals_lock:
            self._refusals[refusal] += 1
        return (bot_check() if refusal == BOT_CHECK else try_again_later()), session, cookies

    def _latency_for(self, path: str) -> tuple[float, float]:
        if isinstance(self.latency, tuple):
            return self.latency
        prefixes = [p for p in self.latency if path.startswith(p)]
        return self.latency[max(prefixes, key=len)] if prefixes else (0.0, 0.0)

    def _send(self, h: _Handler, status: int, headers: list[tuple[str, str]], body: bytes, *,
              head: bool, fault: str | None, reason: str = "") -> tuple[int, _Final]:
        """Write the response but for its final piece, which the caller writes once the request
        is logged; the body bytes written so far and that final piece (empty if the client
        hung up). An unpaced answer of up to 64 KB is all final piece: a single write.
        ``reason``: the status line's reason phrase, if not the standard one."""
        lines = [f"HTTP/1.1 {status} {reason or h.responses[status][0]}", f"Server: {h.server_version}",
                 f"Date: {h.date_time_string()}", *(f"{name}: {value}" for name, value in headers),
                 f"Content-Length: {len(body)}"]
        if h.close_connection:  # the client asked for it
            lines.append("Connection: close")
        head_bytes = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if head:
            body = b""
        elif fault == "truncated":
            body = body[: len(body) // 2]
            h.close_connection = True  # the rest never comes: the client sees a short read
        stream = memoryview(head_bytes + body)
        paced = self.bandwidth is not None or fault == "slow_body"
        end = len(stream) - (1 if paced else min(len(stream), _PIECE))
        written = 0
        if fault == "slow_body":
            slow_end = min(len(head_bytes) + _SLOW_BYTES, end)
            written = _paced_write(h, stream[:slow_end], _SLOW_BYTES / _SLOW_SECONDS, piece=1024)
        written += _paced_write(h, stream[written:end], self.bandwidth)
        sent = max(0, written - len(head_bytes))
        if written < end:  # the client hung up
            return sent, _Final(b"", 0)
        return sent, _Final(bytes(stream[end:]), len(body) - sent)


def _apply_range(reply: Reply, client_range: str | None) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = [("Content-Type", reply.content_type)]
    if not reply.ranged:
        return reply.status, headers, reply.body
    headers.append(("Accept-Ranges", "bytes"))
    size = len(reply.body)
    if reply.status != 200:
        return reply.status, headers, reply.body
    try:
        span = byte_range(client_range, size)
    except Unsatisfiable:
        return 416, [("Content-Type", TEXT), ("Content-Range", f"bytes */{size}")], b""
    if span is None:
        return 200, headers, reply.body
    start, stop = span
    headers.append(("Content-Range", f"bytes {start}-{stop - 1}/{size}"))
    return 206, headers, reply.body[start:stop]


def _paced_write(h: _Handler, data: memoryview, rate: float | None, piece: int = _PIECE) -> int:
    """Write ``data`` in pieces, at most ``rate`` bytes/s; the bytes written, also when the
    client hangs up (then ``h.close_connection`` is set)."""
    if rate is not None:
        piece = min(piece, max(1024, int(rate / 20)))  # ~20 writes a second at most
    begin = time.monotonic()
    written = 0
    try:
        while written < len(data):
            written += h.connection.send(data[written:written + piece])
            if rate is not None and (ahead := begin + written / rate - time.monotonic()) > 0:
                time.sleep(ahead)
    except (ConnectionError, TimeoutError):
        h.close_connection = True
    return written


def _reset(h: _Handler) -> None:
    """Drop the connection with a TCP reset, before any response byte."""
    sock = h.connection
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    h.close_connection = True
    h.rfile.close()  # the socket closes (and resets) once its last file is gone
    sock.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients pool connections
    server_version = "LocalWeb/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 120  # an idle keep-alive connection frees its thread after this
    server: _Server

    def do_GET(self) -> None:
        self.server.web._serve(self, head=False)

    def do_HEAD(self) -> None:
        self.server.web._serve(self, head=True)

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the request log is ``LocalWeb.requests``; stderr lines cost throughput."""


class _Server(LoopbackServer):
    request_queue_size = 256  # many clients connecting at once must not be refused

    def __init__(self, address: tuple[str, int], web: LocalWeb) -> None:
        self.web = web
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: socket.socket, client_address: tuple[str, int]) -> None:
        request.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SEND_BUFFER)
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):  # already gone
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)  # a real bug: print it
