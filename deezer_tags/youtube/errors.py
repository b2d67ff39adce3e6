"""What YouTube (through yt-dlp, ffmpeg and the relay) can answer, sorted by what the engine does next.

- ``YouTubeBlocked``: the bot check ("Sign in to confirm you're not a bot") or a 429: YouTube
  takes this machine for a bot. Every YouTube request waits (``budget.Pace``), or, outside a
  build, the caller is told at once.
- ``SessionLimited``: "This content isn't available, try again later": one session spent its
  hourly video limit (yt-dlp wiki, Extractors, "Common YouTube Errors"). That session is set
  aside; the others serve.
- ``Refused``: this candidate cannot be the track's clip (gone, private, not a recording):
  the next candidate is tried.
- ``Transient``: worth another attempt (a reset, a 5xx, damaged media).
- ``YouTubeStopped``: this run asks YouTube nothing more (``youtube_hours`` reached, or the
  build is closing); the track stays pending for the next run.
"""

from __future__ import annotations

# What yt-dlp and ffmpeg say, lower-cased, by what it means.
_BOT_CHECK = ("not a bot", "http error 429", "too many requests", "429 too many")
# yt-dlp adds "The current session has been rate-limited by YouTube for up to an hour."
_SESSION_LIMIT = ("try again later", "session has been rate-limited")
# Says "not available" but is worth another build: e.g. no JavaScript runtime for yt-dlp.
_NOT_GONE = ("requested format is not available",)
_GONE = ("video unavailable", "http error 404", "http error 410", "private video", "is private",
         "has been removed", "is not available", "no longer available", "unsupported url",
         "confirm your age", "members-only", "members only")


class YouTubeBlocked(Exception):
    """YouTube refuses this machine (bot check / "Sign in to confirm you're not a bot" / HTTP 429);
    ``detail`` is what YouTube said."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            "YouTube is refusing this machine's requests (bot check or HTTP 429), so the YouTube "
            "fallback stopped; pass a cookies file from a browser signed in to YouTube "
            "(the youtube_cookies option, yt-dlp's cookiefile) or run the build again later: it resumes."
        )
        self.detail = detail


class SessionLimited(Exception):
    """One YouTube session reached its hourly video limit ("try again later")."""


class Refused(Exception):
    """This candidate is not the track's recording, or cannot be had: try the next one."""


class Transient(Exception):
    """Worth another attempt (network, 5xx, damaged media)."""


class YouTubeStopped(Exception):
    """This run asks YouTube nothing more; what is in flight stays pending."""


class YouTubeTimeUp(YouTubeStopped):
    """youtube_hours is reached."""


def classify_error(message: str) -> str:
    """'bot_check', 'session_limit', 'gone' or 'transient', from what yt-dlp or ffmpeg said."""
    lowered = message.lower()
    if any(p in lowered for p in _SESSION_LIMIT):
        return "session_limit"
    if any(p in lowered for p in _BOT_CHECK):
        return "bot_check"
    if any(p in lowered for p in _GONE) and not any(p in lowered for p in _NOT_GONE):
        return "gone"
    return "transient"


def raise_for(message: str) -> None:
    """Raise what ``message`` means (YouTubeBlocked, SessionLimited, Refused or Transient)."""
    kind = classify_error(message)
    if kind == "bot_check":
        raise YouTubeBlocked(message)
    if kind == "session_limit":
        raise SessionLimited(message)
    raise (Refused if kind == "gone" else Transient)(message)
