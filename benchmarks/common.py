"""What the audio benchmarks share: the scenario they build, the services' latencies, and
how their request logs are summed up. `rebuild.py` and `reliability.py` build the same
scenario, so a fault-free rebuild's manifest is a reference for the fault campaign."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from deezer_tags import defaults
from deezer_tags.testing import Scenario, YouTubeLimits

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


# A budget that does not bind, for the builds that measure the rest without YouTube's limits.
UNBINDING_BUDGET = "1000000/3600"


def add_youtube_arguments(parser) -> None:
    """YouTube's limits on the local web, and the build's budget (rebuild.py, reliability.py)."""
    parser.add_argument("--youtube-workers", type=int, default=defaults.YOUTUBE_WORKERS,
                        help=f"the builder's default is {defaults.YOUTUBE_WORKERS}")
    parser.add_argument("--youtube-limits", action="store_true",
                        help="the local web plays YouTube's limits (--session-videos a session and --address-pages "
                             "pages an address per hour, a 2 h bot check), its hour lasting --hour seconds")
    parser.add_argument("--hour", type=float, default=3600.0, help="YouTube's hour, scaled (seconds)")
    parser.add_argument("--session-videos", type=int, default=300, help="a session's videos an hour")
    parser.add_argument("--address-pages", type=int, default=1000, help="the address's pages an hour")
    parser.add_argument("--youtube-budget", help="the build's budget (default: 250 per --hour with the limits "
                                                 f"on, else {UNBINDING_BUDGET}, which does not bind)")
    parser.add_argument("--budget-over-allowed", type=float,
                        help="set the budget to this many times what the local web's session limits allow")


def youtube_settings(args) -> tuple[YouTubeLimits | None, str, int | None]:
    """The local web's limits (None: off), the build's budget, and the videos an hour the
    local web allows the build's sessions (one per YouTube worker and calibration slot)."""
    limits = (YouTubeLimits(hour=args.hour, session_videos=args.session_videos, address_pages=args.address_pages)
              if args.youtube_limits else None)
    allowed = (args.youtube_workers + 2) * limits.session_videos if limits else None
    if args.budget_over_allowed:
        budget = f"{round(args.budget_over_allowed * allowed)}/{args.hour:g}"
    else:
        budget = args.youtube_budget or (f"250/{args.hour:g}" if limits else UNBINDING_BUDGET)
    return limits, budget, allowed


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
