"""What the audio benchmarks share: the scenario they build, the services' latencies, and
how their request logs are summed up. `rebuild.py` and `reliability.py` build the same
scenario, so a fault-free rebuild's manifest is a reference for the fault campaign."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from deezer_tags.testing import Scenario

# Per service, the seconds a reply waits before its first byte (uniform between the two).
LATENCY = {"/deezer/": (0.06, 0.15), "/cdn/": (0.02, 0.05), "/youtube/": (0.1, 0.3), "/media/": (0.05, 0.1)}
SERVICES = {"/deezer/": "deezer_api", "/cdn/": "deezer_cdn", "/youtube/": "youtube_pages",
            "/media/": "youtube_media", "/zenodo/": "sources", "/github/": "sources"}


def rebuild_scenario(seed: int = 0) -> Scenario:
    """All 49,929 tracks: 1 % gone from Deezer, 20 % without preview (mostly the ones the
    YouTube id map covers, as measured), 5 % dead previews, 3 % of map entries wrong."""
    return Scenario.from_public_data(no_data_fraction=0.01, no_preview_fraction=0.2,
                                     dead_preview_fraction=0.05, wrong_video_fraction=0.03, seed=seed,
                                     previewless_in_map=True)


def service_of(path: str) -> str:
    return next((name for prefix, name in SERVICES.items() if path.startswith(prefix)), "other")


def requests_per_service(log: Iterable) -> dict[str, dict[str, int]]:
    """Requests (GET and HEAD) and body bytes sent, per service."""
    count: Counter[str] = Counter()
    sent: Counter[str] = Counter()
    for served in log:
        service = service_of(served.path)
        count[service] += 1
        sent[service] += served.bytes_sent
    return {service: {"requests": count[service], "bytes": sent[service]} for service in sorted(count)}


def save_manifest(manifest: Path, copy: Path) -> None:
    """A consistent copy of a manifest, its write-ahead log included."""
    with sqlite3.connect(f"file:{manifest}?mode=ro", uri=True) as source, sqlite3.connect(copy) as target:
        source.backup(target)
