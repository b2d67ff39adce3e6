"""The clip: which 30 s of a video, and how its bytes are read.

Only a section is fetched, never the whole video: yt-dlp resolves the watch page to a media
URL (on a configured media host), then ffmpeg reads 30 s from it through the relay
(deezer_tags.relay), which hands ffmpeg whole answers only, each byte read once, in ranges
sized to the section. The section starts at the middle of the video (duration/2 - 15 s,
where the chorus usually is), at 0 (``section_start="start"``), or at a given number of
seconds (kept inside the video).

A fetcher is what the recovery does with the video it chose: ``Section`` stores the
dataset's clip, ``RecipeSection`` stores the clip at a recipe's start, ``WholeStream`` decodes
the whole audio stream for the calibration. Each names the format it wants.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from yt_dlp.utils import unsmuggle_url

from deezer_tags import acoustic
from deezer_tags.audio import InvalidAudio, checked_clip
from deezer_tags.ffmpeg import FfmpegFailed, fetch_section
from deezer_tags.previews import StoredAudio
from deezer_tags.relay import MediaRelay
from deezer_tags.seekpoints import HEAD_BYTES, seek_points
from deezer_tags.sources import Endpoints
from deezer_tags.youtube.errors import Refused, Transient, YouTubeBlocked, classify_error

FFMPEG_TIMEOUT = 180.0   # one section, seconds
CLIP_SLACK = 1.0         # seconds a clip may be shorter or longer than asked (frame rounding)
# YouTube's DASH files index their audio every ~10 s (sidx subsegments, WebM cues): ffmpeg's
# seek lands on the index point before the section's start, 5 s early on average. The
# "middle" section therefore starts just after the index point before the middle (see
# seekpoints): ffmpeg's seek lands on it and reads nothing it throws away.
SEEK_LANDING = 5.0       # seconds read before the section when its start is not on an index point
AFTER_INDEX_POINT = 0.1  # seconds: past the point, so that rounding and Opus's 80 ms pre-roll land on it
FORMAT = "bestaudio/best"
# The calibration hears a whole stream: AAC (itag 140, on every YouTube video) decodes in half
# the CPU time of Opus (0.7 against 1.4 CPU-s for 5 minutes, measured), and both formats of
# a video carry the same recording, which is all the calibration asks about.
LISTEN_FORMAT = "140/bestaudio[acodec^=mp4a]/bestaudio/best"


def section_rule(value: str | float) -> str | float:
    """"middle", "start" or a number of seconds (ValueError otherwise)."""
    if value in ("middle", "start"):
        return value
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"section_start is 'middle', 'start' or a number of seconds, not {value!r}") from None
    if seconds < 0:
        raise ValueError(f"section_start must not be negative, got {seconds}")
    return seconds


def section_start(rule: str | float, duration: float | None, seconds: float) -> float:
    """Where the section starts in a video of ``duration`` seconds under ``rule``."""
    if rule == "start":
        return 0.0
    if rule == "middle":
        return max(0.0, duration / 2 - seconds / 2) if duration else 0.0
    start = float(rule)
    return min(start, max(0.0, duration - seconds)) if duration else start


@dataclass(frozen=True)
class Media:
    """The chosen format of a video: its URL (on a media host), the headers yt-dlp sends with
    it, and yt-dlp's info (duration, size, bitrate, format id)."""

    url: str
    headers: Mapping[str, str] | None
    info: dict

    @classmethod
    def of(cls, info: dict, endpoints: Endpoints) -> Media:
        if info.get("is_live") or info.get("live_status") in ("is_live", "is_upcoming"):
            raise Refused("a live stream, not a recording")
        url = info.get("url")
        if isinstance(url, str):
            url, _ = unsmuggle_url(url)  # the generic extractor's notes to itself, after a "#"
        if not isinstance(url, str) or info.get("protocol") not in ("http", "https"):
            raise Refused(f"no audio as a plain HTTP file (protocol {info.get('protocol')})")
        if not endpoints.is_media_url(url):
            raise Refused(f"the media URL's host {urlsplit(url).hostname!r} is not a configured media host")
        return cls(url, info.get("http_headers"), info)

    @property
    def duration(self) -> float | None:
        return self.info.get("duration")

    def section_bytes(self, seconds: float, landing: float = SEEK_LANDING) -> int | None:
        """The bytes ffmpeg reads of this format from its seek on, from the format's size and
        duration (or its bitrate): the relay asks the media host for about that."""
        filesize, duration = self.info.get("filesize"), self.info.get("duration")
        if isinstance(filesize, (int, float)) and isinstance(duration, (int, float)) and filesize > 0 and duration > 0:
            rate = filesize / duration
        else:
            kbps = self.info.get("abr") or self.info.get("tbr")
            if not isinstance(kbps, (int, float)) or kbps <= 0:
                return None
            rate = kbps * 1000 / 8
        return round(rate * (seconds + landing))


@dataclass(frozen=True)
class Heard:
    """A video's whole audio stream, decoded for the calibration (never stored)."""

    samples: Any          # numpy float32, mono, acoustic.RATE
    bytes_fetched: int    # media bytes this track's recovery read
    format_id: str


class Reading(Protocol):
    """What a fetcher reports into: the track's recovery (``recoverer.Run``)."""

    bytes_fetched: int
    evidence: dict


class MediaReader:
    """Reads media through the relay with ffmpeg: a section into a file, or a whole stream."""

    def __init__(self, ffmpeg: str, seconds: float = 30.0) -> None:
        self.ffmpeg = ffmpeg
        self.seconds = seconds
        self._relay = MediaRelay()  # ffmpeg reads the media through it: checked bytes only

    def close(self) -> None:
        self._relay.close()

    def index_point(self, media: Media, start: float, run: Reading) -> tuple[float, float]:
        """``start`` moved back to just after the file's index point before it, when the file's
        head lists them (YouTube's DASH formats), and the seconds ffmpeg will read before the
        start. A head that could not be read is a transient failure, not a reason to cut
        elsewhere: the start must not depend on the network."""
        with self._relay.relaying(media.url, media.headers) as (local_url, relayed):
            try:
                answer = requests.get(local_url, headers={"Range": f"bytes=0-{HEAD_BYTES - 1}"},
                                      timeout=(10, FFMPEG_TIMEOUT))
            except requests.RequestException as error:
                raise Transient(f"the media's head: {relayed.failure or type(error).__name__}") from None
            finally:
                run.bytes_fetched += relayed.bytes_fetched
        if answer.status_code not in (200, 206) or relayed.failure:
            said = f"the media's head: {relayed.failure or f'HTTP {answer.status_code}'}"
            if answer.status_code == 429 or classify_error(said) == "bot_check":
                raise YouTubeBlocked(said)
            raise Transient(said)
        points = [p for p in seek_points(answer.content) if p + AFTER_INDEX_POINT <= start]
        if not points:
            return start, SEEK_LANDING
        return round(points[-1] + AFTER_INDEX_POINT, 3), 0.0

    def cut(self, media: Media, start: float, dest: Path, run: Reading, *, landing: float = SEEK_LANDING) -> StoredAudio:
        """ffmpeg cuts the section into a temp file next to ``dest``; checked, it replaces ``dest``.
        A cut-off or slow answer once shifted clips by a frame with nothing in ffmpeg's log:
        the relay hands ffmpeg only whole answers."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        os.close(handle)
        tmp = Path(tmp_name)
        try:
            stats = self._through_relay(
                media, run, section_bytes=media.section_bytes(self.seconds, landing),
                read=lambda local_url: fetch_section(local_url, tmp, start=start, seconds=self.seconds,
                                                     exe=self.ffmpeg, timeout=FFMPEG_TIMEOUT))
            if stats.decode_errors:
                raise Transient(f"the media arrived damaged ({stats.decode_errors} decode errors)")
            data = tmp.read_bytes()
            duration = media.duration
            length = min(self.seconds, duration - start) if duration else self.seconds
            try:
                info = checked_clip(data, min_seconds=length - CLIP_SLACK, max_seconds=self.seconds + CLIP_SLACK)
            except InvalidAudio as problem:
                raise Transient(f"the section is not a valid clip: {problem}") from None
            os.replace(tmp, dest)
            return StoredAudio(dest, hashlib.sha256(data).hexdigest(), round(info.duration, 3), run.bytes_fetched)
        finally:
            tmp.unlink(missing_ok=True)

    def hear(self, media: Media, run: Reading) -> Heard:
        """The format's whole audio stream, read through the relay once and decoded by ffmpeg
        to mono samples (acoustic.RATE): enough to find any 30 s preview in it."""
        samples = self._through_relay(media, run, read=lambda local_url: acoustic.decode(
            local_url, exe=self.ffmpeg, timeout=FFMPEG_TIMEOUT))
        return Heard(samples, run.bytes_fetched, str(media.info.get("format_id")))

    def _through_relay(self, media: Media, run: Reading, read: Callable[[str], Any], *,
                       section_bytes: int | None = None) -> Any:
        """``read(local URL)``: ffmpeg reading the media through the relay. A 429 before or
        during the read raises YouTubeBlocked; any other failure of ffmpeg or of the relay is
        transient. The bytes the relay fetched are counted either way."""
        with self._relay.relaying(media.url, media.headers, section_bytes=section_bytes) as (local_url, relayed):
            try:
                result = read(local_url)
            except (FfmpegFailed, acoustic.DecodeFailed) as error:
                for said in (str(error), relayed.failure or ""):
                    if classify_error(said) == "bot_check":
                        raise YouTubeBlocked(said) from None
                raise Transient(f"ffmpeg: {relayed.failure or error}") from None
            finally:
                run.bytes_fetched += relayed.bytes_fetched
        if relayed.failure:
            if classify_error(relayed.failure) == "bot_check":  # 429 in the middle of the read
                raise YouTubeBlocked(f"the media host: {relayed.failure}")
            raise Transient(f"the media host: {relayed.failure}")
        return result


# -- fetchers: what the recovery does with the video it chose ---------------------------------

class Fetcher(Protocol):
    format: str

    def fetch(self, media: Media, run: Reading) -> Any: ...


@dataclass(frozen=True)
class Section:
    """The dataset's clip: the section ``rule`` places, on the index point before it when
    the rule is "middle", stored at ``dest``."""

    reader: MediaReader
    rule: str | float
    dest: Path
    track_duration: float | None
    format: str = FORMAT

    def fetch(self, media: Media, run: Reading) -> StoredAudio:
        start = section_start(self.rule, media.duration or self.track_duration, self.reader.seconds)
        landing = SEEK_LANDING
        if self.rule == "middle":
            start, landing = self.reader.index_point(media, start, run)
        audio = self.reader.cut(media, start, self.dest, run, landing=landing)
        run.evidence["section_start"] = round(start, 3)
        return audio


@dataclass(frozen=True)
class RecipeSection:
    """A recipe's clip: its video at its start, stored at ``dest``."""

    reader: MediaReader
    start: float
    dest: Path
    format: str = FORMAT

    def fetch(self, media: Media, run: Reading) -> StoredAudio:
        audio = self.reader.cut(media, self.start, self.dest, run)
        run.evidence["section_start"] = round(self.start, 3)
        return audio


@dataclass(frozen=True)
class WholeStream:
    """The calibration's reading: the whole audio stream, decoded, never stored."""

    reader: MediaReader
    format: str = LISTEN_FORMAT

    def fetch(self, media: Media, run: Reading) -> Heard:
        return self.reader.hear(media, run)
