"""The local web's YouTube keeps YouTube's documented limits (see deezer_tags/testing/youtube_limits.py):
guest sessions by cookie, videos per session in a rolling hour ("This content isn't available,
try again later"), and the bot check for an address that asked for too many pages. An hour here
lasts a second or two.
"""

from __future__ import annotations

import http.client
import time
from urllib.parse import quote, urlsplit

import pytest
import requests
import yt_dlp

from deezer_tags.testing import LocalWeb, Scenario, YouTubeLimits, media
from deezer_tags.testing.youtube_limits import YouTubeGate

TRACKS = [79472617, 92310738]  # the matrix's
MAPPED_VIDEO = "NMg2mhqJR8g"
TRY_AGAIN_LATER = "This content isn't available, try again later"
BOT_CHECK = "Sign in to confirm you're not a bot"
COOKIE = "VISITOR_INFO1_LIVE"
MARGIN = 0.1  # s past a window's end before we count on it having passed


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario.from_public_data(track_ids=TRACKS)


@pytest.fixture(scope="module")
def videos(scenario: Scenario) -> list[str]:
    """Video ids the local web serves (the id map's)."""
    return sorted(scenario.videos)[:20]


def watch(web: LocalWeb, client: requests.Session, video_id: str) -> requests.Response:
    return client.get(web.config_kwargs()["youtube_watch_url"].format(video_id=video_id), timeout=10)


def search(web: LocalWeb, client: requests.Session, terms: str = "love") -> requests.Response:
    return client.get(web.config_kwargs()["youtube_search_url"].format(query=quote(terms)), timeout=10)


def music_search(web: LocalWeb, client: requests.Session, terms: str = "love") -> requests.Response:
    return client.get(web.config_kwargs()["youtube_music_search_url"].format(query=quote(terms)), timeout=10)


def session_of(response: requests.Response) -> str:
    """The session a page's answer started (from its Set-Cookie), or ""."""
    return response.cookies.get(COOKIE, "")


def statuses(responses: list[requests.Response]) -> list[int]:
    return [r.status_code for r in responses]


def media_fetches(web: LocalWeb, client: requests.Session, video_id: str) -> list[int]:
    """The DASH manifest, a whole format and two byte ranges of it: their statuses."""
    manifest = client.get(web.base_url + media.MANIFEST_PATH.format(video_id=video_id), timeout=10)
    url = web.media_url(video_id)
    ranges = [client.get(url, headers={"Range": span}, timeout=10) for span in ("bytes=0-1023", "bytes=4096-")]
    return [manifest.status_code, client.get(url, timeout=10).status_code, *statuses(ranges)]


def from_other_address(web: LocalWeb, path: str) -> int:
    """The status of a GET of ``path`` from 127.0.0.2: another client address on the loopback."""
    host = urlsplit(web.base_url)
    connection = http.client.HTTPConnection(host.hostname, host.port, timeout=10, source_address=("127.0.0.2", 0))
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


def ydl() -> yt_dlp.YoutubeDL:
    return yt_dlp.YoutubeDL({"quiet": True, "no_warnings": True, "noprogress": True,
                             "logger": _Quiet()})


class _Quiet:
    """yt-dlp's messages dropped: its errors come back as DownloadError anyway."""

    def debug(self, msg: str) -> None: ...
    def info(self, msg: str) -> None: ...
    def warning(self, msg: str) -> None: ...
    def error(self, msg: str) -> None: ...


def download_error(client: yt_dlp.YoutubeDL, url: str) -> str:
    with pytest.raises(yt_dlp.utils.DownloadError) as raised:
        client.extract_info(url, download=False, process=False)
    return str(raised.value)


# -- without limits: today's YouTube ---------------------------------------------------------

def test_without_limits_there_are_no_sessions_and_no_refusals(scenario, videos):
    with LocalWeb(scenario) as web, requests.Session() as client:
        answers = [watch(web, client, v) for v in videos * 20]  # 400 videos, one client
        answers += [search(web, client), music_search(web, client)]
        assert set(statuses(answers)) == {200}
        assert not any("Set-Cookie" in r.headers for r in answers)
        assert (web.youtube_sessions, web.videos_by_session()) == (0, {})
        assert web.try_again_later_answers == web.bot_check_answers == 0
        assert {r.session for r in web.requests} == {""}


# -- sessions and their videos -------------------------------------------------------------

def test_a_session_over_its_videos_is_told_to_try_again_later_and_a_new_session_is_not(scenario, videos):
    limits = YouTubeLimits(hour=60.0, session_videos=3, address_pages=100)
    with LocalWeb(scenario, youtube_limits=limits) as web, \
            requests.Session() as first, requests.Session() as second:
        answered = [watch(web, first, v) for v in videos[:3]]
        assert statuses(answered) == [200, 200, 200]
        one = session_of(answered[0])
        assert one and [session_of(r) for r in answered[1:]] == ["", ""]  # the cookie came back
        assert f"{COOKIE}={one}; Path=/" in answered[0].headers["Set-Cookie"]

        refused = watch(web, first, videos[3])
        assert (refused.status_code, refused.reason) == (403, TRY_AGAIN_LATER)
        assert TRY_AGAIN_LATER in refused.text
        assert watch(web, first, videos[0]).status_code == 403  # a video it had: refused as well
        assert search(web, first).status_code == 200  # the limit is on videos, not searches

        fresh = watch(web, second, videos[3])  # a client without the cookie: a new session
        assert fresh.status_code == 200
        two = session_of(fresh)
        assert two and two != one
        stranger = requests.get(web.config_kwargs()["youtube_watch_url"].format(video_id=videos[4]),
                                cookies={COOKIE: "not-issued1"}, timeout=10)  # a cookie it never set
        assert stranger.status_code == 200 and session_of(stranger) not in ("", "not-issued1", one, two)

        assert web.try_again_later_answers == 2 and web.bot_check_answers == 0
        assert web.youtube_sessions == 3
        assert web.videos_by_session() == {one: 3, two: 1, session_of(stranger): 1}
        assert [r.session for r in web.requests[:6]] == [one] * 6


def test_a_refused_session_is_served_again_once_its_rolling_hour_frees(scenario, videos):
    limits = YouTubeLimits(hour=1.5, session_videos=2, address_pages=100)
    with LocalWeb(scenario, youtube_limits=limits) as web, requests.Session() as client:
        assert watch(web, client, videos[0]).status_code == 200
        first = web.requests[-1].started
        time.sleep(0.8)
        assert watch(web, client, videos[1]).status_code == 200
        second = web.requests[-1].started
        knocks = [watch(web, client, v) for v in videos[2:6]]  # refused ones do not count
        assert statuses(knocks) == [403] * 4
        sleep_until(first + limits.hour - 0.3)
        assert watch(web, client, videos[2]).status_code == 403  # its hour has not freed yet

        sleep_until(first + limits.hour + MARGIN)  # the first video left the window, the second not
        assert time.monotonic() < second + limits.hour
        assert watch(web, client, videos[2]).status_code == 200
        assert watch(web, client, videos[3]).status_code == 403  # one freed, one taken
        assert web.try_again_later_answers == 6
        assert list(web.videos_by_session().values()) == [3]


def test_searches_are_not_videos_and_media_never_counts_nor_is_refused(scenario, videos):
    limits = YouTubeLimits(hour=60.0, session_videos=1, address_pages=12)
    with LocalWeb(scenario, youtube_limits=limits) as web, requests.Session() as client:
        pages = [search(web, client, f"love {i}") for i in range(5)] + \
                [music_search(web, client, f"night {i}") for i in range(5)]
        assert statuses(pages) == [200] * 10
        assert list(web.videos_by_session().values()) == [0]  # ten searches, no video

        assert watch(web, client, videos[0]).status_code == 200  # page 11, video 1 of 1
        for _ in range(5):  # 20 media requests: none of them is a page or a video
            assert media_fetches(web, client, videos[0]) == [200, 200, 206, 206]
        refused = watch(web, client, videos[1])  # page 12: over the videos, not over the pages
        assert (refused.status_code, refused.reason) == (403, TRY_AGAIN_LATER)
        assert media_fetches(web, client, videos[0]) == [200, 200, 206, 206]  # media stays open

        assert search(web, client).status_code == 429  # page 13: the bot check
        assert media_fetches(web, client, videos[0]) == [200, 200, 206, 206]  # even under the bot check
        assert web.count("/media/") == 28
        assert (web.try_again_later_answers, web.bot_check_answers) == (1, 1)
        assert list(web.videos_by_session().values()) == [1]


# -- the bot check --------------------------------------------------------------------------

def test_the_bot_check_answers_every_page_from_the_address_for_its_penalty_then_lifts(scenario, videos):
    limits = YouTubeLimits(hour=1.0, session_videos=100, address_pages=4, bot_check_hours=2.0)
    penalty = limits.bot_check_hours * limits.hour
    with LocalWeb(scenario, youtube_limits=limits) as web, \
            requests.Session() as client, requests.Session() as newcomer:
        pages = [watch(web, client, videos[0]), search(web, client), music_search(web, client),
                 watch(web, client, videos[1])]
        assert statuses(pages) == [200] * 4  # the address's pages for the hour

        refused = search(web, client)  # page 5: over the address's pages
        began = web.requests[-1].started
        assert (refused.status_code, refused.reason) == (429, BOT_CHECK)
        assert "not a bot" in refused.text
        during = [watch(web, client, videos[2]), search(web, client), music_search(web, client),
                  watch(web, newcomer, videos[3])]  # every page, every session of the address
        assert statuses(during) == [429] * 4
        assert session_of(during[-1])  # the newcomer still got its session cookie
        assert media_fetches(web, client, videos[0]) == [200, 200, 206, 206]  # media is not a page
        assert from_other_address(web, f"/youtube/watch?v={videos[2]}") == 200  # another address is not checked

        sleep_until(began + limits.hour + MARGIN)  # the pages' hour is over, the bot check is not
        assert statuses([watch(web, client, videos[2]), music_search(web, newcomer)]) == [429, 429]

        sleep_until(began + penalty + MARGIN)
        after = [watch(web, client, videos[2]), search(web, client), music_search(web, client),
                 watch(web, newcomer, videos[3])]
        assert statuses(after) == [200] * 4  # lifted, and the knocks during it did not count
        assert search(web, client).status_code == 429  # a fresh hour's pages: 4, then the check again
        assert web.bot_check_answers == 1 + 4 + 2 + 1
        assert web.try_again_later_answers == 0


def test_the_forced_bot_check_still_answers_every_page_and_is_counted(scenario, videos):
    with LocalWeb(scenario, youtube_blocked=True) as web, requests.Session() as client:
        answers = [watch(web, client, videos[0]), search(web, client), music_search(web, client)]
        assert [(r.status_code, r.reason) for r in answers] == [(429, BOT_CHECK)] * 3
        assert media_fetches(web, client, videos[0]) == [200, 200, 206, 206]
        assert web.bot_check_answers == 3
        web.youtube_blocked = False
        assert watch(web, client, videos[0]).status_code == 200


# -- what yt-dlp makes of it -----------------------------------------------------------------

def test_yt_dlp_tells_each_refusal_apart_from_a_gone_video(scenario, videos):
    """What yt-dlp's generic extractor raises carries the status line's reason phrase: the
    engine reads which refusal it met there (a gone video is "HTTP Error 404: Not Found")."""
    limits = YouTubeLimits(hour=60.0, session_videos=1, address_pages=3)
    with LocalWeb(scenario, youtube_limits=limits) as web, ydl() as one, ydl() as two:
        url = web.config_kwargs()["youtube_watch_url"].format
        assert one.extract_info(url(video_id=MAPPED_VIDEO), download=False, process=False)["title"]
        over = download_error(one, url(video_id=videos[0]))
        gone = download_error(two, url(video_id="AAAAAAAAAAA"))  # a new session: not over its videos
        bot = download_error(two, url(video_id=videos[0]))        # page 4 from the address
    assert f"HTTP Error 403: {TRY_AGAIN_LATER}" in over
    assert f"HTTP Error 429: {BOT_CHECK}" in bot
    assert "HTTP Error 404: Not Found" in gone
    assert "try again later" not in gone and "not a bot" not in gone
    assert "not a bot" not in over and "try again later" not in bot

    with LocalWeb(scenario, youtube_blocked=True) as web, ydl() as client:  # the forced bot check
        forced = download_error(client, web.config_kwargs()["youtube_music_search_url"].format(query="love"))
    assert f"HTTP Error 429: {BOT_CHECK}" in forced


def test_one_youtubedl_instance_is_one_session_and_two_are_two(scenario, videos):
    """yt-dlp's cookie jar (one per YoutubeDL) sends the guest cookie back to 127.0.0.1, for
    watch and search pages alike, whichever page set it."""
    with LocalWeb(scenario, youtube_limits=YouTubeLimits()) as web, ydl() as one, ydl() as two:
        config = web.config_kwargs()
        # The music search first: its cookie must reach /youtube/watch, outside /youtube/music/.
        one.extract_info(config["youtube_music_search_url"].format(query="love"), download=False, process=False)
        one.extract_info(config["youtube_watch_url"].format(video_id=MAPPED_VIDEO), download=False, process=False)
        one.extract_info(config["youtube_search_url"].format(query="love"), download=False, process=False)
        two.extract_info(config["youtube_watch_url"].format(video_id=videos[0]), download=False, process=False)
        two.extract_info(config["youtube_watch_url"].format(video_id=videos[1]), download=False)  # + manifest
        pages = [r for r in web.requests if r.path.startswith("/youtube/")]
        sessions = [r.session for r in pages]
        assert len(pages) == 5 and sessions[0] and sessions[3]
        assert sessions == [sessions[0]] * 3 + [sessions[3]] * 2 and sessions[0] != sessions[3]
        assert web.youtube_sessions == 2
        assert web.videos_by_session() == {sessions[0]: 1, sessions[3]: 2}
        assert {c.name: c.path for c in one.cookiejar} == {COOKIE: "/"}


# -- the gate's windows, on a clock of its own ------------------------------------------------

def test_the_gates_windows_roll_on_its_clock():
    now = [0.0]
    gate = YouTubeGate(YouTubeLimits(hour=10.0, session_videos=2, address_pages=5, bot_check_hours=3.0),
                       clock=lambda: now[0])
    one, new = gate.session([])
    assert new and gate.session([f"x=1; VISITOR_INFO1_LIVE={one}"]) == (one, False)
    at = {}
    for t, kind in [(0, "watch"), (4, "watch"), (5, "watch"), (9.9, "watch"), (10, "watch"), (13, "watch")]:
        now[0] = t
        at[t] = gate.admit("a", one, kind)
    # Videos at 0 and 4; 5 and 9.9 refused; at 10 the first left the window; at 13 two are in it.
    assert at == {0: None, 4: None, 5: "try_again_later", 9.9: "try_again_later", 10: None, 13: "try_again_later"}
    now[0] = 13.5  # pages in the last hour: 4, 5, 9.9, 10, 13 -> this is the sixth
    assert gate.admit("a", one, "media") is None  # not a page
    assert gate.admit("a", one, "search") == "bot_check"
    now[0] = 13.5 + 30 - 0.01
    assert gate.admit("a", one, "search") == "bot_check"
    assert gate.admit("b", one, "search") is None  # another address
    now[0] = 13.5 + 30
    assert gate.admit("a", one, "search") is None
    assert gate.videos_by_session() == {one: 3} and gate.sessions == 1


def test_after_the_bot_check_an_address_starts_its_hour_afresh():
    """The pages that earned the bot check are spent by it: a penalty shorter than the hour
    does not end in a bot check at once (nor do the knocks during it count)."""
    now = [0.0]
    gate = YouTubeGate(YouTubeLimits(hour=10.0, address_pages=3, bot_check_hours=0.5), clock=lambda: now[0])
    one, _ = gate.session([])
    answers = []
    for t in (0, 1, 2, 3, 4, 7.9, 8, 8.5, 9):  # the check from 3 to 8
        now[0] = t
        answers.append(gate.admit("a", one, "search"))
    assert answers == [None, None, None, "bot_check", "bot_check", "bot_check", None, None, None]
    assert gate.admit("a", one, "search") == "bot_check"  # the fourth page of the fresh hour
