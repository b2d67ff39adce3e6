"""The YouTube stand-in's watch page and search results.

yt-dlp's generic extractor reads a schema.org VideoObject from JSON-LD: ``name`` becomes
the title, ``duration`` the duration and ``contentUrl`` the DASH manifest of its formats. That is
what the engine's matcher judges a candidate by, so the page carries just that.

Search results are an RSS feed, which the generic extractor returns as a playlist: one
entry per ``<item>``, its ``<link>`` the watch URL, with title and ``itunes:duration``,
much as ``ytsearchN:`` gives flat entries with a title and a duration.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from xml.sax.saxutils import escape

from .media import MANIFEST_PATH, MANIFEST_TYPE
from .scenario import VideoSpec
from .urls import SEARCH_PATH, WATCH_PATH

_TOKEN = re.compile(r"\w+")
ISRC = re.compile(r"[A-Z]{2}[A-Z0-9]{3}\d{7}")
# An ISRC as YouTube Music's search finds it: the country code, a space, the rest (yt-dlp
# issue #15389: "US FZ2275105" finds the song where "USFZ2275105" does not).
SPACED_ISRC = re.compile(r"([A-Za-z]{2}) ([A-Za-z0-9]{3}\d{7})")
RSS = "application/rss+xml; charset=utf-8"


def iso_duration(seconds: int) -> str:
    """ISO 8601, as schema.org wants it: 200 -> 'PT3M20S'."""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes or hours else "") + f"{secs}S"


def watch_page(video: VideoSpec, base: str) -> bytes:
    info = {
        "@context": "https://schema.org",
        "@type": "VideoObject",
        "name": video.title,
        "description": f"Uploaded to the local web: {video.title}",
        "duration": iso_duration(video.duration),
        # The video's formats, as a DASH manifest on the media host: yt-dlp follows it and
        # lists them as its YouTube extractor lists a player response's (see ``media``).
        "contentUrl": base + MANIFEST_PATH.format(video_id=video.video_id),
        "encodingFormat": MANIFEST_TYPE,
        "embedUrl": f"{base}/youtube/embed/{video.video_id}",
        "thumbnailUrl": f"{base}/youtube/vi/{video.video_id}/hqdefault.jpg",
        "uploadDate": "2015-01-01",
    }
    if video.channel:
        # An art track: yt-dlp's generic extractor reads these as uploader and artist, as its
        # YouTube extractor gives channel and artist for a YouTube Music upload.
        info["author"] = {"@type": "Person", "name": video.channel}
    if video.artist:
        info["byArtist"] = {"@type": "MusicGroup", "name": video.artist}
    # "</" must not close the script element early: JSON allows escaping the slash.
    ld = json.dumps(info, ensure_ascii=False).replace("</", "<\\/")
    title = html.escape(video.title)
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{title} - YouTube</title>"
        f'<meta property="og:title" content="{title}">'
        f'<script type="application/ld+json">{ld}</script>'
        f"</head><body><h1>{title}</h1></body></html>\n"
    ).encode()


def not_found_page(video_id: str) -> bytes:
    return f"<!DOCTYPE html>\n<html><body><p>Video unavailable: {html.escape(video_id)}</p></body></html>\n".encode()


def _tokens(text: str) -> set[str]:
    return set(_TOKEN.findall(text.casefold()))


def search(videos: Iterable[VideoSpec], query: str, n: int) -> list[VideoSpec]:
    """The ``n`` videos whose titles share the most words with ``query`` (ties: by video id);
    a video sharing none is never a result. Crude on purpose: the engine must judge."""
    wanted = _tokens(query)
    scored = [(len(wanted & _tokens(f"{v.title} {v.artist or ''}")), v.video_id, v) for v in videos]
    ranked = sorted((s for s in scored if s[0] > 0), key=lambda s: (-s[0], s[1]))
    return [video for _, _, video in ranked[:n]]


def search_page(results: list[VideoSpec], query: str, base: str, suggestion: str = "") -> bytes:
    """An RSS feed of the results, linking their watch pages; ``suggestion``, YouTube's "Did
    you mean" for the query, goes into the feed's description (yt-dlp's playlist description)."""
    items = "".join(
        f"<item><title>{escape(v.title)}</title>"
        f"<link>{base}{WATCH_PATH}?v={v.video_id}</link>"
        f"<itunes:duration>{v.duration}</itunes:duration></item>"
        for v in results
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel>'
        f"<title>{escape(query)} - YouTube</title><link>{base}{SEARCH_PATH}</link>"
        + (f"<description>Did you mean: {escape(suggestion)}</description>" if suggestion else "")
        + f"{items}</channel></rss>\n"
    ).encode()


# The refusals' reason phrases: yt-dlp's generic extractor reports an HTTP error as
# "HTTP Error <status>: <reason phrase>" (networking/exceptions.py HTTPError), never the body,
# so that is where the engine reads which refusal it met. Status lines are Latin-1: an ASCII
# apostrophe stands for the U+2019 of YouTube's bot check (its rate limit's reason has an
# ASCII one: yt-dlp's YouTube extractor matches it as such).
BOT_CHECK_REASON = "Sign in to confirm you're not a bot"
TRY_AGAIN_LATER_REASON = "This content isn't available, try again later"


def blocked_page() -> bytes:
    """What YouTube shows a client it takes for a bot (served with HTTP 429)."""
    return (b"<!DOCTYPE html>\n<html><head><title>429 Too Many Requests</title></head><body>"
            b"<p>Sign in to confirm you\xe2\x80\x99re not a bot</p></body></html>\n")


def try_again_later_page() -> bytes:
    """What YouTube's player says to a session over its videos for the hour."""
    return (b"<!DOCTYPE html>\n<html><head><title>Video unavailable</title></head><body>"
            b"<p>This content isn't available, try again later.</p></body></html>\n")
