"""The local web keeps its promises, and looks like the real services where it matters.

Shapes are checked against the recorded real Deezer response; file bytes against the
published sha256; audio by decoding it; the watch page through yt-dlp itself.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import imageio_ffmpeg
import pytest
import requests
import soundfile
import yaml
import yt_dlp

from deezer_tags.testing import Faults, LocalWeb, Scenario, media, public_text, read_public
from deezer_tags.testing.scenario import video_id_of

# From data/public/README.md.
PUBLISHED_SHA256 = {
    "annotation": "f80250953d1f86a9f14fb337b896cb2fd85b4126d394f70e11b9f72c4476d848",
    "youtube_map": "d1b91c4ef9acc1c2751fce56787502fab86fba38e52522372fdd7336dd1bd8ce",
    "train": "921ee2aa569daa71dd08f0dd99e89561c829dd595462a25b3aab071e789232c6",
    "validation": "a223998a783e58fc23cfa1e576d00d6c45960269455ba61e00ff4b8c1be9c06a",
    "test": "861c10ce8db507dfcec9f7da17dfc8db5e8244ec447be74eaa7100f6b86d8f32",
    "folds": "9890f93a25df3043313459f97042e6bac6babfd6cbe5f5b1bb9848994d36e9c3",
}
PREVIEW_URL = re.compile(
    r"^http://127\.0\.0\.1:\d+/cdn/stream/c-([0-9a-f]{32})-5\.mp3"
    r"\?hdnea=exp=(\d+)~acl=/stream/c-\1-5\.mp3\*~hmac=[0-9a-f]{64}$"
)
MAPPED_TRACK = 79472617  # id map: "Another Chance (Radio Edit) Roger Sanchez", video NMg2mhqJR8g


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario.from_public_data(seed=1, no_data_fraction=0.05, no_preview_fraction=0.2,
                                     dead_preview_fraction=0.05, wrong_video_fraction=0.1)


@pytest.fixture(scope="module")
def web(scenario: Scenario):
    with LocalWeb(scenario, quota=100_000, window=1.0) as running:
        yield running


@pytest.fixture()
def http():
    with requests.Session() as session:
        yield session


def ok_track(scenario: Scenario, offset: int = 0) -> int:
    """A track the API describes with a live preview."""
    ids = (t for t in scenario.tracks if scenario.answers(t) and scenario.tracks[t].preview == "ok")
    return next(itertools.islice(ids, offset, None))


def api(web: LocalWeb, http: requests.Session, track_id: object) -> dict:
    response = http.get(f"{web.base_url}/deezer/track/{track_id}", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    return response.json()


def shape(value: object) -> object:
    """Keys (in order) and JSON types, recursively; a list by its first item."""
    if isinstance(value, dict):
        return [(key, shape(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


# -- Deezer API ---------------------------------------------------------------------------

def test_track_body_has_the_recorded_shape(web, http, scenario):
    cassette = yaml.safe_load(public_text("deezer-api-recorded/TestClient.test_get_track.yaml"))
    recorded = json.loads(cassette["interactions"][0]["response"]["body"]["string"])
    tid = ok_track(scenario)
    body = api(web, http, tid)
    assert shape(body) == shape(recorded)
    spec = scenario.tracks[tid]
    assert (body["id"], body["title"], body["duration"], body["artist"]["id"]) == (tid, spec.title, spec.duration, spec.artist_id)
    assert body["contributors"][0]["role"] == "Main"
    raw = http.get(f"{web.base_url}/deezer/track/{tid}").text
    assert "https:\\/\\/www.deezer.com\\/track\\/" in raw  # PHP-style escaped slashes, like the real one


def test_mapped_track_takes_title_and_artist_from_the_id_map(web, http, scenario):
    body = api(web, http, MAPPED_TRACK)
    assert (body["title"], body["title_short"], body["title_version"]) == (
        "Another Chance (Radio Edit)", "Another Chance", "(Radio Edit)")
    assert body["artist"]["name"] == "Roger Sanchez"
    folds = public_text("paper-splits/ground_truth_folds.csv").splitlines()
    artist_id = next(int(line.split(",")[2]) for line in folds if line.startswith(f"{MAPPED_TRACK},"))
    assert body["artist"]["id"] == artist_id


@pytest.mark.parametrize("ident", ["1", "-1", "abc", "3135556x", "%C2%B2"])
def test_unknown_or_malformed_id_answers_no_data(web, http, ident):
    assert api(web, http, ident) == {"error": {"type": "DataException", "message": "no data", "code": 800}}


def test_no_data_tracks_answer_800(web, http, scenario):
    tid = sorted(scenario.no_data_ids)[0]
    assert tid in scenario.tracks
    assert api(web, http, tid)["error"]["code"] == 800


def test_quota_is_a_sliding_window_counting_every_arrival(scenario, http):
    with LocalWeb(scenario, quota=5, window=0.5) as web:
        tid = ok_track(scenario)
        begin = time.monotonic()
        codes = [api(web, http, tid).get("error", {}).get("code") for _ in range(20)]
        assert time.monotonic() - begin < 0.5, "the burst must fit in one window for this test"
        assert codes == [None] * 5 + [4] * 15
        assert api(web, http, tid)["error"]["message"] == "Quota limit exceeded"
        time.sleep(0.55)
        assert "error" not in api(web, http, tid)  # a window later: allowed again
        assert web.max_api_calls_in_window() == 21
        assert web.quota_rejections == 16


def test_rejected_calls_count_against_the_quota(scenario, http):
    with LocalWeb(scenario, quota=5, window=1.0) as web:
        tid = ok_track(scenario)
        begin = time.monotonic()
        assert all("error" not in api(web, http, tid) for _ in range(5))
        time.sleep(0.6 - (time.monotonic() - begin))
        assert all(api(web, http, tid)["error"]["code"] == 4 for _ in range(5))
        time.sleep(1.15 - (time.monotonic() - begin))
        # The first five are a window old, but the five refused ones are not: still locked out.
        assert api(web, http, tid)["error"]["code"] == 4
        assert web.quota_rejections == 6


def test_paced_client_stays_under_quota(scenario, http):
    with LocalWeb(scenario, quota=5, window=0.5) as web:
        for _ in range(8):
            assert "error" not in api(web, http, ok_track(scenario))
            time.sleep(0.11)
        assert 4 <= web.max_api_calls_in_window() <= 5
        assert web.quota_rejections == 0


# -- preview CDN --------------------------------------------------------------------------

def test_preview_url_is_signed_and_expires(scenario, http):
    with LocalWeb(scenario, preview_ttl=0.5) as web:
        tid = ok_track(scenario)
        http.get(api(web, http, tid)["preview"])  # the first preview of a process takes a second
        # Start just past a whole second: exp (whole seconds) then says later than the true
        # expiry, which the server must still honour to the millisecond.
        time.sleep(1.05 - time.time() % 1)
        url = api(web, http, tid)["preview"]
        match = PREVIEW_URL.match(url)
        assert match, url
        assert 0 < int(match[2]) - time.time() <= 1.5
        assert http.get(url).status_code == 200
        time.sleep(0.6)
        expired = http.get(url)
        assert (expired.status_code, expired.text.strip()) == (403, "token expired")


def test_tampered_or_foreign_preview_url_is_refused(web, http, scenario):
    url = api(web, http, ok_track(scenario))["preview"]
    flipped = url[:-1] + ("0" if url[-1] != "0" else "1")
    later = re.sub(r"exp=(\d+)", lambda m: f"exp={int(m[1]) + 3600}", url)
    other_key = scenario.preview_key(ok_track(scenario, 1))
    elsewhere = re.sub(r"/cdn/stream/c-[0-9a-f]{32}-", f"/cdn/stream/c-{other_key}-", url, count=1)
    assert http.get(elsewhere).text.strip() == "token does not cover this path"
    for bad in (flipped, later, url.split("?")[0], elsewhere):
        assert http.get(bad).status_code == 403
    with LocalWeb(scenario) as other:  # another server, another secret
        foreign = other.base_url + url[len(web.base_url):]
        assert http.get(foreign).status_code == 403


def test_preview_is_a_30s_128k_stereo_mp3(web, http, scenario):
    response = http.get(api(web, http, ok_track(scenario))["preview"])
    assert response.headers["Content-Type"] == "audio/mpeg"
    assert response.headers["Accept-Ranges"] == "bytes"
    data = response.content
    assert int(response.headers["Content-Length"]) == len(data)
    assert abs(len(data) - 128_000 / 8 * 30.72) < 0.02 * len(data)
    samples, rate = soundfile.read(io.BytesIO(data))
    assert rate == 44_100 and samples.shape[1] == 2
    assert len(samples) == round(30.72 * 44_100)  # exact: the LAME Info frame says so
    assert samples.std() > 0.05  # sound, not silence


def test_previews_differ_between_tracks_and_not_between_servers(web, http, scenario):
    first, second = ok_track(scenario, 0), ok_track(scenario, 1)
    a = http.get(api(web, http, first)["preview"]).content
    b = http.get(api(web, http, second)["preview"]).content
    assert hashlib.sha256(a).digest() != hashlib.sha256(b).digest()
    with LocalWeb(scenario) as other:
        again = http.get(api(other, http, first)["preview"]).content
    assert again == a


def test_range_requests(web, http, scenario):
    url = api(web, http, ok_track(scenario))["preview"]
    full = http.get(url).content
    part = http.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == full[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(full)}"
    tail = http.get(url, headers={"Range": "bytes=-10"})
    assert (tail.status_code, tail.content) == (206, full[-10:])
    rest = http.get(url, headers={"Range": f"bytes={len(full) - 5}-"})
    assert (rest.status_code, rest.content) == (206, full[-5:])
    past = http.get(url, headers={"Range": f"bytes={len(full)}-"})
    assert past.status_code == 416
    assert past.headers["Content-Range"] == f"bytes */{len(full)}"
    assert [s.client_range for s in web.requests[-4:]] == [
        "bytes=100-199", "bytes=-10", f"bytes={len(full) - 5}-", f"bytes={len(full)}-"]


def test_dead_and_missing_previews(web, http, scenario):
    dead = next(t for t in sorted(scenario.dead_preview_ids) if t not in scenario.no_data_ids)
    url = api(web, http, dead)["preview"]
    assert PREVIEW_URL.match(url)
    assert http.get(url).status_code == 404
    bodies = [api(web, http, t) for t in sorted(scenario.no_preview_ids)[:20]]
    assert all(body["preview"] == "" for body in bodies)
    assert {body["readable"] for body in bodies} == {True, False}


# -- served files -------------------------------------------------------------------------

def test_served_files_are_the_published_ones(web, http):
    assert web.checksums() == PUBLISHED_SHA256
    env = web.env()
    urls = {
        "annotation": env["DEEZER_TAGS_ZENODO_URL"],
        "youtube_map": env["DEEZER_TAGS_YOUTUBE_MAP_URL"],
        "train": env["DEEZER_TAGS_SPLITS_URL"] + "train_ground_truth.csv",
        "validation": env["DEEZER_TAGS_SPLITS_URL"] + "validation_ground_truth.csv",
        "test": env["DEEZER_TAGS_SPLITS_URL"] + "test_ground_truth.csv",
        "folds": env["DEEZER_TAGS_SPLITS_URL"] + "ground_truth_folds.csv",
    }
    for key, url in urls.items():
        response = http.get(url)
        assert response.status_code == 200, url
        assert hashlib.sha256(response.content).hexdigest() == PUBLISHED_SHA256[key]
    head = http.head(urls["annotation"])
    assert (head.status_code, head.content) == (200, b"")
    assert (web.count("/zenodo/"), web.count("/zenodo/", method="GET"), web.count("/zenodo/", method="HEAD")) == (2, 1, 1)
    assert int(head.headers["Content-Length"]) == len(read_public("seed-repo/annotation.csv"))


def test_a_scenario_can_serve_a_tampered_file(http):
    scenario = Scenario.from_public_data(track_ids=[MAPPED_TRACK])
    scenario.files["annotation"] = b"song_id,car\n1,1\n"
    with LocalWeb(scenario) as web:
        assert http.get(web.env()["DEEZER_TAGS_ZENODO_URL"]).content == b"song_id,car\n1,1\n"
        assert web.checksums()["annotation"] == hashlib.sha256(b"song_id,car\n1,1\n").hexdigest()
        assert web.checksums()["train"] == PUBLISHED_SHA256["train"]


def test_env_and_config_point_at_the_server(web):
    env, config = web.env(), web.config_kwargs()
    assert env == {f"DEEZER_TAGS_{key.upper()}": value for key, value in config.items()}
    base = web.base_url
    github = f"{base}/github"
    assert config == {
        "zenodo_url": f"{base}/zenodo/records/3648287/files/Context_tags_dataset.csv",
        "splits_url": f"{github}/KarimMibrahim/context_classification_cnn/a94aad918b8cbca6ee674e673a8b2cbb1949d456/GroundTruth/",
        "youtube_map_url": f"{github}/SeungHeonDoh/deezer_contextual_tag/0941ed22784c3d389cac2b96d2c139d945c68fdd"
                           "/dataset/id_to_url.json",
        "api_url": f"{base}/deezer",
        "preview_hosts": "127.0.0.1",
        "youtube_hosts": "youtube.com,www.youtube.com,m.youtube.com,music.youtube.com,youtu.be",
        "youtube_watch_url": f"{base}/youtube/watch?v={{video_id}}",
        "media_hosts": "127.0.0.1",
        "youtube_search_url": f"{base}/youtube/results?search_query={{query}}",
        "youtube_music_search_url": f"{base}/youtube/music/search?q={{query}}",
    }


def test_anything_else_is_404(web, http):
    for path in ("/", "/zenodo/records/1/files/x.csv", "/cdn/stream/c-0-5.mp3", "/media/nope.mp3",
                 "/media/videoplayback/id/AAAAAAAAAAA/itag/140", "/media/api/manifest/dash/id/AAAAAAAAAAA",
                 "/youtube/watch?v=AAAAAAAAAAA"):
        assert http.get(web.base_url + path).status_code == 404, path


# -- YouTube ------------------------------------------------------------------------------

def test_watch_page_through_yt_dlp_lists_youtubes_audio_formats(web, scenario):
    """yt-dlp follows the page to its DASH manifest and lists the formats as its YouTube
    extractor lists a player response's: itag 251 (Opus in WebM) and 140 (AAC in MP4), at
    about 130 kbit/s, with their sizes; bestaudio takes 251, or 140 where there is no 251."""
    video = scenario.videos["NMg2mhqJR8g"]
    url = web.config_kwargs()["youtube_watch_url"].format(video_id=video.video_id)
    with yt_dlp.YoutubeDL({"quiet": True, "no_warnings": True, "format": "bestaudio/best"}) as ydl:
        info = ydl.extract_info(url, download=False)
        only_aac = next(v for v in scenario.videos if [f.itag for f in media.formats_of(v, scenario.seed)] == [140])
        fallback = ydl.extract_info(url.replace(video.video_id, only_aac), download=False)
    assert info["title"] == "Roger Sanchez - Another Chance (Radio Edit) (HQ)" == video.title
    assert info["duration"] == video.duration
    listed = {f["format_id"]: f for f in info["formats"]}
    assert set(listed) == {"140", "251"}
    assert (listed["140"]["ext"], listed["140"]["acodec"], listed["140"]["asr"]) == ("m4a", "mp4a.40.2", 44_100)
    assert (listed["251"]["ext"], listed["251"]["acodec"], listed["251"]["asr"]) == ("webm", "opus", 48_000)
    for f in listed.values():
        assert f["vcodec"] == "none" and f["protocol"] == "http" and 120 <= f["tbr"] <= 150
        assert f["filesize"] == len(web.media_file(video.video_id, int(f["format_id"])).data)
        assert "/media/videoplayback/id/" in f["url"] and "expire=" in f["url"] and "sig=" in f["url"]
    assert info["format_id"] == "251" and fallback["format_id"] == "140"


def test_each_format_decodes_to_the_announced_duration_and_videos_differ(web, http, scenario):
    video = min(scenario.videos.values(), key=lambda v: v.duration)
    other = min((v for v in scenario.videos.values() if v is not video), key=lambda v: v.duration)
    for fmt in media.formats_of(video.video_id, scenario.seed):
        response = http.get(web.media_url(video.video_id, fmt.itag))
        muxed = web.media_file(video.video_id, fmt.itag)
        assert (response.status_code, response.headers["Content-Type"]) == (200, muxed.mime_type)
        assert response.content == muxed.data
        assert abs(muxed.duration - video.duration) <= 0.05
    best = media.formats_of(other.video_id, scenario.seed)[-1].itag  # 140: every video has it
    assert web.media_file(other.video_id, best).data[-50_000:] != web.media_file(video.video_id, 140).data[-50_000:]


def test_media_urls_are_signed_and_expire(scenario, http):
    with LocalWeb(scenario, media_ttl=0.5) as web:
        url = web.media_url("NMg2mhqJR8g", 140)
        assert http.get(url, headers={"Range": "bytes=0-99"}).status_code == 206
        forged = url.replace("itag/140", "itag/251")
        assert http.get(forged, headers={"Range": "bytes=0-99"}).status_code == 403
        time.sleep(0.6)
        assert http.get(url, headers={"Range": "bytes=0-99"}).status_code == 403


def test_ffmpeg_fetches_a_section_with_range_requests(web, scenario, tmp_path):
    video = scenario.videos["NMg2mhqJR8g"]
    url = web.media_url(video.video_id, 140)
    full_size = len(web.media_file(video.video_id, 140).data)
    web.clear_log()
    out = tmp_path / "section.mp3"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-fflags", "+fastseek", "-ss", "150",
                    "-t", "30", "-i", url, "-ac", "2", "-ar", "44100", "-b:a", "128k", "-y", str(out)],
                   check=True, capture_output=True, timeout=60)
    assert abs(soundfile.info(str(out)).duration - 30) < 0.2
    time.sleep(0.2)  # the server logs a request once the client has hung up
    served = [s for s in web.requests if s.path.startswith(f"/media/videoplayback/id/{video.video_id}/")]
    assert any(s.client_range and int(s.client_range[6:].split("-")[0]) > 140 * 15_000 for s in served)
    assert sum(s.bytes_sent for s in served) < 0.45 * full_size


# -- scenario -----------------------------------------------------------------------------

def test_scenario_outcomes_are_exact_and_seeded(scenario):
    n = len(scenario.tracks)
    assert n == 49_929
    assert (len(scenario.no_data_ids), len(scenario.no_preview_ids), len(scenario.dead_preview_ids)) == (
        round(0.05 * n), round(0.2 * n), round(0.05 * n))
    assert not (scenario.no_data_ids & scenario.no_preview_ids or scenario.no_preview_ids & scenario.dead_preview_ids)
    assert all(scenario.tracks[t].preview == "none" for t in list(scenario.no_preview_ids)[:100])
    again = Scenario.from_public_data(seed=1, no_data_fraction=0.05, no_preview_fraction=0.2, dead_preview_fraction=0.05)
    assert again.dead_preview_ids == scenario.dead_preview_ids
    assert again.tracks[MAPPED_TRACK] == scenario.tracks[MAPPED_TRACK]
    other = Scenario.from_public_data(seed=2, no_data_fraction=0.05, no_preview_fraction=0.2, dead_preview_fraction=0.05)
    assert other.dead_preview_ids != scenario.dead_preview_ids


def test_full_scenario_is_cheap_to_build():
    begin = time.perf_counter()
    Scenario.from_public_data(no_preview_fraction=0.25, wrong_video_fraction=0.05)
    assert time.perf_counter() - begin < 2.0


def test_videos_follow_the_id_map(scenario):
    youtube_map = json.loads(scenario.files["youtube_map"])
    assert set(scenario.videos) == {video_id_of(e["url"]) for e in youtube_map.values()}
    assert video_id_of("https://www.youtube.com/shorts/mX7DF8mjyU0") == "mX7DF8mjyU0"
    wrong = [v for v in scenario.videos.values() if v.wrong]
    assert len(wrong) == round(0.1 * len(scenario.videos))
    for video in list(scenario.videos.values())[:500]:
        track_duration = scenario.tracks[video.track_id].duration
        assert youtube_map[str(video.track_id)]["title"] == video.title
        if video.wrong:
            assert video.duration >= 2 * track_duration
        else:
            assert abs(video.duration - track_duration) <= 2


def test_added_video_is_served(web, http, scenario):
    video = scenario.add_video("zzzzzzzzzz1", "Some Artist - Some Song (Live)", 200)
    page = http.get(web.config_kwargs()["youtube_watch_url"].format(video_id=video.video_id))
    assert page.status_code == 200 and "Some Artist - Some Song (Live)" in page.text and "PT3M20S" in page.text
    with pytest.raises(ValueError):
        scenario.add_video("short", "x", 1)


def test_public_data_is_checked_and_a_bad_setting_explained(monkeypatch, tmp_path):
    from deezer_tags.testing.public_data import public_data_dir

    monkeypatch.setenv("DEEZER_TAGS_PUBLIC_DATA", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="DEEZER_TAGS_PUBLIC_DATA"):
        public_data_dir()
    monkeypatch.setenv("DEEZER_TAGS_PUBLIC_DATA", str(tmp_path))
    assert public_data_dir() == tmp_path
    (tmp_path / "seed-repo").mkdir()
    (tmp_path / "seed-repo" / "error_id_to_urls.json").write_text("{}")  # not the published bytes
    read_public.cache_clear()
    with pytest.raises(FileNotFoundError, match="does not have its sha256"):
        read_public("seed-repo/error_id_to_urls.json")


# -- faults, latency, bandwidth ---------------------------------------------------------------

def test_server_error_fault(scenario, http):
    with LocalWeb(scenario, faults=Faults(server_error=1.0)) as web:
        response = http.get(f"{web.base_url}/deezer/track/{ok_track(scenario)}")
        assert response.status_code in (500, 502, 503) and "<html>" in response.text
        assert http.get(web.env()["DEEZER_TAGS_ZENODO_URL"]).status_code == 200  # files are spared
        assert [s.fault for s in web.requests] == ["server_error", None]
    with LocalWeb(scenario, faults=Faults(server_error=1.0, include_files=True)) as web:
        assert http.get(web.env()["DEEZER_TAGS_ZENODO_URL"]).status_code >= 500


def fates(web: LocalWeb, paths: list[str], rounds: int, threads: int) -> dict[str, list[object]]:
    """What each path's successive requests met: a status code or an exception name."""
    def run(path: str) -> list[object]:
        with requests.Session() as session:
            out: list[object] = []
            for _ in range(rounds):
                try:
                    response = session.get(web.base_url + path, timeout=10)
                    if response.status_code == 200:
                        json.loads(response.content)
                    out.append(response.status_code)
                except (requests.RequestException, ValueError) as error:
                    out.append(type(error).__name__)
            return out
    with ThreadPoolExecutor(threads) as pool:
        return dict(zip(paths, pool.map(run, paths), strict=True))


def test_fault_fates_repeat_regardless_of_thread_timing(scenario):
    faults = Faults(reset=0.1, server_error=0.3, not_json=0.1, seed=7)
    paths = [f"/deezer/track/{t}" for t in list(scenario.tracks)[:12]]
    with LocalWeb(scenario, quota=10_000, faults=faults) as web:
        first = fates(web, paths, rounds=3, threads=1)
        logged = sorted((s.path, s.fault or "") for s in web.requests)
    with LocalWeb(scenario, quota=10_000, faults=faults) as web:
        second = fates(web, paths, rounds=3, threads=6)
        assert sorted((s.path, s.fault or "") for s in web.requests) == logged
    assert first == second
    outcomes = [fate for path in paths for fate in first[path]]
    assert 5 <= sum(fate != 200 for fate in outcomes) <= 25  # about half of 36 fail
    assert {"ConnectionError", "JSONDecodeError"} <= set(map(str, outcomes)) and 200 in outcomes
    assert {500, 502, 503} & set(outcomes)


def test_reset_and_not_json_faults(scenario, http):
    with LocalWeb(scenario, faults=Faults(reset=1.0)) as web:
        with pytest.raises(requests.ConnectionError):
            http.get(f"{web.base_url}/deezer/track/{ok_track(scenario)}")
        assert [(s.status, s.fault) for s in web.requests] == [(0, "reset")]
    with LocalWeb(scenario, faults=Faults(not_json=1.0)) as web:
        response = http.get(f"{web.base_url}/deezer/track/{ok_track(scenario)}")
        assert response.status_code == 200
        with pytest.raises(ValueError):
            response.json()


def preview_with(scenario: Scenario, faults: Faults, track: int) -> tuple[LocalWeb, str]:
    """A running LocalWeb with ``faults`` and a fresh preview URL from it."""
    web = LocalWeb(scenario, faults=faults).start()
    return web, requests.get(f"{web.base_url}/deezer/track/{track}").json()["preview"]


def test_audio_faults(scenario, http):
    tid = ok_track(scenario)
    web, url = preview_with(scenario, Faults(), tid)
    clean = http.get(url).content
    web.stop()

    web, url = preview_with(scenario, Faults(truncated=1.0), tid)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        http.get(url)
    dead = next(t for t in sorted(scenario.dead_preview_ids) if t not in scenario.no_data_ids)
    not_found = http.get(requests.get(f"{web.base_url}/deezer/track/{dead}").json()["preview"])
    web.stop()
    assert web.requests[1].bytes_sent == len(clean) // 2
    assert (not_found.status_code, not_found.text, web.requests[-1].fault) == (404, "Not Found\n", None)

    web, url = preview_with(scenario, Faults(html_as_audio=1.0), tid)
    response = http.get(url)
    web.stop()
    assert (response.status_code, response.headers["Content-Type"]) == (200, "audio/mpeg")
    assert response.content.startswith(b"<!DOCTYPE html>")

    web, url = preview_with(scenario, Faults(corrupt_audio=1.0), tid)
    spoiled = http.get(url).content
    web.stop()
    assert len(spoiled) == len(clean) and spoiled != clean
    third = len(clean) // 3
    assert spoiled[:third] == clean[:third] and spoiled[2 * third:] == clean[2 * third:]

    web, url = preview_with(scenario, Faults(expire_early=1.0), tid)
    assert http.get(url).status_code == 403
    web.stop()

    web, url = preview_with(scenario, Faults(slow_body=1.0), tid)
    begin = time.monotonic()
    assert http.get(url).content == clean
    web.stop()
    assert time.monotonic() - begin >= 0.9


def test_latency_and_bandwidth(scenario, http):
    with LocalWeb(scenario, latency={"/deezer/": (0.3, 0.3)}, bandwidth=100_000) as web:
        begin = time.monotonic()
        url = api(web, http, ok_track(scenario))["preview"]
        assert time.monotonic() - begin >= 0.3
        begin = time.monotonic()
        http.get(web.env()["DEEZER_TAGS_SPLITS_URL"] + "train_ground_truth.csv", headers={"Range": "bytes=0-999"})
        assert time.monotonic() - begin < 0.2  # no latency outside /deezer/
        begin = time.monotonic()
        assert len(http.get(url, headers={"Range": "bytes=0-49999"}).content) == 50_000
        assert time.monotonic() - begin >= 0.45  # 50 KB at 100 KB/s


# -- log and CLI --------------------------------------------------------------------------

def test_request_log(scenario, http):
    with LocalWeb(scenario) as web:
        tid = ok_track(scenario)
        http.get(f"{web.base_url}/deezer/track/{tid}")
        http.get(f"{web.base_url}/nowhere?x=1")
        log = web.requests
        assert [(s.method, s.path, s.query, s.status) for s in log] == [
            ("GET", f"/deezer/track/{tid}", "", 200), ("GET", "/nowhere", "x=1", 404)]
        assert log[0].bytes_sent > 3000 and log[0].finished >= log[0].started
        assert (web.count("/deezer/"), web.count("/"), web.count("/cdn/")) == (1, 2, 0)
        web.clear_log()
        assert web.requests == []


def test_a_request_in_flight_when_the_log_is_cleared_is_left_out(scenario, http):
    """A killed client's last requests finish after the test cleared the log: they belong
    to the run before the clear, not to the one after it."""
    tid = ok_track(scenario)
    with LocalWeb(scenario, latency=(0.5, 0.5)) as web, ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(http.get, f"{web.base_url}/deezer/track/{tid}")
        deadline = time.monotonic() + 5
        while not web._seen and time.monotonic() < deadline:  # arrived, waiting its latency
            time.sleep(0.01)
        web.clear_log()
        assert in_flight.result().status_code == 200
        assert web.requests == []
        http.get(f"{web.base_url}/nowhere")
        assert [s.path for s in web.requests] == ["/nowhere"]


def test_cli_serves_and_prints_exports(http):
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "deezer_tags.testing", "serve", "--tracks", "20"],
                            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        exports = dict(proc.stdout.readline().strip()[len("export "):].split("=", 1) for _ in range(8))
        first_track = public_text("seed-repo/annotation.csv").splitlines()[1].split(",")[0]
        body = http.get(f"{exports['DEEZER_TAGS_API_URL']}/track/{first_track}").json()
        assert body["id"] == int(first_track)
    finally:
        proc.terminate()
    assert proc.wait(timeout=10) == 0
