"""A recipe (`export --recipe`, `build --recipe`): a second build makes the same YouTube
clips with no search, falls back to the normal recovery for a video that is gone, and a
malformed recipe is one sentence naming its line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from deezer_tags.errors import UserError
from deezer_tags.manifest import Manifest
from deezer_tags.workdir import MANIFEST_NAME
from deezer_tags.recipe import read_recipe
from deezer_tags.testing import LocalWeb, Scenario

from conftest import FAST_QUOTA, build

TRACKS = 30


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    """Half the tracks without a preview, half of all on YouTube Music: clips of every source."""
    return Scenario.from_public_data(seed=3, no_preview_fraction=0.5, previewless_in_map=True,
                                     art_track_fraction=0.5)


@pytest.fixture(scope="module")
def first(scenario, tmp_path_factory) -> tuple[Path, dict[int, tuple]]:
    """One ordinary build and its exported recipe: the recipe's path, and the YouTube rows."""
    cache = tmp_path_factory.mktemp("first")
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        build(web, cache, "full", max_tracks=TRACKS)
    result = cli("export", "--recipe", str(cache / "recipe.csv"), "--cache-dir", str(cache))
    assert result.returncode == 0, result.stderr
    rows = youtube_rows(cache)
    assert len(rows) >= 5
    return cache / "recipe.csv", rows


def youtube_rows(cache: Path) -> dict[int, tuple]:
    with Manifest(cache / "deezer_tags" / MANIFEST_NAME, readonly=True) as manifest:
        return {r.track_id: (r.youtube_video_id, r.match_evidence["section_start"], r.audio_sha256)
                for r in manifest.rows() if r.audio_source == "youtube"}


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deezer_tags", *args], capture_output=True, text=True, timeout=300)


def test_a_build_from_a_recipe_makes_the_same_clips_without_searching(scenario, first, tmp_path):
    recipe_path, first = first
    recipe = read_recipe(recipe_path)
    assert {t for t, r in recipe.items() if r.audio_source == "youtube"} == set(first)
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        # The recipe's tracks (those with audio): the ones the first build found nothing for
        # would be searched again, as in any build.
        build(web, tmp_path / "second", "full", track_ids=sorted(recipe), recipe=str(recipe_path))
        searches = [r.path for r in web.requests if r.path in ("/youtube/results", "/youtube/music/search")]
        watched = {r.query.removeprefix("v=") for r in web.requests if r.path == "/youtube/watch"}

    assert searches == []
    assert watched == {video for video, _, _ in first.values()}  # the recipe's videos, nothing else
    assert youtube_rows(tmp_path / "second") == first  # same videos, sections and bytes
    report = json.loads((tmp_path / "second" / "deezer_tags" / "build_report.json").read_text())
    assert report["audio"]["recipe"] == {"followed": len(first), "fell_back": 0}
    assert report["provenance"]["youtube"]["recipe_sha256"]


def test_a_recipe_video_that_is_gone_falls_back_to_the_normal_recovery(scenario, first, tmp_path):
    recipe_path, first = first
    gone, (video, _, _) = next(iter(first.items()))
    lines = recipe_path.read_text().splitlines()
    (tmp_path / "gone.csv").write_text("\n".join(line.replace(video, "GONEGONE___") for line in lines) + "\n")
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        build(web, tmp_path / "second", "full", max_tracks=TRACKS, recipe=str(tmp_path / "gone.csv"))
        searched = [r.query for r in web.requests if r.path == "/youtube/music/search"]

    second = youtube_rows(tmp_path / "second")
    assert second == first  # the normal recovery found the same video again
    isrc = scenario.tracks[gone].isrc
    assert f"q={isrc[:2]}+{isrc[2:]}" in searched  # the normal recovery asked for its ISRC first
    report = json.loads((tmp_path / "second" / "deezer_tags" / "build_report.json").read_text())
    assert report["audio"]["recipe"] == {"followed": len(first) - 1, "fell_back": 1}
    with Manifest(tmp_path / "second" / "deezer_tags" / MANIFEST_NAME, readonly=True) as manifest:
        [row] = manifest.rows([gone])
    assert row.match_evidence["recipe"].startswith("fell back: ")
    assert row.match_evidence["candidates"][0]["source"] == "recipe"


HEADER = "track_id,audio_source,youtube_video_id,section_start,video_duration,audio_sha256,youtube_found_by"


@pytest.mark.parametrize("body, fragment", [
    ("track_id,audio_source,youtube_video_id,section_start,colour\n1,youtube,dQw4w9WgXcQ,10,red\n",
     "has the unknown column 'colour' on line 1"),
    (f"{HEADER}\n12x,youtube,dQw4w9WgXcQ,10,,,isrc\n", "has the track id '12x', which is not a positive integer on line 2"),
    (f"{HEADER}\n5,youtube,dQw4w9WgXcQ,10,,,isrc\n6,youtube,dQw4w9WgXc,10,,,isrc\n",
     "has the video id 'dQw4w9WgXc', which is not 11 characters of A-Z, a-z, 0-9, - and _ on line 3"),
    (f"{HEADER}\n5,youtube,dQw4w9WgXcQ,-3,,,isrc\n", "has the section start -3, which is negative or not finite on line 2"),
])
def test_a_malformed_recipe_is_one_sentence_naming_the_line(tmp_path, body, fragment):
    path = tmp_path / "recipe.csv"
    path.write_text(body)
    with pytest.raises(UserError) as raised:
        read_recipe(path)
    message = str(raised.value)
    assert message.startswith(f"the recipe {path} ") and fragment in message and message.count(";") == 1
    result = cli("build", "--recipe", str(path), "--cache-dir", str(tmp_path / "cache"), "--max-tracks", "1")
    assert result.returncode == 2 and result.stderr.startswith("deezer-tags: the recipe ") and fragment in result.stderr
