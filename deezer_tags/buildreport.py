"""The build report: what a build got, in files beside the manifest, and read back by `report`,
`status`, the CLI's summary and the exported copy's card.

- ``build_report.json``: the totals (metadata, audio by source, why tracks have none), this
  run's figures, the provenance, the calibration, the counts per split;
- ``failed_tracks.csv``: every track left without what its config wants, and why;
- ``calibration.csv``: the calibrated tracks, disagreements first.
The reasons a track has no audio (``why_no_audio``) are the words of both files.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from deezer_tags.manifest import FAILED, NO_DATA, OK, PREVIEW, YOUTUBE, TrackRow, metadata_counts
from deezer_tags.workdir import WorkDir, csv_text, write_atomically

# Where a YouTube clip's video was found (youtube.SOURCES), as the report names them.
FOUND_BY_TITLES = {"isrc": "by ISRC on YouTube Music", "id_map": "from the id map",
                   "music_search": "by name on YouTube Music", "search": "by a video search"}
FAILED_HEADER = ("track_id", "stage", "status", "reason")


def has_audio(row: TrackRow, youtube: bool) -> bool:
    """The track has a clip for a config (with or without YouTube)."""
    return row.audio_source == PREVIEW or (youtube and row.audio_source == YOUTUBE)


def why_no_audio(row: TrackRow, youtube: bool) -> str:
    """One word per reason, for the counts: where the track's audio search stopped."""
    if row.meta_status in (FAILED, "pending"):
        return "metadata_" + row.meta_status
    if row.preview_status in (FAILED, "pending"):
        return "preview_" + row.preview_status
    if not youtube:
        return "no_preview" if row.meta_status == OK else "no_deezer_data"
    return "youtube_" + row.youtube_status


def audio_counts(rows: Sequence[TrackRow], youtube: bool) -> dict:
    with_audio = {PREVIEW: 0, YOUTUBE: 0}
    without: dict[str, int] = {}
    for row in rows:
        if has_audio(row, youtube):
            with_audio[row.audio_source] += 1
        else:
            reason = why_no_audio(row, youtube)
            without[reason] = without.get(reason, 0) + 1
    return {"with_audio": with_audio, "without_audio": dict(sorted(without.items()))}


def recipe_outcome(row: TrackRow) -> str | None:
    """"followed" when the track's clip is the recipe's, "fell_back" when its recipe video
    failed the checks and the normal recovery ran, None without a recipe row."""
    said = (row.match_evidence or {}).get("recipe")
    return None if not said else "followed" if said == "followed" else "fell_back"


def missing_tracks(rows: Sequence[TrackRow], *, audio: bool, youtube: bool) -> list[tuple]:
    """failed_tracks.csv's rows: each track without what the config wants, and why."""
    if not audio:
        return [(r.track_id, "metadata", r.meta_status, r.last_error or "")
                for r in rows if r.meta_status in (NO_DATA, FAILED, "pending")]
    return [(r.track_id, "audio", why_no_audio(r, youtube), r.audio_error or r.last_error or "")
            for r in rows if not has_audio(r, youtube)]


def totals(rows: Sequence[TrackRow], *, audio: bool, youtube: bool) -> dict:
    """The report's counts: metadata, and with audio by source and why not."""
    found: dict = {"metadata": metadata_counts(rows)}
    if audio:
        found["audio"] = audio_counts(rows, youtube)
        followed = Counter(recipe_outcome(r) for r in rows if r.audio_source != PREVIEW)
        if followed["followed"] or followed["fell_back"]:
            found["audio"]["recipe"] = {"followed": followed["followed"], "fell_back": followed["fell_back"]}
    return found


def write(work_dir: WorkDir, report: dict, missing: Sequence[tuple], calibration_rows: Sequence[tuple] | None) -> None:
    """build_report.json, failed_tracks.csv and (when the build calibrated) calibration.csv."""
    if calibration_rows is not None:
        write_atomically(work_dir.calibration, csv_text(calibration_rows))
    write_atomically(work_dir.report, json.dumps(report, indent=2) + "\n")
    write_atomically(work_dir.failed, csv_text([FAILED_HEADER, *missing]))


def split_counts(split_of: Mapping[int, str], rows: Mapping[int, TrackRow], *, audio: bool,
                 youtube: bool) -> dict[str, dict]:
    """Tracks per split, and with audio per source."""
    splits: dict[str, dict] = {}
    for track_id, split in split_of.items():
        entry = splits.setdefault(split, {"tracks": 0, **({"with_audio": Counter()} if audio else {})})
        entry["tracks"] += 1
        row = rows.get(track_id)
        if audio and row is not None and has_audio(row, youtube):
            entry["with_audio"][row.audio_source] += 1
    return {name: {**e, **({"with_audio": dict(e["with_audio"])} if audio else {})}
            for name, e in sorted(splits.items())}


def add_splits(work_dir: WorkDir, counts: dict[str, dict]) -> None:
    """The counts per split, into build_report.json."""
    report = json.loads(work_dir.report.read_text(encoding="utf-8"))
    report["splits"] = counts
    write_atomically(work_dir.report, json.dumps(report, indent=2) + "\n")


@dataclass(frozen=True)
class BuildReport:
    """build_report.json as read back ({} parts when a build wrote none)."""

    path: Path
    data: dict

    @classmethod
    def read(cls, work_dir: WorkDir) -> BuildReport:
        """The last build's report; empty when there is none, or it cannot be read."""
        try:
            found = json.loads(work_dir.report.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            found = {}
        return cls(work_dir.report, found if isinstance(found, dict) else {})

    @property
    def exists(self) -> bool:
        return bool(self.data)

    @property
    def metadata(self) -> dict:
        return self.data.get("metadata", {})

    @property
    def audio(self) -> dict | None:
        return self.data.get("audio")

    @property
    def this_run(self) -> dict:
        return self.data.get("this_run", {})

    @property
    def provenance(self) -> dict | None:
        return self.data.get("provenance")

    @property
    def calibration(self) -> dict | None:
        return self.data.get("calibration")


def write_run_report(work_dir: WorkDir, manifest, track_ids: Sequence[int], counts, client, seconds: float, *,
                     settings: dict, audio: bool, youtube=None, calibration: tuple | None = None) -> None:
    """The report of a run that completed: build_report.json (totals, provenance, this run's
    figures, the YouTube budget spent, the calibration), failed_tracks.csv, calibration.csv.
    ``calibration``: (sample size, seed, the run after the build) when the build calibrated."""
    # Here, not at the top: `report` and the CLI's summary read reports without yt-dlp.
    from deezer_tags.calibration import CalibrationRun, calibration_table, sampled_outcomes, summarize
    from deezer_tags.ffmpeg import ffmpeg_exe
    from deezer_tags.provenance import summarize_runs, tool_versions

    rows: list[TrackRow] = list(manifest.rows(track_ids))
    report: dict = {
        "tracks": len(track_ids),
        "provenance": {**summarize_runs(manifest.runs()),
                       "versions": tool_versions(ffmpeg_exe() if youtube else None), **settings},
        **totals(rows, audio=audio, youtube=youtube is not None),
        "this_run": {"calls": client.calls_made, "quota_answers": client.quota_answers,
                     "seconds": round(seconds, 2), "deezer": counts.calls},
    }
    if audio:
        report["this_run"].update(previews=counts.previews, youtube=counts.youtube, bytes_fetched=counts.bytes_fetched)
        if counts.youtube_blocked:
            report["this_run"]["youtube_blocked"] = counts.youtube_blocked
    if youtube is not None:
        pace = youtube.pace
        report["this_run"]["youtube_budget"] = {
            "budget": str(pace.budget), "spent": dict(pace.spent), "refusals": dict(pace.refusals),
            "left_pending": counts.youtube_left, "sessions": youtube.sessions.sessions}
    calibration_rows = None
    if calibration is not None:
        size, seed, after = calibration
        sampled, outcomes = sampled_outcomes(manifest, track_ids, size, seed)
        after = after or CalibrationRun()
        report["calibration"] = {
            **summarize(outcomes, len(sampled)),
            "sample": sampled,
            "this_run": {"after_build_s": after.seconds, "after_build_tracks": sum(after.outcomes.values()),
                         **({"blocked": after.blocked} if after.blocked else {})},
        }
        calibration_rows = calibration_table(rows, outcomes)
    write(work_dir, report, missing_tracks(rows, audio=audio, youtube=youtube is not None), calibration_rows)
