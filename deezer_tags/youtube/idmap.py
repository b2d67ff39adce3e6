"""The published YouTube id map (id_to_url.json): track id -> the video an earlier crawl chose.

Its entries are kept as given and checked when their track is recovered, so one bad entry
does not sink the build. Only the 11-character video id of a URL on a YouTube host is ever
used: the map's own URLs are never handed to yt-dlp.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from deezer_tags.errors import MalformedSourceError
from deezer_tags.sources import Endpoints

# Used with fullmatch: "^...$" with match() lets a trailing newline ("?v=<id>%0A") through.
VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")
_VIDEO_PATHS = ("shorts", "embed", "v", "live")  # youtube.com/<one of these>/<id>
_FIX = "point youtube_map_url at an intact copy of id_to_url.json"


def parse_youtube_map(text: str, source: str = "the YouTube id map") -> dict[int, dict]:
    """track id -> {"url", "title", "query"}, entries kept as given."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise MalformedSourceError(f"{source} is not valid JSON ({error.msg} at line {error.lineno}); {_FIX}") from None
    if not isinstance(data, dict):
        raise MalformedSourceError(
            f"{source} is a JSON {type(data).__name__}, not an object of track id -> entry; "
            "point youtube_map_url at id_to_url.json")
    parsed: dict[int, dict] = {}
    for key, entry in data.items():
        if not (key.isascii() and key.isdigit() and int(key) > 0):
            raise MalformedSourceError(
                f"{source} has the key {key[:40]!r}, which is not a positive integer track id; {_FIX}")
        if not isinstance(entry, dict):
            raise MalformedSourceError(
                f"{source} maps track {key} to a JSON {type(entry).__name__}, not an object with "
                f"url, title and query; {_FIX}")
        parsed[int(key)] = entry
    return parsed


def video_id_of(url: str) -> str | None:
    """The video id in a watch URL (?v=), a youtu.be link or a /shorts/, /embed/ ... path."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    segments = [s for s in parts.path.split("/") if s]
    candidates = parse_qs(parts.query).get("v", [])
    if (parts.hostname or "").endswith("youtu.be") and segments:
        candidates.append(segments[0])
    if len(segments) == 2 and segments[0] in _VIDEO_PATHS:
        candidates.append(segments[1])
    return next((c for c in candidates if VIDEO_ID.fullmatch(c)), None)


def map_video_id(entry: Mapping[str, Any], endpoints: Endpoints) -> tuple[str | None, str | None]:
    """(video id, None) for an id map entry we may use, else (None, why it is refused)."""
    url = entry.get("url")
    if not isinstance(url, str) or not url:
        return None, "the id map entry has no URL"
    shown = url if len(url) <= 80 else url[:79] + "…"
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None, f"the id map URL {shown!r} is not a valid URL"
    if scheme not in ("http", "https"):
        return None, f"the id map URL {shown!r} is not http(s)"
    if not endpoints.is_youtube_url(url):
        return None, f"the id map URL {shown!r} is not on a YouTube host"
    video_id = video_id_of(url)
    if video_id is None:
        return None, f"the id map URL {shown!r} holds no valid 11-character video id"
    return video_id, None
