"""HTTP Range requests (RFC 9110, single byte ranges), which http.server does not do."""

from __future__ import annotations

import re

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class Unsatisfiable(Exception):
    """The range lies past the end: answer 416."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, stop) of the bytes asked for, or None to send the whole body.

    Forms: ``bytes=a-b``, ``bytes=a-`` and the suffix ``bytes=-n``. Multiple or malformed
    ranges are ignored, which the RFC allows (the whole body is sent with 200).
    """
    match = _RANGE.match(header.strip()) if header else None
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if not first:  # suffix: the last n bytes
        if int(last) == 0:
            raise Unsatisfiable
        return max(size - int(last), 0), size
    start = int(first)
    stop = size if not last else min(int(last) + 1, size)
    if last and int(last) < start:
        return None  # invalid range spec: ignored
    if start >= size:
        raise Unsatisfiable
    return start, stop
