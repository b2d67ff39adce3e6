"""A user's own inputs, read and checked before the first request: the track selection (a list
or a file of ids, and/or the first N), a split file, a recipe, a cookies file, yt-dlp options,
the calibration's size and the YouTube budget. Each problem is one sentence naming the input
and the fix, with or without a network."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deezer_tags.calibration import check_size as check_calibration_size
from deezer_tags.errors import BadTrackSelectionError, UserError
from deezer_tags.matrix import TagMatrix
from deezer_tags.recipe import RecipeRow, read_recipe
from deezer_tags.splits import SPLITS
from deezer_tags.youtube.budget import Budget, resolve_budget
from deezer_tags.youtube.section import section_rule
from deezer_tags.youtube.ytdlp import browser_spec, check_cookies, check_youtube_options


@dataclass(frozen=True)
class UserInputs:
    """What the user gave, parsed: the ids asked for (None: all), the split file's assignment
    (None: a scheme's), the recipe's rows, and the YouTube settings."""

    track_ids: list[int] | None
    split_file: dict[int, str] | None
    recipe: dict[int, RecipeRow] | None
    calibration_tracks: int | None
    youtube_budget: Budget
    youtube_patience: float | None   # seconds
    youtube_seconds: float | None    # this run's cap on YouTube work, seconds


def read_user_inputs(config: Any) -> UserInputs:
    """Every input of a builder config that the user supplies, checked now (see the module
    docstring). ``config``: the loading script's config (any object with its fields)."""
    youtube = bool(getattr(config, "youtube", False))
    track_ids = getattr(config, "track_ids", None)
    if isinstance(track_ids, (str, os.PathLike)):
        track_ids = _read_id_file(Path(track_ids))
    ids = None if track_ids is None else list(dict.fromkeys(_as_id(t) for t in track_ids))
    max_tracks = getattr(config, "max_tracks", None)
    if max_tracks is not None and (isinstance(max_tracks, bool) or not isinstance(max_tracks, int) or max_tracks < 1):
        raise BadTrackSelectionError(f"max_tracks={max_tracks!r}: give a positive number of tracks")
    split_file = getattr(config, "split_file", None)
    recipe = getattr(config, "recipe", None)
    if youtube:
        check_youtube_options(getattr(config, "youtube_options", None) or {})
        if getattr(config, "youtube_cookies", None):
            check_cookies(config.youtube_cookies)
        if getattr(config, "youtube_cookies_from_browser", None):
            browser_spec(config.youtube_cookies_from_browser)
        try:
            section_rule(getattr(config, "section_start", "middle"))
        except ValueError as error:
            raise UserError(f"{error}; pass section_start='middle', 'start' or a number of seconds") from None
    return UserInputs(
        track_ids=ids,
        split_file=read_split_file(split_file) if split_file else None,
        recipe=read_recipe(recipe) if recipe and youtube else None,
        calibration_tracks=check_calibration_size(getattr(config, "calibration_tracks", None)),
        youtube_budget=resolve_budget(getattr(config, "youtube_budget", None)),
        youtube_patience=_hours(getattr(config, "youtube_patience", None), "youtube_patience"),
        youtube_seconds=_hours(getattr(config, "youtube_hours", None), "youtube_hours"),
    )


def select_tracks(matrix: TagMatrix, track_ids: Sequence[int] | None = None,
                  max_tracks: int | None = None) -> list[int]:
    """The tracks a build covers: all, or those asked for (each in the matrix), and/or the first N."""
    if track_ids is None:
        selected = matrix.ids
    else:
        selected = list(dict.fromkeys(_as_id(t) for t in track_ids))
        unknown = [t for t in selected if t not in matrix.labels]
        if unknown:
            raise BadTrackSelectionError(
                f"{len(unknown)} of the requested track_ids are not in the tag matrix "
                f"(e.g. {', '.join(map(str, unknown[:5]))}); remove them from track_ids"
            )
    if max_tracks is not None:
        if max_tracks < 1:
            raise BadTrackSelectionError(f"max_tracks={max_tracks}: give a positive number of tracks")
        selected = selected[:max_tracks]
    return selected


def read_split_file(path: str | os.PathLike) -> dict[int, str]:
    """A user's own split: a CSV with `track_id` and `split` columns."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as error:
        raise BadTrackSelectionError(f"cannot read the split_file {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise BadTrackSelectionError(f"the split_file {path} is not UTF-8 text; save it as UTF-8 CSV") from None
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or not {"track_id", "split"} <= set(rows[0]):
        raise BadTrackSelectionError(f"split_file {path} needs a header with track_id and split columns")
    assignment: dict[int, str] = {}
    for line_no, row in enumerate(rows, start=2):
        if row["split"] not in SPLITS:
            raise BadTrackSelectionError(
                f"split_file {path} line {line_no}: split {row['split']!r} is not one of {', '.join(SPLITS)}")
        assignment[_as_id(row["track_id"])] = row["split"]
    return assignment


def split_of_every_track(assignment: Mapping[int, str], track_ids: Sequence[int], path: object) -> dict[int, str]:
    """The split file's assignment of the built tracks; every one of them must have a split."""
    missing = [t for t in track_ids if t not in assignment]
    if missing:
        raise BadTrackSelectionError(
            f"split_file {path} has no split for {len(missing)} tracks (e.g. {', '.join(map(str, missing[:5]))}); "
            "add them, or leave them out of the build with track_ids")
    return {t: assignment[t] for t in track_ids}


def _as_id(value: object) -> int:
    try:
        track_id = int(str(value).strip())
    except ValueError:
        track_id = 0
    if track_id <= 0:
        raise BadTrackSelectionError(f"track_ids holds {value!r}, which is not a positive integer track id")
    return track_id


def _read_id_file(path: Path) -> list[str]:
    """Ids separated by newlines, commas or spaces; a `song_id` header and # comments are skipped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise BadTrackSelectionError(f"cannot read the track_ids file {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise BadTrackSelectionError(f"the track_ids file {path} is not UTF-8 text; save it as UTF-8") from None
    tokens = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        tokens += [t for t in line.replace(",", " ").split() if t != "song_id"]
    return tokens


def _hours(value: object, name: str) -> float | None:
    """A number of hours (None: no limit), in seconds."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise UserError(f"{name}={value!r}: give a positive number of hours, or leave it unset")
    return float(value) * 3600
