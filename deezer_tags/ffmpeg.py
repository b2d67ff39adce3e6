"""ffmpeg: where it comes from, and cutting a section of a remote media file with it.

ffmpeg is the one on PATH, else the binary the ``imageio-ffmpeg`` wheel ships, so
``pip install`` is the whole set-up. It always gets an argument list, never a shell.

A section is fetched, not the whole file: with ``-fflags +fastseek`` and ``-ss`` before
``-i``, ffmpeg reads the head of the file, then seeks with an HTTP Range request to the
start of the section and stops reading once it has the section's length.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from deezer_tags.errors import DISK_FULL_ERRNOS

# Stall limit for one network read or write (ffmpeg otherwise waits forever), microseconds.
_RW_TIMEOUT_US = 30_000_000
_RECV_BUFFER = 16 * 1024  # bytes
# ffmpeg's own end-of-run report: what its input read over the network, and decode errors.
_BYTES_READ = re.compile(r"Statistics: (\d+) bytes read")
_DECODE_ERRORS = re.compile(r"(\d+) decode errors")
# With "-loglevel level+verbose" each line carries its level, e.g. "[error] ...". The HTTP
# status (429, 403, ...) is only in a warning; the errors say "4XX Client Error".
_PROBLEM_LINE = re.compile(r"\[(?:error|fatal|panic)\]|\[warning\] HTTP error")
_LINE_PREFIX = re.compile(r"\[[^\]]* @ 0x[0-9a-f]+\] |\[(?:error|fatal|panic|warning)\] ")


class FfmpegFailed(Exception):
    """ffmpeg could not make the section; the message is its own error output, shortened."""


@dataclass(frozen=True)
class SectionStats:
    bytes_read: int      # bytes of the media ffmpeg read over the network
    decode_errors: int   # packets the decoder rejected: the media arrived damaged


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """The ffmpeg on PATH, else the one from the imageio-ffmpeg wheel."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg  # only when PATH has none

    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg_dir(exe: str, private_dir: Path) -> Path:
    """A folder holding ``exe`` under the name ``ffmpeg``, for yt-dlp's ``ffmpeg_location``
    (imageio-ffmpeg's binary has a versioned name yt-dlp does not look for)."""
    exe_path = Path(exe)
    if exe_path.name == "ffmpeg":
        return exe_path.parent
    private_dir.mkdir(parents=True, exist_ok=True)
    link = private_dir / "ffmpeg"
    if not link.exists():
        try:
            link.symlink_to(exe_path)
        except OSError:  # no symlinks here (some Windows set-ups): a copy does
            shutil.copy2(exe_path, link)
    return private_dir


def fetch_section(url: str, out: Path, *, start: float, seconds: float,
                  exe: str | None = None, timeout: float = 180.0) -> SectionStats:
    """Write ``seconds`` of ``url`` from ``start`` to ``out`` as MP3, 44.1 kHz stereo, 128 kbps,
    the Deezer previews' format. Raises FfmpegFailed, or OSError when the disk is full."""
    # A small socket buffer: ffmpeg's reader holds 16 KB, not hundreds, that it may never use
    # (what it does not take is not asked of the media host: see relay).
    network = ["-recv_buffer_size", str(_RECV_BUFFER)] if url.startswith(("http://", "https://")) else []
    args = [exe or ffmpeg_exe(), "-nostdin", "-hide_banner", "-nostats",
            # verbose, with levels: errors stay recognisable and the input's byte count is printed
            "-loglevel", "level+verbose",
            "-fflags", "+fastseek", "-rw_timeout", str(_RW_TIMEOUT_US),
            *network,
            "-ss", f"{start:.3f}", "-t", f"{seconds:.3f}", "-i", url,
            "-vn", "-map_metadata", "-1", "-ac", "2", "-ar", "44100", "-b:a", "128k",
            # LAME's -q 7: 0.17 instead of 0.39 CPU-s per clip (measured). At the real quota a
            # 2-core machine must encode 2.5 clips/s; the source is already lossy YouTube audio.
            "-compression_level", "7",
            "-f", "mp3", "-y", str(out)]
    try:
        done = subprocess.run(args, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise FfmpegFailed(f"ffmpeg took more than {timeout:.0f} s") from None
    log = done.stderr.decode("utf-8", "replace")
    problems = [line for line in log.splitlines() if _PROBLEM_LINE.search(line)]
    if done.returncode != 0:
        # Writing failed because of the disk: the build stops rather than fail each track.
        for code in DISK_FULL_ERRNOS:  # ffmpeg reports its write errors as text only
            if os.strerror(code) in log:
                raise OSError(code, os.strerror(code), str(out))
        raise FfmpegFailed(_shorten(" | ".join(problems) or f"ffmpeg exited with {done.returncode}"))
    if problems:
        # ffmpeg got over it (a reset connection is reopened) and wrote a clip, but where the
        # seek landed may have moved by a frame: measured, such clips differ from a clean
        # run's. Another attempt gives the clip a clean read gives.
        raise FfmpegFailed(_shorten("ffmpeg recovered from: " + " | ".join(problems)))
    return SectionStats(bytes_read=sum(map(int, _BYTES_READ.findall(log))),
                        decode_errors=sum(map(int, _DECODE_ERRORS.findall(log))))


def _shorten(text: str, limit: int = 300) -> str:
    text = _LINE_PREFIX.sub("", text)
    text = re.sub(r"https?://\S+", "<media URL>", text)  # signed URLs are long and say nothing
    return text if len(text) <= limit else text[: limit - 1] + "…"

