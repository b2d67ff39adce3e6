"""MP3 files for the local web, made without encoding per track.

Encoding 30 s of MP3 costs about a second here and a full-scale benchmark serves tens of
thousands of previews, so two clips are encoded once per process and every file is
assembled from their frames: 128 kbps CBR Layer III frames can be cut and joined as
bytes. A file renders a plan of pieces of the pool sounds (``media.plan``, the same plans
the YouTube formats render): a track's preview is a 30.72 s excerpt of its recording, so
it sounds like the videos of that recording and unlike any other. Files are equal across
runs and processes, and each carries its name in an ID3v2 tag, so no two files are equal.

Joining needs care: a frame may keep part of its data in the frames before it (the bit
reservoir, ``main_data_begin``). A piece starting at frame j is therefore preceded by
frames j-2 and j-1 with their side information zeroed but for that back pointer: they
decode as silence, yet their bytes still hold the reservoir frame j reads from (mpg123
rebuilds it frame by frame). These two lead-in frames take the piece's first two frame
slots, so every piece starts on time; each join costs 52 ms of silence and no decoding
error.

Each file starts with a LAME Info frame rewritten for its length, so decoders report
the exact duration and ffmpeg treats the file as CBR: with ``-fflags +fastseek`` it
seeks by byte offset (a Range request) instead of reading up to the start time.
"""

from __future__ import annotations

import functools
import io
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 44_100
CHANNELS = 2
PREVIEW_SECONDS = 30.72
FRAME_SAMPLES = 1152  # MPEG-1 Layer III
_DECODER_DELAY = 529

# libsndfile maps compression_level onto LAME's bitrate table; 0.63 gives 128 kbps
# (0.55 gives 160, 0.7 gives 112: measured with soundfile 0.14 / libsndfile 1.2.2).
_COMPRESSION_LEVEL = 0.63
_SIDE_INFO_BYTES = 32  # MPEG-1, stereo or joint stereo
_LEAD_IN = 2  # silenced frames before each piece: enough to hold 511 reservoir bytes
_POOL_CLIPS = 2  # each costs ~1 s to encode
_SECTIONS = 12   # chords per clip: one every 2.56 s, as a song changes chords every bar or two
_MPEG1_L3_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)


@dataclass(frozen=True)
class _Clip:
    """One encoded clip, split into frames (frame 0 is LAME's Info frame)."""

    data: bytes
    offsets: tuple[int, ...]  # start of each frame, plus the end of the last one
    silent: tuple[bytes, ...]  # each frame made silent (side information zeroed)

    @property
    def frames(self) -> int:
        return len(self.offsets) - 1

    def span(self, start: int, stop: int) -> bytes:
        return self.data[self.offsets[start]:self.offsets[stop]]


def _split_frames(data: bytes) -> _Clip:
    offsets = [0]
    silent = []
    pos = 0
    while pos < len(data):
        header = data[pos:pos + 4]
        # MPEG-1 Layer III without CRC, 44.1 kHz, not mono: the side information layout assumed
        if header[:2] != b"\xff\xfb" or (header[2] >> 2) & 3 != 0 or header[3] >> 6 == 3:
            raise ValueError(f"expected a 44.1 kHz stereo MPEG-1 Layer III frame at byte {pos}")
        kbps = _MPEG1_L3_KBPS[header[2] >> 4]
        size = 144 * kbps * 1000 // SAMPLE_RATE + ((header[2] >> 1) & 1)
        frame = data[pos:pos + size]
        # Keep main_data_begin (9 bits): mpg123 rebuilds its reservoir frame by frame.
        side = bytes((frame[4], frame[5] & 0x80)) + bytes(_SIDE_INFO_BYTES - 2)
        silent.append(frame[:4] + side + frame[4 + _SIDE_INFO_BYTES:])
        pos += size
        offsets.append(pos)
    return _Clip(data, tuple(offsets), tuple(silent))


def _pitch(midi: np.ndarray | int) -> np.ndarray:
    """Hz of MIDI note numbers, equal-tempered at A4 = 440 Hz: tuned as music is, so that a
    chroma's tuning estimate agrees between an excerpt and the whole."""
    return 440.0 * 2.0 ** ((np.asarray(midi) - 69) / 12)


def _signal(variant: int) -> np.ndarray:
    """30.72 s of stereo sound: chords of three tones that change every 2.56 s, a line of
    plucked notes over them (0.15 to 0.5 s each), plus hiss. The notes and chord changes
    are what tell two takes of a piece apart when their timing differs."""
    rng = np.random.default_rng(variant)
    n = round(PREVIEW_SECONDS * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    out = np.zeros((n, CHANNELS))
    bounds = np.linspace(0, n, _SECTIONS + 1, dtype=int)
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        seg = t[start:stop]
        for freq in _pitch(rng.integers(45, 82, size=3)):  # A2 to A5
            tone = 0.09 * np.sin(2 * np.pi * freq * seg) * (1 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.2, 3) * seg))
            out[start:stop, 0] += tone
            out[start:stop, 1] += np.roll(tone, int(rng.integers(50, 400)))
    melody = np.random.default_rng(1000 + variant)
    at = 0
    while at < n:
        seg = t[:min(round(melody.uniform(0.15, 0.5) * SAMPLE_RATE), n - at)]
        envelope = np.exp(-seg / 0.25) * np.minimum(1.0, seg / 0.005)  # 5 ms attack, then decay
        out[at:at + len(seg)] += (0.3 * np.sin(2 * np.pi * _pitch(melody.integers(57, 94)) * seg) * envelope)[:, None]
        at += len(seg)
    out += 0.01 * rng.standard_normal(out.shape)
    return out.astype(np.float32)


@functools.lru_cache(maxsize=1)
def pool_signals() -> tuple[np.ndarray, ...]:
    """The sounds every file is pieced from (PREVIEW_SECONDS each, 44.1 kHz stereo): the
    previews' MP3 frames and the YouTube formats' packets are encodings of these."""
    return tuple(_signal(variant) for variant in range(_POOL_CLIPS))


def _encode(variant: int) -> _Clip:
    import soundfile  # noqa: PLC0415 - only needed once the first file is asked for

    buf = io.BytesIO()
    soundfile.write(buf, pool_signals()[variant], SAMPLE_RATE, format="MP3",
                    bitrate_mode="CONSTANT", compression_level=_COMPRESSION_LEVEL)
    return _split_frames(buf.getvalue())


class _Pool:
    """The encoded clips, made on first use (in parallel: libsndfile releases the GIL)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clips: tuple[_Clip, ...] = ()

    def clips(self) -> tuple[_Clip, ...]:
        with self._lock:
            if not self._clips:
                with ThreadPoolExecutor(_POOL_CLIPS) as ex:
                    self._clips = tuple(ex.map(_encode, range(_POOL_CLIPS)))
            return self._clips


_POOL = _Pool()


def _id3v2(text: str) -> bytes:
    """An ID3v2.3 tag with one TXXX frame, which makes each file's bytes its own."""
    payload = b"\x00deezer_tags.testing\x00" + text.encode("latin-1")
    frame = b"TXXX" + len(payload).to_bytes(4, "big") + b"\x00\x00" + payload
    size = len(frame)
    syncsafe = bytes((size >> shift) & 0x7F for shift in (21, 14, 7, 0))
    return b"ID3\x03\x00\x00" + syncsafe + frame


def _crc16(data: bytes) -> int:
    """CRC-16/ARC, which guards LAME's tag."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def _encoder_delay(info: bytes) -> int:
    """Samples of silence the encoder put first, from the LAME tag of its Info frame."""
    if info[36:40] != b"Info" or info[156:160] != b"LAME":
        raise ValueError("the encoder did not write a LAME Info frame")
    return (info[177] << 4) | (info[178] >> 4)


def _info_frame(template: bytes, frames: int, samples: int, stream_bytes: int) -> bytes:
    """LAME's Info frame (Xing header + LAME tag) rewritten for a stream of ``frames`` audio
    frames holding ``samples`` samples: decoders then report the exact duration, and ffmpeg
    treats the file as CBR and seeks by byte offset (Range requests) instead of reading on."""
    frame = bytearray(template)
    delay = _encoder_delay(template)
    padding = frames * FRAME_SAMPLES - delay - samples
    struct.pack_into(">II", frame, 44, frames, stream_bytes)  # Xing frame and byte counts
    frame[177:180] = ((delay << 12) | padding).to_bytes(3, "big")
    struct.pack_into(">I", frame, 184, stream_bytes)  # LAME music length
    struct.pack_into(">H", frame, 190, _crc16(frame[:190]))
    return bytes(frame)


def _join(pieces: Sequence[tuple[int, float, float]], clips: tuple[_Clip, ...], frames: int) -> list[bytes]:
    """``frames`` audio frames playing the pieces (pool sound, start s, length s) in turn,
    each from the frame slot its start time falls in; the last piece runs to the end."""
    per_second = SAMPLE_RATE / FRAME_SAMPLES
    parts: list[bytes] = []
    slot, at = 0, 0.0
    for n, (sound, start, length) in enumerate(pieces):
        begin, at = at, at + length
        stop = frames if n == len(pieces) - 1 else min(round(at * per_second), frames)
        count = stop - slot
        if count <= 0:
            continue
        clip = clips[sound]
        # The clip's frame heard in the piece's first slot (frame 1 follows the Info frame),
        # corrected for the slot's rounding: the piece's sound keeps its time to 13 ms.
        first = max(1, min(1 + round((start - begin) * per_second + slot), clip.frames - count))
        lead = min(_LEAD_IN, count)
        parts.extend(clip.silent[first:first + lead])  # silent, but holding the reservoir
        if count > lead:
            parts.append(clip.span(first + lead, first + count))
        slot = stop
    while slot < frames:  # no pieces left: silence
        parts.append(clips[0].silent[1])
        slot += 1
    return parts


def render_mp3(pieces: Sequence[tuple[int, float, float]], seconds: float, tag: str) -> bytes:
    """An MP3 ``seconds`` long playing ``pieces`` of the pool sounds (as ``media.plan`` gives
    them) one after the other, named ``tag`` in its ID3v2 tag: 44.1 kHz stereo, 128 kbps CBR."""
    clips = _POOL.clips()
    template = clips[0].span(0, 1)
    samples = round(seconds * SAMPLE_RATE)
    # The decoder's own delay (529 samples) must fit in the padding at the end.
    frames = -(-(samples + _encoder_delay(template) + _DECODER_DELAY) // FRAME_SAMPLES)
    parts = _join(pieces, clips, frames)
    info = _info_frame(template, frames, samples, len(template) + sum(map(len, parts)))
    return b"".join([_id3v2(tag), info, *parts])


def preview_mp3(track_id: int, recording: str, recording_seconds: float, offset: float) -> bytes:
    """A track's 30.72 s preview: the excerpt from ``offset`` of its recording (a key of
    ``media.recording``, ``recording_seconds`` long), as Deezer cuts its previews out of the
    master. ``Scenario.preview_excerpt(track_id)`` gives the last three arguments."""
    from .media import excerpt, recording as plan_of  # noqa: PLC0415 - media imports this module

    pieces = excerpt(plan_of(recording, recording_seconds), offset, PREVIEW_SECONDS)
    return render_mp3(pieces, PREVIEW_SECONDS, f"deezer track {track_id}")


def media_mp3(video_id: str, seconds: float, key: str | None = None) -> bytes:
    """An MP3 ``seconds`` long in the previews' format, named after a video, playing the
    recording ``key`` (by default one of its own) from its start: test material (an earlier
    crawl's clip, a host serving the wrong file). YouTube itself serves AAC and Opus: see
    ``media``."""
    from .media import recording as plan_of  # noqa: PLC0415 - media imports this module

    return render_mp3(plan_of(key or f"media:{video_id}", seconds), seconds, f"youtube video {video_id}")


class ByteCache:
    """A thread-safe LRU of files (byte strings, or objects holding them as ``data``)
    bounded by their total size."""

    def __init__(self, max_bytes: int) -> None:
        self._max = max_bytes
        self._size = 0
        self._items: OrderedDict[object, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: object, make: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()  # outside the lock: two threads may make the same file, both equal
        with self._lock:
            if key not in self._items:
                self._items[key] = value
                self._size += _size(value)
                while self._size > self._max and len(self._items) > 1:
                    self._size -= _size(self._items.popitem(last=False)[1])
        return value


def _size(value: Any) -> int:
    return len(value) if isinstance(value, bytes) else len(value.data)
