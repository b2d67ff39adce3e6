"""YouTube's audio containers for the local web, made without encoding per file.

The engine cuts a 30 s section out of a YouTube audio stream with ffmpeg over HTTP, and
how much it reads depends on the container's layout, so the local web serves what
YouTube serves:

* ``fragmented_mp4``: itag 140, AAC-LC 128 kbit/s 44.1 kHz stereo in a DASH MP4:
  ``ftyp`` (brand 'dash'), ``moov`` with empty sample tables and an ``mvex``, ONE ``sidx``
  indexing every fragment, then ``moof`` + ``mdat`` pairs. The player response's
  initRange is the ftyp + moov, its indexRange the sidx.
* ``webm``: itag 251, Opus ~130 kbit/s VBR 48 kHz stereo in a DASH WebM: EBML header,
  then a Segment whose Cues come right after the Tracks, before the first Cluster, so
  initRange (up to the end of Tracks) and indexRange (the Cues) are the file's head.
* ``faststart_mp4``: an ordinary M4A with the ``moov`` (full sample tables) before the
  ``mdat``, as ``ffmpeg -movflags +faststart`` writes: an AAC file that is not DASH.

Encoding costs about a second per 30 s, so a clip is encoded once (``encode_aac``,
``encode_opus``) into a pool of packets, and each file is muxed, in pure Python, from
packets picked out of the pools (``AudioStream.with_packets``): AAC-LC frames and Opus
packets each decode on their own, so pieces can be joined as bytes (a join is a click
for the ear, not an error for the decoder).

Each ``Muxed`` file knows every packet's presentation time and byte span, so a test can
say how many bytes a perfect reader of a section needs (``Muxed.section_bytes``) and
compare with what ffmpeg read.

What a seek costs follows from the layout, as with YouTube's own files: ffmpeg seeks to
the sidx reference or CuePoint at or before the start, i.e. the start of a 10 s fragment
or Cluster. In a WebM it then reads every block from there (Cues locate Clusters only);
in the fragmented MP4 it reads the moof and either jumps to the sample (a new Range
request) or, when the jump is within its buffer plus the TCP receive window, reads on.
So a section costs up to 10 s of extra reading, 5 s on average: 1.0 to 1.4 x its bytes.
"""

from __future__ import annotations

import bisect
import itertools
import struct
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np

from deezer_tags.ffmpeg import ffmpeg_exe

PCM_RATE = 44_100  # the PCM given to the encoders: float32, shape (n, 2), this rate
CHANNELS = 2
AAC_FRAME_SAMPLES = 1024  # AAC-LC: one raw data block per ADTS frame
AAC_BITRATE = "128k"  # itag 140's nominal rate
OPUS_RATE = 48_000  # Opus always decodes at 48 kHz; ffmpeg resamples the PCM to it
OPUS_FRAME_SAMPLES = 960  # 20 ms packets, what libopus and YouTube's itag 251 use
OPUS_BITRATE = "130k"  # VBR target; YouTube's itag 251 runs at about 130-160 kbit/s

# Seconds per sidx reference (one moof + mdat each here) in itag 140. Not documented;
# read off a real file's byte ranges: the DASH manifest of a 376.2 s itag 140 stream
# (fent/node-ytdl-core#546) lists segments of ~162 KB, 10 s at its 129 kbit/s, and its
# index (bytes 632-1119, 488 bytes) is a version-0 sidx with (488 - 32) / 12 = 38
# references: 376.2 s / 38. A fragment is whole frames: 431 of them, 10.008 s.
FRAGMENT_SECONDS = 10.0
# Seconds per Cluster (one CuePoint each) in itag 251, read off real files too: the
# indexRange sizes of itag 249-251 streams of 12.7, 203.9 and 286.8 s (34, 354 and 490
# bytes; uBlockOrigin/uAssets#20586, sealedtx/java-youtube-downloader#117,
# pste/youtube.get-video-info#1) are what CuePoints every 10 s take (34, 353, 490; every
# 5 s would take 685 for the second), and a DASH manifest's SegmentTimeline for itag 251
# has segments of d="10000" ms (Tyrrrz/YoutubeExplode#159).
CLUSTER_SECONDS = 10.0

SEEK_PREROLL_NS = 80_000_000  # Opus in Matroska: decode 80 ms before a seek target
TIMECODE_SCALE_NS = 1_000_000  # WebM ticks of 1 ms, the Matroska default and YouTube's
MOVIE_TIMESCALE = 1000  # mvhd / tkhd / mehd units (ms); media times use the sample rate
_FAST_START_CHUNK = 43  # AAC frames per chunk in the faststart M4A: about 1 s
_ENCODE_TIMEOUT = 120.0  # seconds for one ffmpeg encode
_MP4_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)  # identity
_LANGUAGE_UND = 0x55C4  # ISO 639-2 'und', packed as three 5-bit letters
_SAP_TYPE_1 = 0x90000000  # sidx: starts_with_SAP = 1, SAP_type = 1, SAP_delta_time = 0
_TFHD_FLAGS = 0x020008  # default-base-is-moof | default-sample-duration-present
_TRUN_FLAGS = 0x000201  # data-offset-present | sample-size-present
# Matroska element IDs (their marker bits included), from the Matroska/WebM specs.
_EBML, _SEGMENT, _SEEK_HEAD, _SEEK, _SEEK_ID, _SEEK_POSITION = (
    0x1A45DFA3, 0x18538067, 0x114D9B74, 0x4DBB, 0x53AB, 0x53AC)
_INFO, _TIMECODE_SCALE, _DURATION, _MUXING_APP, _WRITING_APP = (
    0x1549A966, 0x2AD7B1, 0x4489, 0x4D80, 0x5741)
_TRACKS, _TRACK_ENTRY, _TRACK_NUMBER, _TRACK_UID, _TRACK_TYPE, _FLAG_LACING = (
    0x1654AE6B, 0xAE, 0xD7, 0x73C5, 0x83, 0x9C)
_CODEC_ID, _CODEC_PRIVATE, _CODEC_DELAY, _SEEK_PRE_ROLL = 0x86, 0x63A2, 0x56AA, 0x56BB
_AUDIO, _SAMPLING_FREQUENCY, _CHANNELS = 0xE1, 0xB5, 0x9F
_CUES, _CUE_POINT, _CUE_TIME, _CUE_TRACK_POSITIONS, _CUE_TRACK, _CUE_CLUSTER_POSITION = (
    0x1C53BB6B, 0xBB, 0xB3, 0xB7, 0xF7, 0xF1)
_CLUSTER, _CLUSTER_TIMECODE, _SIMPLE_BLOCK = 0x1F43B675, 0xE7, 0xA3
_TRACK_AUDIO = 2  # Matroska TrackType
_KEYFRAME = 0x80  # SimpleBlock flag: every Opus packet can start decoding
_POSITION_BYTES = 4  # SeekPosition / CueClusterPosition written this wide, so sizes are known
_MAX_BLOCK_OFFSET_MS = 32_767  # a SimpleBlock's timecode is an int16 from its Cluster's
_APP = "deezer_tags.testing"


@dataclass(frozen=True)
class AudioStream:
    """Encoded packets of one codec configuration, in decoding order.

    A pool comes from ``encode_aac`` / ``encode_opus``; a file's stream is made with
    ``pool.with_packets(...)`` from packets of pools that are ``compatible``.
    """

    codec: str  # "aac" or "opus"
    sample_rate: int
    channels: int
    samples_per_packet: int
    codec_private: bytes  # AAC: AudioSpecificConfig; Opus: the OpusHead packet
    delay_samples: int  # decoded samples to drop at the start: Opus's pre-skip, AAC 0
    packets: tuple[bytes, ...] = field(repr=False)

    @property
    def packet_seconds(self) -> float:
        return self.samples_per_packet / self.sample_rate

    @property
    def duration(self) -> float:
        """Seconds of sound once the decoder delay is dropped."""
        return (len(self.packets) * self.samples_per_packet - self.delay_samples) / self.sample_rate

    def with_packets(self, packets: Iterable[bytes]) -> AudioStream:
        """The same configuration with other packets, e.g. pieces of several pools."""
        return replace(self, packets=tuple(packets))

    def compatible(self, other: AudioStream) -> bool:
        """Whether packets of ``other`` may be put in a stream of this configuration."""
        return replace(self, packets=()) == replace(other, packets=())


@dataclass(frozen=True)
class Group:
    """One fragment (moof + mdat) or Cluster: the bytes that head its packets."""

    first_packet: int
    header: tuple[int, int]  # [start, stop) of the moof + mdat header, or Cluster head


@dataclass(frozen=True)
class Muxed:
    """A muxed file and where everything in it is.

    ``init_range`` / ``index_range`` are inclusive byte ranges, as YouTube's player
    response states initRange / indexRange. For the faststart M4A both are the whole
    ftyp + moov: its sample tables are its index.
    """

    data: bytes = field(repr=False)
    mime_type: str
    codecs: str
    init_range: tuple[int, int]
    index_range: tuple[int, int]
    duration: float  # seconds
    packet_seconds: float
    packet_times: tuple[float, ...] = field(repr=False)  # presentation start of each packet, s
    packet_spans: tuple[tuple[int, int], ...] = field(repr=False)  # [start, stop) in data
    groups: tuple[Group, ...] = field(repr=False)

    def packets_overlapping(self, start: float, seconds: float) -> range:
        """Indexes of the packets whose sound overlaps [start, start + seconds)."""
        first = bisect.bisect_right(self.packet_times, start - self.packet_seconds)
        stop = bisect.bisect_left(self.packet_times, start + seconds)
        return range(first, max(first, stop))

    def section_bytes(self, start: float, seconds: float) -> int:
        """Bytes a perfect reader of [start, start + seconds) needs past the index: the
        packets overlapping it and the headers of the fragments / Clusters they are in."""
        packets = self.packets_overlapping(start, seconds)
        if not packets:
            return 0
        firsts = [group.first_packet for group in self.groups]
        group = self.groups[bisect.bisect_right(firsts, packets[0]) - 1]
        # Packets are contiguous in the file; the headers of the groups after the first
        # lie between them, so one span covers them all.
        span = self.packet_spans[packets[-1]][1] - self.packet_spans[packets[0]][0]
        return span + group.header[1] - group.header[0]


# --- encoding ---------------------------------------------------------------------------


def encode_aac(pcm: np.ndarray) -> AudioStream:
    """AAC-LC 128 kbit/s (ffmpeg's native encoder) of 44.1 kHz stereo float PCM.

    The encoder's 1024 priming samples stay in the stream as sound (``delay_samples`` 0):
    a file made of pieces does not start with the pool's first frame anyway."""
    adts = _ffmpeg_encode(pcm, ["-c:a", "aac", "-b:a", AAC_BITRATE, "-f", "adts"])
    frames, config = _split_adts(adts)
    return AudioStream(codec="aac", sample_rate=PCM_RATE, channels=CHANNELS,
                       samples_per_packet=AAC_FRAME_SAMPLES, codec_private=config,
                       delay_samples=0, packets=frames)


def encode_opus(pcm: np.ndarray) -> AudioStream:
    """Opus (libopus, VBR, 20 ms packets, 48 kHz) of 44.1 kHz stereo float PCM; the
    OpusHead is kept as codec private data, with its pre-skip as the delay."""
    ogg = _ffmpeg_encode(pcm, ["-ar", str(OPUS_RATE), "-c:a", "libopus", "-b:a", OPUS_BITRATE,
                               "-vbr", "on", "-frame_duration", "20", "-f", "ogg"])
    packets = _ogg_packets(ogg)
    if len(packets) < 3 or packets[0][:8] != b"OpusHead" or packets[1][:8] != b"OpusTags":
        raise ValueError("expected an Ogg Opus stream: OpusHead, OpusTags, then audio")
    head, audio = packets[0], tuple(packets[2:])
    channels, pre_skip = head[9], struct.unpack_from("<H", head, 10)[0]
    if channels != CHANNELS or any(_opus_samples(p) != OPUS_FRAME_SAMPLES for p in audio):
        raise ValueError("expected stereo Opus in 20 ms packets")
    return AudioStream(codec="opus", sample_rate=OPUS_RATE, channels=channels,
                       samples_per_packet=OPUS_FRAME_SAMPLES, codec_private=head,
                       delay_samples=pre_skip, packets=audio)


def _ffmpeg_encode(pcm: np.ndarray, codec_args: list[str]) -> bytes:
    samples = np.ascontiguousarray(pcm, dtype="<f4")
    if samples.ndim != 2 or samples.shape[1] != CHANNELS:
        raise ValueError(f"expected PCM of shape (n, {CHANNELS}), got {samples.shape}")
    args = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error",
            "-f", "f32le", "-ar", str(PCM_RATE), "-ac", str(CHANNELS), "-i", "pipe:0",
            "-map_metadata", "-1", "-flags", "+bitexact", *codec_args, "pipe:1"]
    done = subprocess.run(args, input=samples.tobytes(), capture_output=True,
                          timeout=_ENCODE_TIMEOUT, check=False)
    if done.returncode != 0 or not done.stdout:
        error = done.stderr.decode("utf-8", "replace")[-300:]
        raise RuntimeError(f"ffmpeg could not encode: {error}")
    return done.stdout


def _split_adts(data: bytes) -> tuple[tuple[bytes, ...], bytes]:
    """The raw AAC frames of an ADTS stream, and the AudioSpecificConfig they share."""
    frames = []
    config = None
    pos = 0
    while pos < len(data):
        header = data[pos:pos + 7]
        # syncword 0xFFF and layer 0; the ID bit (MPEG-2 / MPEG-4) may be either
        if len(header) < 7 or header[0] != 0xFF or header[1] & 0xF6 != 0xF0:
            raise ValueError(f"expected an ADTS header at byte {pos}")
        fields = (header[2] >> 6, (header[2] >> 2) & 0xF, (header[2] & 1) << 2 | header[3] >> 6)
        length = (header[3] & 3) << 11 | header[4] << 3 | header[5] >> 5
        if header[6] & 3:
            raise ValueError("expected one raw data block per ADTS frame")
        if config not in (None, fields) or length < 7:
            raise ValueError(f"the ADTS stream changes configuration at byte {pos}")
        config = fields
        header_bytes = 7 if header[1] & 1 else 9  # protection_absent, else a CRC follows
        frames.append(data[pos + header_bytes:pos + length])
        pos += length
    profile, frequency_index, channel_config = config or (0, 0, 0)
    # ADTS profile is the audio object type minus one; index 4 is 44,100 Hz
    if (profile + 1, frequency_index, channel_config) != (2, 4, CHANNELS):
        raise ValueError("expected AAC-LC, 44.1 kHz, stereo")
    # AudioSpecificConfig: object type (5 bits), frequency index (4), channels (4), 3 zero bits
    specific = ((profile + 1) << 11 | frequency_index << 7 | channel_config << 3).to_bytes(2, "big")
    return tuple(frames), specific


def _ogg_packets(data: bytes) -> list[bytes]:
    """The packets of a single-stream Ogg file, joined across pages (RFC 3533 lacing)."""
    packets: list[bytes] = []
    partial: list[bytes] = []
    pos = 0
    while pos < len(data):
        if data[pos:pos + 4] != b"OggS":
            raise ValueError(f"expected an Ogg page at byte {pos}")
        segments = data[pos + 26]
        body = pos + 27 + segments
        for lacing in data[pos + 27:body]:
            partial.append(data[body:body + lacing])
            body += lacing
            if lacing < 255:  # a lacing value under 255 ends the packet
                packets.append(b"".join(partial))
                partial = []
        pos = body
    return packets


def _opus_samples(packet: bytes) -> int:
    """Samples at 48 kHz in an Opus packet, from its TOC byte (RFC 6716 section 3.1)."""
    config, code = packet[0] >> 3, packet[0] & 3
    if config < 12:  # SILK: 10, 20, 40, 60 ms
        frame = (480, 960, 1920, 2880)[config % 4]
    elif config < 16:  # Hybrid: 10, 20 ms
        frame = (480, 960)[config % 2]
    else:  # CELT: 2.5, 5, 10, 20 ms
        frame = (120, 240, 480, 960)[config % 4]
    frames = 1 if code == 0 else 2 if code < 3 else packet[1] & 0x3F
    return frame * frames


# --- MP4 ----------------------------------------------------------------------------------


def fragmented_mp4(stream: AudioStream, fragment_seconds: float = FRAGMENT_SECONDS) -> Muxed:
    """YouTube's itag 140 layout: ftyp, moov (no samples), one sidx, moof + mdat pairs."""
    _require(stream, "aac")
    per_fragment = max(1, round(fragment_seconds / stream.packet_seconds))
    head = _ftyp(b"dash", 0, (b"iso6", b"mp41")) + _moov(stream, _empty_tables(), fragmented=True)
    fragments = []  # (moof, mdat header, packets)
    for number, first in enumerate(range(0, len(stream.packets), per_fragment), start=1):
        packets = stream.packets[first:first + per_fragment]
        sizes = [len(p) for p in packets]
        decode_time = first * stream.samples_per_packet
        # the data offset is fixed-width: the moof's size does not depend on its value
        moof_bytes = len(_moof(number, decode_time, stream.samples_per_packet, sizes, 0))
        moof = _moof(number, decode_time, stream.samples_per_packet, sizes, moof_bytes + 8)
        fragments.append((moof, _mdat_header(sum(sizes)), packets))
    sidx = _sidx(stream, [(len(moof) + len(mdat) + sum(map(len, packets)), len(packets))
                          for moof, mdat, packets in fragments])
    parts = [head, sidx]
    groups = []
    spans = []
    pos = len(head) + len(sidx)
    for moof, mdat, packets in fragments:
        groups.append(Group(len(spans), (pos, pos + len(moof) + len(mdat))))
        pos += len(moof) + len(mdat)
        parts += [moof, mdat, *packets]
        pos = _add_spans(spans, pos, packets)
    return _muxed(b"".join(parts), stream, "audio/mp4", "mp4a.40.2", (0, len(head) - 1),
                  (len(head), len(head) + len(sidx) - 1), spans, groups)


def faststart_mp4(stream: AudioStream) -> Muxed:
    """An ordinary M4A, moov before mdat with full sample tables (``+faststart``)."""
    _require(stream, "aac")
    sizes = [len(p) for p in stream.packets]
    chunk_firsts = range(0, len(sizes), _FAST_START_CHUNK)
    ftyp = _ftyp(b"M4A ", 512, (b"M4A ", b"isom", b"iso2"))
    # stco entries are fixed-width: the moov's size does not depend on the offsets in it
    placeholder = _sample_tables(stream, sizes, [0] * len(chunk_firsts))
    moov_bytes = len(_moov(stream, placeholder, fragmented=False))
    data_start = len(ftyp) + moov_bytes + 8
    ends = list(itertools.accumulate(sizes, initial=data_start))
    offsets = [ends[first] for first in chunk_firsts]
    head = ftyp + _moov(stream, _sample_tables(stream, sizes, offsets), fragmented=False)
    spans: list[tuple[int, int]] = []
    _add_spans(spans, data_start, stream.packets)
    mdat = _mdat_header(sum(sizes))
    groups = [Group(0, (len(head), len(head) + len(mdat)))]
    data = b"".join([head, mdat, *stream.packets])
    return _muxed(data, stream, "audio/mp4", "mp4a.40.2", (0, len(head) - 1), (0, len(head) - 1),
                  spans, groups)


def _box(kind: bytes, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def _full_box(kind: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return _box(kind, struct.pack(">I", version << 24 | flags), *parts)


def _mdat_header(payload: int) -> bytes:
    return struct.pack(">I4s", 8 + payload, b"mdat")


def _ftyp(major: bytes, minor: int, compatible: tuple[bytes, ...]) -> bytes:
    return _box(b"ftyp", major, struct.pack(">I", minor), *compatible)


def _moov(stream: AudioStream, tables: bytes, *, fragmented: bool) -> bytes:
    samples = len(stream.packets) * stream.samples_per_packet
    movie_duration = round(samples * MOVIE_TIMESCALE / stream.sample_rate)
    mvhd = _full_box(b"mvhd", 0, 0, struct.pack(">IIII", 0, 0, MOVIE_TIMESCALE, movie_duration),
                     struct.pack(">IH10x", 0x10000, 0x100), _MP4_MATRIX, bytes(24),
                     struct.pack(">I", 2))  # rate 1.0, volume 1.0, next track id
    tkhd = _full_box(b"tkhd", 0, 3,  # flags: enabled, in movie
                     struct.pack(">IIIII", 0, 0, 1, 0, movie_duration),
                     struct.pack(">8xHHHH", 0, 0, 0x100, 0), _MP4_MATRIX, struct.pack(">II", 0, 0))
    mdhd = _full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, stream.sample_rate, samples,
                                                _LANGUAGE_UND, 0))
    hdlr = _full_box(b"hdlr", 0, 0, struct.pack(">I4s12x", 0, b"soun"), b"SoundHandler\x00")
    smhd = _full_box(b"smhd", 0, 0, struct.pack(">HH", 0, 0))
    dinf = _box(b"dinf", _full_box(b"dref", 0, 0, struct.pack(">I", 1), _full_box(b"url ", 0, 1)))
    stbl = _box(b"stbl", _full_box(b"stsd", 0, 0, struct.pack(">I", 1), _mp4a(stream)), tables)
    trak = _box(b"trak", tkhd, _box(b"mdia", mdhd, hdlr, _box(b"minf", smhd, dinf, stbl)))
    if not fragmented:
        return _box(b"moov", mvhd, trak)
    mvex = _box(b"mvex", _full_box(b"mehd", 0, 0, struct.pack(">I", movie_duration)),
                _full_box(b"trex", 0, 0, struct.pack(">IIIII", 1, 1, stream.samples_per_packet, 0, 0)))
    return _box(b"moov", mvhd, trak, mvex)


def _mp4a(stream: AudioStream) -> bytes:
    """The sample entry: 16-bit stereo at the sample rate, and an esds with the config."""
    sizes = np.array([len(p) for p in stream.packets] or [0], dtype=np.int64)
    per_second = max(1, round(1 / stream.packet_seconds))
    window = np.convolve(sizes, np.ones(min(per_second, len(sizes)), dtype=np.int64), "valid")
    # the most bits in any second, and the mean, as the DecoderConfigDescriptor states them
    max_bitrate = int(window.max()) * 8 * stream.sample_rate // (per_second * stream.samples_per_packet)
    average = int(sizes.sum()) * 8 / max(stream.duration, 1e-9)

    def descriptor(tag: int, body: bytes) -> bytes:
        if len(body) >= 128:
            raise ValueError("descriptor too long for a one-byte size")
        return bytes((tag, len(body))) + body

    decoder_config = descriptor(4, struct.pack(">BB", 0x40, 0x15)  # MPEG-4 audio, audio stream
                                + int(sizes.max()).to_bytes(3, "big")  # buffer size
                                + struct.pack(">II", max_bitrate, round(average))
                                + descriptor(5, stream.codec_private))
    es = descriptor(3, struct.pack(">HB", 1, 0) + decoder_config + descriptor(6, b"\x02"))
    esds = _full_box(b"esds", 0, 0, es)
    return _box(b"mp4a", bytes(6), struct.pack(">H", 1), bytes(8),
                struct.pack(">HHHHI", stream.channels, 16, 0, 0, stream.sample_rate << 16), esds)


def _empty_tables() -> bytes:
    return b"".join([_full_box(b"stts", 0, 0, struct.pack(">I", 0)),
                     _full_box(b"stsc", 0, 0, struct.pack(">I", 0)),
                     _full_box(b"stsz", 0, 0, struct.pack(">II", 0, 0)),
                     _full_box(b"stco", 0, 0, struct.pack(">I", 0))])


def _sample_tables(stream: AudioStream, sizes: list[int], chunk_offsets: list[int]) -> bytes:
    stts = _full_box(b"stts", 0, 0, struct.pack(">III", 1, len(sizes), stream.samples_per_packet))
    full, last = divmod(len(sizes), _FAST_START_CHUNK)
    runs = [(1, _FAST_START_CHUNK)] if full else []  # (first chunk, samples per chunk)
    if last:
        runs.append((full + 1, last))
    stsc = _full_box(b"stsc", 0, 0, struct.pack(">I", len(runs)),
                     *(struct.pack(">III", chunk, count, 1) for chunk, count in runs))
    stsz = _full_box(b"stsz", 0, 0, struct.pack(f">II{len(sizes)}I", 0, len(sizes), *sizes))
    stco = _full_box(b"stco", 0, 0,
                     struct.pack(f">I{len(chunk_offsets)}I", len(chunk_offsets), *chunk_offsets))
    return stts + stsc + stsz + stco


def _moof(number: int, decode_time: int, duration: int, sizes: list[int], data_offset: int) -> bytes:
    """Fragment ``number``: track 1, samples of ``duration`` each, data ``data_offset``
    bytes after the start of the moof (default-base-is-moof)."""
    tfhd = _full_box(b"tfhd", 0, _TFHD_FLAGS, struct.pack(">II", 1, duration))
    tfdt = _full_box(b"tfdt", 1, 0, struct.pack(">Q", decode_time))
    trun = _full_box(b"trun", 0, _TRUN_FLAGS,
                     struct.pack(f">Ii{len(sizes)}I", len(sizes), data_offset, *sizes))
    mfhd = _full_box(b"mfhd", 0, 0, struct.pack(">I", number))
    return _box(b"moof", mfhd, _box(b"traf", tfhd, tfdt, trun))


def _sidx(stream: AudioStream, fragments: list[tuple[int, int]]) -> bytes:
    """One reference per (bytes, packets) fragment; first_offset 0: the first moof follows."""
    references = b"".join(struct.pack(">III", size, count * stream.samples_per_packet, _SAP_TYPE_1)
                          for size, count in fragments)
    # reference_ID 1, timescale, earliest presentation time 0, first_offset 0, reserved, count
    head = struct.pack(">IIIIHH", 1, stream.sample_rate, 0, 0, 0, len(fragments))
    return _full_box(b"sidx", 0, 0, head, references)


# --- WebM ---------------------------------------------------------------------------------


def webm(stream: AudioStream, cluster_seconds: float = CLUSTER_SECONDS) -> Muxed:
    """YouTube's itag 251 layout: EBML header, Segment (SeekHead, Info, Tracks, Cues,
    Clusters of SimpleBlocks), the Cues before the first Cluster."""
    _require(stream, "opus")
    block_ms = stream.samples_per_packet * 1000 // stream.sample_rate
    if block_ms * stream.sample_rate != stream.samples_per_packet * 1000:
        raise ValueError("packets must last a whole number of milliseconds")
    per_cluster = max(1, round(cluster_seconds * 1000 / block_ms))
    if (per_cluster - 1) * block_ms > _MAX_BLOCK_OFFSET_MS:
        raise ValueError("clusters longer than 32 s do not fit SimpleBlock timecodes")
    header, info, tracks = _webm_heads(stream)

    clusters = [_cluster(stream.packets[first:first + per_cluster], first * block_ms, block_ms)
                for first in range(0, len(stream.packets), per_cluster)]

    # Positions are relative to the Segment's data and written fixed-width, so the sizes
    # of the SeekHead and Cues can be known before the positions are.
    def seek_head(positions: list[int]) -> bytes:
        return _element(_SEEK_HEAD, b"".join(
            _element(_SEEK, _element(_SEEK_ID, _id_bytes(eid))
                     + _uint(_SEEK_POSITION, pos, _POSITION_BYTES))
            for eid, pos in zip((_INFO, _TRACKS, _CUES), positions, strict=True)))

    def cues(positions: list[int]) -> bytes:
        return _element(_CUES, b"".join(
            _element(_CUE_POINT, _uint(_CUE_TIME, n * per_cluster * block_ms)
                     + _element(_CUE_TRACK_POSITIONS, _uint(_CUE_TRACK, 1)
                                + _uint(_CUE_CLUSTER_POSITION, pos, _POSITION_BYTES)))
            for n, pos in enumerate(positions)))

    seek_bytes = len(seek_head([0, 0, 0]))
    cues_start = seek_bytes + len(info) + len(tracks)
    first_cluster = cues_start + len(cues([0] * len(clusters)))
    cluster_positions = list(itertools.accumulate((len(c.data) for c in clusters[:-1]),
                                                  initial=first_cluster))
    if cluster_positions and cluster_positions[-1] >= 1 << (8 * _POSITION_BYTES):
        raise ValueError("file too long for 4-byte cue positions")
    segment_body = [seek_head([seek_bytes, seek_bytes + len(info), cues_start]), info, tracks,
                    cues(cluster_positions), *(c.data for c in clusters)]
    segment_head = _element_head(_SEGMENT, sum(map(len, segment_body)))
    base = len(header) + len(segment_head)  # where the Segment's data starts

    groups = []
    spans = []
    for position, cluster in zip(cluster_positions, clusters, strict=True):
        start = base + position
        groups.append(Group(len(spans), (start, start + cluster.head_bytes)))
        _add_spans(spans, start + cluster.head_bytes, cluster.blocks)
    init_end = base + cues_start - 1
    index_end = base + first_cluster - 1
    data = b"".join([header, segment_head, *segment_body])
    return _muxed(data, stream, "audio/webm", "opus", (0, init_end), (init_end + 1, index_end),
                  spans, groups)


def _webm_heads(stream: AudioStream) -> tuple[bytes, bytes, bytes]:
    """The EBML header, and the Segment's Info and Tracks elements, for an Opus stream."""
    header = _element(_EBML, b"".join([
        _uint(0x4286, 1), _uint(0x42F7, 1),  # EBMLVersion, EBMLReadVersion
        _uint(0x42F2, 4), _uint(0x42F3, 8),  # EBMLMaxIDLength, EBMLMaxSizeLength
        _element(0x4282, b"webm"), _uint(0x4287, 4), _uint(0x4285, 2)]))  # DocType, its versions
    info = _element(_INFO, _uint(_TIMECODE_SCALE, TIMECODE_SCALE_NS)
                    + _element(_DURATION, struct.pack(">d", stream.duration * 1000))
                    + _element(_MUXING_APP, _APP.encode()) + _element(_WRITING_APP, _APP.encode()))
    codec_delay = round(stream.delay_samples * 1_000_000_000 / stream.sample_rate)
    tracks = _element(_TRACKS, _element(_TRACK_ENTRY, b"".join([
        _uint(_TRACK_NUMBER, 1), _uint(_TRACK_UID, 1), _uint(_TRACK_TYPE, _TRACK_AUDIO),
        _uint(_FLAG_LACING, 0), _element(_CODEC_ID, b"A_OPUS"),
        _element(_CODEC_PRIVATE, stream.codec_private),
        _uint(_CODEC_DELAY, codec_delay), _uint(_SEEK_PRE_ROLL, SEEK_PREROLL_NS),
        _element(_AUDIO, _element(_SAMPLING_FREQUENCY, struct.pack(">d", float(stream.sample_rate)))
                 + _uint(_CHANNELS, stream.channels))])))
    return header, info, tracks


@dataclass(frozen=True)
class _Cluster:
    data: bytes
    head_bytes: int  # Cluster ID, size and Timecode: what precedes the first SimpleBlock
    blocks: tuple[bytes, ...]  # each SimpleBlock element, as it lies in ``data``


def _cluster(packets: tuple[bytes, ...], timecode_ms: int, block_ms: int) -> _Cluster:
    """A Cluster at ``timecode_ms`` of SimpleBlocks on track 1, one packet each."""
    block_id, track = _id_bytes(_SIMPLE_BLOCK), _vint(1)
    blocks = []
    for i, packet in enumerate(packets):
        block_head = track + struct.pack(">hB", i * block_ms, _KEYFRAME)  # timecode from the Cluster's
        blocks.append(block_id + _vint(len(block_head) + len(packet)) + block_head + packet)
    timecode = _uint(_CLUSTER_TIMECODE, timecode_ms)
    body = b"".join([timecode, *blocks])
    head = _element_head(_CLUSTER, len(body))
    return _Cluster(head + body, len(head) + len(timecode), tuple(blocks))


def _vint(value: int, width: int | None = None) -> bytes:
    """An EBML variable-size integer; the all-ones value of each width is reserved."""
    if width is None:
        width = 1
        while value >= (1 << 7 * width) - 1:
            width += 1
    return (1 << 7 * width | value).to_bytes(width, "big")


def _id_bytes(eid: int) -> bytes:
    return eid.to_bytes((eid.bit_length() + 7) // 8, "big")


def _element_head(eid: int, size: int) -> bytes:
    return _id_bytes(eid) + _vint(size)


def _element(eid: int, body: bytes) -> bytes:
    return _element_head(eid, len(body)) + body


def _uint(eid: int, value: int, width: int | None = None) -> bytes:
    return _element(eid, value.to_bytes(width or max(1, (value.bit_length() + 7) // 8), "big"))


# --- shared -------------------------------------------------------------------------------


def _require(stream: AudioStream, codec: str) -> None:
    if stream.codec != codec:
        raise ValueError(f"this container takes {codec}, not {stream.codec}")
    if not stream.packets:
        raise ValueError("no packets to mux")


def _add_spans(spans: list[tuple[int, int]], pos: int, packets: Iterable[bytes]) -> int:
    """Append each packet's [start, stop) from ``pos``; return where the last one ends."""
    ends = list(itertools.accumulate(map(len, packets), initial=pos))
    spans.extend(zip(ends[:-1], ends[1:]))
    return ends[-1]


def _muxed(data: bytes, stream: AudioStream, mime_type: str, codecs: str,
           init_range: tuple[int, int], index_range: tuple[int, int],
           spans: list[tuple[int, int]], groups: list[Group]) -> Muxed:
    step, delay = stream.samples_per_packet, stream.delay_samples
    times = tuple((i * step - delay) / stream.sample_rate for i in range(len(stream.packets)))
    return Muxed(data=data, mime_type=mime_type, codecs=codecs, init_range=init_range,
                 index_range=index_range, duration=stream.duration,
                 packet_seconds=stream.packet_seconds, packet_times=times,
                 packet_spans=tuple(spans), groups=tuple(groups))
