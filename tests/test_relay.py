"""The media relay ffmpeg reads YouTube media through, against the local web's media host:
whole answers whatever the network does, every byte read twice alike, the host's refusals
passed on, nothing relayed that was not registered."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from deezer_tags.relay import FIRST_PIECE, PIECE, MediaRelay
from deezer_tags.testing import Faults, LocalWeb, Scenario

VIDEO = "NMg2mhqJR8g"  # 240 s, about 3.8 MB


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario.from_shared_data(seed=1)


@pytest.fixture(scope="module")
def media(scenario: Scenario) -> bytes:
    with LocalWeb(scenario) as web:
        return requests.get(f"{web.base_url}/media/{VIDEO}.mp3", timeout=30).content


@pytest.fixture()
def relay() -> Iterator[MediaRelay]:
    running = MediaRelay()
    yield running
    running.close()


def test_every_answer_is_whole_and_exact_under_resets_errors_cut_off_and_slow_bodies(scenario, media, relay):
    faults = Faults(reset=0.05, server_error=0.05, truncated=0.05, html_as_audio=0.05, slow_body=0.05, seed=4)
    starts = [len(media) // 2 + 7, len(media) - 3 * FIRST_PIECE, len(media) - 100]
    with LocalWeb(scenario, faults=faults) as web, \
            relay.relaying(f"{web.base_url}/media/{VIDEO}.mp3") as (local_url, relayed):
        for start in starts:
            answer = requests.get(local_url, headers={"Range": f"bytes={start}-"}, timeout=60)
            assert answer.status_code == 206
            assert answer.headers["Content-Range"] == f"bytes {start}-{len(media) - 1}/{len(media)}"
            assert answer.content == media[start:], start
        closed = requests.get(local_url, headers={"Range": "bytes=5000-5999"}, timeout=60)
        whole = requests.get(local_url, timeout=60)
        hit = {r.fault for r in web.requests if r.fault}
    assert (closed.status_code, closed.content) == (206, media[5000:6000])
    assert (whole.status_code, whole.content) == (200, media)
    assert hit >= {"reset", "server_error", "truncated", "html_as_audio", "slow_body"}  # the faults did strike
    assert relayed.failure is None and relayed.bytes_fetched >= 2 * len(media)


def test_a_damaged_answer_is_outvoted_or_refused_never_handed_on(scenario, media, relay):
    """corrupt_audio overwrites the middle third of the file: every range there is read
    twice, and a read that differs from the other is never what ffmpeg gets, wherever in
    the answer it falls."""
    span = FIRST_PIECE + 2 * PIECE  # three ranges per answer
    starts = range(len(media) // 3 + 1, 2 * len(media) // 3 - span, 97_003)
    whole, cut_short = 0, 0
    with LocalWeb(scenario, faults=Faults(corrupt_audio=0.15, seed=5)) as web, \
            relay.relaying(f"{web.base_url}/media/{VIDEO}.mp3") as (local_url, relayed):
        for start in starts:
            try:
                answer = requests.get(local_url, headers={"Range": f"bytes={start}-{start + span - 1}"}, timeout=60)
            except requests.exceptions.ChunkedEncodingError:  # the relay gave up mid-answer
                cut_short += 1
                continue
            assert answer.status_code in (206, 502), answer.status_code
            if answer.status_code == 206:
                assert answer.content == media[start:start + span], start
                whole += 1
            else:
                cut_short += 1
        damaged = sum(1 for r in web.requests if r.fault == "corrupt_audio")
    assert damaged >= 5 and relayed.disagreements >= 5  # damage struck, and was caught each time
    assert whole >= 2 * len(starts) // 3
    assert (cut_short > 0) == (relayed.failure is not None)


def test_the_hosts_refusals_reach_ffmpeg_as_they_were(scenario, relay):
    with LocalWeb(scenario) as web:
        with relay.relaying(f"{web.base_url}/media/NoSuchVideo.mp3") as (local_url, relayed):
            missing = requests.get(local_url, headers={"Range": "bytes=0-"}, timeout=30)
        with relay.relaying(f"{web.base_url}/media/{VIDEO}.mp3") as (local_url, _):
            beyond = requests.get(local_url, headers={"Range": "bytes=999999999-"}, timeout=30)
    assert missing.status_code == 404 and relayed.failure is None
    assert beyond.status_code == 416 and beyond.headers["Content-Range"].startswith("bytes */")


def test_only_registered_urls_are_relayed_and_only_while_registered(scenario, relay):
    with LocalWeb(scenario) as web:
        with relay.relaying(f"{web.base_url}/media/{VIDEO}.mp3") as (local_url, _):
            assert requests.get(local_url, headers={"Range": "bytes=0-99"}, timeout=30).status_code == 206
            guessed = requests.get(f"http://127.0.0.1:{relay.port}/media/{VIDEO}.mp3", timeout=30)
        after = requests.get(local_url, headers={"Range": "bytes=0-99"}, timeout=30)
        served = len(web.requests)
    assert guessed.status_code == 404 and after.status_code == 404
    assert served == 2  # the registered read, twice: nothing for the other two
    assert local_url.startswith("http://127.0.0.1:")
