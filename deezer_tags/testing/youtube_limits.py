"""YouTube's limits, as the local web plays them: guest sessions, the videos a session may
resolve in an hour, and the bot check an address meets after heavy use.

What each stands for, and where it is documented:

- A session is what YouTube keys its video limit on: a guest is known by the
  ``VISITOR_INFO1_LIVE`` cookie YouTube sets on its first page (yt-dlp wiki, "PO Token
  Guide": a guest's Visitor ID "is found in the VISITOR_INFO1_LIVE cookie"). yt-dlp keeps
  cookies in one jar per ``YoutubeDL`` instance, so one instance is one session, and a
  client without the cookie is a new one.
- Per session, videos in a rolling hour: yt-dlp wiki, page "Extractors", YouTube,
  "Common YouTube Errors" (added by yt-dlp/yt-dlp-wiki PR #52, April 2025; see yt-dlp
  issue #11426 and PR #12958): "This content isn't available, try again later" is a guest
  session (or account) over YouTube's video request rate limit, ~300 videos an hour for a
  guest with default settings; the advice is 5-10 s between downloads. yt-dlp's YouTube
  extractor adds "The current session has been rate-limited by YouTube for up to an hour".
  Searches are not videos; media ranges from googlevideo are not what it counts.
- Per address, a volume of pages in a rolling hour, past which the bot check ("Sign in to
  confirm you're not a bot", the reason YouTube gives and yt-dlp's YouTube extractor
  shows) answers every page from that address, for far longer than an hour's limit (yt-dlp
  issue #10128: an IP-wide block, lasting hours to days, that new sessions do not lift).
  Its threshold and length are not documented: the default volume is the wiki's ~1,000
  webpage and player requests an hour that go with a guest's ~300 videos, and the default
  penalty two hours. Both are knobs.

What counts is what reached YouTube: a page an injected fault replaces (a reset, a 5xx)
neither counts nor starts a session, and the forced bot check (``LocalWeb.youtube_blocked``)
counts toward nothing. All times are ``time.monotonic()`` seconds; ``YouTubeLimits.hour``
scales every duration, so that a test can play an hour in a second or two.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

SESSION_COOKIE = "VISITOR_INFO1_LIVE"  # YouTube's guest cookie (its Visitor ID)
# YouTube keeps it 180 days. Path=/ is needed: without it a cookie set by
# /youtube/music/search would go back only under /youtube/music (RFC 6265's default path),
# not to the watch pages. No Secure attribute: the local web is plain HTTP, and a cookie
# jar sends a Secure cookie over HTTPS only.
_COOKIE_ATTRIBUTES = "Path=/; Max-Age=15552000; HttpOnly"

# What the gate answers a page it refuses (None: let it through).
TRY_AGAIN_LATER = "try_again_later"  # the session is over its videos for the hour
BOT_CHECK = "bot_check"              # the address is over its pages: every page, for hours

PAGE_KINDS = frozenset({"watch", "search", "music_search"})  # what YouTube counts as pages


@dataclass(frozen=True, slots=True)
class YouTubeLimits:
    """The limits of the local web's YouTube (see the module docstring for their sources).

    ``session_videos``: videos (watch pages) one session may resolve in any ``hour``;
    ``address_pages``: pages (watch, search, music search; answered or refused) one client
    address may ask for in any ``hour`` before the bot check; ``bot_check_hours``: how long
    the bot check then lasts, in units of ``hour``.
    """

    hour: float = 3600.0
    session_videos: int = 300
    address_pages: int = 1000
    bot_check_hours: float = 2.0

    def __post_init__(self) -> None:
        if not self.hour > 0 or not self.bot_check_hours > 0:
            raise ValueError("YouTubeLimits.hour and bot_check_hours must be positive")
        if self.session_videos < 1 or self.address_pages < 1:
            raise ValueError("YouTubeLimits.session_videos and address_pages must be at least 1")


class YouTubeGate:
    """Sessions and the limits on them, shared by the server's threads (one lock)."""

    def __init__(self, limits: YouTubeLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self._lock = threading.Lock()
        self._resolved: dict[str, int] = {}                   # session -> videos answered, ever
        self._videos: dict[str, deque[float]] = defaultdict(deque)  # session -> its last hour's videos
        self._pages: dict[str, deque[float]] = defaultdict(deque)   # address -> its last hour's pages
        self._bot_check_until: dict[str, float] = {}          # address -> end of its bot check

    # -- sessions ------------------------------------------------------------------------

    def session(self, cookie_headers: Iterable[str]) -> tuple[str, bool]:
        """The session a request belongs to: the one its cookie names, or a new one (then
        True: the answer must set the cookie). An unknown cookie value starts a new session,
        as a cookie YouTube never issued would."""
        with self._lock:
            for value in _cookie_values(cookie_headers, SESSION_COOKIE):
                if value in self._resolved:
                    return value, False
            session = secrets.token_urlsafe(8)  # 11 characters, like YouTube's
            while session in self._resolved:
                session = secrets.token_urlsafe(8)
            self._resolved[session] = 0
            return session, True

    @staticmethod
    def set_cookie(session: str) -> str:
        """The Set-Cookie header value that starts ``session``."""
        return f"{SESSION_COOKIE}={session}; {_COOKIE_ATTRIBUTES}"

    @property
    def sessions(self) -> int:
        """How many sessions were started."""
        with self._lock:
            return len(self._resolved)

    def videos_by_session(self) -> dict[str, int]:
        """Session -> the videos (watch pages) it was answered, since the start."""
        with self._lock:
            return dict(self._resolved)

    # -- the limits ----------------------------------------------------------------------

    def admit(self, address: str, session: str, kind: str, now: float | None = None) -> str | None:
        """Whether YouTube answers a page of ``kind`` for ``session`` from ``address``: None,
        TRY_AGAIN_LATER or BOT_CHECK. Counts the page, and the video if it is answered."""
        if kind not in PAGE_KINDS:
            return None  # media and anything else: never counted, never refused
        now = self.clock() if now is None else now
        hour = self.limits.hour
        with self._lock:
            until = self._bot_check_until.get(address)
            if until is not None:
                if now < until:
                    # The bot check lasts its full time: knocking neither counts nor shortens it.
                    return BOT_CHECK
                del self._bot_check_until[address]
            pages = self._pages[address]
            _forget_before(pages, now - hour)
            pages.append(now)  # answered or refused, every page counts toward the bot check
            if len(pages) > self.limits.address_pages:
                self._bot_check_until[address] = now + self.limits.bot_check_hours * hour
                pages.clear()  # what counted before the bot check is spent by it
                return BOT_CHECK
            if kind != "watch":
                return None  # searches are not videos
            videos = self._videos[session]
            _forget_before(videos, now - hour)
            if len(videos) >= self.limits.session_videos:
                return TRY_AGAIN_LATER  # refused videos do not count: the hour frees on its own
            videos.append(now)
            self._resolved[session] = self._resolved.get(session, 0) + 1
            return None


def _forget_before(times: deque[float], start: float) -> None:
    """Drop the times that left the rolling window starting at ``start``."""
    while times and times[0] <= start:
        times.popleft()


def _cookie_values(headers: Iterable[str], name: str) -> list[str]:
    """Every value of cookie ``name`` in Cookie headers (``a=1; b=2``), in order."""
    values = []
    for header in headers:
        for pair in header.split(";"):
            key, sep, value = pair.strip().partition("=")
            if sep and key == name and value:
                values.append(value.strip('"'))
    return values
