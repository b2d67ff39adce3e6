"""The demo scenario: 300 real tracks of the matrix, served by the local web.

It ships with the package (fixtures/demo/, made by scripts/make_demo_fixture.py
from the published files), so `deezer-tags demo` runs on a machine that has
nothing but this package: no internet, no shared data.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from deezer_tags.testing.scenario import PUBLIC_FILES, Scenario
from deezer_tags.testing.server import LocalWeb

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "demo"

# The real quota's shape (50 calls per window), 5x faster, so the demo takes seconds.
DEMO_QUOTA = {"quota": 50, "window": 1.0}
# YouTube's hour, 100x shorter: the default budget's shape (250 videos an hour) in 36 s.
DEMO_YOUTUBE_HOUR = 36.0
DEMO_YOUTUBE_BUDGET = f"250/{DEMO_YOUTUBE_HOUR:g}"


def demo_scenario(seed: int = 0) -> Scenario:
    """Some tracks gone from Deezer, a fifth without preview, a few dead previews, half the
    tracks on YouTube Music, and one map video in ten a live take of its song, which only the
    calibration can tell (guesses: no measurement of the real shares can be made here)."""
    files = {key: (FIXTURE / Path(rel).name).read_bytes() for key, rel in PUBLIC_FILES.items()}
    return Scenario(files, seed=seed, no_data_fraction=0.02, no_preview_fraction=0.2,
                    dead_preview_fraction=0.05, wrong_video_fraction=0.05, previewless_in_map=True,
                    art_track_fraction=0.5, live_take_fraction=0.1)


@contextmanager
def demo_web() -> Iterator[LocalWeb]:
    with LocalWeb(demo_scenario(), latency=(0.02, 0.08), **DEMO_QUOTA) as web:
        yield web
