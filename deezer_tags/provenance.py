"""What a build says about itself: when it ran, through which tools, from which files and
with which settings, so that a copy of the data can be traced and rebuilt the same way.

Every run of a build (a resumed build has several) is a row of the manifest's ``runs``
table, started before its first request and finished after its last write; a run that
was killed keeps no end. ``build_report.json`` states them with the tool versions, the
sources' sha256 and the settings that shape the data (see ``Build.settings``).
"""

from __future__ import annotations

import functools
import platform
import subprocess
import time
from collections.abc import Mapping
from importlib import metadata

import deezer_tags
from deezer_tags.sources import Quota


def utc(timestamp: float | None) -> str | None:
    """ISO 8601 in UTC, to the second: 2026-12-01T21:45:36Z."""
    if timestamp is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def tool_versions(ffmpeg: str | None) -> dict[str, str | None]:
    """The versions of everything that shapes the bytes of a clip or an example."""
    return {
        "deezer_tags": deezer_tags.__version__,
        "python": platform.python_version(),
        "datasets": _package("datasets"),
        "yt_dlp": _package("yt-dlp"),
        "soundfile": _package("soundfile"),
        "ffmpeg": ffmpeg_version(ffmpeg) if ffmpeg else None,
    }


def _package(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=4)
def ffmpeg_version(exe: str) -> str | None:
    """The first line of ``ffmpeg -version``, less its "ffmpeg version" prefix."""
    try:
        first = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=20).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return None
    if not first:
        return None
    return first[0].removeprefix("ffmpeg version ").split(" Copyright")[0].strip()


def summarize_runs(runs: list[dict]) -> dict:
    """The build's span and its runs, for the report (times in UTC)."""
    finished = [r["finished_at"] for r in runs if r.get("finished_at")]
    return {
        "started_at": utc(min((r["started_at"] for r in runs), default=None)),
        "finished_at": utc(max(finished, default=None)),
        "runs": [{**r, "started_at": utc(r["started_at"]), "finished_at": utc(r.get("finished_at"))} for r in runs],
    }


def build_settings(*, config: str, sources_sha256: Mapping[str, str], split_scheme: str,
                   split_file_sha256: str | None, section_start: object, quota: Quota, api_language: str,
                   youtube: bool, recipe_sha256: str | None = None, calibration_tracks: int | None = None) -> dict:
    """The settings that shape a build's data, with the sha256 of each source file (and of
    the split file and the recipe, when the build has them)."""
    # Here, not at the top: `status` reads ``utc`` from this module and must start without
    # yt-dlp, numpy and the judge.
    from deezer_tags.acoustic import FEATURES, SAME_RECORDING
    from deezer_tags.matching import rules
    from deezer_tags.youtube import SOURCES

    settings: dict = {
        "config": config,
        "sources_sha256": dict(sorted(sources_sha256.items())),
        "split_scheme": "split_file" if split_file_sha256 else split_scheme,
        "split_file_sha256": split_file_sha256,
        "quota": {"calls": quota.calls, "window": quota.window},
        "api_language": api_language,
    }
    if youtube:
        settings["youtube"] = {"sources": list(SOURCES), "section_start": section_start, "match_rules": rules(),
                               "recipe_sha256": recipe_sha256,
                               "calibration": {"tracks": "default" if calibration_tracks is None else calibration_tracks,
                                               "same_recording": SAME_RECORDING, "features": FEATURES}}
    return settings
