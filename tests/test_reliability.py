"""The reliability campaign in small (benchmarks/reliability.py runs it on all 49,929
tracks): every fault at once, then SIGKILLs at seeded moments; the dataset must hold
only clips byte-identical to a fault-free build's, and record every other track."""

from __future__ import annotations

import pytest

from deezer_tags.testing import Faults, LocalWeb, Scenario
from deezer_tags.testing.campaign import CAMPAIGN_FAULTS, audit, build, kill_campaign, manifest_sha256

TRACKS = 100
WEB = {"quota": 50, "window": 0.5, "latency": {"/deezer/": (0.02, 0.06), "/cdn/": (0.0, 0.02)}}


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario.from_public_data(no_data_fraction=0.01, no_preview_fraction=0.2, dead_preview_fraction=0.05,
                                     wrong_video_fraction=0.03, seed=0, previewless_in_map=True)


@pytest.fixture(scope="module")
def reference(scenario, tmp_path_factory) -> dict[int, str]:
    """sha256 per track of a fault-free build."""
    cache = tmp_path_factory.mktemp("reference")
    with LocalWeb(scenario, **WEB) as web:
        build(web, cache, TRACKS)
    sha256 = manifest_sha256(cache / "deezer_tags" / "manifest.sqlite")
    assert len(sha256) > 0.9 * TRACKS
    return sha256


def test_every_fault_at_once_ends_in_the_fault_free_clips_or_a_recorded_reason(scenario, reference, tmp_path):
    with LocalWeb(scenario, faults=Faults(**CAMPAIGN_FAULTS, seed=3), **WEB) as web:
        rows = build(web, tmp_path, TRACKS)
        fired = {r.fault for r in web.requests if r.fault}
    assert {"reset", "server_error", "expire_early"} <= fired, "the campaign's faults must have fired"

    result = audit(tmp_path, rows, reference)
    assert result.silently_wrong == []
    assert result.identical_to_reference == result.with_audio == result.decoded
    assert result.with_audio + sum(result.without_audio.values()) == TRACKS
    assert result.temp_files_left == []
    # Six attempts per request make a track lost to faults rare: at most one here.
    assert result.reference_had_audio_but_not_here <= 1

    # The next build, the faults gone, gives each such track its clip and fetches no clip
    # the first build stored (a few requests per missing track: its preview or its cut).
    # The first build finished, so datasets holds its Arrow tables: the user asks for them
    # to be made again (the downloads and the manifest are reused), as the README says.
    missing = set(reference) - {track for track, row in rows.items() if row.get("audio")}
    with LocalWeb(scenario, **WEB) as web:
        rows = build(web, tmp_path, TRACKS, kwargs={"download_mode": "reuse_cache_if_exists"})
        audio_requests = [r for r in web.requests if r.path.startswith(("/cdn/", "/media/"))]
    again = audit(tmp_path, rows, reference)
    assert again.silently_wrong == [] and again.temp_files_left == []
    assert again.identical_to_reference == len(reference)
    assert len(audio_requests) <= 10 * len(missing), [r.path for r in audio_requests]


def test_killed_twice_and_resumed_the_dataset_equals_the_fault_free_one(scenario, reference, tmp_path):
    with LocalWeb(scenario, faults=Faults(**CAMPAIGN_FAULTS, seed=4), **WEB) as web:
        rows, kills = kill_campaign(web, tmp_path, TRACKS, kills=2, seed=1, expected_clips=len(reference))
    assert len(kills) == 2
    assert all(k.at_clips < len(reference) for k in kills), "each kill came before the end"

    result = audit(tmp_path, rows, reference)
    assert result.silently_wrong == []
    assert result.temp_files_left == []
    # Each killed builder's private temp folder (where cookie copies live) was removed by a later one.
    assert not [k for k in kills if k.private_folder_left]
    assert result.with_audio + sum(result.without_audio.values()) == TRACKS
    assert result.reference_had_audio_but_not_here <= 1
    # A resumed build redoes at most the work in flight and the last half second's results,
    # small next to the work done before the kill (a run killed right after its start may
    # itself have done less than the work it inherited, so that is not the measure).
    for kill in kills:
        assert kill.redone_requests <= 0.5 * kill.requests_before, kill.figures()
