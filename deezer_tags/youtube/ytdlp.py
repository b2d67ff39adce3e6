"""yt-dlp as the engine uses it: its options, the user's cookies, and YouTube sessions.

A session is what YouTube keys its limits on: a guest session lives as long as its cookies,
and yt-dlp keeps them in one ``YoutubeDL`` instance's cookie jar (yt-dlp wiki, Extractors,
"Common YouTube Errors": about 300 videos an hour per guest session). So one ``Session`` is
one ``YoutubeDL``, used by one thread at a time, for searches, watch pages and the format
choice alike. A ``SessionPool`` lends them out, the one idle longest first, so that the
work is spread over a few sessions as the wiki advises; a session told "try again later"
is set aside until its hour frees, and no session is then used beyond what that one did.
"""

from __future__ import annotations

import itertools
import logging
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from http.cookiejar import LoadError
from pathlib import Path
from typing import Any

import yt_dlp
from yt_dlp.cookies import SUPPORTED_BROWSERS, YoutubeDLCookieJar
from yt_dlp.utils import DownloadError

from deezer_tags.errors import UserError
from deezer_tags.youtube.errors import Transient, YouTubeStopped, raise_for

log = logging.getLogger("deezer_tags.youtube")

SOCKET_TIMEOUT = 20.0    # yt-dlp's, seconds
# yt-dlp options a user may not set through youtube_options, and why: the engine owns them.
ENGINE_OWNED_OPTIONS = {
    "skip_download": "the engine fetches only a section, never the file",
    "simulate": "the engine fetches only a section, never the file",
    "outtmpl": "the engine names and places every file itself",
    "paths": "the engine names and places every file itself",
    "postprocessors": "the engine cuts and converts the section itself",
    "postprocessor_args": "the engine cuts and converts the section itself",
    "postprocessor_hooks": "the engine cuts and converts the section itself",
    "progress_hooks": "the engine reports progress itself",
    "external_downloader": "the engine fetches only a section, through its relay",
    "download_archive": "the manifest is the build's record",
    "noplaylist": "a watch URL must give one video",
    "extract_flat": "searches are read flat, candidates one by one",
    "playlistend": "search_results sets how many results are judged",
    "logger": "yt-dlp's messages go to the engine's log",
    "cookiefile": "pass the cookies file as youtube_cookies (it is copied per session)",
    "cookiesfrombrowser": "pass the browser as youtube_cookies_from_browser",
    "ffmpeg_location": "the engine chooses ffmpeg",
    "cachedir": "yt-dlp's cache lives in the recoverer's private folder",
}


def check_youtube_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The user's yt-dlp options, or a UserError naming the first one the engine owns."""
    if not isinstance(options, Mapping):
        raise UserError(f"youtube_options must be a dict of yt-dlp options, not a {type(options).__name__}; "
                        'pass e.g. {"proxy": "socks5://127.0.0.1:1080"}')
    for key in options:
        if key in ENGINE_OWNED_OPTIONS:
            raise UserError(f"the yt-dlp option {key!r} cannot be set through youtube_options: "
                            f"{ENGINE_OWNED_OPTIONS[key]}; leave it out")
    return dict(options)


def browser_spec(spec: str) -> tuple[str, str | None, None, None]:
    """yt-dlp's cookiesfrombrowser from "BROWSER" or "BROWSER:PROFILE"."""
    browser, _, profile = spec.partition(":")
    if browser.lower() not in SUPPORTED_BROWSERS:
        raise UserError(f"youtube_cookies_from_browser={spec!r} names no browser yt-dlp reads; "
                        f"use one of {', '.join(sorted(SUPPORTED_BROWSERS))} (optionally BROWSER:PROFILE)")
    return (browser.lower(), profile or None, None, None)


def check_cookies(path: str) -> None:
    """Refuse a cookies file yt-dlp could not read now, not in the middle of the build."""
    try:
        YoutubeDLCookieJar(path).load()
    except (OSError, LoadError, ValueError) as error:  # ValueError: not text
        reason = error.strerror if isinstance(error, OSError) and error.strerror else "not a cookies file"
        raise UserError(
            f"cannot use {path} as the YouTube cookies file ({reason}); export one in Netscape format "
            "from a browser signed in to YouTube, or leave youtube_cookies unset"
        ) from None


class _Logger:
    """yt-dlp's messages go to our debug log: its errors come back as exceptions anyway."""

    def debug(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    info = warning = error = debug


def clean_message(message: str) -> str:
    """yt-dlp's message without its 'ERROR: ' prefix and its cause chain."""
    message = message.removeprefix("ERROR: ")
    return message.split(" (caused by", 1)[0].strip()


class _FormatChoice:
    """yt-dlp's ``format`` given as a function (its documented alternative to a format
    string): the session's current spec, so one instance serves the dataset's clips and the
    calibration's streams."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.ydl: yt_dlp.YoutubeDL | None = None
        self._built: dict[str, Callable] = {}

    def __call__(self, ctx: dict) -> Iterator[dict]:
        selector = self._built.get(self.spec)
        if selector is None:
            selector = self._built[self.spec] = self.ydl.build_format_selector(self.spec)
        yield from selector(ctx)


class Session:
    """One YouTube session: one YoutubeDL instance and its cookie jar. Not thread-safe: the
    pool lends it to one thread at a time. ``videos`` holds when it resolved each video."""

    def __init__(self, number: int, options: Mapping[str, Any], default_format: str) -> None:
        self.number = number
        self._format = _FormatChoice(default_format)
        self.ydl = yt_dlp.YoutubeDL({**options, "format": self._format})
        self._format.ydl = self.ydl
        self.videos: deque[float] = deque()
        self.last_used = 0.0
        self.aside_until = 0.0

    def search(self, url: str, results: int) -> list[dict]:
        """The first ``results`` entries of a search page, flat: nothing of them is resolved."""
        info = self._run(lambda: self.ydl.extract_info(url, download=False, process=False))
        entries = info.get("entries") or []
        return [e for e in itertools.islice(entries, results) if isinstance(e, dict)]

    def resolve(self, url: str) -> dict:
        """A watch page's title, duration and formats, no format chosen yet."""
        return self._run(lambda: self.ydl.extract_info(url, download=False, process=False))

    def choose_format(self, info: dict, spec: str) -> dict:
        """The info with the format ``spec`` chosen."""
        self._format.spec = spec
        return self._run(lambda: self.ydl.process_ie_result(info, download=False))

    def _run(self, call: Callable[[], Any]) -> dict:
        try:
            info = call()
        except DownloadError as error:
            raise_for(clean_message(str(error)))
        if not isinstance(info, dict):
            raise Transient("yt-dlp returned nothing")
        return info

    def close(self) -> None:
        with suppress(Exception):  # closing is best effort
            self.ydl.close()


class SessionPool:
    """Up to ``size`` sessions, made as needed and lent one thread at a time: the one idle
    longest first, none that is set aside or has resolved as many videos in its last
    ``window`` seconds as a session had when YouTube said "try again later"."""

    def __init__(self, make_options: Callable[[int], dict[str, Any]], default_format: str, *, size: int,
                 window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._make_options = make_options
        self._default_format = default_format
        self.size = max(1, size)
        self.window = window
        self._clock = clock
        self._idle: list[Session] = []
        self._all: list[Session] = []
        self._cap: int | None = None  # videos per window a session may resolve, once learned
        self._closed = False
        self._changed = threading.Condition()

    @property
    def sessions(self) -> int:
        return len(self._all)

    @contextmanager
    def lease(self) -> Iterator[Session]:
        session = self._take()
        try:
            yield session
        finally:
            with self._changed:
                session.last_used = self._clock()
                self._idle.append(session)
                self._changed.notify_all()

    def resolved_video(self, session: Session) -> None:
        session.videos.append(self._clock())

    def set_aside(self, session: Session) -> None:
        """``session`` was told "try again later": unused until its window frees, and what it
        resolved in that window becomes every session's cap."""
        now = self._clock()
        with self._changed:
            recent = self._recent(session, now)
            self._cap = max(1, min(self._cap or recent, recent))
            session.aside_until = (session.videos[0] + self.window) if recent else now + self.window
            log.info("YouTube session %d said 'try again later' after %d videos in its window; set aside "
                     "for %.0f s", session.number, recent, session.aside_until - now)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        for session in self._all:
            session.close()

    def _take(self) -> Session:
        with self._changed:
            while True:
                if self._closed:
                    raise YouTubeStopped("the build is closing")
                now = self._clock()
                usable = [s for s in self._idle if self._usable(s, now)]
                if usable:
                    session = min(usable, key=lambda s: s.last_used)
                    self._idle.remove(session)
                    return session
                if len(self._all) < self.size:
                    session = Session(len(self._all) + 1, self._make_options(len(self._all) + 1),
                                      self._default_format)
                    self._all.append(session)
                    return session
                self._changed.wait(timeout=self._next_free(now))

    def _usable(self, session: Session, now: float) -> bool:
        return session.aside_until <= now and (self._cap is None or self._recent(session, now) < self._cap)

    def _recent(self, session: Session, now: float) -> int:
        while session.videos and session.videos[0] <= now - self.window:
            session.videos.popleft()
        return len(session.videos)

    def _next_free(self, now: float) -> float | None:
        """Seconds until an idle session may become usable (None: until one is given back)."""
        times = [max(s.aside_until, (s.videos[0] + self.window) if s.videos else now) for s in self._idle]
        return max(0.01, min(times) - now) if times else None


def session_options(base: Mapping[str, Any], *, private_dir: Path, cookies: str | None,
                    cookies_from_browser: tuple | None, number: int) -> dict[str, Any]:
    """A session's yt-dlp options: ``base`` (the engine's and the user's), its own copy of the
    cookies file (yt-dlp writes its cookie jar back on close), or the browser's cookies."""
    options = dict(base)
    if cookies_from_browser:
        options["cookiesfrombrowser"] = cookies_from_browser
    if cookies:
        copy = private_dir / f"cookies-session-{number}.txt"
        shutil.copyfile(cookies, copy)
        options["cookiefile"] = str(copy)
    return options
