"""The Content-Range header of a 206 answer, parsed once for the preview resume and the relay."""

from __future__ import annotations

import re
from dataclasses import dataclass

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


@dataclass(frozen=True)
class ContentRange:
    first: int
    last: int
    total: int | None  # None when the server does not say ("*")


def parse_content_range(header: str | None) -> ContentRange | None:
    """``bytes first-last/total`` as numbers, or None when the header is absent or malformed."""
    match = _CONTENT_RANGE.fullmatch((header or "").strip())
    if match is None:
        return None
    total = match[3]
    return ContentRange(int(match[1]), int(match[2]), None if total == "*" else int(total))
