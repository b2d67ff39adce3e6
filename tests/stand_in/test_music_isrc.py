"""YouTube Music's ISRC quirk, as the local web plays it (yt-dlp issue #15389, open): an ISRC
written as one word ("USFZ2275105") answers "Did you mean: US FZ2275105" and no songs; written
with a space after its country code it finds the song. On by default (``isrc_needs_space``),
as the real service behaves; the engine asks the spaced form.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import quote

import pytest
import requests
import yt_dlp

from deezer_tags.testing import LocalWeb, Scenario
from deezer_tags.testing.scenario import art_track_id

TRACK = 79472617  # a track of the matrix


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario.from_public_data(track_ids=[TRACK, 92310738, 129128022], art_track_fraction=1.0)


def music_results(web: LocalWeb, terms: str) -> tuple[list[str], str]:
    """The video ids a music search lists, and its "Did you mean" ("" if none)."""
    page = requests.get(web.config_kwargs()["youtube_music_search_url"].format(query=quote(terms)), timeout=10)
    assert page.status_code == 200
    channel = ET.fromstring(page.content).find("channel")
    links = [item.findtext("link") for item in channel.findall("item")]
    return [link.rsplit("v=", 1)[1] for link in links], channel.findtext("description") or ""


@pytest.mark.parametrize("needs_space", [False, True])
def test_youtube_music_finds_an_isrc_written_with_a_space(scenario, needs_space):
    track = scenario.tracks[TRACK]
    art_track = art_track_id(scenario.seed, TRACK)
    isrc = track.isrc
    spaced = f"{isrc[:2]} {isrc[2:]}"
    with LocalWeb(scenario, isrc_needs_space=needs_space) as web:
        assert music_results(web, spaced) == ([art_track], "")
        assert music_results(web, spaced.lower()) == ([art_track], "")
        hyphenated = f"{isrc[:2]}-{isrc[2:5]}-{isrc[5:7]}-{isrc[7:]}"  # no evidence YouTube Music reads it
        assert art_track not in music_results(web, hyphenated)[0]
        if needs_space:  # yt-dlp issue #15389
            assert music_results(web, isrc) == ([], f"Did you mean: {spaced}")
            assert music_results(web, isrc.lower()) == ([], f"Did you mean: {spaced}")
        else:
            assert music_results(web, isrc) == ([art_track], "")
        web.isrc_needs_space = not needs_space  # settable while serving
        assert music_results(web, isrc)[0] == ([art_track] if needs_space else [])


def test_yt_dlp_reads_the_did_you_mean_as_the_searchs_description(scenario):
    isrc = scenario.tracks[TRACK].isrc
    with LocalWeb(scenario, isrc_needs_space=True) as web, \
            yt_dlp.YoutubeDL({"quiet": True, "no_warnings": True}) as client:
        info = client.extract_info(web.config_kwargs()["youtube_music_search_url"].format(query=isrc),
                                   download=False, process=False)
    assert list(info["entries"]) == []
    assert info["description"] == f"Did you mean: {isrc[:2]} {isrc[2:]}"
