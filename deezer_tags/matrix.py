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
# What to do about a matrix that does not parse. With the pinned checksum a broken download
# never gets here, so the file was chosen on purpose (checksums= or verification_mode).
_REDOWNLOAD = "download the published Context_tags_dataset.csv again with download_mode='force_redownload'"
MATRIX_FIX = f"correct that line of the file zenodo_url points at, or {_REDOWNLOAD}"


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
        raise _matrix_error(source, 1, f"the first column is {header[0]!r}, expected {ID_COLUMN!r}, "
                                       "so this is not the Deezer context tag matrix")
    tags = tuple(header[1:])
    missing = [t for t in TAGS if t not in tags]
    extra = [t for t in tags if t not in TAGS]
    if missing or extra or len(set(tags)) != len(tags):
        raise _matrix_error(
            source, 1,
            f"tag columns differ from the 15 context tags "
            f"(missing: {', '.join(missing) or 'none'}; unexpected or repeated: "
            f"{', '.join(extra) or ', '.join(t for t in tags if tags.count(t) > 1) or 'none'}), "
            "so this is not the Deezer context tag matrix"
        )
    column_of = [1 + tags.index(tag) for tag in TAGS]
    labels: dict[int, tuple[int, ...]] = {}
    first_line: dict[int, int] = {}
    last_line = rows.line_num
    for row in rows:
        # The line the record starts on, also when a quoted field spans lines.
        line_no, last_line = last_line + 1, rows.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise _matrix_error(source, line_no, f"{len(row)} fields, expected {len(header)} "
                                                 "(the file is truncated or malformed)")
        track_id = parse_track_id(row[0], f"{source} line {line_no}", MATRIX_FIX)
        if track_id in labels:
            raise _matrix_error(source, line_no,
                                f"track id {track_id} appears twice (first on line {first_line[track_id]})")
        for tag, cell in zip(tags, row[1:]):
            if cell.strip() not in ("0", "1"):
                raise _matrix_error(source, line_no, f"tag {tag!r} is {cell.strip()!r}, expected 0 or 1")
        labels[track_id] = tuple(int(row[c]) for c in column_of)
        first_line[track_id] = line_no
    if not labels:
        raise MalformedSourceError(
            f"{source} has a header but no tracks; point zenodo_url at the right file, or {_REDOWNLOAD}")
    return TagMatrix(labels=labels)


def _matrix_error(source: str, line_no: int, problem: str) -> MalformedSourceError:
    return MalformedSourceError(f"{source} line {line_no}: {problem}; {MATRIX_FIX}")


def parse_track_id(text: str, where: str, fix: str = "") -> int:
    """A positive integer id; `fix` (what to do about it) ends the message of a bad one."""
    text = text.strip()
    if not text.isascii() or not text.isdigit() or int(text) <= 0:
        problem = f"{where}: track id {text!r} is not a positive integer"
        raise MalformedSourceError(f"{problem}; {fix}" if fix else problem)
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
