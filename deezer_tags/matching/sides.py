"""The two sides the judge compares: a ``Track`` (what Deezer says) and a ``Candidate``
(what YouTube says of a video), each read from the metadata its source gives."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deezer_tags.matching.tables import (
    ART_TRACK_TOLERANCE_SECONDS, DURATION_TOLERANCE_FRACTION, DURATION_TOLERANCE_SECONDS,
)


@dataclass(frozen=True)
class Track:
    """What the right recording must match. ``artists``: the main artist first, then the
    contributors; empty when only the id map's query is known (it holds the artist)."""

    title: str
    title_short: str = ""
    title_version: str = ""
    artists: tuple[str, ...] = ()
    album: str = ""
    duration: float | None = None

    @classmethod
    def from_metadata(cls, meta: Mapping[str, Any]) -> Track | None:
        title = str(meta.get("title") or meta.get("title_short") or "").strip()
        if not title:
            return None
        names = [meta.get("artist_name"), *(meta.get("contributors") or [])]
        artists = tuple(dict.fromkeys(str(n).strip() for n in names if isinstance(n, str) and n.strip()))
        duration = meta.get("duration")
        duration = float(duration) if isinstance(duration, (int, float)) and duration > 0 else None
        return cls(title, str(meta.get("title_short") or title).strip(), str(meta.get("title_version") or "").strip(),
                   artists, str(meta.get("album_title") or "").strip(), duration)

    @classmethod
    def from_query(cls, query: str, duration: float | None = None) -> Track:
        """The id map's "{title} {artist}" query alone: all of its words play the title."""
        return cls(query.strip(), query.strip(), "", (), "", duration)

    @property
    def name(self) -> str:
        return self.title_short or self.title

    def tolerance(self, art_track: bool = False) -> float | None:
        if self.duration is None:
            return None
        if art_track:
            return ART_TRACK_TOLERANCE_SECONDS
        return max(DURATION_TOLERANCE_SECONDS, DURATION_TOLERANCE_FRACTION * self.duration)


@dataclass(frozen=True)
class Candidate:
    """What YouTube says of a video: from a search page (title, duration, maybe the channel)
    or a watch page (yt-dlp's info: also ``track``, ``artists``, ``album`` for music)."""

    title: str | None
    duration: float | None = None
    channel: str | None = None
    track: str | None = None
    artists: tuple[str, ...] = ()
    album: str | None = None

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> Candidate:
        """From a yt-dlp info dict or a flat search entry."""
        artists = info.get("artists")
        if not isinstance(artists, list):
            artist = info.get("artist") or info.get("creator")
            artists = re.split(r"\s*,\s*", artist) if isinstance(artist, str) and artist else []
        channel = info.get("channel") or info.get("uploader")
        return cls(_text(info.get("title")), _number(info.get("duration")), _text(channel), _text(info.get("track")),
                   tuple(a for a in artists if isinstance(a, str) and a), _text(info.get("album")))

    @property
    def art_track(self) -> bool:
        """A YouTube Music song: the label's upload of the master, an "Artist - Topic" channel."""
        return bool(self.track) or bool(self.channel and self.channel.endswith(" - Topic"))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
