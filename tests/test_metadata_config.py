"""The `metadata` config end to end: load_dataset against the local web."""

from __future__ import annotations

import collections
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import datasets
import pytest

from deezer_tags import TAGS
from deezer_tags.published import parse_sources, source_urls
from deezer_tags.errors import BadTrackSelectionError
from deezer_tags.sources import Endpoints
from deezer_tags.testing import LocalWeb, Scenario, public_text

from conftest import FAST_QUOTA, SCRIPT, api_track_ids, build

SUBSET = 300


@pytest.fixture(scope="module")
def subset_scenario() -> Scenario:
    return Scenario.from_public_data(no_data_fraction=0.05, no_preview_fraction=0.2, seed=1)


def _matrix_rows() -> dict[int, list[int]]:
    with io.StringIO(public_text("seed-repo/annotation.csv")) as handle:
        rows = csv.reader(handle)
        header = next(rows)
        assert tuple(header[1:]) == TAGS
        return {int(r[0]): [int(v) for v in r[1:]] for r in rows}


def test_subset_build_has_every_track_once_with_metadata_and_tags(subset_scenario, tmp_path):
    matrix = _matrix_rows()
    first_ids = list(matrix)[:SUBSET]
    with LocalWeb(subset_scenario, latency=(0.0, 0.01), **FAST_QUOTA) as web:
        dataset = build(web, tmp_path, max_tracks=SUBSET)
        calls = api_track_ids(web)

    assert set(dataset) == {"train", "validation", "test", "unassigned"}
    seen = [row["track_id"] for split in dataset.values() for row in split]
    assert sorted(seen) == sorted(first_ids)

    features = dataset["train"].features
    assert features["tags"].feature.names == list(TAGS)
    assert features["track_id"].dtype == "int64"

    gone = subset_scenario.no_data_ids & set(first_ids)
    assert gone, "the scenario must put some no-data tracks in the subset"
    for split in dataset.values():
        for row in split:
            track_id = row["track_id"]
            assert row["labels"] == matrix[track_id]
            assert row["tags"] == [i for i, v in enumerate(matrix[track_id]) if v]
            spec = subset_scenario.tracks.get(track_id)
            if track_id in gone:
                assert row["metadata_status"] == "no_data"
                assert row["title"] is None and row["artist_id"] is None
            else:
                assert row["metadata_status"] == "ok"
                assert row["title"] == spec.title
                assert row["duration"] == spec.duration
                assert row["has_preview"] == (track_id not in subset_scenario.no_preview_ids)

    # Each track asked for exactly once: 800 answers are final, not retried.
    assert sorted(calls) == sorted(first_ids)

    report = json.loads((tmp_path / "deezer_tags" / "build_report.json").read_text())
    assert report["metadata"]["no_data"] == len(gone)
    assert report["metadata"]["ok"] == SUBSET - len(gone)
    with open(tmp_path / "deezer_tags" / "failed_tracks.csv") as handle:
        failed = {int(r["track_id"]): r for r in csv.DictReader(handle)}
    assert set(failed) == gone
    assert all("800" in r["reason"] for r in failed.values())


def test_second_load_is_served_from_cache_with_zero_requests(subset_scenario, tmp_path):
    with LocalWeb(subset_scenario, **FAST_QUOTA) as web:
        first = build(web, tmp_path, max_tracks=50)
        assert web.count("/deezer/") == 50
        web.clear_log()
        second = build(web, tmp_path, max_tracks=50)
        assert web.requests == []
    assert first["train"]["track_id"] == second["train"]["track_id"]


def test_paper_splits_are_the_published_files_and_nothing_is_dropped():
    """The real files, through the engine's parser: 32,771 / 3,642 / 12,169 + 1,347 unassigned."""
    from deezer_tags.splits import group_by_split

    scenario = Scenario.from_public_data()
    with LocalWeb(scenario) as web:
        endpoints = Endpoints(**{k: v for k, v in web.config_kwargs().items() if k.endswith("url")})
        urls = source_urls(endpoints, ("annotation", "train", "validation", "test"))
        paths = datasets.DownloadManager().download(urls)
    sources = parse_sources(paths)
    groups = group_by_split(sources.matrix.ids, sources.split_of)
    assert {k: len(v) for k, v in groups.items()} == {
        "train": 32771, "validation": 3642, "test": 12169, "unassigned": 1347,
    }
    for split in ("train", "validation", "test"):
        with io.StringIO(public_text(f"paper-splits/{split}_ground_truth.csv")) as handle:
            published = [int(r["song_id"]) for r in csv.DictReader(handle)]
        assert sorted(groups[split]) == sorted(published)


def test_track_ids_select_a_subset_with_its_own_cache_entry(subset_scenario, tmp_path):
    matrix_ids = list(_matrix_rows())
    chosen = matrix_ids[1000:1010]
    id_file = tmp_path / "ids.txt"
    id_file.write_text("song_id\n" + "\n".join(map(str, chosen[5:])) + "\n")
    with LocalWeb(subset_scenario, **FAST_QUOTA) as web:
        by_list = build(web, tmp_path / "cache", track_ids=chosen[:5])
        by_file = build(web, tmp_path / "cache", track_ids=str(id_file))
    ids_of = lambda d: sorted(t for s in d.values() for t in s["track_id"])  # noqa: E731
    assert ids_of(by_list) == sorted(chosen[:5])
    assert ids_of(by_file) == sorted(chosen[5:])
    # Each subset is its own Arrow cache entry (the config's hash), never mixed.
    dir_of = lambda d: Path(d["test"].cache_files[0]["filename"]).parent  # noqa: E731
    assert dir_of(by_list) != dir_of(by_file)


def test_unknown_track_ids_are_a_clear_error(subset_scenario, tmp_path):
    with LocalWeb(subset_scenario, **FAST_QUOTA) as web:
        with pytest.raises(BadTrackSelectionError, match=r"not in the tag matrix.*\b123\b"):
            build(web, tmp_path, track_ids=[123, 92310738])
        assert web.count("/deezer/") == 0


def test_quota_is_never_exceeded_with_many_threads(subset_scenario, tmp_path):
    """48 threads against the real quota, 50 calls per 5 s, counted at the server over the
    same 5 s. The build runs in its own process, as it would against the real API. The
    server stamps an arrival when a handler thread gets to it, which on a loaded 2-core
    machine can be 150 ms late or more, and the client's sends are late too: the limiter
    stamps each call when its answer is in, so no delay can bunch 51 arrivals into 5 s.
    A limiter shared badly between threads (per thread, a token bucket that lets 2 x 50
    through, or one that stamps calls when it lets them go) overruns it."""
    with LocalWeb(subset_scenario, quota=50, window=5.0, latency=(0.0, 0.03)) as web:
        child = subprocess.run(
            [sys.executable, "-c", BUILD_IN_CHILD, SCRIPT, str(tmp_path), "150", "48"],
            env={**os.environ, **web.env(), "DEEZER_TAGS_QUOTA": "50/5.0"},
            capture_output=True, text=True, timeout=120,
        )
        assert child.returncode == 0, child.stderr[-2000:]
        assert web.max_api_calls_in_window() <= 50
        assert web.quota_rejections == 0
        assert web.count("/deezer/") == 150


BUILD_IN_CHILD = """
import sys
from deezer_tags.direct import load  # the loading script sys.argv[1] on 3.x, its builder class on 4+
load("metadata", sys.argv[2], max_tracks=int(sys.argv[3]), workers=int(sys.argv[4]))
"""


def test_split_sizes_add_up_per_split_counter(subset_scenario, tmp_path):
    """Tracks land in the split the paper's files give them."""
    paper = {}
    for split in ("train", "validation", "test"):
        with io.StringIO(public_text(f"paper-splits/{split}_ground_truth.csv")) as handle:
            paper.update({int(r["song_id"]): split for r in csv.DictReader(handle)})
    with LocalWeb(subset_scenario, **FAST_QUOTA) as web:
        dataset = build(web, tmp_path, max_tracks=120)
    counted = collections.Counter()
    for split, rows in dataset.items():
        for track_id in rows["track_id"]:
            assert paper.get(track_id, "unassigned") == split
            counted[split] += 1
    assert sum(counted.values()) == 120


def test_artist_names_come_in_english_unless_another_language_is_asked_for(tmp_path):
    """Deezer localizes names by the caller's IP; the local web plays that for a share of
    artists. Every call asks for English (api_language, default "en")."""
    scenario = Scenario.from_public_data()
    localized = [t for t in scenario.tracks if scenario.tracks[t].artist_name_localized][:2]
    plain = next(t for t in scenario.tracks if not scenario.tracks[t].artist_name_localized)
    ids = [*localized, plain]
    assert len(localized) == 2
    with LocalWeb(scenario, quota=500, window=0.5) as web:
        english = build(web, tmp_path / "en", track_ids=ids)
        korean = build(web, tmp_path / "ko", track_ids=ids, api_language="ko")
        with pytest.raises(ValueError, match="api_language"):
            build(web, tmp_path / "bad", track_ids=ids, api_language="en; DROP")
    names = {split: {row["track_id"]: row["artist_name"] for row in rows}
             for split, rows in (("en", _rows(english)), ("ko", _rows(korean)))}
    for track_id in localized:
        spec = scenario.tracks[track_id]
        assert names["en"][track_id] == spec.artist_name
        assert names["ko"][track_id] == spec.artist_name_localized != spec.artist_name
    assert names["en"][plain] == names["ko"][plain] == scenario.tracks[plain].artist_name
    versions = {row["track_id"]: row["title_version"] for row in _rows(english)}
    assert versions == {t: scenario.tracks[t].title_version for t in ids}


def _rows(dataset) -> list[dict]:
    return [row for split in dataset.values() for row in split]
