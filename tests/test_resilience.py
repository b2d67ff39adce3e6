"""Faults and kills: every track ends resolved or recorded, and nothing is fetched twice."""

from __future__ import annotations

import sqlite3

from deezer_tags.testing import Faults, LocalWeb, Scenario

from conftest import api_track_ids, build, kill_build_midway

TRACKS = 200


def test_resets_5xx_and_garbage_bodies_are_retried_to_success(tmp_path):
    scenario = Scenario.from_public_data(no_data_fraction=0.05, seed=3)
    faults = Faults(reset=0.1, server_error=0.1, not_json=0.05, seed=11)
    with LocalWeb(scenario, quota=100, window=0.5, faults=faults) as web:
        dataset = build(web, tmp_path, max_tracks=TRACKS)
        faulty = [r for r in web.requests if r.fault]
    rows = [row for split in dataset.values() for row in split]
    assert len(rows) == TRACKS
    assert faulty, "the fault injection must have fired"
    statuses = {row["track_id"]: row["metadata_status"] for row in rows}
    gone = {t for t in statuses if t in scenario.no_data_ids}
    assert {t for t, s in statuses.items() if s == "no_data"} == gone
    assert all(s == "ok" for t, s in statuses.items() if t not in gone)


def test_a_track_that_always_fails_is_recorded_failed_then_retried_next_build(tmp_path):
    scenario = Scenario.from_public_data(seed=3)
    with LocalWeb(scenario, quota=100, window=0.5, faults=Faults(server_error=1.0, seed=1)) as web:
        dataset = build(web, tmp_path, max_tracks=3, workers=3)
        assert web.count("/deezer/track/") == 3 * 6  # bounded: six attempts per track, then recorded
    assert {row["metadata_status"] for s in dataset.values() for row in s} == {"failed"}
    with LocalWeb(scenario, quota=100, window=0.5) as web:
        dataset = build(web, tmp_path, max_tracks=3, workers=3, download_mode="force_redownload")
        assert web.count("/deezer/track/") == 3
    assert {row["metadata_status"] for s in dataset.values() for row in s} == {"ok"}




def test_sigkill_mid_build_then_resume_refetches_nothing_finished(tmp_path):
    scenario = Scenario.from_public_data(no_data_fraction=0.05, seed=5)
    tracks = 400
    with LocalWeb(scenario, quota=40, window=0.5, latency=(0.0, 0.02)) as web:
        kill_build_midway(web, "metadata", tmp_path, tracks, "meta_status IN ('ok', 'no_data')", 100)
        first_run = set(api_track_ids(web))

        manifest = tmp_path / "deezer_tags" / "manifest.sqlite"
        with sqlite3.connect(manifest) as db:
            finished = {t for (t,) in db.execute(
                "SELECT track_id FROM tracks WHERE meta_status IN ('ok', 'no_data')")}
        assert 100 <= len(finished) <= len(first_run)

        web.clear_log()
        dataset = build(web, tmp_path, max_tracks=tracks)
        second_run = api_track_ids(web)

        quota_answers = web.quota_rejections

    assert not finished & set(second_run), "a finished track was fetched again"
    assert len(set(second_run)) == tracks - len(finished)
    # A track is asked for again only after a quota answer (this resumed build runs in the
    # test's process, where GIL jitter can push an arrival into the next window).
    assert len(second_run) - len(set(second_run)) <= quota_answers
    rows = [row for split in dataset.values() for row in split]
    assert len(rows) == tracks
    assert all(row["metadata_status"] in ("ok", "no_data") for row in rows)


def test_a_kept_partial_preview_goes_on_only_if_its_end_matches_the_file(tmp_path):
    """A `.part` goes on from where it stopped, its last OVERLAP bytes read again and
    compared. Found by the kill campaign: a build killed while a damaged answer arrived kept
    the start of the damage; resumed without that check, the stored preview was a splice no
    answer holds, whole enough to pass the MP3 check."""
    import hashlib

    import requests

    from deezer_tags.previews import OVERLAP, PreviewDownloader, partial_path

    scenario = Scenario.from_public_data(seed=0)
    track = next(t for t in scenario.tracks if scenario.answers(t) and scenario.tracks[t].preview == "ok")
    dest = tmp_path / "audio" / f"{track}.mp3"
    dest.parent.mkdir()
    kept = 200_000
    with LocalWeb(scenario) as web:
        url = requests.get(f"{web.base_url}/deezer/track/{track}", timeout=10).json()["preview"]
        whole = requests.get(url, timeout=10).content
        downloader = PreviewDownloader(lambda _: True, backoff=0.01)

        def ranges() -> list:
            return [r.client_range for r in web.requests if r.path.startswith("/cdn/") and r.method == "GET"]

        partial_path(dest).write_bytes(whole[:kept])
        web.clear_log()
        good = downloader.download(url, dest)
        assert ranges() == [f"bytes={kept - OVERLAP}-"]

        dest.unlink()
        partial_path(dest).write_bytes(whole[:kept - 300] + bytes(300))  # the damage begins at its end
        web.clear_log()
        spliced = downloader.download(url, dest)
        assert ranges() == [f"bytes={kept - OVERLAP}-", None]  # checked, then started again
    assert good.sha256 == spliced.sha256 == hashlib.sha256(whole).hexdigest()
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == good.sha256
    assert not partial_path(dest).exists()
