"""Shared fixtures: every byte a test sees comes from the local web on 127.0.0.1."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import datasets
import pytest

import deezer_contextual_tags
from deezer_tags.direct import load
from deezer_tags.testing import LocalWeb, Scenario

SCRIPT = deezer_contextual_tags.__file__

# A quota that does not bind, for tests about something else: with the server in the
# test's own process, GIL jitter between our send and its arrival is large next to a
# time-scaled window. The quota itself is tested with its own settings.
FAST_QUOTA = {"quota": 500, "window": 0.5}
# A YouTube budget that does not bind either (the local web has no YouTube limits unless a
# test gives it some): set for every test, and for the builds tests start in child
# processes, through DEEZER_TAGS_YOUTUBE_BUDGET; the budget itself is tested with its own.
FAST_YOUTUBE_BUDGET = "10000/1"
# Set before any fixture: module-scoped builds run before the per-test _hermetic.
os.environ["DEEZER_TAGS_YOUTUBE_BUDGET"] = FAST_YOUTUBE_BUDGET


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch, tmp_path):
    """No DEEZER_TAGS_* setting from the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("DEEZER_TAGS_") and name not in ("DEEZER_TAGS_PUBLIC_DATA", "DEEZER_TAGS_YOUTUBE_BUDGET"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DEEZER_TAGS_YOUTUBE_BUDGET", FAST_YOUTUBE_BUDGET)  # a test may have changed it
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)


@pytest.fixture(scope="session")
def full_scenario() -> Scenario:
    """All 49,929 tracks of the real matrix; 1 % gone from Deezer, 20 % without preview."""
    return Scenario.from_public_data(no_data_fraction=0.01, no_preview_fraction=0.2, seed=7)


def build(web: LocalWeb, cache_dir: Path, config: str = "metadata", **kwargs) -> datasets.DatasetDict:
    """load_dataset on the loading script (the builder class on datasets 4+, which runs no
    scripts: deezer_tags.direct), pointed at `web` by config kwargs."""
    kwargs.setdefault("quota_calls", web.quota)
    kwargs.setdefault("quota_window", web.window)
    return load(config, str(cache_dir), **web.config_kwargs(), **kwargs)


_TRACK_PATH = re.compile(r"^/deezer/track/(\d+)$")


def api_track_ids(web: LocalWeb) -> list[int]:
    """Track ids of every /deezer/track/{id} request the local web served, in order."""
    return [int(m.group(1)) for r in web.requests if (m := _TRACK_PATH.match(r.path))]


BUILD_IN_CHILD = """
import sys
from deezer_tags.direct import load  # the loading script sys.argv[1] on 3.x, its builder class on 4+
load(sys.argv[2], sys.argv[3], max_tracks=int(sys.argv[4]))
"""


def kill_build_midway(web: LocalWeb, config: str, cache_dir: Path, tracks: int, committed_where: str,
                      at_least: int) -> None:
    """Build in a child process (pointed at `web` by environment variables) and SIGKILL it
    once its manifest holds `at_least` rows matching the SQL condition `committed_where`."""
    env = {**os.environ, **web.env(), "DEEZER_TAGS_QUOTA": f"{web.quota}/{web.window}"}
    child = subprocess.Popen([sys.executable, "-c", BUILD_IN_CHILD, SCRIPT, config, str(cache_dir), str(tracks)],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while committed(cache_dir, committed_where) < at_least:
        assert child.poll() is None, "the build ended before it could be killed"
        assert time.monotonic() < deadline, "the build made too little progress to be killed midway"
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()


def committed(cache_dir: Path, where: str) -> int:
    """How many manifest rows match `where` (0 while there is no manifest yet)."""
    path = cache_dir / "deezer_tags" / "manifest.sqlite"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            return db.execute(f"SELECT COUNT(*) FROM tracks WHERE {where}").fetchone()[0]
    except sqlite3.OperationalError:  # the schema is being created
        return 0
