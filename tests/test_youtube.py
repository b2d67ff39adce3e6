"""The YouTube fallback against the local web: the id map's video is checked like any search
result, only a section of the media is fetched, bad map URLs are never requested, and a
bot check stops the stream instead of failing tracks."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import soundfile

from deezer_tags.errors import MalformedSourceError, UserError
from deezer_tags.sources import Endpoints, resolve_endpoints
from deezer_tags.testing import Faults, LocalWeb, Scenario, media
from deezer_tags.testing.faults import MEDIA_FAULTS, PAGE_FAULTS
from deezer_tags.testing.scenario import art_track_id
from deezer_tags.testing.scenario import video_id_of as served_video_id
from deezer_tags.youtube import (
    ATTEMPTS, YouTubeBlocked, YouTubeRecoverer, classify_error, map_video_id, parse_youtube_map,
    video_id_of,
)

MAPPED_TRACK = 79472617  # "Another Chance (Radio Edit)" by Roger Sanchez, video NMg2mhqJR8g (240 s)
MAPPED_VIDEO = "NMg2mhqJR8g"


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario.from_public_data(seed=1, wrong_video_fraction=0.1)


@pytest.fixture(scope="module")
def youtube_map(scenario: Scenario) -> dict[int, dict]:
    return parse_youtube_map(scenario.files["youtube_map"].decode("utf-8"), "the served id map")


@pytest.fixture()
def web(scenario: Scenario) -> Iterator[LocalWeb]:
    with LocalWeb(scenario) as running:
        yield running


def endpoints_of(web: LocalWeb) -> Endpoints:
    return resolve_endpoints(web.config_kwargs(), environ={})


def metadata(scenario: Scenario, track_id: int) -> dict:
    """The track's fields as the pipeline has them from the local web's Deezer API."""
    track = scenario.tracks[track_id]
    return {"title": track.title, "title_short": track.title_short, "artist_name": track.artist_name,
            "duration": track.duration}


def mapped_tracks(scenario: Scenario, youtube_map: dict[int, dict], *, wrong: bool) -> Iterator[int]:
    """Tracks whose map video is their own (a wrong one or not), titled "{artist} - {title}"."""
    for track_id, entry in youtube_map.items():
        video = scenario.videos.get(served_video_id(entry["url"]) or "")
        track = scenario.tracks[track_id]
        if (video and video.track_id == track_id and video.wrong == wrong
                and video.title.casefold().startswith(f"{track.artist_name} - {track.title}".casefold())):
            yield track_id


def media_requests(web: LocalWeb, video_id: str | None = None) -> list:
    """The requests for the video's media files (its manifest aside)."""
    time.sleep(0.2)  # the server logs a request once the client has hung up
    prefix = f"/media/videoplayback/id/{video_id}/" if video_id else "/media/videoplayback/"
    return [r for r in web.requests if r.path.startswith(prefix)]


def best_format_path(scenario: Scenario, video_id: str) -> str:
    """The media path of the format yt-dlp's bestaudio takes for the video."""
    return f"/media/videoplayback/id/{video_id}/itag/{media.formats_of(video_id, scenario.seed)[0].itag}"


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# -- the good case -------------------------------------------------------------------------

def test_a_good_map_entry_gives_a_30s_section_of_its_video(web, scenario, youtube_map, tmp_path):
    size = int(requests.head(web.media_url(MAPPED_VIDEO)).headers["Content-Length"])
    web.clear_log()
    dest = tmp_path / "audio" / f"{MAPPED_TRACK}.mp3"
    with YouTubeRecoverer(endpoints_of(web), youtube_map) as recoverer:
        outcome = recoverer.recover(MAPPED_TRACK, metadata(scenario, MAPPED_TRACK), dest)

    assert (outcome.status, outcome.video_id, outcome.error) == ("ok", MAPPED_VIDEO, None)
    samples, rate = soundfile.read(str(dest))
    assert rate == 44_100 and samples.ndim == 2 and samples.shape[1] == 2
    assert abs(len(samples) / rate - 30.0) < 0.2
    assert outcome.audio.path == dest and leftovers(dest.parent) == [dest.name]
    assert outcome.audio.sha256 == hashlib.sha256(dest.read_bytes()).hexdigest()

    # The section, not the file: ffmpeg seeks to the middle with a Range request.
    served = media_requests(web, MAPPED_VIDEO)
    assert served and all(r.client_range for r in served)  # ffmpeg's requests only: nothing probes the media
    assert any(r.client_range and int(r.client_range[6:].split("-")[0]) > size // 4 for r in served)
    assert sum(r.bytes_sent for r in served) < 0.5 * size
    assert 0 < outcome.audio.bytes_fetched < 0.5 * size

    evidence = json.loads(json.dumps(outcome.evidence))  # JSON-serialisable as it is
    # The middle (105 s), moved back to just after the WebM's cue before it (every 10 s).
    assert evidence["section_start"] == 100.1
    assert evidence["query"] is None  # the map's video was good: no search
    [candidate] = evidence["candidates"]
    assert candidate["source"] == "id_map" and candidate["verdict"] == "accepted"
    assert candidate["title"] == scenario.videos[MAPPED_VIDEO].title and candidate["duration"] == 240
    assert candidate["title_score"] >= 0.7 and candidate["duration_delta"] == -1
    assert web.count("/youtube/results") == 0


def _video_id_with(layouts: tuple[str, ...], seed: int) -> str:
    """A fresh video id whose formats have these layouts, best first."""
    for n in range(10_000):
        video_id = f"fmt{n:08d}"
        if tuple(f.layout for f in media.formats_of(video_id, seed)) == layouts:
            return video_id
    raise AssertionError(layouts)


@pytest.mark.parametrize("layouts, itag", [(("webm", "fragmented"), 251), (("webm", "faststart"), 251),
                                           (("fragmented",), 140), (("faststart",), 140)])
def test_each_youtube_format_gives_a_valid_clip_of_the_right_section(scenario, youtube_map, tmp_path, layouts, itag):
    """Opus in WebM when the video has it (yt-dlp's bestaudio), else AAC in MP4, fragmented
    or with its tables up front: the clip is a 30 s MP3, 44.1 kHz stereo, and the very clip
    ffmpeg cuts from the whole file on disk at the section's start."""
    from deezer_tags.ffmpeg import fetch_section

    video_id = _video_id_with(layouts, scenario.seed)
    track = scenario.tracks[MAPPED_TRACK]
    scenario.add_video(video_id, scenario.videos[MAPPED_VIDEO].title, 240, track_id=MAPPED_TRACK)
    mapping = {**youtube_map, MAPPED_TRACK: {**youtube_map[MAPPED_TRACK],
                                             "url": f"https://www.youtube.com/watch?v={video_id}"}}
    try:
        with LocalWeb(scenario) as web:
            with YouTubeRecoverer(endpoints_of(web), mapping) as recoverer:
                outcome = recoverer.recover(MAPPED_TRACK, metadata(scenario, MAPPED_TRACK), tmp_path / "x.mp3")
            served = media_requests(web, video_id)
            whole = tmp_path / "whole.media"
            whole.write_bytes(web.media_file(video_id, itag).data)
    finally:
        del scenario.videos[video_id]
    assert (outcome.status, outcome.video_id) == ("ok", video_id), outcome.error
    assert {r.path.rsplit("/", 1)[1] for r in served} == {str(itag)}
    info = soundfile.info(str(tmp_path / "x.mp3"))
    assert (info.samplerate, info.channels, info.format) == (44_100, 2, "MP3")
    assert abs(info.duration - 30.0) < 0.2
    start = outcome.evidence["section_start"]
    middle = 240 / 2 - 15
    if layouts == ("faststart",):
        assert start == middle  # tables up front: ffmpeg seeks to the sample, nothing to align to
    else:
        assert middle - 10.2 < start <= middle  # just after the index point before the middle
    assert track.duration
    fetch_section(str(whole), tmp_path / "direct.mp3", start=start, seconds=30)
    assert outcome.audio.sha256 == hashlib.sha256((tmp_path / "direct.mp3").read_bytes()).hexdigest()


@pytest.mark.parametrize("rule, expected_start", [("start", 0.0), (1000.0, 240.0 - 30.0), (20, 20.0)])
def test_section_start_rules(web, scenario, youtube_map, tmp_path, rule, expected_start):
    with YouTubeRecoverer(endpoints_of(web), youtube_map, section_start=rule) as recoverer:
        outcome = recoverer.recover(MAPPED_TRACK, metadata(scenario, MAPPED_TRACK), tmp_path / "x.mp3")
    assert outcome.status == "ok"
    assert outcome.evidence["section_start"] == expected_start
    assert abs(soundfile.info(str(tmp_path / "x.mp3")).duration - 30.0) < 0.2
    with pytest.raises(ValueError):
        YouTubeRecoverer(endpoints_of(web), youtube_map, section_start="chorus")


def test_without_deezer_metadata_the_map_query_is_matched_and_duration_unchecked(web, scenario, youtube_map, tmp_path):
    with YouTubeRecoverer(endpoints_of(web), youtube_map) as recoverer:
        outcome = recoverer.recover(MAPPED_TRACK, None, tmp_path / "x.mp3")
        nothing = recoverer.recover(1, None, tmp_path / "y.mp3")  # neither Deezer nor the map knows it
    assert (outcome.status, outcome.video_id) == ("ok", MAPPED_VIDEO)
    assert outcome.evidence["duration_checked"] is False
    assert outcome.evidence["candidates"][0]["duration_delta"] is None
    assert outcome.evidence["section_start"] == 100.1  # the video's own middle, on its index
    assert nothing.status == "none" and "nothing to search for" in nothing.error


def test_several_threads_recover_at_once(web, scenario, youtube_map, tmp_path):
    tracks = list(mapped_tracks(scenario, youtube_map, wrong=False))[:8]
    with YouTubeRecoverer(endpoints_of(web), youtube_map) as recoverer, ThreadPoolExecutor(4) as pool:
        begin = time.perf_counter()
        outcomes = list(pool.map(
            lambda t: recoverer.recover(t, metadata(scenario, t), tmp_path / f"{t}.mp3"), tracks))
        seconds = time.perf_counter() - begin
    assert [o.status for o in outcomes] == ["ok"] * len(tracks)
    assert [o.video_id for o in outcomes] == [served_video_id(youtube_map[t]["url"]) for t in tracks]
    assert len({o.audio.sha256 for o in outcomes}) == len(tracks)  # each its own video
    for outcome in outcomes:
        assert outcome.audio.sha256 == hashlib.sha256(outcome.audio.path.read_bytes()).hexdigest()
    print(f"\n{len(tracks)} tracks on 4 threads in {seconds:.2f} s")
    assert leftovers(tmp_path) == sorted(f"{t}.mp3" for t in tracks)


def test_a_cookies_file_is_used_from_a_private_copy(web, scenario, youtube_map, tmp_path):
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n.youtube.com\tTRUE\t/\tTRUE\t2000000000\tSID\tsecret\n")
    before = cookies.read_bytes()
    with YouTubeRecoverer(endpoints_of(web), youtube_map, cookies=str(cookies)) as recoverer:
        outcome = recoverer.recover(MAPPED_TRACK, metadata(scenario, MAPPED_TRACK), tmp_path / "x.mp3")
    assert outcome.status == "ok"
    assert cookies.read_bytes() == before  # yt-dlp saves its jar on close: into its own copy
    for bad in (tmp_path / "missing.txt", tmp_path / "x.mp3"):
        with pytest.raises(UserError, match="cookies file"):
            YouTubeRecoverer(endpoints_of(web), youtube_map, cookies=str(bad))


# -- the map is not trusted -----------------------------------------------------------------

def test_a_wrong_map_video_is_refused_and_the_search_finds_the_right_one(web, scenario, youtube_map, tmp_path):
    track_id = next(mapped_tracks(scenario, youtube_map, wrong=True))
    track = scenario.tracks[track_id]
    wrong_video = served_video_id(youtube_map[track_id]["url"])
    right = scenario.add_video("--rightvid1", f"{track.artist_name} - {track.title} (Official Audio)",
                               track.duration + 3, track_id=track_id)
    with YouTubeRecoverer(endpoints_of(web), youtube_map) as recoverer:
        outcome = recoverer.recover(track_id, metadata(scenario, track_id), tmp_path / "x.mp3")

    assert (outcome.status, outcome.video_id) == ("ok", right.video_id)
    refused, *searched = outcome.evidence["candidates"]
    assert (refused["source"], refused["video_id"], refused["verdict"]) == ("id_map", wrong_video, "refused")
    assert refused["duration_delta"] == scenario.videos[wrong_video].duration - track.duration
    assert "apart" in refused["reason"]
    assert outcome.evidence["query"] == f"{track.artist_name} {track.title}"
    chosen = [c for c in searched if c["verdict"] == "accepted"]
    assert [c["video_id"] for c in chosen] == [right.video_id] and chosen[0]["source"] == "search"
    assert wrong_video not in [c["video_id"] for c in searched]  # judged once
    assert media_requests(web, wrong_video) == []  # refused before any media was fetched
    assert media_requests(web, right.video_id)


def test_a_map_video_whose_recorded_title_the_judge_refuses_is_never_resolved(web, scenario, youtube_map, tmp_path):
    """The id map keeps the title the earlier crawl saw: a title that refuses whatever its watch
    page would add (another song's) costs no watch page."""
    track_id = next(mapped_tracks(scenario, youtube_map, wrong=False))
    track = scenario.tracks[track_id]
    video = served_video_id(youtube_map[track_id]["url"])
    mapping = {**youtube_map, track_id: {**youtube_map[track_id], "title": "Somebody Else - Another Song Entirely"}}
    web.clear_log()
    with YouTubeRecoverer(endpoints_of(web), mapping) as recoverer:
        outcome = recoverer.recover(track_id, metadata(scenario, track_id), tmp_path / "x.mp3")
    [from_map] = [c for c in outcome.evidence["candidates"] if c["source"] == "id_map"]
    assert from_map["verdict"] == "refused" and from_map["reason"].startswith("the id map's recorded title: ")
    assert not from_map.get("resolved")
    assert f"v={video}" not in [r.query for r in web.requests if r.path == "/youtube/watch"]
    assert outcome.evidence["queries"].get("search") == f"{track.artist_name} {track.title}"  # then by name


def test_a_video_an_earlier_track_resolved_is_asked_again_only_if_it_could_be_taken(web, scenario, youtube_map,
                                                                                   tmp_path):
    """Two tracks naming one video (a single and its album): what its watch page said for the
    first decides a refusal for the second at no request; one the judge accepts is asked
    again, as a fetch needs a fresh page."""
    wrong_track = next(mapped_tracks(scenario, youtube_map, wrong=True))
    good_track = next(mapped_tracks(scenario, youtube_map, wrong=False))
    wrong_video, good_video = (served_video_id(youtube_map[t]["url"]) for t in (wrong_track, good_track))
    twins = {1: youtube_map[wrong_track], 2: youtube_map[good_track]}  # two more ids naming the same videos
    mapping = {**youtube_map, **twins}

    def watch_pages(video_id: str) -> int:
        time.sleep(0.2)  # the server logs a request once the client has hung up
        return sum(1 for r in web.requests if r.path == "/youtube/watch" and f"v={video_id}" in r.query)

    with YouTubeRecoverer(endpoints_of(web), mapping, search_results=1) as recoverer:
        first = recoverer.recover(wrong_track, metadata(scenario, wrong_track), tmp_path / "a.mp3")
        assert watch_pages(wrong_video) == 1
        web.clear_log()
        second = recoverer.recover(1, metadata(scenario, wrong_track), tmp_path / "b.mp3")
        assert watch_pages(wrong_video) == 0

        kept = recoverer.recover(good_track, metadata(scenario, good_track), tmp_path / "c.mp3")
        again = recoverer.recover(2, metadata(scenario, good_track), tmp_path / "d.mp3")
        assert watch_pages(good_video) == 2

    [before] = [c for c in first.evidence["candidates"] if c["source"] == "id_map"]
    [after] = [c for c in second.evidence["candidates"] if c["source"] == "id_map"]
    assert before["verdict"] == after["verdict"] == "refused" and before["resolved"] == 1
    assert "apart" in after["reason"] and after["reason"].endswith("not asked again)") and not after.get("resolved")
    assert (kept.status, kept.video_id, again.status, again.video_id) == ("ok", good_video, "ok", good_video)
    assert (tmp_path / "c.mp3").read_bytes() == (tmp_path / "d.mp3").read_bytes()


def test_of_the_results_a_search_page_cannot_decide_only_the_best_is_resolved(scenario, youtube_map, tmp_path):
    """Results whose title names no artist of the track and whose page shows no channel could
    pass only by their channel: one watch page is spent on the best of them, not one on each."""
    world = Scenario.from_public_data(seed=1, track_ids=[541854, MAPPED_TRACK])
    track_id = 541854
    track = world.tracks[track_id]
    for n in range(4):  # the song's title, no artist: the stand-in's watch pages name no channel
        world.add_video(f"nochannel{n:02d}", f"{track.title} (Audio {n})", track.duration)
    with LocalWeb(world) as web, YouTubeRecoverer(endpoints_of(web), {}) as recoverer:
        outcome = recoverer.recover(track_id, metadata(world, track_id), tmp_path / "x.mp3")
        watched = [r.query for r in web.requests if r.path == "/youtube/watch"]
    searched = [c for c in outcome.evidence["candidates"] if c["source"] == "search"]
    assert len(searched) >= 4 and outcome.status == "none"
    assert len(watched) == 1 and sum(bool(c.get("resolved")) for c in searched) == 1
    assert sum("left unresolved" in (c["reason"] or "") for c in searched) >= 3


def test_no_acceptable_candidate_is_none_and_leaves_no_file(web, scenario, youtube_map, tmp_path):
    track_id = list(mapped_tracks(scenario, youtube_map, wrong=True))[1]
    dest = tmp_path / "audio" / "x.mp3"
    with YouTubeRecoverer(endpoints_of(web), youtube_map) as recoverer:
        outcome = recoverer.recover(track_id, metadata(scenario, track_id), dest)
    assert outcome.status == "none" and outcome.audio is None
    assert outcome.video_id == served_video_id(youtube_map[track_id]["url"])  # the best refused one
    candidates = outcome.evidence["candidates"]
    assert len(candidates) >= 2 and all(c["verdict"] == "refused" and c["reason"] for c in candidates)
    assert web.count("/youtube/results") == 1
    assert media_requests(web) == []
    assert leftovers(dest.parent) == []


BAD_URLS = {
    "another host": "https://evil.example/watch?v=NMg2mhqJR8g",
    "another host, reachable": "http://localhost:{port}/evil/watch?v=NMg2mhqJR8g",
    "file scheme": "file:///etc/passwd?v=NMg2mhqJR8g",
    "shell metacharacters": "https://www.youtube.com/watch?v=$(touch /tmp/pwned);NMg",
    "backticks in the id": "https://www.youtube.com/watch?v=NMg2mhq`id`",
}


@pytest.mark.parametrize("name", BAD_URLS)
def test_a_bad_map_url_is_refused_never_requested_and_the_search_used(web, scenario, youtube_map, tmp_path, name):
    url = BAD_URLS[name].format(port=web.base_url.rsplit(":", 1)[1])
    tampered = {**youtube_map, MAPPED_TRACK: {**youtube_map[MAPPED_TRACK], "url": url}}
    with YouTubeRecoverer(endpoints_of(web), tampered) as recoverer:
        outcome = recoverer.recover(MAPPED_TRACK, metadata(scenario, MAPPED_TRACK), tmp_path / "x.mp3")

    refused = outcome.evidence["candidates"][0]
    assert (refused["source"], refused["video_id"], refused["verdict"]) == ("id_map", None, "refused")
    assert "id map URL" in refused["reason"]
    youtube = [r for r in web.requests if r.path.startswith("/youtube/")]
    assert youtube[0].path in ("/youtube/music/search", "/youtube/results")  # a search came first: the map URL was not used
    assert not any(r.path.startswith("/evil") for r in web.requests)
    assert (outcome.status, outcome.video_id) == ("ok", MAPPED_VIDEO)  # the search found the real one
    assert not Path("/tmp/pwned").exists()


def test_only_the_video_id_of_a_map_url_is_used(web, scenario, youtube_map, tmp_path):
    url = "https://m.youtube.com/watch?v=NMg2mhqJR8g&next=$(reboot)&list=x;y"
    tampered = {MAPPED_TRACK: {**youtube_map[MAPPED_TRACK], "url": url}}
    with YouTubeRecoverer(endpoints_of(web), tampered) as recoverer:
        outcome = recoverer.recover(MAPPED_TRACK, metadata(scenario, MAPPED_TRACK), tmp_path / "x.mp3")
    assert (outcome.status, outcome.video_id) == ("ok", MAPPED_VIDEO)
    assert [(r.path, r.query) for r in web.requests if r.path.startswith("/youtube/")] == [
        ("/youtube/watch", f"v={MAPPED_VIDEO}")]


def test_a_gone_video_is_refused_without_retries_and_the_search_used(web, scenario, youtube_map, tmp_path):
    gone = {MAPPED_TRACK: {**youtube_map[MAPPED_TRACK], "url": "https://www.youtube.com/watch?v=AAAAAAAAAAA"}}
    with YouTubeRecoverer(endpoints_of(web), gone) as recoverer:
        outcome = recoverer.recover(MAPPED_TRACK, metadata(scenario, MAPPED_TRACK), tmp_path / "x.mp3")
    refused = outcome.evidence["candidates"][0]
    assert (refused["video_id"], refused["verdict"]) == ("AAAAAAAAAAA", "refused") and "404" in refused["reason"]
    assert web.count("/youtube/watch") == 2  # the gone one once, then the search's pick
    assert (outcome.status, outcome.video_id) == ("ok", MAPPED_VIDEO)


def test_a_media_url_off_the_media_hosts_is_refused(scenario, youtube_map, tmp_path):
    with LocalWeb(scenario) as web:
        endpoints = resolve_endpoints({**web.config_kwargs(), "media_hosts": "googlevideo.com"}, environ={})
        with YouTubeRecoverer(endpoints, youtube_map) as recoverer:
            outcome = recoverer.recover(MAPPED_TRACK, metadata(scenario, MAPPED_TRACK), tmp_path / "x.mp3")
        assert outcome.status == "none"
        assert "not a configured media host" in outcome.evidence["candidates"][0]["reason"]
        assert media_requests(web) == []


# -- YouTube's bot check and transient faults -------------------------------------------

@pytest.mark.parametrize("in_map", [True, False])
def test_a_bot_check_raises_youtube_blocked_at_once(scenario, youtube_map, tmp_path, in_map):
    mapping = youtube_map if in_map else {}
    with LocalWeb(scenario, youtube_blocked=True) as web:
        with (YouTubeRecoverer(endpoints_of(web), mapping) as recoverer,
              pytest.raises(YouTubeBlocked, match="cookies") as raised):
            recoverer.recover(MAPPED_TRACK, metadata(scenario, MAPPED_TRACK), tmp_path / "x.mp3")
        assert "429" in raised.value.detail
        assert [r.status for r in web.requests] == [429]  # no retry loop, no search after it
        assert web.requests[0].path == ("/youtube/watch" if in_map else "/youtube/music/search")
    assert leftovers(tmp_path) == []


def _seed_where(fault: str, path: str, fates: list[bool]) -> int:
    """A fault seed under which the n-th request for the media ``path`` meets ``fault``
    exactly when ``fates[n]``, and the video's watch page and manifest meet none at first."""
    video_id = path.split("/")[4]
    spared = {f"/youtube/watch?v={video_id}": PAGE_FAULTS, f"/media/api/manifest/dash/id/{video_id}": MEDIA_FAULTS}
    for seed in range(50_000):
        faults = Faults(**{fault: 0.5, "seed": seed})
        if ([faults.pick(MEDIA_FAULTS, path, n) == fault for n in range(len(fates))] == fates
                and not any(faults.pick(kinds, page, n) for page, kinds in spared.items() for n in range(4))):
            return seed
    raise AssertionError("no such seed")


# The relay's first request for the media meets the fault.
@pytest.mark.parametrize("fault", ["reset", "server_error", "truncated"])
def test_a_media_fault_is_retried_to_success(scenario, youtube_map, tmp_path, fault):
    path = best_format_path(scenario, MAPPED_VIDEO)
    faults = Faults(**{fault: 0.5, "seed": _seed_where(fault, path, [True] + [False] * 5)})
    with LocalWeb(scenario, faults=faults) as web:
        with YouTubeRecoverer(endpoints_of(web), youtube_map) as recoverer:
            outcome = recoverer.recover(MAPPED_TRACK, metadata(scenario, MAPPED_TRACK), tmp_path / "x.mp3")
        served = media_requests(web, MAPPED_VIDEO)
    assert served[0].fault == fault  # the first request met the fault ...
    assert len(served) > 1  # ... the relay asked again ...
    assert (outcome.status, outcome.video_id) == ("ok", MAPPED_VIDEO)  # ... and got through
    assert abs(soundfile.info(str(tmp_path / "x.mp3")).duration - 30.0) < 0.2
    assert leftovers(tmp_path) == ["x.mp3"]


def test_a_media_url_that_expires_mid_clip_is_resolved_again_once(scenario, youtube_map, tmp_path):
    """googlevideo's URL dies while ffmpeg reads the section (403 from then on): the
    recoverer resolves the watch page again, once, and the clip is the fault-free one."""
    path = best_format_path(scenario, MAPPED_VIDEO)
    with LocalWeb(scenario) as web:
        with YouTubeRecoverer(endpoints_of(web), youtube_map) as recoverer:
            clean = recoverer.recover(MAPPED_TRACK, metadata(scenario, MAPPED_TRACK), tmp_path / "clean.mp3")
    faults = Faults(expire_early=0.5, seed=_seed_where("expire_early", path, [False, False, True] + [False] * 5))
    with LocalWeb(scenario, faults=faults) as web:
        with YouTubeRecoverer(endpoints_of(web), youtube_map) as recoverer:
            outcome = recoverer.recover(MAPPED_TRACK, metadata(scenario, MAPPED_TRACK), tmp_path / "x.mp3")
        served = media_requests(web, MAPPED_VIDEO)
        watch_pages, manifests = web.count("/youtube/watch"), web.count("/media/api/manifest/")
    # (requests: the head's index, ffmpeg's head, ffmpeg's seek: the URL dies at the seek)
    assert served[2].fault == "expire_early" and served[2].status == 403
    assert (watch_pages, manifests) == (2, 2)  # resolved again, once
    assert len({r.query for r in served}) == 2  # the second attempt read a fresh URL
    assert outcome.status == "ok" and outcome.audio.sha256 == clean.audio.sha256


def test_a_throttled_media_host_raises_youtube_blocked(scenario, youtube_map, tmp_path):
    with LocalWeb(scenario, faults=Faults(throttled=1.0)) as web:
        with (YouTubeRecoverer(endpoints_of(web), youtube_map) as recoverer,
              pytest.raises(YouTubeBlocked) as raised):
            recoverer.recover(MAPPED_TRACK, metadata(scenario, MAPPED_TRACK), tmp_path / "x.mp3")
        assert "429" in raised.value.detail
        assert [r.status for r in web.requests if r.path.startswith("/media/")] == [429]  # no retry loop
    assert leftovers(tmp_path) == []


def test_a_watch_page_that_keeps_failing_is_failed_after_bounded_attempts(scenario, youtube_map, tmp_path):
    with LocalWeb(scenario, faults=Faults(reset=1.0)) as web:
        with YouTubeRecoverer(endpoints_of(web), youtube_map) as recoverer:
            outcome = recoverer.recover(MAPPED_TRACK, metadata(scenario, MAPPED_TRACK), tmp_path / "x.mp3")
        assert web.count("/youtube/watch") == ATTEMPTS
        assert media_requests(web) == []
    assert outcome.status == "failed" and outcome.audio is None
    assert f"({ATTEMPTS} attempts)" in outcome.error
    assert outcome.evidence["candidates"][0]["verdict"] == "failed"
    assert leftovers(tmp_path) == []


# -- the local web's search page ----------------------------------------------------------

def test_search_page_is_a_playlist_of_local_watch_urls(web, scenario):
    import yt_dlp

    url = web.config_kwargs()["youtube_search_url"].replace("{query}", "Roger+Sanchez+Another+Chance") + "&n=3"
    assert web.env()["DEEZER_TAGS_YOUTUBE_SEARCH_URL"] == web.config_kwargs()["youtube_search_url"]
    with yt_dlp.YoutubeDL({"quiet": True, "no_warnings": True, "extract_flat": "in_playlist"}) as ydl:
        info = ydl.extract_info(url, download=False)
    entries = list(info["entries"])
    assert len(entries) == 3
    assert entries[0]["url"] == f"{web.base_url}/youtube/watch?v={MAPPED_VIDEO}"
    assert (entries[0]["title"], entries[0]["duration"]) == (scenario.videos[MAPPED_VIDEO].title, 240)


# -- parsing and judging ------------------------------------------------------------------

def test_parse_youtube_map_checks_the_shape_and_keeps_entries(scenario, youtube_map):
    assert len(youtube_map) == 12_640 and all(isinstance(k, int) and k > 0 for k in youtube_map)
    assert youtube_map[MAPPED_TRACK]["url"] == f"https://www.youtube.com/watch?v={MAPPED_VIDEO}"
    kept = parse_youtube_map('{"7": {"url": "file:///etc/passwd"}}')
    assert kept == {7: {"url": "file:///etc/passwd"}}  # refused per track, not here
    for text, named in [("[1, 2]", "list"), ('{"abc": {}}', "'abc'"), ('{"-3": {}}', "'-3'"),
                        ('{"0": {}}', "'0'"), ('{"5": "https://youtu.be/x"}', "track 5"), ("{", "not valid JSON")]:
        with pytest.raises(MalformedSourceError, match="the test map") as raised:
            parse_youtube_map(text, "the test map")
        assert named in str(raised.value)


def test_video_ids_come_only_from_youtube_hosts_and_valid_ids():
    endpoints = Endpoints()
    assert map_video_id({"url": "https://www.youtube.com/watch?v=NMg2mhqJR8g"}, endpoints) == (MAPPED_VIDEO, None)
    assert map_video_id({"url": "https://youtu.be/NMg2mhqJR8g"}, endpoints) == (MAPPED_VIDEO, None)
    assert map_video_id({"url": "https://www.youtube.com/shorts/mX7DF8mjyU0"}, endpoints) == ("mX7DF8mjyU0", None)
    for url in ("https://www.youtube.com.evil.example/watch?v=NMg2mhqJR8g", "ftp://youtube.com/watch?v=NMg2mhqJR8g",
                "https://www.youtube.com/watch?v=NMg2mhqJR8", "https://www.youtube.com/watch?v=NMg2mhqJR8g0",
                "https://www.youtube.com/watch?v=NMg2mhq|R8g", "javascript:alert(1)", 42, ""):
        video_id, reason = map_video_id({"url": url}, endpoints)
        assert video_id is None and reason, url
    assert video_id_of("http://127.0.0.1:8/youtube/watch?v=NMg2mhqJR8g") == MAPPED_VIDEO


@pytest.mark.parametrize("message, kind", [
    ("[youtube] x: Sign in to confirm you\u2019re not a bot. Use --cookies-from-browser or --cookies", "bot_check"),
    (("[youtube] x: Video unavailable. This content isn't available, try again later. "
      "The current session has been rate-limited by YouTube for up to an hour."), "session_limit"),
    ("[generic] x: Unable to download webpage: HTTP Error 429: Too Many Requests", "bot_check"),
    ("[youtube] x: Video unavailable", "gone"),
    ("[youtube] x: Private video. Sign in if you've been granted access to this video", "gone"),
    ("[youtube] x: Sign in to confirm your age. This video may be inappropriate for some users.", "gone"),
    ("[youtube] x: Requested format is not available. Use --list-formats", "transient"),
    ("[generic] x: Unable to download webpage: HTTP Error 503: Service Unavailable", "transient"),
    ("Error opening input: Connection reset by peer", "transient"),
    ("HTTP error 429 Too Many Requests | Error opening input: Server returned 4XX Client Error", "bot_check"),
])
def test_errors_are_classified(message, kind):
    assert classify_error(message) == kind


def test_a_section_ffmpeg_recovered_from_a_reset_is_refused_and_cut_again(scenario, tmp_path):
    """Found by the reliability campaign: a connection reset during ffmpeg's seek is
    reopened by ffmpeg, which may then write a clip shifted by a frame. Its log says so; the
    attempt is refused, and the next, clean, read gives the fault-free clip. (The recoverer
    reads through its relay, which resumes resets itself: this is fetch_section's guard.)"""
    from deezer_tags.ffmpeg import FfmpegFailed, fetch_section

    path = best_format_path(scenario, MAPPED_VIDEO)
    start = scenario.videos[MAPPED_VIDEO].duration / 2 - 15

    def cut(web: LocalWeb, name: str) -> str:
        out = tmp_path / name
        fetch_section(web.media_url(MAPPED_VIDEO), out, start=start, seconds=30)
        return hashlib.sha256(out.read_bytes()).hexdigest()

    with LocalWeb(scenario) as web:
        clean = cut(web, "clean.mp3")
    faults = Faults(reset=0.5, seed=_seed_where("reset", path, [False, True] + [False] * 6))
    with LocalWeb(scenario, faults=faults) as web:
        with pytest.raises(FfmpegFailed, match="recovered from"):
            cut(web, "first.mp3")
        assert [r.fault for r in web.requests].count("reset") == 1
        assert cut(web, "second.mp3") == clean


def test_clips_cut_under_every_transport_fault_are_the_fault_free_ones(scenario, youtube_map, tmp_path):
    """Resets, 5xx, short and slow bodies and URLs dying mid-clip, on the media and on the
    watch pages: every clip the recoverer keeps is the fault-free one."""
    tracks = list(mapped_tracks(scenario, youtube_map, wrong=False))[:6]

    def recover_all(web: LocalWeb, folder: str) -> dict[int, str | None]:
        with YouTubeRecoverer(endpoints_of(web), youtube_map) as recoverer:
            outcomes = {track: recoverer.recover(track, metadata(scenario, track), tmp_path / folder / f"{track}.mp3")
                        for track in tracks}
        return {track: outcome.audio.sha256 if outcome.audio else None for track, outcome in outcomes.items()}

    with LocalWeb(scenario) as web:
        clean = recover_all(web, "clean")
    faults = Faults(reset=0.1, server_error=0.1, truncated=0.1, slow_body=0.1, expire_early=0.1, seed=1)
    with LocalWeb(scenario, faults=faults) as web:
        faulted = recover_all(web, "faulted")
        struck = {r.fault for r in web.requests if r.fault}
    assert None not in clean.values()
    assert {"reset", "truncated", "slow_body", "expire_early"} <= struck
    kept = {track: sha for track, sha in faulted.items() if sha is not None}
    assert len(kept) >= len(tracks) // 2
    assert kept == {track: clean[track] for track in kept}


# -- YouTube Music first ----------------------------------------------------------------------

def test_a_track_no_search_finds_is_recovered_by_its_isrc_on_youtube_music(youtube_map, tmp_path):
    """No preview, not in the id map, and a video search that returns only unrelated
    uploads: YouTube Music's song search for the ISRC finds the art track."""
    scenario = Scenario.from_public_data(seed=1, art_track_fraction=1.0, track_ids=[541854, MAPPED_TRACK])
    track_id = 541854
    assert track_id not in youtube_map
    track = scenario.tracks[track_id]
    unrelated = scenario.add_video("unrelated01", f"{track.title_short} Lyrics Compilation Best Of", 3600)
    meta = {**metadata(scenario, track_id), "isrc": track.isrc}
    with LocalWeb(scenario) as web, YouTubeRecoverer(endpoints_of(web), youtube_map) as recoverer:
        outcome = recoverer.recover(track_id, meta, tmp_path / "x.mp3")
        searched = [r.query for r in web.requests if r.path == "/youtube/music/search"]

    art = art_track_id(scenario.seed, track_id)
    assert (outcome.status, outcome.video_id, outcome.evidence["found_by"]) == ("ok", art, "isrc")
    # The ISRC first, asked as YouTube Music finds it ("NL 9YR3756446", yt-dlp #15389), and it was enough.
    assert searched == [f"q={track.isrc[:2]}+{track.isrc[2:]}"]
    [candidate] = outcome.evidence["candidates"]
    assert candidate["source"] == "isrc" and candidate["channel"] == f"{track.artist_name} - Topic"
    assert candidate["checks"]["art_track"] is True and candidate["checks"]["duration_tolerance"] == 4.0
    assert unrelated.video_id not in {c["video_id"] for c in outcome.evidence["candidates"]}
    assert abs(soundfile.info(str(tmp_path / "x.mp3")).duration - 30.0) < 0.2


def test_the_sources_are_asked_in_order_and_the_first_acceptable_wins(scenario, youtube_map, tmp_path):
    """ISRC search (no art track), the id map's (wrong) video, the music search by name (its
    art track is found by name only), then no video search at all."""
    track_id = next(mapped_tracks(scenario, youtube_map, wrong=True))
    track = scenario.tracks[track_id]
    world = Scenario.from_public_data(seed=1, wrong_video_fraction=0.1, art_track_fraction=1.0)
    isrc = "ZZ0000000001"  # no song has it
    meta = {**metadata(world, track_id), "isrc": isrc}
    with LocalWeb(world) as web, YouTubeRecoverer(endpoints_of(web), youtube_map) as recoverer:
        outcome = recoverer.recover(track_id, meta, tmp_path / "x.mp3")
        asked = [(r.path, r.query) for r in web.requests if r.path.startswith("/youtube/") and r.path != "/youtube/watch"]

    assert world.tracks[track_id] == track
    assert outcome.status == "ok" and outcome.evidence["found_by"] == "music_search"
    assert outcome.video_id == art_track_id(world.seed, track_id)
    assert [c["source"] for c in outcome.evidence["candidates"]][:1] == ["id_map"]
    assert outcome.evidence["candidates"][0]["verdict"] == "refused"
    assert [p for p, _ in asked] == ["/youtube/music/search", "/youtube/music/search"]  # no video search
    assert asked[0][1] == f"q={isrc[:2]}+{isrc[2:]}"  # the form YouTube Music answers (yt-dlp #15389)
    assert outcome.evidence["queries"] == {"isrc": f"{isrc[:2]} {isrc[2:]}",
                                           "music_search": f"{track.artist_name} {track.title}"}


def test_youtube_music_can_be_turned_off(web, scenario, youtube_map, tmp_path):
    endpoints = resolve_endpoints({**web.config_kwargs(), "youtube_music_search_url": "off"}, environ={})
    meta = {**metadata(scenario, MAPPED_TRACK), "isrc": scenario.tracks[MAPPED_TRACK].isrc}
    with YouTubeRecoverer(endpoints, youtube_map) as recoverer:
        outcome = recoverer.recover(MAPPED_TRACK, meta, tmp_path / "x.mp3")
    assert (outcome.status, outcome.evidence["found_by"]) == ("ok", "id_map")
    assert web.count("/youtube/music/") == 0


# -- yt-dlp as users must tune it -------------------------------------------------------------

def test_a_yt_dlp_option_reaches_yt_dlp(web, scenario, youtube_map, tmp_path):
    options = {"http_headers": {"User-Agent": "lab-crawler/1.0 (research)"}}
    with YouTubeRecoverer(endpoints_of(web), youtube_map, options=options) as recoverer:
        outcome = recoverer.recover(MAPPED_TRACK, metadata(scenario, MAPPED_TRACK), tmp_path / "x.mp3")
    assert outcome.status == "ok"
    pages = [r for r in web.requests if r.path.startswith("/youtube/")]
    assert pages and {r.user_agent for r in pages} == {"lab-crawler/1.0 (research)"}


@pytest.mark.parametrize("key", ["outtmpl", "postprocessors", "noplaylist", "cookiefile", "skip_download"])
def test_an_option_the_engine_owns_is_refused_in_one_sentence(web, youtube_map, key):
    with pytest.raises(UserError) as raised:
        YouTubeRecoverer(endpoints_of(web), youtube_map, options={key: False})
    message = str(raised.value)
    assert message.startswith(f"the yt-dlp option {key!r} cannot be set through youtube_options: ")
    assert message.count(";") == 1 and message.endswith("leave it out")
    with pytest.raises(UserError, match="names no browser yt-dlp reads"):
        YouTubeRecoverer(endpoints_of(web), youtube_map, cookies_from_browser="netscape-navigator")
