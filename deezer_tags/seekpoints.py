"""Where a media file's own index lets a reader start: the times its `sidx` (DASH MP4) or
its Cues (WebM) list, read from the file's first bytes.

Why: YouTube's audio formats index their audio every ~10 s, and ffmpeg's seek lands on the
index point at or before the time asked for, then reads from there: a section asked from
an arbitrary time costs up to 10 s of bytes that are decoded and thrown away (5 s, 17 % of
a 30 s section, on average). A section that starts just after an index point costs none.
YouTube's DASH files put the index right after the init segment (indexRange), within the
first few KB; a file whose first bytes hold no such index gives no points, and the caller
keeps its time.
"""

from __future__ import annotations

import struct

HEAD_BYTES = 8 * 1024  # YouTube's init + index: under 2 KB for a 4-minute song, 4 KB for 14 min

_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_SEGMENT, _INFO, _TIMECODE_SCALE, _CUES = 0x18538067, 0x1549A966, 0x2AD7B1, 0x1C53BB6B
_CUE_POINT, _CUE_TIME = 0xBB, 0xB3
_UNKNOWN_SIZE = -1


def seek_points(head: bytes) -> list[float]:
    """The index's start times in seconds, ascending; [] when ``head`` holds no whole index."""
    try:
        if head[4:8] == b"ftyp":
            return _sidx_points(head)
        if head.startswith(_EBML_MAGIC):
            return _cue_points(head)
    except (IndexError, struct.error, ValueError):
        pass  # cut short or not what it claims: no points, the caller keeps its time
    return []


def _sidx_points(head: bytes) -> list[float]:
    """The start of each subsegment the first top-level `sidx` box references."""
    pos = 0
    while pos + 8 <= len(head):
        size, kind = struct.unpack_from(">I4s", head, pos)
        if size < 8:
            return []  # 64-bit or to-the-end sizes: no DASH index box is written so
        if kind == b"sidx":
            if pos + size > len(head):
                return []
            return _parse_sidx(head[pos + 8:pos + size])
        if kind in (b"moof", b"mdat"):
            return []  # the media began: this file has no index up front
        pos += size
    return []


def _parse_sidx(body: bytes) -> list[float]:
    version = body[0]
    timescale = struct.unpack_from(">I", body, 8)[0]
    if not timescale:
        return []  # no unit for its times: a broken box
    if version == 0:
        earliest = struct.unpack_from(">I", body, 12)[0]
        at = 20
    else:
        earliest = struct.unpack_from(">Q", body, 12)[0]
        at = 28
    count = struct.unpack_from(">H", body, at + 2)[0]
    at += 4
    points, time = [], earliest
    for _ in range(count):
        duration = struct.unpack_from(">I", body, at + 4)[0]
        points.append(time / timescale)
        time += duration
        at += 12
    return points


def _cue_points(head: bytes) -> list[float]:
    """The CueTimes of the Cues element, in seconds (TimecodeScale from Info)."""
    _, size, body = _element(head, 0)  # the EBML header
    eid, size, body = _element(head, body + size)
    if eid != _SEGMENT:
        return []
    end = len(head) if size == _UNKNOWN_SIZE else min(len(head), body + size)
    scale, pos = 1_000_000, body  # nanoseconds per tick, Matroska's default
    while pos < end:
        eid, size, child = _element(head, pos)
        if size == _UNKNOWN_SIZE or child + size > len(head):
            return []  # a Cluster, or an element past what was read
        if eid == _INFO:
            scale = _child_uint(head, child, child + size, _TIMECODE_SCALE) or scale
        elif eid == _CUES:
            times = []
            at = child
            while at < child + size:
                cid, csize, cbody = _element(head, at)
                if cid == _CUE_POINT:
                    tick = _child_uint(head, cbody, cbody + csize, _CUE_TIME)
                    if tick is not None:
                        times.append(tick * scale / 1e9)
                at = cbody + csize
            return sorted(times)
        pos = child + size
    return []


def _child_uint(data: bytes, start: int, end: int, wanted: int) -> int | None:
    pos = start
    while pos < end:
        eid, size, body = _element(data, pos)
        if eid == wanted:
            return int.from_bytes(data[body:body + size], "big")
        pos = body + size
    return None


def _element(data: bytes, pos: int) -> tuple[int, int, int]:
    """(id, size, start of body) of the EBML element at ``pos``; size -1 when unknown."""
    eid, pos = _vint(data, pos, keep_marker=True)
    size, pos = _vint(data, pos, keep_marker=False)
    return eid, size, pos


def _vint(data: bytes, pos: int, *, keep_marker: bool) -> tuple[int, int]:
    first = data[pos]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 8:
        raise ValueError("not an EBML variable-length integer")
    value = int.from_bytes(data[pos:pos + length], "big")
    if not keep_marker:
        value &= (1 << (7 * length)) - 1
        if value == (1 << (7 * length)) - 1:
            value = _UNKNOWN_SIZE
    return value, pos + length
