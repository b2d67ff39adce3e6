"""Split schemes through the loading script: `paper`, `artist`, and a user's split_file."""

from __future__ import annotations

import csv
import io

import pytest

from deezer_tags.errors import BadTrackSelectionError
from deezer_tags.testing import LocalWeb, Scenario, public_text

from conftest import FAST_QUOTA, build


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario.from_public_data(seed=2)


def _folds() -> dict[int, tuple[int, str]]:
    with io.StringIO(public_text("paper-splits/ground_truth_folds.csv")) as handle:
        return {int(r["song_id"]): int(r["artist_id"]) for r in csv.DictReader(handle)}


def test_artist_scheme_keeps_test_and_separates_artists(scenario, tmp_path):
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        paper = build(web, tmp_path, "metadata", max_tracks=400)
        artist = build(web, tmp_path, "metadata", max_tracks=400, split_scheme="artist")
    assert sorted(paper["test"]["track_id"]) == sorted(artist["test"]["track_id"])
    artists = {split: set(rows["artist_id"]) for split, rows in artist.items()}
    assert not artists["train"] & artists["validation"]
    assert not (artists["train"] | artists["validation"]) & artists["test"]
    with open(tmp_path / "deezer_tags" / "splits.csv") as handle:
        written = {int(r["track_id"]): r for r in csv.DictReader(handle)}
    folds = _folds()
    for split, rows in artist.items():
        for track_id in rows["track_id"]:
            assert written[track_id]["split"] == split
            if track_id in folds:
                assert int(written[track_id]["artist_id"]) == folds[track_id]


def test_a_split_file_of_ones_own(scenario, tmp_path):
    ids = [int(r["song_id"]) for _, r in zip(range(20), csv.DictReader(
        io.StringIO(public_text("seed-repo/annotation.csv"))))]
    split_file = tmp_path / "mine.csv"
    split_file.write_text("track_id,split\n" + "".join(
        f"{t},{'test' if i % 2 else 'train'}\n" for i, t in enumerate(ids)))
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        dataset = build(web, tmp_path / "a", "metadata", track_ids=ids, split_file=str(split_file))
        assert sorted(dataset["test"]["track_id"]) == sorted(ids[1::2])
        assert set(dataset) == {"train", "test"}
        split_file.write_text("track_id,split\n" + f"{ids[0]},holdout\n")
        with pytest.raises(BadTrackSelectionError, match=r"line 2: split 'holdout' is not one of"):
            build(web, tmp_path / "b", "metadata", track_ids=ids, split_file=str(split_file))
