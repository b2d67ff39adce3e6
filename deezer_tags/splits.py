"""Which split each track belongs to.

The default is the paper's own split, downloaded, never recomputed: train,
validation and test as the authors published them, and the matrix tracks they
left out as a fourth split, `unassigned`, so that nothing is silently dropped.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from deezer_tags.errors import MalformedSourceError

SPLITS = ("train", "validation", "test", "unassigned")


def paper_assignment(split_ids: Mapping[str, Iterable[int]]) -> dict[int, str]:
    """track id -> split, from the paper's train / validation / test id lists."""
    assignment: dict[int, str] = {}
    for split in ("train", "validation", "test"):
        for track_id in split_ids[split]:
            if track_id in assignment:
                raise MalformedSourceError(
                    f"track {track_id} is in both the {assignment[track_id]} and the {split} split files; "
                    "the split files are not the published ones"
                )
            assignment[track_id] = split
    return assignment


def group_by_split(track_ids: Iterable[int], assignment: Mapping[int, str]) -> dict[str, list[int]]:
    """The tracks of each split, in the order given; tracks not assigned go to `unassigned`."""
    groups: dict[str, list[int]] = {split: [] for split in SPLITS}
    for track_id in track_ids:
        groups[assignment.get(track_id, "unassigned")].append(track_id)
    return groups
