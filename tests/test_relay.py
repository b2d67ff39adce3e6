"""The media relay ffmpeg reads YouTube media through, against the local web's media host:
whole answers whatever the transport does, each byte read once, ranges sized to the
section, the host's refusals passed on, nothing relayed that was not registered."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from deezer_tags.relay import HEAD_PIECE, READ_AHEAD, MediaRelay
from deezer_tags.testing import Faults, LocalWeb, Scenario

VIDEO = "NMg2mhqJR8g"  # 240 s
ITAG = 140


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario.from_public_data(seed=1)


@pytest.fixture(scope="module")
def media(scenario: Scenario) -> bytes:
    with LocalWeb(scenario) as web:
        return web.media_file(VIDEO, ITAG).data


@pytest.fixture()
def relay() -> Iterator[MediaRelay]:
    running = MediaRelay()
    yield running
    running.close()


def media_served(web: LocalWeb) -> list:
    time.sleep(0.2)  # the server logs a request once the client has hung up
    return [r for r in web.requests if r.path.startswith("/media/videoplayback/")]


def test_every_answer_is_whole_and_exact_and_each_byte_read_once_under_transport_faults(scenario, media, relay):
    """Resets, 5xx, bodies cut short and slow bodies: what HTTPS can do to an answer. The
    relay resumes from the last good byte, so it reads exactly the bytes it hands on."""
    faults = Faults(reset=0.1, server_error=0.1, truncated=0.1, slow_body=0.15, seed=4)
    starts = [len(media) // 2 + 7, len(media) - 3 * HEAD_PIECE, len(media) - 100, 0]
    handed = 0
    with LocalWeb(scenario, faults=faults) as web:
        with relay.relaying(web.media_url(VIDEO, ITAG)) as (local_url, relayed):
            for start in starts:
                answer = requests.get(local_url, headers={"Range": f"bytes={start}-"}, timeout=60)
                assert answer.status_code == 206
                assert answer.headers["Content-Range"] == f"bytes {start}-{len(media) - 1}/{len(media)}"
                assert answer.content == media[start:], start
                handed += len(answer.content)
            closed = requests.get(local_url, headers={"Range": "bytes=5000-5999"}, timeout=60)
            handed += len(closed.content)
        hit = {r.fault for r in media_served(web) if r.fault}
    assert (closed.status_code, closed.content) == (206, media[5000:6000])
    assert hit >= {"reset", "server_error", "truncated", "slow_body"}  # the faults did strike
    assert relayed.failure is None
    assert relayed.bytes_fetched == handed  # nothing read twice, nothing read and dropped


def test_after_the_seek_the_ranges_are_sized_to_the_section(scenario, media, relay):
    """ffmpeg reads the head, seeks, reads about ``section_bytes`` and hangs up: the host is
    asked for the head, then for the section, in one range, and sends little past it."""
    section = 500_000
    seek = len(media) // 2
    with LocalWeb(scenario) as web:
        with relay.relaying(web.media_url(VIDEO, ITAG), section_bytes=section) as (local_url, relayed):
            with requests.get(local_url, headers={"Range": "bytes=0-"}, stream=True, timeout=30) as head:
                assert len(head.raw.read(20_000)) == 20_000
            with requests.get(local_url, headers={"Range": f"bytes={seek}-"}, stream=True, timeout=30) as body:
                got = body.raw.read(section)
        served = media_served(web)
    assert got == media[seek:seek + section]
    assert served[0].client_range == f"bytes=0-{HEAD_PIECE - 1}"
    # The relay may go on to more head ranges before it sees the client hang up (how many depends
    # on the two threads' timing): they run on from byte 0, each where the last ended, all
    # before the seek. After the seek: one range, sized to the section.
    ranges = [tuple(int(x) for x in r.client_range[len("bytes="):].split("-")) for r in served]
    heads = [span for span in ranges if span[0] < seek]
    assert all(later[0] == earlier[1] + 1 for earlier, later in zip(heads, heads[1:]))
    assert ranges[len(heads):] == [(seek, seek + section + READ_AHEAD - 1)]
    assert served[-1].bytes_sent <= section + READ_AHEAD
    assert relayed.requests == len(served)


def test_the_hosts_refusals_reach_ffmpeg_as_they_were(scenario, relay):
    with LocalWeb(scenario, media_ttl=0.5) as web:
        with relay.relaying(f"{web.base_url}/media/videoplayback/id/AAAAAAAAAAA/itag/140") as (local_url, relayed):
            missing = requests.get(local_url, headers={"Range": "bytes=0-"}, timeout=30)
        with relay.relaying(web.media_url(VIDEO, ITAG)) as (local_url, _):
            beyond = requests.get(local_url, headers={"Range": "bytes=999999999-"}, timeout=30)
            time.sleep(0.6)  # the URL's six hours, scaled
            expired = requests.get(local_url, headers={"Range": "bytes=0-"}, timeout=30)
    assert missing.status_code == 404 and relayed.failure is None
    assert beyond.status_code == 416 and beyond.headers["Content-Range"].startswith("bytes */")
    assert expired.status_code == 403


def test_a_url_that_dies_mid_answer_cuts_the_answer_short_and_says_why(scenario, media, relay):
    """googlevideo revokes the URL while ffmpeg reads (expire_early on a later range): the
    answer ffmpeg gets is cut short, never completed with other bytes, and the relay keeps
    the 403 for the recoverer, which resolves the watch page again."""
    with LocalWeb(scenario, faults=Faults(expire_early=0.5, seed=3)) as web:
        with relay.relaying(web.media_url(VIDEO, ITAG), section_bytes=100_000) as (local_url, relayed):
            outcomes = []
            for start in range(0, len(media) - 200_000, 400_000):
                try:
                    answer = requests.get(local_url, headers={"Range": f"bytes={start}-"}, timeout=30)
                except requests.exceptions.ChunkedEncodingError:  # cut short mid-answer
                    outcomes.append("cut")
                    continue
                outcomes.append(answer.status_code)
                if answer.status_code == 206:
                    assert answer.content == media[start:]
    assert "cut" in outcomes or 403 in outcomes
    assert relayed.failure is None or "403" in relayed.failure
    assert ("cut" in outcomes) == (relayed.failure is not None)


def test_only_registered_urls_are_relayed_and_only_while_registered(scenario, relay):
    with LocalWeb(scenario) as web:
        url = web.media_url(VIDEO, ITAG)
        with relay.relaying(url) as (local_url, _):
            assert requests.get(local_url, headers={"Range": "bytes=0-99"}, timeout=30).status_code == 206
            guessed = requests.get(f"http://127.0.0.1:{relay.port}/media/videoplayback/id/{VIDEO}/itag/140", timeout=30)
        after = requests.get(local_url, headers={"Range": "bytes=0-99"}, timeout=30)
        served = len(media_served(web))
    assert guessed.status_code == 404 and after.status_code == 404
    assert served == 1  # the registered read: nothing for the other two
    assert local_url.startswith("http://127.0.0.1:")
