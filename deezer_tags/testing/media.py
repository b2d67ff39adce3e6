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

A plan is a recording: what a master sounds like, wherever it is heard. A Deezer preview
is a 30.72 s ``excerpt`` of its track's master (rendered as MP3 by ``audio``), a video
plays its recording from second 0, so a preview is found in the video of the same
recording and not in another's. A ``live_plan`` is another take of a song (a concert,
a re-recording): the same sounds in the same order, in another timing.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from xml.sax.saxutils import escape

from . import containers
from .audio import PREVIEW_SECONDS, SAMPLE_RATE, pool_signals
from .faults import unit

LIVE_PREFIX = "live:"  # a recording key naming a live take of the master key after it
MEDIA_PATH = "/media/videoplayback/id/{video_id}/itag/{itag}"
MANIFEST_PATH = "/media/api/manifest/dash/id/{video_id}"
MANIFEST_TYPE = "application/dash+xml"
OPUS_SHARE = 0.85       # videos with itag 251 beside 140 (a guess: nearly all have both)
FASTSTART_SHARE = 0.2   # videos whose 140 has its tables up front (stands for other hosts' M4A)
SEGMENT_SECONDS = 10.0  # sidx subsegments and WebM clusters: about 10 s on YouTube
_PIECE_SECONDS = (1.6, 6.3)
# Encoder delay a file plays as sound, in samples: AAC keeps its 1024 priming samples
# (``encode_aac``); Opus's pre-skip is dropped by the decoder, at the file's start as in the pool.
_PLAYED_PRIMING = {"aac": 1024, "opus": 0}
_LIVE_STRETCH = (0.8, 1.2)  # a live take's pieces last this much of the master's
_LIVE_SHIFT = 1.0           # and start up to this many seconds earlier or later in the sound

Piece = tuple[int, float, float]  # pool sound, start s in it, length s


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


def plan(key: str, seconds: float) -> list[Piece]:
    """The pieces (pool sound, start s, length s) a recording of ``seconds`` is made of.
    Prefix-stable: a longer plan of the same key begins with the same pieces (all but the
    shorter plan's last, which is cut to fit)."""
    rng = random.Random(f"plan:{key}")
    pieces, total = [], 0.0
    sounds = len(pool_signals())
    while total < seconds:
        length = min(rng.uniform(*_PIECE_SECONDS), seconds - total)
        start = rng.uniform(0.0, PREVIEW_SECONDS - length)
        pieces.append((rng.randrange(sounds), start, length))
        total += length
    return pieces


def excerpt(pieces: list[Piece], offset: float, seconds: float) -> list[Piece]:
    """The part of a plan heard from ``offset`` for ``seconds`` (less if the plan ends first):
    the first piece loses its head, the last its tail. A preview is an excerpt of its master."""
    out, at, end = [], 0.0, offset + seconds
    for sound, start, length in pieces:
        head, tail = max(0.0, offset - at), max(0.0, at + length - end)
        if length - head - tail > 1e-9:
            out.append((sound, start + head, length - head - tail) if head or tail else (sound, start, length))
        at += length
        if at >= end:
            break
    return out


def live_plan(key: str, seconds: float) -> list[Piece]:
    """A live take of the recording ``key``: the master's pool sounds and starts in the same
    order, each piece stretched or squeezed (x0.8 to x1.2) and started up to 1 s off, as a
    band plays a song again in its own timing. Titles and durations cannot tell it from the
    master; only listening (the audio lined up against the preview) can."""
    rng = random.Random(f"live:{key}")
    pieces, total = [], 0.0
    for sound, start, length in plan(key, seconds / _LIVE_STRETCH[0] + _PIECE_SECONDS[1]):
        if total >= seconds:
            break
        stretch, shift = rng.uniform(*_LIVE_STRETCH), rng.uniform(-_LIVE_SHIFT, _LIVE_SHIFT)
        length = min(length * stretch, seconds - total)
        start = min(max(0.0, start + shift), PREVIEW_SECONDS - length)  # inside the pool sound
        pieces.append((sound, start, length))
        total += length
    return pieces


def recording(key: str, seconds: float) -> list[Piece]:
    """The plan a recording key names: ``live:<master key>`` is a live take of that master
    (``live_plan``), any other key a recording of its own (``plan``)."""
    if key.startswith(LIVE_PREFIX):
        return live_plan(key[len(LIVE_PREFIX):], seconds)
    return plan(key, seconds)


def _render(pieces: list[Piece], pools: tuple[containers.AudioStream, ...],
            seconds: float) -> containers.AudioStream:
    """The plan in one codec: each piece's packets from its pool sound, ``seconds`` in all."""
    stream = pools[0]
    per_second = stream.sample_rate / stream.samples_per_packet
    lead = _PLAYED_PRIMING[stream.codec] / stream.samples_per_packet
    wanted = round(seconds * per_second)
    packets: list[bytes] = []
    at = 0.0
    for sound, start, length in pieces:
        pool = pools[sound].packets
        # The packet whose sound is due at the piece's first slot: joins keep their time
        # to half a packet, and so the same plan sounds the same in every codec.
        count = max(0, round((at + length) * per_second) - len(packets))  # keep the joins on time
        first = min(max(0, round((start - at) * per_second + len(packets) + lead)), max(0, len(pool) - count))
        packets.extend(pool[first:first + count])
        at += length
    packets = packets[:wanted]
    while len(packets) < wanted:  # rounding at the joins: pad from the first sound
        packets.append(pools[0].packets[len(packets) % len(pools[0].packets)])
    return stream.with_packets(packets)


def media_file(video_id: str, seconds: float, fmt: Format, key: str | None = None) -> containers.Muxed:
    """The file of ``fmt`` for a video ``seconds`` long: ``key``'s recording (see
    ``recording``; by default the video's own) played from its start."""
    stream = _render(recording(key or f"video:{video_id}", seconds), _POOLS.get(fmt.codec), seconds)
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



