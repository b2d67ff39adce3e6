"""YouTube's containers as the local web builds them: each file decodes with ffmpeg to the
length it claims, its init and index ranges hold what DASH says they hold, section_bytes
adds up, and ffmpeg seeking over HTTP reads little more than the index and the section."""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import numpy as np
import pytest
import soundfile

from deezer_tags.ffmpeg import ffmpeg_exe, fetch_section
from deezer_tags.loopback import LoopbackServer
from deezer_tags.testing import containers
from deezer_tags.testing.containers import AudioStream, Muxed
from deezer_tags.testing.ranges import byte_range

POOL_SECONDS = 20.0  # PCM encoded once for the whole file
FILE_SECONDS = 60.0  # each file repeats pool packets to this length
LAYOUTS = ("fragmented_mp4", "faststart_mp4", "webm")
# What ffmpeg must report for each layout: codec, rate; and the codec's bitrate target.
EXPECTED = {"fragmented_mp4": ("aac (LC)", 44_100, 128_000),
            "faststart_mp4": ("aac (LC)", 44_100, 128_000),
            "webm": ("opus", 48_000, 130_000)}


def _pcm(seconds: float) -> np.ndarray:
    """Stereo chords changing every 5 s, plus hiss: something the encoders must work at."""
    rng = np.random.default_rng(3)
    n = round(seconds * containers.PCM_RATE)
    t = np.arange(n) / containers.PCM_RATE
    out = 0.01 * rng.standard_normal((n, 2))
    for start in range(0, n, 5 * containers.PCM_RATE):
        part = slice(start, start + 5 * containers.PCM_RATE)
        for freq in rng.uniform(110, 880, size=3):
            tone = 0.15 * np.sin(2 * np.pi * freq * t[part])
            out[part, 0] += tone
            out[part, 1] += np.roll(tone, 300)
    return out.astype(np.float32)


def _repeat(pool: AudioStream, seconds: float) -> AudioStream:
    count = round(seconds / pool.packet_seconds)
    return pool.with_packets(pool.packets[i % len(pool.packets)] for i in range(count))


@pytest.fixture(scope="module")
def files() -> dict[str, tuple[Muxed, AudioStream]]:
    pcm = _pcm(POOL_SECONDS)
    aac = _repeat(containers.encode_aac(pcm), FILE_SECONDS)
    opus = _repeat(containers.encode_opus(pcm), FILE_SECONDS)
    return {"fragmented_mp4": (containers.fragmented_mp4(aac), aac),
            "faststart_mp4": (containers.faststart_mp4(aac), aac),
            "webm": (containers.webm(opus), opus)}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_decodes_without_error_to_its_length(files, layout, tmp_path):
    muxed, stream = files[layout]
    path = tmp_path / "media"
    path.write_bytes(muxed.data)
    done = subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "level+info",
                           "-i", str(path), "-ac", "1", "-f", "s16le", "-"], capture_output=True, check=False)
    log = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 0, log
    assert not re.findall(r"\[(?:error|warning|fatal)\].*", log)
    codec, rate, _ = EXPECTED[layout]
    assert re.search(rf"Audio: {re.escape(codec)}.*\b{rate} Hz, stereo", log), log
    hours, minutes, seconds = re.search(r"Duration: (\d+):(\d+):([\d.]+)", log).groups()
    stated = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    assert abs(stated - muxed.duration) <= stream.packet_seconds
    assert abs(muxed.duration - FILE_SECONDS) <= stream.packet_seconds
    # every sample comes out, less the decoder delay the container states (Opus's pre-skip)
    decoded = len(done.stdout) // 2
    assert decoded == len(stream.packets) * stream.samples_per_packet - stream.delay_samples


@pytest.mark.parametrize("layout", LAYOUTS)
def test_ffmpeg_demuxes_our_packets_at_our_times(files, layout, tmp_path):
    """Every packet comes out whole, in order, at the time section_bytes assumes for it."""
    muxed, stream = files[layout]
    path = tmp_path / "media"
    path.write_bytes(muxed.data)
    done = subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), "-c", "copy",
                           "-f", "framecrc", "-"], capture_output=True, text=True, check=True)
    numerator, denominator = map(int, re.search(r"#tb 0: (\d+)/(\d+)", done.stdout).groups())
    rows = [line.split(",") for line in done.stdout.splitlines() if not line.startswith("#")]
    assert [int(row[4]) for row in rows] == [len(p) for p in stream.packets]
    times = np.array([int(row[1]) * numerator / denominator for row in rows])
    assert np.abs(times - np.array(muxed.packet_times)).max() <= 0.001  # ffmpeg rounds to its time base


def _box_at(data: bytes, pos: int) -> tuple[bytes, int]:
    return data[pos + 4:pos + 8], int.from_bytes(data[pos:pos + 4], "big")


def test_ranges_hold_the_init_and_the_index(files):
    fragmented = files["fragmented_mp4"][0]
    kind, ftyp_size = _box_at(fragmented.data, 0)
    assert kind == b"ftyp" and fragmented.data[8:12] == b"dash"
    kind, moov_size = _box_at(fragmented.data, ftyp_size)
    assert kind == b"moov" and fragmented.init_range == (0, ftyp_size + moov_size - 1)
    kind, size = _box_at(fragmented.data, fragmented.index_range[0])
    assert kind == b"sidx"
    assert fragmented.index_range == (fragmented.init_range[1] + 1, fragmented.index_range[0] + size - 1)
    assert _box_at(fragmented.data, fragmented.index_range[1] + 1)[0] == b"moof"
    # one sidx reference per fragment, and together they reach the end of the file
    # the esds's DecoderSpecificInfo is the AudioSpecificConfig of AAC-LC, 44.1 kHz, stereo
    assert bytes.fromhex("05021210") in fragmented.data[:ftyp_size + moov_size]
    sidx = fragmented.data[fragmented.index_range[0]:fragmented.index_range[1] + 1]
    count = int.from_bytes(sidx[30:32], "big")
    sizes = [int.from_bytes(sidx[32 + 12 * i:36 + 12 * i], "big") & 0x7FFFFFFF for i in range(count)]
    assert count == len(fragmented.groups) == -(-FILE_SECONDS // containers.FRAGMENT_SECONDS)
    assert sum(sizes) == len(fragmented.data) - fragmented.index_range[1] - 1

    faststart = files["faststart_mp4"][0]
    ftyp_size = _box_at(faststart.data, 0)[1]
    kind, moov_size = _box_at(faststart.data, ftyp_size)
    assert kind == b"moov" and faststart.init_range == faststart.index_range == (0, ftyp_size + moov_size - 1)
    assert _box_at(faststart.data, ftyp_size + moov_size)[0] == b"mdat"

    webm, opus = files["webm"]
    init = webm.data[:webm.init_range[1] + 1]
    assert b"\x86\x86A_OPUS" in init and b"\x63\xa2\x93" + opus.codec_private in init  # CodecID, CodecPrivate
    assert bytes.fromhex("56bb84") + containers.SEEK_PREROLL_NS.to_bytes(4, "big") in init  # SeekPreRoll
    assert webm.data[:4] == bytes.fromhex("1a45dfa3")  # EBML
    assert webm.data[webm.index_range[0]:webm.index_range[0] + 4] == bytes.fromhex("1c53bb6b")  # Cues
    assert webm.data[webm.index_range[1] + 1:webm.index_range[1] + 5] == bytes.fromhex("1f43b675")  # Cluster
    assert webm.index_range[0] == webm.init_range[1] + 1
    assert len(webm.groups) == -(-FILE_SECONDS // containers.CLUSTER_SECONDS)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_section_bytes_add_up(files, layout):
    muxed, _ = files[layout]
    # the whole stream is every byte after the index
    assert muxed.section_bytes(0, FILE_SECONDS + 1) == len(muxed.data) - muxed.index_range[1] - 1
    assert muxed.section_bytes(FILE_SECONDS + 1, 5) == 0
    lengths = [muxed.section_bytes(10, seconds) for seconds in (1, 5, 10, 20, 30)]
    assert lengths == sorted(set(lengths))  # strictly growing with the section
    nominal = EXPECTED[layout][2] / 8 * 30
    assert 0.8 * nominal < muxed.section_bytes(10, 30) < 1.3 * nominal
    # two halves make the whole, but for the packet at the seam and one fragment header
    halves = muxed.section_bytes(10, 15) + muxed.section_bytes(25, 15)
    seam = max(b - a for a, b in muxed.packet_spans) + max(b - a for a, b in (g.header for g in muxed.groups))
    assert 0 <= halves - muxed.section_bytes(10, 30) <= seam


class _RangeServer:
    """The files on 127.0.0.1, answering Range requests with 206 as YouTube's CDN does."""

    def __init__(self, files: dict[str, bytes]) -> None:
        served = files
        self.starts: dict[str, list[int]] = {name: [] for name in files}  # each request's first byte
        starts = self.starts

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                body = served[self.path.lstrip("/")]
                wanted = byte_range(self.headers.get("Range"), len(body))
                start, stop = wanted or (0, len(body))
                starts[self.path.lstrip("/")].append(start)
                self.send_response(206 if wanted else 200)
                if wanted:
                    self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{len(body)}")
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(stop - start))
                self.end_headers()
                try:
                    self.wfile.write(body[start:stop])
                except (BrokenPipeError, ConnectionResetError):  # ffmpeg hangs up once it has enough
                    self.close_connection = True

        self.server = LoopbackServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/{name}"


@pytest.fixture(scope="module")
def server(files) -> Iterator[_RangeServer]:
    running = _RangeServer({layout: muxed.data for layout, (muxed, _) in files.items()})
    yield running
    running.server.shutdown()
    running.server.server_close()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_ffmpeg_seeks_to_the_section_over_http(files, server, layout, tmp_path: Path):
    muxed, _ = files[layout]
    # 1 s into a fragment / Cluster: ffmpeg seeks to its start (the sidx reference or cue)
    # and may read on from there, so later starts cost up to 10 s more: see containers.py.
    start, seconds = 21.0, 30.0
    out = tmp_path / "section.mp3"
    server.starts[layout].clear()
    stats = fetch_section(server.url(layout), out, start=start, seconds=seconds)
    assert stats.decode_errors == 0
    # the engine's budget: the head and index, and at most a quarter more than the section
    # (a whole-file read would be twice the section here)
    section = muxed.section_bytes(start, seconds)
    budget = muxed.index_range[1] + 1 + 1.25 * section
    assert section <= stats.bytes_read <= budget, f"read {stats.bytes_read} bytes, budget {budget:.0f}"
    # nothing is fetched from past the section (an index at the end would be)
    last = muxed.packet_spans[muxed.packets_overlapping(start, seconds)[-1]][1]
    assert server.starts[layout] and max(server.starts[layout]) < last
    assert abs(soundfile.info(str(out)).duration - seconds) <= 0.1
