"""The `deezer-tags` command as a user runs it: a real subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from deezer_tags.testing import LocalWeb, Scenario

from conftest import FAST_QUOTA


def run_cli(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "deezer_tags", *args], capture_output=True, text=True,
        env={**os.environ, **(env or {})}, timeout=timeout,
    )


def test_build_shows_progress_and_points_at_the_report(tmp_path):
    with LocalWeb(Scenario.from_public_data(), **FAST_QUOTA) as web:
        env = {**web.env(), "DEEZER_TAGS_QUOTA": f"{web.quota}/{web.window}"}
        result = run_cli("build", "--config", "metadata", "--max-tracks", "40", "--cache-dir", str(tmp_path),
                         env=env)
        assert web.count("/deezer/track/") == 40
    assert result.returncode == 0, result.stderr
    assert re.search(r"Deezer calls: 100%.*40/40", result.stderr), "no progress bar for the calls"
    assert "ok 40" in result.stdout
    assert str(tmp_path / "deezer_tags" / "failed_tracks.csv") in result.stdout


def test_checksum_mismatch_is_one_sentence_not_a_traceback(tmp_path):
    scenario = Scenario.from_public_data()
    scenario.files["train"] = scenario.files["train"].replace(b"\n", b"\r\n", 3)
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        result = run_cli("build", "--config", "metadata", "--max-tracks", "5", "--cache-dir", str(tmp_path),
                         env=web.env())
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert re.search(r"deezer-tags: the paper's train split file from http://127\.0\.0\.1:\d+/\S+ has sha256",
                     result.stderr)


def test_a_build_with_its_own_work_dir_is_found_by_status_and_report(tmp_path):
    cache, work = tmp_path / "cache", tmp_path / "elsewhere" / "manifest-here"
    with LocalWeb(Scenario.from_public_data(), **FAST_QUOTA) as web:
        env = {**web.env(), "DEEZER_TAGS_QUOTA": f"{web.quota}/{web.window}"}
        built = run_cli("build", "--config", "metadata", "--max-tracks", "20", "--cache-dir", str(cache),
                        "--work-dir", str(work), env=env)
    assert built.returncode == 0, built.stderr
    assert (work / "manifest.sqlite").is_file() and not (cache / "deezer_tags" / "manifest.sqlite").exists()
    assert str(work / "build_report.json") in built.stdout

    status = run_cli("status", "--cache-dir", str(cache), "--work-dir", str(work), "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["manifest"] == str(work / "manifest.sqlite")
    report = run_cli("report", "--cache-dir", str(cache), "--work-dir", str(work))
    assert report.returncode == 0, report.stderr
    assert (work / "report" / "report.md").is_file()

    lost = run_cli("status", "--cache-dir", str(cache))
    assert lost.returncode == 2 and "Traceback" not in lost.stderr
    assert "no build has run in" in lost.stderr
