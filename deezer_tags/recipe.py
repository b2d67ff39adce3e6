"""A recipe: which clip each track of a build got, so that a second lab gets the same ones.

`deezer-tags export --recipe FILE` writes one CSV row per track with audio; `deezer-tags
build --recipe FILE` (config kwarg ``recipe=``) then fetches, for each YouTube row, the
recipe's video at the recipe's section, with no search and no id map: the video must
still exist, be served from the configured hosts, and last as long as it did (a
re-upload under the same id, or another cut, does not). A row whose video fails that goes
through the normal recovery, and the build report counts how many did. Previews are
Deezer's own and need no recipe: their row only records the digest to compare with.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from deezer_tags.errors import UserError
from deezer_tags.manifest import PREVIEW, YOUTUBE, TrackRow, chosen_candidate, found_by

COLUMNS = ("track_id", "audio_source", "youtube_video_id", "section_start", "video_duration",
           "audio_sha256", "youtube_found_by")
# The same upload lasts the same to the second; a few seconds allow for rounding.
DURATION_SLACK = 2.0
_VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class RecipeRow:
    track_id: int
    audio_source: str
    youtube_video_id: str | None
    section_start: float | None
    video_duration: float | None
    audio_sha256: str
    youtube_found_by: str | None


def recipe_rows(rows: Iterable[TrackRow], *, youtube: bool) -> list[dict]:
    """The recipe of a built config: its tracks with audio (YouTube ones only if ``youtube``)."""
    out = []
    for row in rows:
        if row.audio_source is None or (row.audio_source == YOUTUBE and not youtube):
            continue
        clip = {"youtube_video_id": "", "section_start": "", "video_duration": "", "youtube_found_by": ""}
        if row.audio_source == YOUTUBE:
            chosen = chosen_candidate(row)
            clip = {"youtube_video_id": row.youtube_video_id,
                    "section_start": (row.match_evidence or {}).get("section_start", ""),
                    "video_duration": "" if chosen.get("duration") is None else chosen["duration"],
                    "youtube_found_by": found_by(row) or ""}
        out.append({"track_id": row.track_id, "audio_source": row.audio_source, **clip,
                    "audio_sha256": row.audio_sha256})
    return out


def write_recipe(rows: list[dict], path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def read_recipe(path: str | Path) -> dict[int, RecipeRow]:
    """track id -> row; a malformed recipe is one sentence naming the file, the line and the fix."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read the recipe {path} ({getattr(error, 'strerror', None) or error}); "
                        "pass a CSV written by `deezer-tags export --recipe`") from None
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    unknown = [c for c in header if c not in COLUMNS]
    missing = [c for c in ("track_id", "audio_source", "youtube_video_id", "section_start") if c not in header]
    if unknown or missing:
        problem = f"the unknown column {unknown[0]!r}" if unknown else f"no {missing[0]!r} column"
        raise UserError(f"the recipe {path} has {problem} on line 1; its columns are {', '.join(COLUMNS)} "
                        "(as `deezer-tags export --recipe` writes them)")
    recipe: dict[int, RecipeRow] = {}
    for line, raw in enumerate(reader, start=2):
        row = _parse(raw, path, line)
        if row.track_id in recipe:
            raise _bad(path, line, f"track {row.track_id} again", "keep one row per track")
        recipe[row.track_id] = row
    return recipe


def _parse(raw: dict, path: Path, line: int) -> RecipeRow:
    value = {k: (v or "").strip() for k, v in raw.items() if k is not None}
    if None in raw:
        raise _bad(path, line, "more fields than columns", "quote fields that hold commas")
    track = value.get("track_id", "")
    if not (track.isascii() and track.isdigit() and int(track) > 0):
        raise _bad(path, line, f"the track id {track!r}, which is not a positive integer", "fix or remove the row")
    source = value.get("audio_source", "")
    if source not in (PREVIEW, YOUTUBE):
        raise _bad(path, line, f"the audio source {source!r}", f"use {PREVIEW} or {YOUTUBE}")
    video = value.get("youtube_video_id") or None
    start = _number(value.get("section_start"), path, line, "section start")
    duration = _number(value.get("video_duration"), path, line, "video duration")
    if source == YOUTUBE:
        if video is None or not _VIDEO_ID.fullmatch(video):
            raise _bad(path, line, f"the video id {video or ''!r}, which is not 11 characters of A-Z, a-z, 0-9, - and _",
                       "copy it from the video's URL (?v=...)")
        if start is None:
            raise _bad(path, line, "no section start for a YouTube clip", "give the start in seconds")
    sha = value.get("audio_sha256", "")
    if sha and not _SHA256.fullmatch(sha):
        raise _bad(path, line, f"the digest {sha[:20]!r}, which is not a sha256", "fix it or leave it empty")
    return RecipeRow(int(track), source, video if source == YOUTUBE else None, start, duration, sha,
                     value.get("youtube_found_by") or None)


def _number(text: str | None, path: Path, line: int, name: str) -> float | None:
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        raise _bad(path, line, f"the {name} {text!r}, which is not a number", "give it in seconds") from None
    if not number >= 0 or number == float("inf"):
        raise _bad(path, line, f"the {name} {text}, which is negative or not finite", "give it in seconds, 0 or more")
    return number


def _bad(path: Path, line: int, what: str, fix: str) -> UserError:
    return UserError(f"the recipe {path} has {what} on line {line}; {fix}")
