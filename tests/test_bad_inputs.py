"""Bad inputs: what the build reads may be broken or hostile.

The tag matrix, the YouTube id map, Deezer's API bodies and the audio bodies of the CDN
and the media host each get malformed, truncated, wrong-shaped or hostile versions. Each
ends in a clear error raised before any Deezer call (a source file), or in a failure
recorded per track with its reason (a body); nothing is stored as audio that is not
audio, nothing is fetched from a host that is not configured, and what an earlier build
left in the cache dir is still there afterwards.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
import shutil
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest
import requests
import soundfile

from deezer_tags.audio import inspect_mp3
from deezer_tags.deezer import DeezerClient, RetryPolicy
from deezer_tags.errors import ChecksumMismatchError, MalformedSourceError
from deezer_tags.manifest import Manifest, TrackRow
from deezer_tags.workdir import MANIFEST_NAME
from deezer_tags.pipeline import Pipeline, PipelineOptions
from deezer_tags.previews import MAX_PREVIEW_BYTES, PreviewDownloader
from deezer_tags.sources import Quota, resolve_endpoints
from deezer_tags.testing import LocalWeb, Scenario, public_text
from deezer_tags.testing.audio import media_mp3, preview_mp3
from deezer_tags.testing.deezer_api import track_body
from deezer_tags.testing.scenario import video_id_of as served_video_id
from deezer_tags.youtube import YouTubeRecoverer, parse_youtube_map

from conftest import FAST_QUOTA, api_track_ids, build, load

QUOTA_KWARGS = {"quota_calls": FAST_QUOTA["quota"], "quota_window": FAST_QUOTA["window"]}

MAPPED_TRACK = 79472617  # "Another Chance (Radio Edit)" by Roger Sanchez, video NMg2mhqJR8g (240 s)
MAPPED_VIDEO = "NMg2mhqJR8g"
# The local web's services, by path; a request for anything else came from a URL we were handed.
SERVED_PATH = re.compile(r"^/(zenodo|github|deezer|cdn/stream|youtube/(watch|results|music/search)|media)/?")
WATCH_QUERY = re.compile(r"v=[A-Za-z0-9_-]{11}")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def work_dir(cache: Path) -> Path:
    return cache / "deezer_tags"


def cache_state(cache: Path) -> tuple[list[tuple], dict[str, str]]:
    """Every manifest row, as stored, and the sha256 of every file in the audio folder."""
    with sqlite3.connect(f"file:{work_dir(cache) / MANIFEST_NAME}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT * FROM tracks ORDER BY track_id").fetchall()
    audio = {p.name: sha256(p.read_bytes()) for p in sorted((work_dir(cache) / "audio").iterdir())}
    return rows, audio


@pytest.fixture(scope="module")
def earlier_build(tmp_path_factory) -> Path:
    """A cache dir in which a `previews` build of 3 tracks has finished."""
    cache = tmp_path_factory.mktemp("earlier") / "cache"
    with LocalWeb(Scenario.from_public_data(), **FAST_QUOTA) as web:
        build(web, cache, "previews", max_tracks=3)
    rows, audio = cache_state(cache)
    assert len(rows) == 3 and len(audio) == 3 and {r[5] for r in rows} == {"ok"}  # preview_status
    return cache


@pytest.fixture()
def cache(earlier_build, tmp_path) -> Path:
    """A copy of the earlier build's cache dir, for a build that must not spoil it."""
    return Path(shutil.copytree(earlier_build, tmp_path / "cache"))


def assert_nothing_fetched_and_cache_kept(web: LocalWeb, cache: Path, before: tuple) -> None:
    assert web.count("/deezer/") == web.count("/cdn/") == web.count("/youtube/") == 0
    assert cache_state(cache) == before


# -- 1. the tag matrix ----------------------------------------------------------------------

def test_a_truncated_matrix_download_is_refused_by_its_checksum_and_the_cache_kept(cache):
    before = cache_state(cache)
    scenario = Scenario.from_public_data()
    data = scenario.files["annotation"]
    cut = data.index(b"\n", len(data) // 2) + 5  # five bytes into a row: mid-row
    scenario.files["annotation"] = data[:cut]
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        with pytest.raises(ChecksumMismatchError) as raised:
            build(web, cache, "previews", max_tracks=3)
        assert_nothing_fetched_and_cache_kept(web, cache, before)
    message = str(raised.value)
    assert "the tag matrix" in message and "Context_tags_dataset.csv" in message
    assert sha256(data[:cut]) in message and "force_redownload" in message


HEADER = "song_id,car,chill,club,dance,gym,happy,night,party,relax,running,sad,sleep,summer,work,workout\n"
ROW = ",0,1,1,1,0,1,1,1,1,1,0,0,1,1,1\n"


def _cut_mid_row(line: int, keep_fields: int) -> str:
    """The real matrix up to `line`, which is cut after `keep_fields` fields and a comma."""
    lines = public_text("seed-repo/annotation.csv").splitlines(keepends=True)
    return "".join(lines[:line - 1]) + ",".join(lines[line - 1].split(",")[:keep_fields]) + ","


# (matrix text, what the message says besides the file, line and fix). test_sources.py has
# the plain cases under verification_mode="no_checks"; these come in through checksums=.
MALFORMED = {
    "truncated mid-row": (_cut_mid_row(1001, 5), r"line 1001: 6 fields, expected 16 \(the file is truncated"),
    "truncated before the last value": (HEADER + "12" + ROW + "13" + ROW[:-3] + ",", r"line 3: tag 'workout' is ''"),
    "a value that is a word": (HEADER + "12" + ROW.replace(",0,", ",yes,", 1), r"line 2: tag 'car' is 'yes'"),
    "a value that is a float": (HEADER + "12" + ROW.replace(",1,", ",1.0,", 1), r"line 2: tag 'chill' is '1.0'"),
    "a negative id": (HEADER + "12" + ROW + "-7" + ROW, r"line 3: track id '-7' is not a positive integer"),
    "a fractional id": (HEADER + "12.5" + ROW, r"line 2: track id '12.5' is not a positive integer"),
    "a superscript digit as id": (  # str.isdigit() says yes, int() says no
        HEADER + "12" + ROW + "\u00b2" + ROW, r"line 3: track id '\u00b2' is not a positive"),
    "an id repeated with a leading zero": (HEADER + "12" + ROW + "13" + ROW + "012" + ROW,
                                           r"line 4: track id 12 appears twice \(first on line 2\)"),
    "a row too long": (HEADER + "12" + ROW[:-1] + ",1\n", r"line 2: 17 fields, expected 16"),
    "a quoted field spanning lines": (HEADER + "12" + ROW + '"1\n3"' + ROW, r"line 3: track id '1\\n3'"),
    "a header and no tracks": (HEADER, r"has a header but no tracks"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_matrix_passed_on_purpose_names_its_line_and_the_fix(cache, case):
    text, expected = MALFORMED[case]
    before = cache_state(cache)
    scenario = Scenario.from_public_data()
    scenario.files["annotation"] = text.encode()
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        with pytest.raises(MalformedSourceError, match=expected) as raised:
            build(web, cache, "previews", max_tracks=3, checksums={"annotation": sha256(text.encode())})
        assert_nothing_fetched_and_cache_kept(web, cache, before)
    message = str(raised.value)
    assert message.startswith("the tag matrix ")
    assert "Context_tags_dataset.csv" in message and "force_redownload" in message


@pytest.mark.parametrize("key", ["annotation", "youtube_map"])
def test_a_source_that_is_not_utf8_is_a_clear_error(cache, key):
    before = cache_state(cache)
    scenario = Scenario.from_public_data()
    scenario.files[key] = scenario.files[key].replace(b"1", b"\xb9", 1)  # "1" in Latin-1 superscript
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        with pytest.raises(MalformedSourceError, match="UTF-8"):
            build(web, cache, "full", max_tracks=3, checksums={key: sha256(scenario.files[key])})
        assert_nothing_fetched_and_cache_kept(web, cache, before)


# -- 2. the YouTube id map ------------------------------------------------------------------

# Shapes are checked one by one in test_youtube.py; here, that a bad map stops the build in time.
@pytest.mark.parametrize("text, expected", [
    (b'{"79472617": {"url": "https://www.youtube.com/watch?v=NMg2mhqJR8g"', r"is not valid JSON .* at line 1"),
    (b'["https://www.youtube.com/watch?v=NMg2mhqJR8g"]', r"is a JSON list, not an object"),
    (b'{"79472617; rm -rf ~": {"url": "https://youtu.be/NMg2mhqJR8g"}}', r"is not a positive integer track id"),
])
def test_a_map_of_the_wrong_shape_stops_the_build_before_any_call(cache, text, expected):
    before = cache_state(cache)
    scenario = Scenario.from_public_data()
    scenario.files["youtube_map"] = text
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        with pytest.raises(MalformedSourceError, match=expected) as raised:
            build(web, cache, "full", max_tracks=3, checksums={"youtube_map": sha256(text)})
        assert_nothing_fetched_and_cache_kept(web, cache, before)
    assert "YouTube id map" in str(raised.value) and "youtube_map_url" in str(raised.value)


# Each is some mapped track's entry; none may be requested, handed to yt-dlp or ffmpeg.
BAD_MAP_URLS = [
    "https://www.dailymotion.com/video/x7tgad0",
    "https://www.youtube.com.evil.example/watch?v=NMg2mhqJR8g",
    "file:///etc/passwd",
    "file://www.youtube.com/watch?v=NMg2mhqJR8g",
    "https://www.youtube.com/watch?v=abc;rm -rf ~",
    "https://www.youtube.com/watch?v=NMg2mhqJR8g;rm -rf ~",
    "https://www.youtube.com/watch?v=$(touch /tmp/deezer_tags_pwned)",
    "https://youtu.be/`id`NMg2mhqJR8g",
    "https://www.youtube.com/watch?v=NMg2mhqJR8g%0A",  # a newline after a valid id
    "http://localhost:{port}/evil/watch?v=NMg2mhqJR8g",  # reachable, but not a YouTube host
]
UNKNOWN_TRACK_VIDEO = "AAAAAAAAAAA"


def test_bad_map_entries_are_refused_per_track_and_only_youtube_ids_are_fetched(tmp_path):
    scenario = Scenario.from_public_data(no_preview_fraction=1.0)  # every track goes to YouTube
    youtube_map = json.loads(scenario.files["youtube_map"])
    bad_tracks = [int(k) for k in youtube_map if int(k) != MAPPED_TRACK][:len(BAD_MAP_URLS)]
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        port = web.base_url.rsplit(":", 1)[1]
        tampered = {str(MAPPED_TRACK): youtube_map[str(MAPPED_TRACK)]}  # the one good entry
        for track_id, url in zip(bad_tracks, BAD_MAP_URLS):
            tampered[str(track_id)] = {**youtube_map[str(track_id)], "url": url.format(port=port)}
        # Entries for tracks not in the matrix: never looked at.
        tampered["123"] = {"url": f"https://www.youtube.com/watch?v={UNKNOWN_TRACK_VIDEO}", "title": "x", "query": "x"}
        tampered["456"] = {"url": "file:///etc/shadow", "title": "x", "query": "x"}
        scenario.files["youtube_map"] = json.dumps(tampered).encode()
        # An empty search page: each track's fate is its map entry's.
        endpoints = {**web.config_kwargs(), "youtube_search_url": web.config_kwargs()["youtube_search_url"] + "&n=0"}
        dataset = load(
            "full", str(tmp_path), **endpoints, **QUOTA_KWARGS,
            track_ids=[MAPPED_TRACK, *bad_tracks], checksums={"youtube_map": sha256(scenario.files["youtube_map"])})
        served = web.requests

    assert [t for split in dataset.values() for t in split["track_id"]] == [MAPPED_TRACK]
    with Manifest(work_dir(tmp_path) / MANIFEST_NAME, readonly=True) as manifest:
        rows = {row.track_id: row for row in manifest.rows([MAPPED_TRACK, *bad_tracks])}
    assert (rows[MAPPED_TRACK].youtube_status, rows[MAPPED_TRACK].youtube_video_id) == ("ok", MAPPED_VIDEO)
    for track_id, url in zip(bad_tracks, BAD_MAP_URLS):
        row = rows[track_id]
        assert row.youtube_status == "none" and row.audio_path is None, url
        assert "no acceptable video" in row.audio_error
        [candidate] = row.match_evidence["candidates"]
        assert (candidate["source"], candidate["video_id"], candidate["verdict"]) == ("id_map", None, "refused"), url
        assert candidate["reason"].startswith("the id map URL"), url

    # Only the local web's own services were asked, and yt-dlp and ffmpeg only for
    # configured URLs built from an 11-character id: the good entry's video.
    assert all(SERVED_PATH.match(r.path) for r in served), [r.path for r in served if not SERVED_PATH.match(r.path)]
    watched = [r.query for r in served if r.path == "/youtube/watch"]
    assert watched and all(WATCH_QUERY.fullmatch(q) for q in watched), watched
    assert set(watched) == {f"v={MAPPED_VIDEO}"}
    assert {r.path.split("/id/")[1].split("/")[0] for r in served if r.path.startswith("/media/")} == {MAPPED_VIDEO}
    assert not Path("/tmp/deezer_tags_pwned").exists()


# -- the engine, with retries that do not wait ---------------------------------------------

FAST_RETRY = RetryPolicy(max_attempts=3, backoff=0.01, max_backoff=0.02)


def run_engine(web: LocalWeb, work: Path, track_ids: list[int], *, youtube: bool) -> dict[int, TrackRow]:
    """The pipeline as Build.acquire runs it for the `full` (or `previews`) config, but with
    retries that do not wait, and a YouTube search that finds nothing: a track's fate is its
    preview's and its map entry's. Returns the manifest rows."""
    endpoints = resolve_endpoints({**web.config_kwargs(),
                                   "youtube_search_url": web.config_kwargs()["youtube_search_url"] + "&n=0"},
                                  environ={})
    client = DeezerClient(endpoints.api_url, Quota(web.quota, web.window), retry=FAST_RETRY)
    recoverer = None
    if youtube:
        recoverer = YouTubeRecoverer(endpoints, parse_youtube_map(web.scenario.files["youtube_map"].decode()))
    options = PipelineOptions(youtube=youtube, youtube_workers=4)
    try:
        with Manifest(work / MANIFEST_NAME) as manifest:
            Pipeline(manifest, client, work, preview_allowed=endpoints.is_preview_url,
                     previews=PreviewDownloader(endpoints.is_preview_url, backoff=0.01),
                     youtube=recoverer, options=options, progress=False).run(track_ids)
    finally:
        if recoverer is not None:
            recoverer.close()
    with Manifest(work / MANIFEST_NAME, readonly=True) as manifest:
        return {row.track_id: row for row in manifest.rows(track_ids)}


def own_video_tracks(scenario: Scenario, n: int) -> list[int]:
    """Tracks whose id map video is their recording, titled "{artist} - {title}": the map's
    candidate passes the matcher, so a refusal is the body's doing."""
    found = []
    for key, entry in json.loads(scenario.files["youtube_map"]).items():
        video = scenario.videos.get(served_video_id(entry["url"]) or "")
        track = scenario.tracks.get(int(key))
        if (video and track and video.track_id == track.id and not video.wrong
                and video.title.casefold().startswith(f"{track.artist_name} - {track.title}".casefold())):
            found.append(track.id)
            if len(found) == n:
                return found
    raise AssertionError("not enough such tracks")


def audio_files(work: Path) -> list[str]:
    return sorted(p.name for p in (work / "audio").iterdir())


def test_the_overrides_serve_the_given_bytes_and_leave_the_rest_alone():
    scenario = Scenario.from_public_data()
    scenario.api_overrides[MAPPED_TRACK] = b"not json"
    scenario.media_overrides[MAPPED_VIDEO] = b"not audio"
    other = next(t for t in scenario.tracks if t != MAPPED_TRACK)
    with LocalWeb(scenario) as web, requests.Session() as http:
        assert http.get(f"{web.base_url}/deezer/track/{MAPPED_TRACK}").content == b"not json"
        preview = http.get(f"{web.base_url}/deezer/track/{other}").json()["preview"]
        assert http.get(preview).content == preview_mp3(other, *scenario.preview_excerpt(other))
        scenario.preview_overrides[other] = b"\x00" * 10
        answer = http.get(preview, headers={"Range": "bytes=2-"})
        assert (answer.status_code, answer.content, answer.headers["Content-Type"]) == (206, b"\x00" * 8, "audio/mpeg")
        assert http.get(web.media_url(MAPPED_VIDEO)).content == b"not audio"


# -- 3. Deezer API bodies --------------------------------------------------------------------

def test_api_bodies_that_are_not_a_track_are_retried_then_recorded_failed(tmp_path):
    scenario = Scenario.from_public_data()
    ids = list(scenario.tracks)[:8]
    good = json.loads(track_body(scenario.tracks[ids[0]], "", 0))
    bodies = {
        b"<!DOCTYPE html><html><body><h1>Service Unavailable</h1></body></html>": "body is not JSON",
        b'{"id": %d, "title": "Harder, Bet' % ids[1]: "body is not JSON",
        b"": "body is not JSON",
        b"[]": "not a track body",
        b"null": "not a track body",
        json.dumps({k: v for k, v in good.items() if k != "id"}).encode(): "not a track body",
        json.dumps({**good, "id": str(ids[6])}).encode(): "not a track body",  # the id as a string
        json.dumps({**good, "id": ids[0] + 1}).encode(): "not a track body",  # another track's body
    }
    for track_id, body in zip(ids, bodies):
        scenario.api_overrides[track_id] = body
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        rows = run_engine(web, tmp_path, ids, youtube=False)
        calls = api_track_ids(web)
        assert web.count("/cdn/") == 0
    for track_id, reason in zip(ids, bodies.values()):
        row = rows[track_id]
        assert (row.meta_status, row.metadata) == ("failed", None), track_id
        assert reason in row.last_error and f"after {FAST_RETRY.max_attempts} attempts" in row.last_error
        assert row.preview_status == "pending" and row.audio_path is None  # retried by the next build
        assert calls.count(track_id) == FAST_RETRY.max_attempts
    assert audio_files(tmp_path) == []


def test_a_body_without_a_preview_field_is_a_track_without_preview(tmp_path):
    scenario = Scenario.from_public_data()
    body = json.loads(track_body(scenario.tracks[MAPPED_TRACK], "", 0))
    del body["preview"]
    scenario.api_overrides[MAPPED_TRACK] = json.dumps(body).encode()
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        row = run_engine(web, tmp_path, [MAPPED_TRACK], youtube=True)[MAPPED_TRACK]
        assert web.count("/cdn/") == 0
    assert (row.meta_status, row.metadata["preview"], row.metadata["title"]) == ("ok", None, body["title"])
    assert (row.preview_status, row.audio_error) == ("none", None)  # recovered: the error is cleared
    assert (row.audio_source, row.youtube_video_id) == ("youtube", MAPPED_VIDEO)


OFF_CDN_PREVIEWS = {  # the URL -> what the metadata's record of the refusal shows
    "http://evil.example/x.mp3": "http://evil.example/x.mp3",
    "https://cdns-preview-d.dzcdn.net.evil.example/stream/c-0-5.mp3": "cdns-preview-d.dzcdn.net.evil.example",
    "file:///etc/passwd": "file:///etc/passwd",
    "ftp://127.0.0.1/x.mp3": "ftp://127.0.0.1/x.mp3",
    "reachable": "http://localhost:",  # the track's own signed URL on the local web, under another host name
}


def test_a_preview_off_the_configured_cdn_is_never_fetched_and_youtube_is_tried(tmp_path):
    scenario = Scenario.from_public_data()
    ids = own_video_tracks(scenario, len(OFF_CDN_PREVIEWS))
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        for track_id, url in zip(ids, OFF_CDN_PREVIEWS):
            if url == "reachable":
                url = requests.get(f"{web.base_url}/deezer/track/{track_id}").json()["preview"]
                url = url.replace("127.0.0.1", "localhost")
            scenario.api_overrides[track_id] = track_body(scenario.tracks[track_id], url, int(time.time()))
        web.clear_log()
        rows = run_engine(web, tmp_path, ids, youtube=True)
        assert web.count("/cdn/") == 0
    for track_id, host in zip(ids, OFF_CDN_PREVIEWS.values()):
        row = rows[track_id]
        assert row.meta_status == "ok" and row.metadata["preview"] is None
        assert host in row.metadata["preview_refused"] and "?" not in row.metadata["preview_refused"]
        assert row.preview_status == "none"
        assert (row.audio_source, row.youtube_status) == ("youtube", "ok")  # the fallback took over
    assert audio_files(tmp_path) == sorted(f"{t}.youtube.mp3" for t in ids)


def test_a_refused_preview_url_is_recorded_as_refused(tmp_path):
    scenario = Scenario.from_public_data()
    scenario.api_overrides[MAPPED_TRACK] = track_body(scenario.tracks[MAPPED_TRACK], "file:///etc/passwd", 0)
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        row = run_engine(web, tmp_path, [MAPPED_TRACK], youtube=False)[MAPPED_TRACK]
    assert row.preview_status == "none"
    assert "file:///etc/passwd" in row.audio_error and "not on the configured CDN hosts" in row.audio_error


@pytest.mark.parametrize("change", [{"preview": 42}, {"preview": ["http://127.0.0.1/x.mp3"]},
                                    {"preview": {"url": "http://127.0.0.1/x.mp3"}}, {"artist": "Roger Sanchez"}],
                         ids=["preview a number", "preview a list", "preview an object", "artist a string"])
def test_a_field_of_the_wrong_type_is_recorded_not_fatal(tmp_path, change):
    scenario = Scenario.from_public_data()
    body = {**json.loads(track_body(scenario.tracks[MAPPED_TRACK], "", 0)), **change}
    scenario.api_overrides[MAPPED_TRACK] = json.dumps(body).encode()
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        row = run_engine(web, tmp_path, [MAPPED_TRACK], youtube=False)[MAPPED_TRACK]
        assert web.count("/cdn/") == 0
    assert row.meta_status in ("ok", "failed")
    if row.meta_status == "ok":
        assert row.metadata["preview"] is None and row.preview_status == "none"


# -- 4. audio bodies -------------------------------------------------------------------------

def _encoded(fmt: str, seconds: float, rate: int, channels: int, **options) -> bytes:
    rng = np.random.default_rng(0)
    samples = 0.1 * rng.standard_normal((round(seconds * rate), channels)).astype(np.float32)
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format=fmt, **options)
    return buffer.getvalue()


HTML_PAGE = b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body></body></html>\n"

# What the CDN sends (200 audio/mpeg) -> what the recorded reason says.
BAD_PREVIEWS = {
    "zero bytes": (lambda: b"", "only 0 bytes of audio"),
    "an HTML page": (lambda: HTML_PAGE * 100, "an HTML or JSON page"),
    "a WAV file": (lambda: _encoded("WAV", 30, 8000, 1, subtype="PCM_16"), "no MP3 frame found|valid MP3 frames"),
    "an OGG file": (lambda: _encoded("OGG", 30, 22050, 2), "no MP3 frame found|valid MP3 frames"),
    "random bytes": (lambda: random.Random(1).randbytes(480_000), "no MP3 frame found|valid MP3 frames"),
    "MP3 at 22 kHz mono": (lambda: _encoded("MP3", 5, 22050, 1), "22050 Hz, 1 channel"),
    "2 s of MP3": (lambda: media_mp3("two-seconds", 2.0), r"2\.\d s long; expected 25 to 35 s"),
    "2 h of MP3": (lambda: media_mp3("two-hours", 7200.0), "more than any 30 s preview"),
}


@pytest.fixture(scope="module")
def bad_previews() -> dict[str, bytes]:
    return {case: make() for case, (make, _) in BAD_PREVIEWS.items()}


def test_a_bad_preview_is_never_stored_and_recorded_with_its_reason(tmp_path, bad_previews):
    scenario = Scenario.from_public_data()
    ids = list(scenario.tracks)[:len(BAD_PREVIEWS)]
    scenario.preview_overrides.update(zip(ids, bad_previews.values()))
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        rows = run_engine(web, tmp_path, ids, youtube=False)
        time.sleep(0.2)  # the server logs a request once the client has hung up
        long_preview = f"c-{scenario.preview_key(ids[-1])}-5.mp3"
        long_bytes = [r.bytes_sent for r in web.requests if r.path.endswith(long_preview)]
    for track_id, (case, (_, reason)) in zip(ids, BAD_PREVIEWS.items()):
        row = rows[track_id]
        assert (row.preview_status, row.audio_source, row.audio_path) == ("none", None, None), case
        assert re.search(reason, row.audio_error), (case, row.audio_error)
    assert audio_files(tmp_path) == []  # no preview, no .part left
    # The 2 h body is refused on its Content-Length, once, not read in full once per attempt.
    assert len(long_bytes) == 1 and long_bytes[0] < 4 * MAX_PREVIEW_BYTES


def test_a_bad_preview_goes_to_youtube_which_recovers_the_track(tmp_path, bad_previews):
    scenario = Scenario.from_public_data()
    ids = own_video_tracks(scenario, len(BAD_PREVIEWS))
    scenario.preview_overrides.update(zip(ids, bad_previews.values()))
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        rows = run_engine(web, tmp_path, ids, youtube=True)
    for track_id, case in zip(ids, BAD_PREVIEWS):
        row = rows[track_id]
        assert (row.preview_status, row.youtube_status, row.audio_source) == ("none", "ok", "youtube"), case
        data = (tmp_path / row.audio_path).read_bytes()
        assert sha256(data) == row.audio_sha256 and 29 < inspect_mp3(data).duration < 31
    assert audio_files(tmp_path) == sorted(f"{t}.youtube.mp3" for t in ids)


def test_media_that_is_not_audio_is_never_stored_and_recorded_failed(tmp_path):
    scenario = Scenario.from_public_data(no_preview_fraction=1.0)
    ids = own_video_tracks(scenario, 6)
    video_of = {t: served_video_id(json.loads(scenario.files["youtube_map"])[str(t)]["url"]) for t in ids}
    bad = dict(zip(ids[:4], (b"", HTML_PAGE * 100, random.Random(2).randbytes(480_000), media_mp3("short", 2.0))))
    for track_id, body in bad.items():
        scenario.media_overrides[video_of[track_id]] = body
    # Another format that is audio: ffmpeg makes the previews' format of it.
    ogg = ids[4]
    scenario.media_overrides[video_of[ogg]] = _encoded("OGG", scenario.videos[video_of[ogg]].duration, 8000, 1)
    # 2 h of media behind a page that gives the track's length: only a section is read.
    long_media = ids[5]
    scenario.media_overrides[video_of[long_media]] = media_mp3(video_of[long_media], 7200.0)
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        rows = run_engine(web, tmp_path, ids, youtube=True)
        time.sleep(0.2)  # the server logs a request once the client has hung up
        media_bytes = sum(r.bytes_sent for r in web.requests 
                          if r.path.startswith(f"/media/videoplayback/id/{video_of[long_media]}/"))

    for track_id in bad:
        row = rows[track_id]
        assert (row.youtube_status, row.audio_source, row.audio_path) == ("failed", None, None), track_id
        [candidate] = row.match_evidence["candidates"]
        assert candidate["verdict"] == "failed" and "(3 attempts)" in candidate["reason"]
        assert row.audio_error.startswith(f"video {video_of[track_id]}: ")
    for track_id in (ogg, long_media):
        row = rows[track_id]
        assert (row.youtube_status, row.audio_source) == ("ok", "youtube"), row.audio_error
        info = inspect_mp3((tmp_path / row.audio_path).read_bytes())
        assert (info.sample_rate, info.channels) == (44100, 2) and 29 < info.duration < 31
    assert media_bytes < 2_000_000 < len(scenario.media_overrides[video_of[long_media]]) / 50
    assert audio_files(tmp_path) == sorted(f"{t}.youtube.mp3" for t in (ogg, long_media))


def test_a_2h_video_is_refused_by_its_duration_before_any_media_is_read(tmp_path):
    scenario = Scenario.from_public_data(no_preview_fraction=1.0)
    video = scenario.videos[MAPPED_VIDEO]
    scenario.add_video(MAPPED_VIDEO, video.title, 7200, track_id=MAPPED_TRACK)  # the page says 2 h
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        row = run_engine(web, tmp_path, [MAPPED_TRACK], youtube=True)[MAPPED_TRACK]
        assert web.count("/media/") == 0
    assert (row.youtube_status, row.audio_path) == ("none", None)
    [candidate] = row.match_evidence["candidates"]
    assert (candidate["video_id"], candidate["verdict"], candidate["duration"]) == (MAPPED_VIDEO, "refused", 7200)
    assert "apart" in candidate["reason"]
    assert audio_files(tmp_path) == []
