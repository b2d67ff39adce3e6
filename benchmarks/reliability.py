"""Benchmark: the full build under every fault at once, then killed 10 times and resumed.

The scenario is `rebuild.py`'s (all 49,929 tracks by default), served by the local web
with the quota scaled in time (50 calls per 0.5 s) and these faults on every request
at once: connection resets, 5xx, truncated bodies, HTML served as audio, corrupt MP3,
preview URLs expiring early, slow bodies, API bodies that are not JSON, and quota
answers to a client that kept to the quota. Three builds, each in a child process:

1. the reference: the same scenario without faults (or `--reference-manifest`, a
   manifest saved by `rebuild.py --save-manifest` from a fault-free run);
2. the fault campaign: one uninterrupted build under faults;
3. the kill campaign: a build under the same faults, SIGKILLed at `--kills` seeded
   moments and resumed each time.

Each finished dataset is audited (deezer_tags/testing/campaign.py): every clip must be
byte-identical to the reference's, whole (every MPEG frame), 25-31 s long, and libsndfile
decodes a seeded sample of them (`--decode-sample`; 0 decodes all, ~55 ms each). Prints JSON.

    python benchmarks/reliability.py --tracks 49929
    python benchmarks/reliability.py --tracks 500 --kills 4      # a quick look
    python benchmarks/reliability.py --tracks 10000 --youtube-limits --hour 36   # with YouTube's limits on
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import LATENCY, add_youtube_arguments, rebuild_scenario, requests_per_service, youtube_settings
from deezer_tags.testing import Faults, LocalWeb
from deezer_tags.testing.campaign import CAMPAIGN_FAULTS, audit, build, kill_campaign, manifest_sha256

FAULTS = CAMPAIGN_FAULTS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=49929)
    parser.add_argument("--quota", type=int, default=50)
    parser.add_argument("--window", type=float, default=0.5)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="picks the faults and the kill moments")
    parser.add_argument("--decode-sample", type=int, default=2000,
                        help="clips libsndfile decodes in full per audit, 0 for all (every clip's frames are walked)")
    parser.add_argument("--reference-manifest", type=Path,
                        help="a fault-free build's manifest of the same scenario (rebuild.py --save-manifest)")
    parser.add_argument("--reference-figures", type=Path,
                        help="that build's rebuild.py JSON, for its request counts")
    add_youtube_arguments(parser)
    parser.add_argument("--skip", choices=("faults", "kills"), action="append", default=[])
    args = parser.parse_args()
    scenario = rebuild_scenario()
    limits, budget, _ = youtube_settings(args)
    web_kwargs = dict(quota=args.quota, window=args.window, latency=LATENCY, youtube_limits=limits)
    kwargs = {"youtube_workers": args.youtube_workers, "youtube_budget": budget}
    figures: dict = {"tracks": args.tracks, "build_kwargs": kwargs, "quota": f"{args.quota} calls / {args.window} s",
                     "fault_rates": FAULTS, "seed": args.seed}
    root = Path(tempfile.mkdtemp(prefix="bench-reliability-"))
    try:
        if args.reference_manifest:
            # It may still be being written by a rebuild.py run: it is read at the first audit.
            reference = Reference(args.reference_manifest, args.reference_figures)
        else:
            say("reference build, no faults")
            with LocalWeb(scenario, **web_kwargs) as web:
                started = time.monotonic()
                build(web, root / "reference", args.tracks, kwargs=kwargs)
                reference = Reference.of_build(root / "reference" / "deezer_tags" / "manifest.sqlite",
                                               requests_per_service(web.requests), time.monotonic() - started)
            shutil.rmtree(root / "reference")

        if "faults" not in args.skip:
            say("fault campaign: one build under every fault")
            with LocalWeb(scenario, faults=Faults(**FAULTS, seed=args.seed), **web_kwargs) as web:
                started = time.monotonic()
                rows = build(web, root / "faults", args.tracks, kwargs=kwargs)
                wall = time.monotonic() - started
                requests = requests_per_service(web.requests)
                faults_fired = sum(1 for r in web.requests if r.fault)
            say("auditing")
            result = audit(root / "faults", rows, reference.sha256(), decode_sample=args.decode_sample or None, seed=args.seed)
            figures["fault_campaign"] = {
                "wall_s": round(wall, 1), "faults_injected": faults_fired, **result.figures(),
                "requests_per_service": requests,
                "requests_over_fault_free": _ratio(requests, reference.requests()),
            }
            shutil.rmtree(root / "faults")

        if "kills" not in args.skip:
            say(f"kill campaign: {args.kills} SIGKILLs under the same faults")
            with LocalWeb(scenario, faults=Faults(**FAULTS, seed=args.seed + 1), **web_kwargs) as web:
                started = time.monotonic()
                rows, kills = kill_campaign(web, root / "kills", args.tracks, kills=args.kills, seed=args.seed,
                                            expected_clips=reference.expected_clips(args.tracks), kwargs=kwargs)
                wall = time.monotonic() - started
            say("auditing")
            result = audit(root / "kills", rows, reference.sha256(), decode_sample=args.decode_sample or None, seed=args.seed)
            figures["kill_campaign"] = {
                "wall_s": round(wall, 1), **result.figures(),
                "kills": [k.figures() for k in kills],
                "redone_requests_fraction_max": max((k.figures()["redone_requests_fraction"] for k in kills), default=0),
                "redone_bytes_fraction_max": max((k.figures()["redone_bytes_fraction"] for k in kills), default=0),
                "private_temp_folders_left": sum(k.private_folder_left for k in kills),
            }
        figures["reference"] = reference.figures()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(figures, indent=2))


class Reference:
    """The fault-free build's clips (sha256 per track) and request counts."""

    def __init__(self, manifest: Path, figures_file: Path | None = None) -> None:
        self.manifest, self.figures_file = manifest, figures_file
        self._sha256: dict[int, str] | None = None
        self._requests: dict | None = None
        self._wall: float | None = None

    @classmethod
    def of_build(cls, manifest: Path, requests: dict, wall: float) -> Reference:
        reference = cls(manifest)
        reference._sha256, reference._requests, reference._wall = manifest_sha256(manifest), requests, wall
        return reference

    def sha256(self) -> dict[int, str]:
        if self._sha256 is None:
            if self.figures_file:
                _wait_for(self.figures_file)  # rebuild.py prints it after saving the manifest
            _wait_for(self.manifest)
            self._sha256 = manifest_sha256(self.manifest)
        return self._sha256

    def requests(self) -> dict | None:
        if self._requests is None and self.figures_file:
            _wait_for(self.figures_file)
            self._requests = json.loads(self.figures_file.read_text())["requests_per_service"]
        return self._requests

    def expected_clips(self, tracks: int) -> int:
        """Clips a finished build holds: the kill moments are fractions of it."""
        return len(self.sha256()) if self._sha256 is not None else round(0.95 * tracks)

    def figures(self) -> dict:
        return {"manifest": str(self.manifest) if self._wall is None else "built by this run",
                "wall_s": None if self._wall is None else round(self._wall, 1),
                "with_audio": len(self.sha256()), "requests_per_service": self.requests()}


def _wait_for(path: Path) -> None:
    if not path.exists() or path.stat().st_size == 0:
        say(f"waiting for {path}")
    while not path.exists() or path.stat().st_size == 0:
        time.sleep(10)


def _ratio(requests: dict, reference: dict | None) -> dict | None:
    if not reference:
        return None
    total = sum(v["requests"] for v in requests.values())
    ref_total = sum(v["requests"] for v in reference.values())
    ratios = {s: round(v["requests"] / reference[s]["requests"], 4) for s, v in requests.items() if s in reference}
    return {"all": round(total / ref_total, 4), **ratios}


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
