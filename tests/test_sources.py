"""Sources: endpoints from one place, pinned checksums, malformed matrices rejected by line."""

from __future__ import annotations

import pytest

from deezer_tags.errors import ChecksumMismatchError, MalformedSourceError
from deezer_tags.sources import PINNED_SHA256, Endpoints, resolve_endpoints, resolve_quota
from deezer_tags.testing import LocalWeb, Scenario

from conftest import FAST_QUOTA, build, load


def test_env_overrides_defaults_and_kwargs_override_env():
    env = {"DEEZER_TAGS_API_URL": "http://mirror.example/api", "DEEZER_TAGS_PREVIEW_HOSTS": "a.example, b.example"}
    assert resolve_endpoints(environ={}).api_url == "https://api.deezer.com"
    from_env = resolve_endpoints(environ=env)
    assert from_env.api_url == "http://mirror.example/api"
    assert from_env.preview_hosts == ("a.example", "b.example")
    assert from_env.zenodo_url == Endpoints().zenodo_url
    from_kwargs = resolve_endpoints({"api_url": "http://127.0.0.1:9/x", "zenodo_url": None}, environ=env)
    assert from_kwargs.api_url == "http://127.0.0.1:9/x"
    with pytest.raises(ValueError, match="DEEZER_TAGS_SPLITS_URL"):
        resolve_endpoints(environ={"DEEZER_TAGS_SPLITS_URL": "file:///etc/"})


def test_host_allowlists_match_hosts_and_subdomains_only():
    endpoints = Endpoints()
    assert endpoints.is_preview_url("https://cdns-preview-d.dzcdn.net/stream/c-deda7fa9-5.mp3")
    assert not endpoints.is_preview_url("https://dzcdn.net.evil.example/x.mp3")
    assert not endpoints.is_preview_url("file:///etc/passwd")
    assert endpoints.is_youtube_url("https://www.youtube.com/watch?v=NMg2mhqJR8g")
    assert not endpoints.is_youtube_url("https://notyoutube.com/watch?v=NMg2mhqJR8g")


def test_quota_from_env_and_kwargs():
    assert resolve_quota(environ={}).rate == 10
    assert resolve_quota(environ={"DEEZER_TAGS_QUOTA": "50/0.5"}).rate == 100
    assert resolve_quota(calls=10, environ={"DEEZER_TAGS_QUOTA": "50/0.5"}).calls == 10
    with pytest.raises(ValueError, match="CALLS/SECONDS"):
        resolve_quota(environ={"DEEZER_TAGS_QUOTA": "fast"})


def test_environment_variables_point_the_builder_at_a_mirror(monkeypatch, tmp_path):
    with LocalWeb(Scenario.from_public_data(), **FAST_QUOTA) as web:
        for name, value in web.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("DEEZER_TAGS_QUOTA", f"{web.quota}/{web.window}")
        dataset = load("metadata", str(tmp_path), max_tracks=20)
        assert web.count("/deezer/track/") == 20
        assert web.count("/zenodo/", method="GET") == 1
    assert sum(len(s) for s in dataset.values()) == 20


def test_checksum_mismatch_names_file_digests_and_override(tmp_path):
    scenario = Scenario.from_public_data()
    scenario.files["annotation"] = scenario.files["annotation"] + b"92310739,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1\n"
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        with pytest.raises(ChecksumMismatchError) as caught:
            build(web, tmp_path, max_tracks=5)
        assert web.count("/deezer/") == 0
    message = str(caught.value)
    assert "tag matrix" in message and "/zenodo/" in message
    assert PINNED_SHA256["annotation"] in message
    assert "verification_mode='no_checks'" in message


HEADER = "song_id,car,chill,club,dance,gym,happy,night,party,relax,running,sad,sleep,summer,work,workout\n"
ROW = ",0,1,1,1,0,1,1,1,1,1,0,0,1,1,1\n"


@pytest.mark.parametrize("matrix, expected", [
    (HEADER.replace(",workout", "") + "1" + ROW[:-3] + "\n", r"missing: workout"),
    (HEADER + "12" + ROW + "abc" + ROW, r"line 3: track id 'abc' is not a positive integer"),
    (HEADER + "12" + ROW + "13" + ROW + "12" + ROW, r"line 4: track id 12 appears twice"),
    (HEADER + "12" + ROW.replace(",0,1,1", ",2,1,1", 1), r"line 2: tag 'car' is '2', expected 0 or 1"),
    (HEADER + "12" + ROW + "13,0,1\n", r"line 3: 3 fields, expected 16"),
])
def test_malformed_matrix_is_rejected_with_its_line(tmp_path, matrix, expected):
    scenario = Scenario.from_public_data()
    scenario.files["annotation"] = matrix.encode()
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        with pytest.raises(MalformedSourceError, match=expected):
            build(web, tmp_path, verification_mode="no_checks")
        assert web.count("/deezer/") == 0
