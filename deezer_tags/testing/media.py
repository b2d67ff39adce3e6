"""YouTube's audio as YouTube serves it: the formats of each video, their files and their
DASH manifest.

What each behaviour stands for (facts gathered from yt-dlp 2026.10.26 and real player
responses saved in public repositories; sources in docs/youtube-media-facts.md):
- every video has itag 140, AAC-LC in MP4 at 44.1 kHz, about 129 kbit/s: YouTube's DASH
  file, fragmented, one ``sidx`` after the init segment, subsegments of about 10 s. One in
  five of ours instead has its sample tables up front (``moov`` then ``mdat``), standing for
  the plain "faststart" M4A a host may serve: ffmpeg seeks in it by the tables;
- most videos (85 %) also have itag 251, Opus in WebM at 48 kHz, about 130 kbit/s, the
  Cues right after the init segment, clusters of about 10 s. yt-dlp's ``bestaudio`` takes
  251 (same quality as 140, Opus preferred) and falls back to 140 where there is no 251;
- the formats reach yt-dlp as a DASH manifest (the watch page's JSON-LD points at it), with
  the fields YouTube's own manifests carry: itag as Representation id, codecs, bandwidth,
  audioSamplingRate and ``yt:contentLength``. yt-dlp lists them as its YouTube extractor
  does: format id "140"/"251", ext m4a/webm, container m4a_dash/webm_dash, protocol http(s),
  a plain URL with the size known;
- media URLs are googlevideo's ``videoplayback`` URLs, signed and expiring (see
  ``signing.MediaSigner``).

Files are built without encoding per video: a few seconds of sound are encoded once per
process in each codec (``containers``), and each video's audio is a seeded sequence of
pieces of them, muxed in pure Python. The same plan of pieces renders in every codec, so a
video's formats sound alike.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from xml.sax.saxutils import escape

from . import containers
from .audio import PREVIEW_SECONDS, SAMPLE_RATE, pool_signals
from .faults import unit

MEDIA_PATH = "/media/videoplayback/id/{video_id}/itag/{itag}"
MANIFEST_PATH = "/media/api/manifest/dash/id/{video_id}"
MANIFEST_TYPE = "application/dash+xml"
OPUS_SHARE = 0.85       # videos with itag 251 beside 140 (a guess: nearly all have both)
FASTSTART_SHARE = 0.2   # videos whose 140 has its tables up front (stands for other hosts' M4A)
SEGMENT_SECONDS = 10.0  # sidx subsegments and WebM clusters: about 10 s on YouTube
_PIECE_SECONDS = (1.6, 6.3)


@dataclass(frozen=True)
class Format:
    itag: int
    codec: str       # "aac" or "opus"
    layout: str      # "fragmented", "faststart" or "webm"


def formats_of(video_id: str, seed: int = 0) -> tuple[Format, ...]:
    """The audio-only formats a video has, best first as yt-dlp ranks them."""
    aac = Format(140, "aac", "faststart" if unit(seed, "faststart", video_id) < FASTSTART_SHARE else "fragmented")
    if unit(seed, "opus", video_id) < OPUS_SHARE:
        return (Format(251, "opus", "webm"), aac)
    return (aac,)


def format_of(video_id: str, itag: int, seed: int = 0) -> Format | None:
    return next((f for f in formats_of(video_id, seed) if f.itag == itag), None)


class _Pools:
    """Each codec's encoding of the pool sounds, made on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: dict[str, tuple[containers.AudioStream, ...]] = {}

    def get(self, codec: str) -> tuple[containers.AudioStream, ...]:
        with self._lock:
            if codec not in self._streams:
                encode = containers.encode_aac if codec == "aac" else containers.encode_opus
                self._streams[codec] = tuple(encode(signal) for signal in pool_signals())
            return self._streams[codec]


_POOLS = _Pools()


def plan(key: str, seconds: float) -> list[tuple[int, float, float]]:
    """The pieces (pool sound, start s, length s) a recording of ``seconds`` is made of."""
    rng = random.Random(f"plan:{key}")
    pieces, total = [], 0.0
    sounds = len(pool_signals())
    while total < seconds:
        length = min(rng.uniform(*_PIECE_SECONDS), seconds - total)
        start = rng.uniform(0.0, PREVIEW_SECONDS - length)
        pieces.append((rng.randrange(sounds), start, length))
        total += length
    return pieces


def _render(pieces: list[tuple[int, float, float]], pools: tuple[containers.AudioStream, ...],
            seconds: float) -> containers.AudioStream:
    """The plan in one codec: each piece's packets from its pool sound, ``seconds`` in all."""
    stream = pools[0]
    per_second = stream.sample_rate / stream.samples_per_packet
    wanted = round(seconds * per_second)
    packets: list[bytes] = []
    at = 0.0
    for sound, start, length in pieces:
        pool = pools[sound].packets
        first = min(int(start * per_second), len(pool) - 1)
        stop = round((at + length) * per_second) - len(packets)  # keep the joins on time
        packets.extend(pool[first:first + max(0, stop)])
        at += length
    packets = packets[:wanted]
    while len(packets) < wanted:  # rounding at the joins: pad from the first sound
        packets.append(pools[0].packets[len(packets) % len(pools[0].packets)])
    return stream.with_packets(packets)


def media_file(video_id: str, seconds: float, fmt: Format, key: str | None = None) -> containers.Muxed:
    """The file of ``fmt`` for a video ``seconds`` long; ``key`` names the recording it
    carries (the video id unless another video carries the same recording)."""
    stream = _render(plan(key or video_id, seconds), _POOLS.get(fmt.codec), seconds)
    if fmt.layout == "webm":
        return containers.webm(stream, cluster_seconds=SEGMENT_SECONDS)
    if fmt.layout == "faststart":
        return containers.faststart_mp4(stream)
    return containers.fragmented_mp4(stream, fragment_seconds=SEGMENT_SECONDS)


def manifest(files: dict[int, tuple[Format, containers.Muxed, str]], seconds: float) -> bytes:
    """A static DASH manifest listing ``files`` (itag -> format, file, signed URL)."""
    sets = []
    for itag, (fmt, muxed, url) in files.items():
        bandwidth = round(len(muxed.data) * 8 / max(muxed.duration, 0.001))
        rate = 48000 if fmt.codec == "opus" else SAMPLE_RATE
        init, index = muxed.init_range, muxed.index_range
        sets.append(
            f'<AdaptationSet id="{itag}" mimeType="{muxed.mime_type}" subsegmentAlignment="true">'
            f'<Representation id="{itag}" codecs="{muxed.codecs}" audioSamplingRate="{rate}" '
            f'startWithSAP="1" bandwidth="{bandwidth}">'
            '<AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="2"/>'
            f'<BaseURL yt:contentLength="{len(muxed.data)}">{escape(url)}</BaseURL>'
            f'<SegmentBase indexRange="{index[0]}-{index[1]}" indexRangeExact="true">'
            f'<Initialization range="{init[0]}-{init[1]}"/></SegmentBase>'
            "</Representation></AdaptationSet>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" xmlns:yt="http://youtube.com/yt/2012/10/10" '
        'profiles="urn:mpeg:dash:profile:isoff-on-demand:2011" type="static" '
        f'mediaPresentationDuration="PT{seconds:.3f}S" minBufferTime="PT1.500S">'
        f"<Period>{''.join(sets)}</Period></MPD>\n"
    ).encode()



