"""A `full` build at YouTube's pace, end to end against the local web with YouTube's limits on
(deezer_tags/testing/youtube_limits.py): the build keeps its budget, waits out "try again
later" and the bot check, stops YouTube work when youtube_hours is up and goes on in the
next run, resumes after a kill during a pause, and leaves the `previews` config loadable
while its YouTube phase runs. YouTube's hour lasts a second or two here."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deezer_tags.testing import LocalWeb, Scenario, YouTubeLimits
from deezer_tags.testing.requestlog import most_in_any_window

from conftest import FAST_QUOTA, build

TRACKS = 40
PAGE = re.compile(r"^/youtube/(watch|results|music/search)$")


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    """Half the tracks without a preview, most of them in the id map, half of all on YouTube Music."""
    return Scenario.from_public_data(no_preview_fraction=0.5, previewless_in_map=True, art_track_fraction=0.5,
                                     wrong_video_fraction=0.05, seed=11)


@pytest.fixture(scope="module")
def unlimited(scenario, tmp_path_factory) -> dict[int, str | None]:
    """The same build with no YouTube limits and a budget that does not bind: each track's clip."""
    cache = tmp_path_factory.mktemp("unlimited")
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        return clips(build(web, cache, "full", max_tracks=TRACKS, calibration_tracks=0))


def clips(dataset) -> dict[int, str | None]:
    """Track id -> the sha256 of its clip (read by column: no audio is decoded)."""
    return {t: sha for split in dataset.values() for t, sha in zip(split["track_id"], split["audio_sha256"])}


def youtube_status(cache: Path) -> dict[str, int]:
    """YouTube states of the tracks without a preview ({} while the manifest is being created)."""
    try:
        with sqlite3.connect(f"file:{cache}/deezer_tags/manifest.sqlite?mode=ro", uri=True) as db:
            return dict(db.execute("SELECT youtube_status, COUNT(*) FROM tracks WHERE preview_status = 'none' "
                                   "GROUP BY 1").fetchall())
    except sqlite3.OperationalError:
        return {}


def arrivals(web: LocalWeb, kinds: tuple[str, ...]) -> list[float]:
    return sorted(r.started for r in web.requests if (m := PAGE.match(r.path)) and m.group(1) in kinds)


def test_the_build_never_asks_youtube_for_more_than_its_budget_in_any_window(scenario, tmp_path, unlimited):
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        dataset = build(web, tmp_path, "full", max_tracks=TRACKS, calibration_tracks=0, youtube_workers=8,
                        youtube_budget="6/1")
        videos, searches = arrivals(web, ("watch",)), arrivals(web, ("results", "music/search"))
    assert len(videos) > 12 and len(searches) > 12, "the budget must have had to bind"
    assert most_in_any_window(videos, 1.0) <= 6
    assert most_in_any_window(searches, 1.0) <= 12  # searches: twice the videos
    assert clips(dataset) == unlimited


def test_try_again_later_and_the_bot_check_are_waited_out_in_one_run(scenario, tmp_path, unlimited):
    """The budget is set above what the local web allows: sessions meet their limit and the
    address meets the bot check; the run waits them out and ends with the same clips."""
    limits = YouTubeLimits(hour=2.0, session_videos=1, address_pages=8, bot_check_hours=0.25)
    with LocalWeb(scenario, youtube_limits=limits, **FAST_QUOTA) as web:
        dataset = build(web, tmp_path, "full", max_tracks=TRACKS, calibration_tracks=0, youtube_workers=2,
                        youtube_budget="60/2")
        refused, bot_checks = web.try_again_later_answers, web.bot_check_answers
    assert refused > 0 and bot_checks > 0, "the build must have met both refusals"
    assert clips(dataset) == unlimited
    assert youtube_status(tmp_path).get("pending", 0) == 0
    report = json.loads((tmp_path / "deezer_tags" / "build_report.json").read_text())
    spent = report["this_run"]["youtube_budget"]
    assert spent["refusals"]["session_limit"] > 0 and spent["refusals"]["bot_check"] > 0


def test_youtube_hours_leaves_the_rest_pending_and_the_next_run_finishes_it(scenario, tmp_path, unlimited):
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        first = build(web, tmp_path, "full", max_tracks=TRACKS, calibration_tracks=0, youtube_budget="2/1",
                      youtube_hours=2.0 / 3600)
        left = youtube_status(tmp_path).get("pending", 0)
        report = json.loads((tmp_path / "deezer_tags" / "build_report.json").read_text())
        assert left > 0 and report["this_run"]["youtube_budget"]["left_pending"] == left
        assert len(clips(first)) < len(unlimited)
        second = build(web, tmp_path, "full", max_tracks=TRACKS, calibration_tracks=0,
                       download_mode="force_redownload")
    assert youtube_status(tmp_path).get("pending", 0) == 0
    assert clips(second) == unlimited


CHILD = """
import sys, deezer_tags
deezer_tags.load_dataset("full", cache_dir=sys.argv[1], max_tracks=int(sys.argv[2]), calibration_tracks=0,
                         youtube_budget=sys.argv[3])
"""


def start_child(web: LocalWeb, cache: Path, budget: str) -> subprocess.Popen:
    env = {**os.environ, **web.env(), "DEEZER_TAGS_QUOTA": f"{web.quota}/{web.window}"}
    return subprocess.Popen([sys.executable, "-c", CHILD, str(cache), str(TRACKS), budget],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def progress(cache: Path) -> dict | None:
    """What the running build last said of its YouTube stream (the manifest's info)."""
    path = cache / "deezer_tags" / "manifest.sqlite"
    if not path.exists():
        return None
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            found = db.execute("SELECT value FROM info WHERE key = 'youtube_progress'").fetchone()
    except sqlite3.OperationalError:
        return None
    return json.loads(found[0]) if found else None


def wait_for(condition, child: subprocess.Popen, what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert child.poll() is None, f"the build ended before {what}"
        assert time.monotonic() < deadline, f"no {what} within {seconds} s"
        time.sleep(0.05)


def test_a_kill_during_a_bot_check_pause_resumes_and_loses_no_clip(scenario, tmp_path, unlimited):
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        child = start_child(web, tmp_path, "4/1")
        try:
            # Clips stored, not tracks settled: on a loaded machine the first tracks settled
            # can all be ones with no acceptable video, which would leave nothing to keep.
            wait_for(lambda: youtube_status(tmp_path).get("ok", 0) >= 2
                     if (tmp_path / "deezer_tags" / "manifest.sqlite").exists() else False, child,
                     "two YouTube clips stored")
            web.youtube_blocked = True  # the bot check: the build pauses for two windows (2 s)
            wait_for(lambda: ((progress(tmp_path) or {}).get("pace_state") or {}).get("pause_until", 0) > time.time(),
                     child, "a pause")
            with sqlite3.connect(f"file:{tmp_path}/deezer_tags/manifest.sqlite?mode=ro", uri=True) as db:
                kept = dict(db.execute("SELECT track_id, audio_sha256 FROM tracks WHERE audio_source = 'youtube'"))
            child.send_signal(signal.SIGKILL)
        finally:
            child.kill()
            child.wait()
        pause_until = progress(tmp_path)["pace_state"]["pause_until"]
        web.youtube_blocked = False
        web.clear_log()
        resumed = build(web, tmp_path, "full", max_tracks=TRACKS, calibration_tracks=0, youtube_budget="4/1")
        first_page = min((r.started for r in web.requests if PAGE.match(r.path)), default=None)
        kept_videos = {video for split in resumed.values()
                       for t, video in zip(split["track_id"], split["youtube_video_id"]) if t in kept}
        refetched = [r for r in web.requests if r.path.startswith("/media/videoplayback/id/")
                     and r.path.split("/")[4] in kept_videos]
    assert kept, "some YouTube clips were stored before the kill"
    assert all(clips(resumed)[t] == sha for t, sha in kept.items())  # no clip lost
    assert not refetched, "a clip stored before the kill was fetched again"
    assert clips(resumed) == unlimited
    # The resumed run waited out what was left of the pause before asking YouTube anything.
    assert first_page is not None and time.time() - (time.monotonic() - first_page) >= pause_until - 0.2


def test_previews_load_from_another_process_while_the_youtube_phase_runs(scenario, tmp_path, unlimited):

    with LocalWeb(scenario, **FAST_QUOTA) as web:
        child = start_child(web, tmp_path, "1/1")  # a slow YouTube: the phase lasts well past the calls
        try:
            wait_for(lambda: progress(tmp_path) is not None and youtube_status(tmp_path).get("pending", 0) > 3
                     and not _previews_pending(tmp_path), child, "the calls' end")
            started = time.monotonic()
            previews = build(web, tmp_path, "previews", max_tracks=TRACKS)
            waited = time.monotonic() - started
            assert child.poll() is None, "the full build was to be still on YouTube"
            status = subprocess.run([sys.executable, "-m", "deezer_tags", "status", "--cache-dir", str(tmp_path)],
                                    capture_output=True, text=True, timeout=60)
        finally:
            child.kill()
            child.wait()
    with_preview = {t: sha for t, sha in unlimited.items() if t not in scenario.no_preview_ids}
    assert clips(previews) == with_preview
    assert waited < 30
    assert status.returncode == 0, status.stderr
    assert re.search(r"YouTube tracks: \d+ done, \d+ pending .*, \d+ without a video", status.stdout)
    assert "YouTube budget 1 videos per 1 s" in status.stdout and "running" in status.stdout


def _previews_pending(cache: Path) -> int:
    with sqlite3.connect(f"file:{cache}/deezer_tags/manifest.sqlite?mode=ro", uri=True) as db:
        return db.execute("SELECT COUNT(*) FROM tracks WHERE meta_status = 'pending' OR "
                          "(meta_status = 'ok' AND preview_status = 'pending')").fetchone()[0]
