"""The calibration of the YouTube path, through the loading script against the local web: a
seeded sample of tracks with a preview is recovered from YouTube as if the preview were gone,
and the preview is looked for in the chosen video. The local web knows the truth: which map
videos carry a live take (same title and length, another recording)."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deezer_tags.calibration import calibration_line, default_size, sample
from deezer_tags.card import card_text, dataset_layout
from deezer_tags.cli import summary
from deezer_tags.report import write_report
from deezer_tags.errors import UserError
from deezer_tags.testing import LocalWeb, Scenario
from deezer_tags.testing.scenario import video_id_of

from conftest import FAST_QUOTA, SCRIPT, build

SEED = 3
LIVE_SHARE = 0.2


def _map() -> dict[str, dict]:
    return json.loads(Scenario.from_public_data(seed=SEED).files["youtube_map"])


def _own_video_tracks(scenario: Scenario, youtube_map: dict[str, dict], *, live: bool) -> list[int]:
    """Tracks whose map video carries their own song (a master or a live take of it), with a
    title the matcher accepts ("{artist} - {title}...")."""
    found = []
    for key, entry in youtube_map.items():
        video = scenario.videos.get(video_id_of(entry.get("url", "")) or "")
        if video is None or video.track_id != int(key) or video.wrong or (video.take == "live") != live:
            continue
        track = scenario.tracks[int(key)]
        named = f"{track.artist_name} - {track.title}".casefold()
        rest = video.title.casefold().removeprefix(named)
        if rest != video.title.casefold() and not any(mark in rest for mark in "([|"):  # no version named
            found.append(int(key))
    return found


@pytest.fixture(scope="module")
def live_scenario() -> tuple[Scenario, list[int], set[int]]:
    """30 tracks with a preview, 6 of them (20 %) mapped to a live take of their song."""
    whole = Scenario.from_public_data(seed=SEED, live_take_fraction=0.3)
    youtube_map = _map()
    live = _own_video_tracks(whole, youtube_map, live=True)[:6]
    master = _own_video_tracks(whole, youtube_map, live=False)[:24]
    ids = sorted(live + master)
    return Scenario.from_public_data(track_ids=ids, seed=SEED, live_take_fraction=0.3), ids, set(live)


def _calibration_rows(cache_dir: Path) -> list[dict]:
    with open(cache_dir / "deezer_tags" / "calibration.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _report(cache_dir: Path) -> dict:
    return json.loads((cache_dir / "deezer_tags" / "build_report.json").read_text())


def test_the_estimate_holds_the_truth_every_verdict_is_right_and_the_figures_are_shown(live_scenario, tmp_path):
    scenario, ids, live = live_scenario
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        full = build(web, tmp_path, "full", track_ids=ids, calibration_tracks=len(ids))
        figures = _report(tmp_path)["calibration"]
        rows = _calibration_rows(tmp_path)
        _check_the_figures_are_in_the_report_the_card_and_the_summary(full, tmp_path)
        previews = build(web, tmp_path, "previews", track_ids=ids)
    assert figures["tracks"] == len(ids) and len(rows) == len(ids)
    found = [r for r in rows if r["verdict"] in ("same", "other")]
    assert len(found) >= len(ids) - 2  # the matcher accepts (nearly) every map video, live takes too
    wrong = {int(r["track_id"]) for r in found if r["video_id"] in scenario.live_take_ids}
    assert len(wrong) >= len(live) - 1
    # Listening tells the live takes apart, every one.
    assert {int(r["track_id"]) for r in found if r["verdict"] == "other"} == wrong
    truth = 1 - len(wrong) / len(found)
    precision = figures["precision"]
    assert precision["estimate"] == pytest.approx(truth, abs=1e-4)
    assert precision["low"] < truth < precision["high"]
    assert figures["by_source"]["id_map"]["found"] == len(found)
    # The preview was found where it is in the video (the video plays the recording from 0).
    for row in rows:
        if row["verdict"] == "same":
            track = scenario.tracks[int(row["track_id"])]
            assert abs(float(row["preview_at"]) - scenario.preview_offset(track.id)) < 0.1, row
    # Calibration clips enter no config: each calibrated track's example is its preview.
    for dataset in (full, previews):
        examples = [e for split in dataset.values() for e in split.remove_columns("audio")]
        assert {e["audio_source"] for e in examples} == {"deezer_preview"}
        assert len(examples) == len(ids)
    assert not list((tmp_path / "deezer_tags" / "audio").glob("*.youtube.mp3"))


def _check_the_figures_are_in_the_report_the_card_and_the_summary(full, tmp_path: Path) -> None:
    figures = _report(tmp_path)["calibration"]
    line = calibration_line(figures)
    assert f"a video found for {figures['found']}" in line and "precision" in line
    assert line in summary(full, str(tmp_path))
    work = tmp_path / "deezer_tags"
    report = write_report(work, tmp_path, tmp_path / "report")
    text = report.markdown_path.read_text()
    assert line in text and "![calibration scores](calibration_scores.png)" in text
    assert (tmp_path / "report" / "calibration_scores.png").stat().st_size > 10_000
    assert (tmp_path / "report" / "calibration.csv").read_text() == (work / "calibration.csv").read_text()
    assert sorted(score for score, _ in report.calibration_scores) == sorted(
        float(r["score"]) for r in _calibration_rows(tmp_path) if r["score"])
    (tmp_path / "copy").mkdir()
    card = card_text(dataset_layout("full", full), tmp_path / "copy", work, tmp_path)
    assert "### How right are the YouTube clips?" in card and line in card


CALIBRATE_IN_CHILD = """
import sys
from deezer_tags.direct import load  # the loading script sys.argv[1] on 3.x, its builder class on 4+
load("full", sys.argv[2], max_tracks=int(sys.argv[3]), calibration_tracks=int(sys.argv[4]), youtube_workers=1)
"""


def _calibrated(cache_dir: Path) -> dict[int, float]:
    path = cache_dir / "deezer_tags" / "manifest.sqlite"
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            return dict(db.execute("SELECT track_id, updated_at FROM calibration").fetchall())
    except sqlite3.OperationalError:  # no manifest, or no table yet
        return {}


def test_the_sample_is_the_same_across_builds_and_a_resume(tmp_path):
    tracks, size = 60, 20
    scenario = Scenario.from_public_data(seed=SEED, no_preview_fraction=0.2)
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        fresh = tmp_path / "fresh"
        build(web, fresh, "full", max_tracks=tracks, calibration_tracks=size)
        expected = {int(r["track_id"]) for r in _calibration_rows(fresh)}

        # Another build, killed once it has calibrated some tracks, then resumed.
        resumed = tmp_path / "resumed"
        env = {**os.environ, **web.env(), "DEEZER_TAGS_QUOTA": f"{web.quota}/{web.window}"}
        child = subprocess.Popen([sys.executable, "-c", CALIBRATE_IN_CHILD, SCRIPT, str(resumed), str(tracks), str(size)],
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while len(_calibrated(resumed)) < 3:
            assert child.poll() is None, "the build ended before it could be killed"
            assert time.monotonic() < deadline, "the calibration made too little progress to be killed"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait()
        before = _calibrated(resumed)
        assert 3 <= len(before) < size
        build(web, resumed, "full", max_tracks=tracks, calibration_tracks=size)
    after = _calibrated(resumed)
    assert expected <= set(after)  # beside the build, a few tracks past the sample may be calibrated too
    assert {t: after[t] for t in before} == before  # what the killed run calibrated is not done again
    assert {int(r["track_id"]) for r in _calibration_rows(resumed)} == expected
    # The rule: the first tracks with a preview in the seeded order.
    with_preview = [t for t in list(scenario.tracks)[:tracks] if scenario.tracks[t].preview == "ok"]
    assert expected == set(sample(with_preview, size))


def test_the_default_sample_and_a_bad_size():
    assert default_size(37_000) == 370
    assert default_size(5_000) == 50
    assert default_size(1_500) == 15
    assert default_size(199) == 1
    assert default_size(40) == 0
    ids = list(range(1000, 3000))
    assert sample(ids, 10) == sample(reversed(ids), 10)  # the order of arrival does not matter
    assert set(sample(ids[:1500], 10)) != set(sample(ids[500:], 10))  # but which tracks have a preview does
    assert sample(ids, 10, seed=1) != sample(ids, 10)
    with pytest.raises(UserError, match="calibration_tracks=-1"):
        from deezer_tags.calibration import check_size
        check_size(-1)


def test_while_the_quota_paces_the_build_the_calibration_runs_beside_it(tmp_path):
    scenario = Scenario.from_public_data(seed=SEED, no_preview_fraction=0.2)
    # 10 calls per 0.5 s: 120 tracks take 6 s of calls, time for a calibration or two meanwhile.
    with LocalWeb(scenario, quota=10, window=0.5) as web:
        build(web, tmp_path, "full", max_tracks=120, calibration_tracks=3)
    figures = _report(tmp_path)["calibration"]
    assert figures["tracks"] == 3 and figures["calibrated"] == 3
    # Started while the calls went on (when it ends depends on the machine's load): the
    # calibration after the build had less than the whole sample left to do.
    assert figures["this_run"]["after_build_tracks"] < 3
