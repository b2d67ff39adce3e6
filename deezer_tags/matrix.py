"""Parsing and checking the tag matrix and the paper's split files.

A malformed input is rejected with the file's name and the line number, so a
user can open the file at the right place.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from deezer_tags import TAGS
from deezer_tags.errors import MalformedSourceError

ID_COLUMN = "song_id"


@dataclass(frozen=True)
class TagMatrix:
    # track id -> multi-hot over TAGS (the published CSV's column order), in file order
    labels: dict[int, tuple[int, ...]]

    @property
    def ids(self) -> list[int]:
        return list(self.labels)


def parse_tag_matrix(text: str, source: str = "tag matrix") -> TagMatrix:
    """Parse ``song_id,<15 tags>``: ids unique positive integers, values 0 or 1.

    Columns may come in any order; labels are returned in TAGS order.
    """
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if not header:
        raise MalformedSourceError(f"{source} is empty; download it again or point zenodo_url at the right file")
    header = [h.strip() for h in header]
    if header[0] != ID_COLUMN:
        raise MalformedSourceError(
            f"{source} line 1: the first column is {header[0]!r}, expected {ID_COLUMN!r}; "
            "this is not the Deezer context tag matrix"
        )
    tags = tuple(header[1:])
    missing = [t for t in TAGS if t not in tags]
    extra = [t for t in tags if t not in TAGS]
    if missing or extra or len(set(tags)) != len(tags):
        raise MalformedSourceError(
            f"{source} line 1: tag columns differ from the 15 context tags "
            f"(missing: {', '.join(missing) or 'none'}; unexpected or repeated: "
            f"{', '.join(extra) or ', '.join(t for t in tags if tags.count(t) > 1) or 'none'}); "
            "this is not the Deezer context tag matrix"
        )
    column_of = [1 + tags.index(tag) for tag in TAGS]
    labels: dict[int, tuple[int, ...]] = {}
    for line_no, row in enumerate(rows, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise MalformedSourceError(
                f"{source} line {line_no}: {len(row)} fields, expected {len(header)}; the file is truncated or malformed"
            )
        track_id = parse_track_id(row[0], f"{source} line {line_no}")
        if track_id in labels:
            raise MalformedSourceError(f"{source} line {line_no}: track id {track_id} appears twice")
        for tag, cell in zip(tags, row[1:]):
            if cell.strip() not in ("0", "1"):
                raise MalformedSourceError(
                    f"{source} line {line_no}: tag {tag!r} is {cell.strip()!r}, expected 0 or 1"
                )
        labels[track_id] = tuple(int(row[c]) for c in column_of)
    if not labels:
        raise MalformedSourceError(f"{source} has a header but no tracks; download it again")
    return TagMatrix(labels=labels)


def parse_track_id(text: str, where: str) -> int:
    text = text.strip()
    if not text.isdigit() or int(text) <= 0:
        raise MalformedSourceError(f"{where}: track id {text!r} is not a positive integer")
    return int(text)


def parse_split_file(text: str, source: str, matrix: TagMatrix) -> list[int]:
    """Track ids of one paper split file (``song_id,label`` with tab-separated tags).

    Every id must be in the matrix with the same tags, or the two files do not
    belong together.
    """
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if not header or header[0].strip() != ID_COLUMN:
        raise MalformedSourceError(f"{source} line 1: expected a {ID_COLUMN!r} column; is splits_url right?")
    ids: list[int] = []
    seen: set[int] = set()
    for line_no, row in enumerate(rows, start=2):
        if not row:
            continue
        where = f"{source} line {line_no}"
        track_id = parse_track_id(row[0], where)
        if track_id in seen:
            raise MalformedSourceError(f"{where}: track id {track_id} appears twice")
        if track_id not in matrix.labels:
            raise MalformedSourceError(f"{where}: track {track_id} is not in the tag matrix; the files do not belong together")
        if len(row) > 1:
            listed = {t for t in row[1].split("\t") if t}
            in_matrix = {t for t, v in zip(TAGS, matrix.labels[track_id]) if v}
            if listed != in_matrix:
                raise MalformedSourceError(
                    f"{where}: track {track_id} has tags {sorted(listed)} here but {sorted(in_matrix)} in the tag matrix"
                )
        seen.add(track_id)
        ids.append(track_id)
    return ids
