"""The `artist` split scheme, on the real published files (data/public)."""

from __future__ import annotations

import hashlib
import importlib.util
import random
from pathlib import Path

import pytest

from deezer_tags import TAGS
from deezer_tags.errors import MalformedSourceError
from deezer_tags.matrix import parse_split_file, parse_tag_matrix
from deezer_tags.splits import (
    FLIPPED_ARTISTS,
    artist_assignment,
    hashed_side,
    merge_artists,
    paper_assignment,
    parse_folds,
    shared_artists,
    split_stats,
)
from deezer_tags.testing import public_text

# sha256 of "track_id,split" lines, sorted by track id, of the artist scheme over all 49,929
# tracks of the published files: the same on any machine, until the pinned constants change.
ARTIST_SCHEME_DIGEST = "5138608b46f9173ce66bb8b3138332eeaa8ecb70468d6324f84bffe8d83ad1ee"


class Real:
    def __init__(self) -> None:
        read = public_text
        self.matrix = parse_tag_matrix(read("seed-repo/annotation.csv"), "the tag matrix")
        self.split_ids = {
            split: parse_split_file(read(f"paper-splits/{split}_ground_truth.csv"), split, self.matrix)
            for split in ("train", "validation", "test")
        }
        self.split_of = paper_assignment(self.split_ids)
        self.folds_text = read("paper-splits/ground_truth_folds.csv")
        self.folds = parse_folds(self.folds_text, "the folds file")
        self.ids = self.matrix.ids
        self.left_out = [t for t in self.ids if t not in self.split_of]
        self.artist = artist_assignment(self.ids, self.split_of, self.folds)


@pytest.fixture(scope="module")
def real() -> Real:
    return Real()


def test_the_published_files_are_the_expected_ones(real):
    assert len(real.ids) == 49_929
    assert {s: len(ids) for s, ids in real.split_ids.items()} == {"train": 32_771, "validation": 3_642, "test": 12_169}
    assert len(real.left_out) == 1_347
    assert len(real.folds) == 48_582 and len(set(real.folds.values())) == 11_807
    assert set(real.folds) == set(real.split_of)  # the folds file covers exactly the paper's tracks


def test_every_track_is_assigned_and_test_is_the_papers(real):
    assert set(real.artist) == set(real.ids)
    assert sorted(t for t, s in real.artist.items() if s == "test") == sorted(real.split_ids["test"])


def test_no_artist_is_in_two_splits(real):
    splits_of_artist: dict[int, set[str]] = {}
    for track_id, split in real.artist.items():
        artist_id = real.folds.get(track_id)
        if artist_id is not None and split != "unassigned":
            splits_of_artist.setdefault(artist_id, set()).add(split)
    assert max(len(s) for s in splits_of_artist.values()) == 1
    assert shared_artists(real.artist, real.folds) == {"train/validation": 0, "train/test": 0, "validation/test": 0}
    # The paper's own split, measured the same way: test is artist-disjoint already, and
    # train / validation share the 1,685 artists this scheme exists to separate.
    paper = {t: real.split_of.get(t, "unassigned") for t in real.ids}
    assert shared_artists(paper, real.folds) == {"train/validation": 1_685, "train/test": 0, "validation/test": 0}
    # so no paper train / validation track has to be left out for a test artist
    assert all(real.artist[t] != "unassigned" for t in real.split_of)


def test_validation_is_about_the_papers_share(real):
    sizes = {s: sum(1 for v in real.artist.values() if v == s) for s in ("train", "validation", "test")}
    share = sizes["validation"] / (sizes["train"] + sizes["validation"])
    assert 0.095 <= share <= 0.105, sizes  # the paper: 3,642 / 36,413 = 10.0 %


def test_tag_rates_within_one_point_of_the_whole(real, record_property):
    stats = split_stats(real.artist, real.matrix.labels, real.folds)
    worst = {s: round(e["max_deviation_pp"], 3) for s, e in stats["splits"].items()}
    record_property("worst_deviation_pp", worst)
    print("worst per-tag deviation (pp):", worst)
    assert stats["overall"]["size"] == 49_929
    assert worst["train"] <= 1.0 and worst["validation"] <= 1.0, worst
    # test is the paper's and the whole is the same, so its deviation is the paper's (1.98 pp, `dance`)
    paper = split_stats({t: real.split_of.get(t, "unassigned") for t in real.ids}, real.matrix.labels)
    assert stats["splits"]["test"]["max_deviation_pp"] == pytest.approx(paper["splits"]["test"]["max_deviation_pp"])
    assert 1.9 < worst["test"] < 2.1 and stats["splits"]["test"]["worst_tag"] == "dance"


def test_split_stats_by_hand():
    one, zero = (1,) * len(TAGS), (0,) * len(TAGS)
    first_only = (1,) + (0,) * (len(TAGS) - 1)
    labels = {1: one, 2: zero, 3: one, 4: first_only}
    stats = split_stats({1: "train", 2: "train", 3: "validation", 4: "test"}, labels, {1: 7, 2: 7, 3: 8, 4: None})
    assert stats["overall"]["rates"]["car"] == 0.75 and stats["overall"]["rates"]["chill"] == 0.5
    train, validation, test = (stats["splits"][s] for s in ("train", "validation", "test"))
    assert train["size"] == 2 and train["artists"] == 1 and train["rates"]["car"] == 0.5
    assert train["max_deviation_pp"] == pytest.approx(25.0) and train["worst_tag"] == "car"
    assert validation["max_deviation_pp"] == pytest.approx(50.0) and validation["worst_tag"] == "chill"
    assert test["artists"] == 0 and test["tracks_without_artist"] == 1 and test["max_deviation_pp"] == pytest.approx(50.0)
    assert list(stats["splits"]) == ["train", "validation", "test"]


def test_deterministic(real):
    again = artist_assignment(list(reversed(real.ids)), real.split_of, dict(sorted(real.folds.items())))
    assert again == real.artist
    lines = "\n".join(f"{t},{s}" for t, s in sorted(real.artist.items()))
    assert hashlib.sha256(lines.encode()).hexdigest() == ARTIST_SCHEME_DIGEST


def test_stable_when_a_tenth_of_the_tracks_fail(real):
    rng = random.Random(20200504)
    failed = set(rng.sample(real.ids, len(real.ids) // 10))
    # the left-out tracks that failed have no Deezer metadata, hence no artist
    artist_of = {t: a for t, a in _with_metadata_artists(real).items() if t not in failed or t in real.folds}
    full = artist_assignment(real.ids, real.split_of, _with_metadata_artists(real))
    kept = [t for t in real.ids if t not in failed]
    after = artist_assignment(kept, real.split_of, artist_of)
    assert set(after) == set(kept)
    assert sum(after[t] != full[t] for t in kept) == 0


def test_stable_for_a_500_track_subset(real):
    subset = random.Random(7).sample(real.ids, 500)
    after = artist_assignment(subset, real.split_of, real.folds)
    assert set(after) == set(subset)
    assert [after[t] for t in subset] == [real.artist[t] for t in subset]


def _with_metadata_artists(real: Real) -> dict[int, int | None]:
    """The folds file's artists plus made-up Deezer metadata artists for half the left-out tracks."""
    rng = random.Random(11)
    folds_artists = sorted(set(real.folds.values()))
    metadata = {t: rng.choice(folds_artists) for t in real.left_out[::2]}
    return merge_artists(real.folds, metadata)


def _artist_in(real: Real, split: str) -> int:
    return next(real.folds[t] for t in real.ids if real.artist[t] == split)


def test_left_out_tracks_are_placed_by_artist(real):
    train_artist, val_artist, test_artist = (_artist_in(real, s) for s in ("train", "validation", "test"))
    new_val = next(a for a in range(900_000_000, 900_001_000) if hashed_side(0, a) == "validation")
    new_train = next(a for a in range(900_000_000, 900_001_000) if hashed_side(0, a) == "train")
    l = real.left_out
    metadata = {l[0]: train_artist, l[1]: val_artist, l[2]: test_artist, l[3]: new_val, l[4]: new_val,
                l[5]: new_train, l[6]: new_train, l[7]: None}
    # the folds file wins over the metadata for a track it covers
    paper_track = real.split_ids["train"][0]
    metadata[paper_track] = test_artist
    artist_of = merge_artists(real.folds, metadata)
    assert artist_of[paper_track] == real.folds[paper_track]
    assignment = artist_assignment(real.ids, real.split_of, artist_of)
    assert assignment[l[0]] == "train"
    assert assignment[l[1]] == "validation"
    assert assignment[l[2]] == "unassigned"  # its artist is in the paper's test set
    assert assignment[l[3]] == assignment[l[4]] == "validation"
    assert assignment[l[5]] == assignment[l[6]] == "train"
    assert assignment[l[7]] == hashed_side(l[7], None) == real.artist[l[7]]  # on its own
    assert assignment[paper_track] == real.artist[paper_track]
    assert shared_artists(assignment, artist_of) == {"train/validation": 0, "train/test": 0, "validation/test": 0}
    assert sorted(t for t, s in assignment.items() if s == "test") == sorted(real.split_ids["test"])


def test_tracks_without_any_artist_are_their_own_group(real):
    # With no metadata, each left-out track is hashed on its own id: some land in each split.
    placed = [real.artist[t] for t in real.left_out]
    assert "unassigned" not in placed and "test" not in placed
    assert 0.05 < placed.count("validation") / len(placed) < 0.15


def test_the_test_sets_artists_must_be_known_in_full(real):
    without_one = dict(real.folds)
    missing = real.split_ids["test"][5]
    del without_one[missing]
    with pytest.raises(MalformedSourceError, match=rf"no artist id for 1 tracks.*{missing}"):
        artist_assignment(real.ids[:10], real.split_of, without_one)


def test_flipped_artists_are_what_the_benchmark_derives(real):
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "splits.py"
    spec = importlib.util.spec_from_file_location("splits_benchmark", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert frozenset(bench.derive(real.matrix, real.split_of, real.folds)) == FLIPPED_ARTISTS
    assert not FLIPPED_ARTISTS & {real.folds[t] for t in real.split_ids["test"]}


def _corrupt(text: str, line_no: int, new_line: str) -> str:
    lines = text.splitlines()
    lines[line_no - 1] = new_line
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("line_no, new_line, message", [
    (5, "999999999,car\tchill,abc,0", r"line 5: artist id 'abc' is not a positive integer"),
    (7, "999999999,car\tchill,390", r"line 7: 3 fields, expected 4"),
    (9, "x1,car,390,0", r"line 9: track id 'x1' is not a positive integer"),
    (11, "999999999,car,0,0", r"line 11: artist id '0' is not a positive integer"),
])
def test_parse_folds_rejects_a_malformed_line(real, line_no, new_line, message):
    with pytest.raises(MalformedSourceError, match=rf"the folds file {message}"):
        parse_folds(_corrupt(real.folds_text, line_no, new_line), "the folds file")


def test_parse_folds_rejects_a_repeated_track_and_a_wrong_header(real):
    lines = real.folds_text.splitlines()
    repeated = "\n".join(lines[:4] + [lines[2]] + lines[4:])
    with pytest.raises(MalformedSourceError, match=r"the folds file line 5: track id \d+ appears twice"):
        parse_folds(repeated, "the folds file")
    with pytest.raises(MalformedSourceError, match=r"line 1: .*'artist_id'"):
        parse_folds("song_id,label\n1,car\n", "the folds file")
    assert parse_folds("song_id,label,artist_id,fold\n\n12,car,34,0\n", "f") == {12: 34}
