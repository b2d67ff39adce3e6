"""The audio configs end to end: previews and the YouTube fallback in one pipeline."""

from __future__ import annotations

import collections
import csv
import hashlib
import io
import json
import re
import sqlite3
import time
from pathlib import Path

import datasets
import pytest
import soundfile

from deezer_tags.audio import inspect_mp3
from deezer_tags.features import audio_feature, decoded_array, decoder_problem
from deezer_tags.testing import Faults, LocalWeb, Scenario
from deezer_tags.testing.audio import media_mp3

from conftest import FAST_QUOTA, api_track_ids, build, kill_build_midway

TRACKS = 80
_CDN = re.compile(r"^/cdn/stream/c-([0-9a-f]{32})-5\.mp3$")


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario.from_public_data(no_data_fraction=0.03, no_preview_fraction=0.25,
                                     dead_preview_fraction=0.05, wrong_video_fraction=0.05, seed=4)


DECODES = decoder_problem() is None

def rows_of(dataset) -> dict[int, dict]:
    """Each row with its clip's path (and no decoding: 4+ would give a torchcodec decoder)."""
    return {row["track_id"]: row for split in dataset.values()
            for row in split.cast_column("audio", datasets.Audio(decode=False))}


def first_ids(n: int) -> list[int]:
    from deezer_tags.testing import public_text

    return [int(r["song_id"]) for _, r in zip(range(n), csv.DictReader(io.StringIO(public_text("seed-repo/annotation.csv"))))]


def work_dir(cache: Path) -> Path:
    return cache / "deezer_tags"


@pytest.fixture(scope="module")
def full_build(scenario, tmp_path_factory) -> tuple[dict[int, dict], list, Path]:
    """One fault-free, uninterrupted `full` build of the first TRACKS tracks: its rows, the
    local web's request log and the cache dir. The other builds here are checked against it."""
    cache = tmp_path_factory.mktemp("full")
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        dataset = build(web, cache, "full", max_tracks=TRACKS)
        log = list(web.requests)
    return rows_of(dataset), log, cache


def test_full_config_yields_valid_previews_and_youtube_clips(scenario, full_build):
    ids = first_ids(TRACKS)
    rows, log, cache = full_build
    live = [t for t in ids if t not in scenario.no_data_ids | scenario.no_preview_ids | scenario.dead_preview_ids]
    # Every track with a live preview has it; nothing else is called a preview.
    assert {t for t, r in rows.items() if r["audio_source"] == "deezer_preview"} == set(live)
    recovered = [r for r in rows.values() if r["audio_source"] == "youtube"]
    assert recovered, "some tracks without a preview must be recovered from the media host"
    for row in rows.values():
        path = row["audio"]["path"]
        data = Path(path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["audio_sha256"]
        info = inspect_mp3(data)
        assert (info.sample_rate, info.channels) == (44100, 2) and 29 < info.duration < 32
        if DECODES:  # as datasets decodes it (4+ needs torchcodec: CI's 5.x venv has it)
            array, rate = decoded_array(audio_feature().decode_example(row["audio"]))
            assert rate == 44100 and array.shape[0] == 2
    for row in recovered:
        assert row["youtube_video_id"] in scenario.videos
        assert not scenario.videos[row["youtube_video_id"]].wrong
        assert row["youtube_match_score"] >= 0.7 * 0.75 + 0.3 * 0.5 - 1e-6  # the judge's least (float32)
        assert row["youtube_found_by"] in ("id_map", "search")  # no art tracks in this world

    # A YouTube clip is a section: far less than the whole media file is read, and each
    # byte of it once (the relay resumes a broken answer from its last good byte). A range
    # ffmpeg leaves early (it skips ahead inside an MP4 fragment) may overlap the next.
    served, spans = collections.Counter(), collections.defaultdict(list)
    for r in log:
        if r.path.startswith("/media/videoplayback/") and r.bytes_sent:
            served[r.path] += r.bytes_sent
            first = int(r.client_range.removeprefix("bytes=").split("-")[0])
            spans[r.path].append((first, first + r.bytes_sent))
    assert served
    for path, sent in served.items():
        size = scenario.videos[path.split("/")[4]].duration * 16000  # about 128 kbps
        distinct = _covered(spans[path])
        assert distinct < 0.5 * size, f"{path}: {distinct} distinct bytes of {size}"
        assert sent < 1.15 * distinct, f"{path}: {sent} bytes sent for {distinct} distinct"

    report = json.loads((work_dir(cache) / "build_report.json").read_text())
    with_audio = report["audio"]["with_audio"]
    assert with_audio == {"deezer_preview": len(live), "youtube": len(recovered)}
    assert sum(report["audio"]["without_audio"].values()) == TRACKS - len(rows)
    with open(work_dir(cache) / "failed_tracks.csv") as handle:
        missing = {int(r["track_id"]) for r in csv.DictReader(handle)}
    assert missing == set(ids) - set(rows)


def test_previews_config_leaves_youtube_out_and_metadata_keeps_everyone(scenario, tmp_path):
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        previews = rows_of(build(web, tmp_path, "previews", max_tracks=40))
        assert web.count("/youtube/") == web.count("/media/") == 0
        metadata = rows_of(build(web, tmp_path, "metadata", max_tracks=40))
    assert {r["audio_source"] for r in previews.values()} == {"deezer_preview"}
    assert len(metadata) == 40 and set(previews) < set(metadata)


def test_expired_preview_urls_are_resolved_again(scenario, tmp_path):
    faults = Faults(expire_early=0.5, seed=2)
    with LocalWeb(scenario, faults=faults, **FAST_QUOTA) as web:
        dataset = build(web, tmp_path, "previews", max_tracks=TRACKS)
        cdn = [(m.group(1), r.status) for r in web.requests if (m := _CDN.match(r.path)) and r.method == "GET"]
        calls = collections.Counter(api_track_ids(web))
    track_of = {scenario.preview_key(t): t for t in first_ids(TRACKS)}
    answers = collections.defaultdict(list)
    for key, status in cdn:
        answers[track_of[key]].append(status)
    expired_once = {t for t, s in answers.items() if s[0] == 403}
    assert expired_once, "the fault must have fired"
    # One fresh Deezer call per expired URL, and the preview fetched with it.
    assert {t for t, n in calls.items() if n == 2} == expired_once
    rows = rows_of(dataset)
    for track_id in expired_once - scenario.dead_preview_ids:
        assert (track_id in rows) == (answers[track_id][1] == 200), answers[track_id]


def test_cdn_faults_end_in_valid_audio_or_a_recorded_failure(scenario, full_build, tmp_path):
    faults = Faults(reset=0.1, server_error=0.1, truncated=0.1, html_as_audio=0.1, corrupt_audio=0.1, seed=9)
    with LocalWeb(scenario, faults=faults, **FAST_QUOTA) as web:
        dataset = build(web, tmp_path, "previews", max_tracks=TRACKS)
        assert any(r.fault for r in web.requests if r.path.startswith("/cdn/"))
    rows = rows_of(dataset)
    clean = {t: r["audio_sha256"] for t, r in full_build[0].items() if r["audio_source"] == "deezer_preview"}
    # Same bytes as a build without faults, for every track that has audio.
    assert {t: r["audio_sha256"] for t, r in rows.items()} == {t: clean[t] for t in rows}
    with open(work_dir(tmp_path) / "failed_tracks.csv") as handle:
        failed = {int(r["track_id"]): r for r in csv.DictReader(handle)}
    assert set(failed) | set(rows) == set(first_ids(TRACKS))
    assert not list(work_dir(tmp_path).glob("audio/.*")), "temp files left behind"




def test_sigkill_then_resume_gives_the_same_dataset_and_refetches_nothing_finished(scenario, full_build, tmp_path):
    tracks = TRACKS
    with LocalWeb(scenario, quota=20, window=0.5, latency=(0.0, 0.02)) as web:
        kill_build_midway(web, "full", tmp_path, tracks, "preview_status = 'ok'", 20)
        with sqlite3.connect(work_dir(tmp_path) / "manifest.sqlite") as db:
            finished = {t for (t,) in db.execute("SELECT track_id FROM tracks WHERE preview_status = 'ok'")}
        assert finished
        web.clear_log()
        resumed = rows_of(build(web, tmp_path, "full", max_tracks=tracks, quota_calls=20, quota_window=0.5))
        keys_fetched = {m.group(1) for r in web.requests if (m := _CDN.match(r.path))}
    assert not {scenario.preview_key(t) for t in finished} & keys_fetched, "a finished preview was fetched again"
    assert not list(work_dir(tmp_path).glob("audio/.*")), "temp files left behind"

    uninterrupted = full_build[0]
    assert {t: r["audio_sha256"] for t, r in resumed.items()} == \
        {t: r["audio_sha256"] for t, r in uninterrupted.items()}
    # Both runs are in the report: the killed one without an end.
    runs = json.loads((work_dir(tmp_path) / "build_report.json").read_text())["provenance"]["runs"]
    assert [(r["outcome"], r["finished_at"] is None) for r in runs] == [(None, True), ("complete", False)]


def test_a_complete_cache_is_rebuilt_with_zero_requests(scenario, full_build):
    first, _, cache = full_build
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        again = rows_of(build(web, cache, "full", max_tracks=TRACKS, download_mode="reuse_cache_if_exists"))
        services = [r for r in web.requests if not r.path.startswith(("/zenodo/", "/github/"))]
    assert services == []
    assert {t: r["audio_sha256"] for t, r in again.items()} == {t: r["audio_sha256"] for t, r in first.items()}


def test_an_earlier_crawl_is_imported_instead_of_downloaded(scenario, tmp_path):
    import requests

    ids = first_ids(30)
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        old = tmp_path / "old" / "dataset"
        (old / "audio").mkdir(parents=True)
        (old / "audio_crawl").mkdir()
        live = [t for t in ids if scenario.tracks[t].preview == "ok" and t not in scenario.no_data_ids]
        for track_id in live[:10]:
            body = requests.get(f"{web.base_url}/deezer/track/{track_id}", timeout=10).json()
            (old / "audio" / f"{track_id}.mp3").write_bytes(requests.get(body["preview"], timeout=10).content)
        (old / "audio" / f"{live[10]}.mp3").write_bytes(b"<html>not audio</html>")  # rejected, fetched anew
        video = next(iter(scenario.videos.values()))
        crawl_track = next(t for t in ids if t not in live)
        (old / "audio_crawl" / f"{crawl_track}.mp3").write_bytes(media_mp3(video.video_id, video.duration))
        web.clear_log()
        rows = rows_of(build(web, tmp_path / "cache", "full", max_tracks=30, data_dir=str(old)))
        fetched = {m.group(1) for r in web.requests if (m := _CDN.match(r.path))}
    assert not {scenario.preview_key(t) for t in live[:10]} & fetched
    assert scenario.preview_key(live[10]) in fetched
    assert all(rows[t]["audio_source"] == "deezer_preview" for t in live[:11])
    assert rows[crawl_track]["audio_source"] == "youtube"
    data, rate = soundfile.read(rows[crawl_track]["audio"]["path"])
    assert rate == 44100 and 29 < len(data) / rate < 32


def test_metadata_first_then_full_uses_stored_urls_and_refreshes_expired_ones(scenario, tmp_path):
    ids = first_ids(40)
    live = {t for t in ids if scenario.answers(t) and scenario.tracks[t].preview == "ok"}
    with_url = {t for t in ids if scenario.answers(t) and scenario.tracks[t].preview in ("ok", "dead")}
    with LocalWeb(scenario, preview_ttl=1.0, **FAST_QUOTA) as web:
        build(web, tmp_path, "metadata", max_tracks=40)
        time.sleep(1.2)  # every stored preview URL has expired now
        web.clear_log()
        rows = rows_of(build(web, tmp_path, "previews", max_tracks=40))
        calls = collections.Counter(api_track_ids(web))
    assert {t for t, r in rows.items() if r["audio_source"] == "deezer_preview"} == live
    assert set(calls) == with_url and set(calls.values()) == {1}  # one fresh URL per expired one


def _covered(spans: list[tuple[int, int]]) -> int:
    """Bytes inside at least one of the [start, end) spans."""
    total, reach = 0, 0
    for start, end in sorted(spans):
        total += max(0, end - max(start, reach))
        reach = max(reach, end)
    return total
