"""`deezer-tags report`: what a build got, as Markdown and PNG plots.

Everything comes from one read of the manifest (opened read-only: a build may be
running), so the numbers add up to its row count; the reasons a track has no audio
are the build report's own (`buildreport.why_no_audio`, the words of build_report.json and
failed_tracks.csv). The manifest holds no tags: the tag distribution per split
reads `splits.csv` (written by the build beside the manifest) and the tag matrix
the build downloaded, found in the datasets download cache by its URL (the `.json`
file `datasets` keeps beside each download), or given with `--matrix`.

Written to the output dir: report.md, report.json (the same numbers, for machines),
tracks_without_audio.csv, coverage.png, tags_by_split.png, youtube_match_scores.png, and
calibration_scores.png (the acoustic scores of the YouTube calibration, see calibration).
"""

from __future__ import annotations

import csv
import json
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence
from urllib.parse import urlsplit

from deezer_tags import TAGS
from deezer_tags.buildreport import FOUND_BY_TITLES, BuildReport, audio_counts, has_audio, why_no_audio
from deezer_tags.calibration import calibration_line
from deezer_tags.errors import UserError
from deezer_tags.manifest import PREVIEW, YOUTUBE, Manifest, TrackRow, chosen_candidate, found_by
from deezer_tags.matrix import TagMatrix, parse_tag_matrix
from deezer_tags.provenance import summarize_runs
from deezer_tags.sources import Endpoints, resolve_endpoints
from deezer_tags.splits import SPLITS
from deezer_tags.status import Counts, count_groups
from deezer_tags.workdir import CALIBRATION_NAME, FAILED_NAME, SPLITS_NAME, WorkDir, csv_text, write_atomically

WITHOUT_AUDIO_NAME = "tracks_without_audio.csv"
PLOTS = ("coverage.png", "tags_by_split.png", "youtube_match_scores.png", "calibration_scores.png")
SCORE_BINS = 20  # the match-score histogram: bins of 0.05 over [0, 1]
LISTED = 20      # tracks without audio shown in report.md (all of them are in the CSV)

# The two audio configs and whether YouTube fills in for a missing preview.
AUDIO_CONFIGS = {"full": True, "previews": False}


@dataclass
class Report:
    out_dir: Path
    counts: Counts
    coverage: dict[str, dict]          # config -> {"with_audio": {...}, "without_audio": {...}}
    tags: dict | None                  # split -> {"tracks", "with_audio", "positives", "positives_with_audio"}
    tags_note: str
    scores: list[tuple[int, float, str]]  # (track_id, title_score, candidate source) of accepted YouTube clips
    score_threshold: float | None
    without_audio: list[tuple[int, str, str, str]]
    provenance: dict | None = None     # build_report.json's, when the build wrote one
    calibration: dict | None = None    # build_report.json's calibration figures, when the build calibrated
    calibration_scores: list[tuple[float, str]] = field(default_factory=list)  # (score, verdict) per track

    @property
    def markdown_path(self) -> Path:
        return self.out_dir / "report.md"


def write_report(work_dir: Path, cache_root: Path, out_dir: Path | None = None,
                 matrix_path: str | Path | None = None) -> Report:
    """Read the manifest once, write every file of the report, return what it says."""
    out_dir = Path(out_dir) if out_dir else work_dir / "report"
    manifest_path = WorkDir(work_dir).manifest
    with Manifest(manifest_path, readonly=True) as manifest:
        rows = list(manifest.rows())  # one SELECT: one consistent snapshot
        calibrated = manifest.calibration()
    groups = Counter((r.meta_status, r.preview_status, r.youtube_status, r.audio_source) for r in rows)
    counts = count_groups(((*key, n) for key, n in groups.items()),
                          last_update=None)
    coverage = {config: audio_counts(rows, youtube) for config, youtube in AUDIO_CONFIGS.items()}
    tags, tags_note = _tag_distribution(work_dir, cache_root, matrix_path, rows)
    scores, threshold = _youtube_scores(rows)
    without_audio = [(r.track_id, "audio", why_no_audio(r, True), r.audio_error or r.last_error or "")
                     for r in rows if not has_audio(r, True)]

    build_report = BuildReport.read(WorkDir(work_dir)).data
    figures = build_report.get("calibration")
    sample = (figures or {}).get("sample", [])
    heard = [(calibrated[t].score, calibrated[t].status) for t in sample
             if t in calibrated and calibrated[t].score is not None]
    report = Report(out_dir, counts, coverage, tags, tags_note, scores, threshold, without_audio,
                    _provenance(build_report, manifest_path), figures, heard)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(out_dir / WITHOUT_AUDIO_NAME, csv_text([("track_id", "stage", "status", "reason"), *without_audio]))
    if figures and (work_dir / CALIBRATION_NAME).exists():
        shutil.copyfile(work_dir / CALIBRATION_NAME, out_dir / CALIBRATION_NAME)
    _plot(report)
    write_atomically(out_dir / "report.json", json.dumps(_as_json(report, manifest_path), indent=2) + "\n")
    write_atomically(report.markdown_path, _markdown(report, manifest_path))
    return report


def calibration_markdown(report: Report, *, beside: bool = True) -> list[str]:
    """What the calibration measured, for report.md and (``beside`` False: no calibration.csv
    next to it) an exported copy's card."""
    figures = report.calibration
    if not figures:
        return ["This build did not calibrate its YouTube clips (calibration_tracks=0, not the `full` "
                "config, or a build from before the calibration).", ""]
    out = [calibration_line(figures) + ".", "",
           f"For each of {figures['tracks']:,} tracks with a Deezer preview (a seeded sample), the YouTube "
           "fallback ran as if the preview were gone; the preview was then looked for in the chosen video's "
           f"audio. A score of {figures['threshold']} or more at the best offset counts as the preview's "
           "recording (see the README). Precision: the share of found videos that are the recording; "
           "recall: the share of calibrated tracks that would get it.", "",
           "| found by | videos | the recording | precision (95 % interval) |", "|---|---:|---:|---|"]
    for source, entry in figures["by_source"].items():
        p = entry["precision"]
        out.append(f"| {FOUND_BY_TITLES.get(source, source)} | {entry['found']:,} | {entry['same']:,} | "
                   f"{p['estimate']:.1%} ({p['low']:.1%} to {p['high']:.1%}) |")
    where = f"[{CALIBRATION_NAME}]({CALIBRATION_NAME}), beside this report and" if beside else f"{CALIBRATION_NAME},"
    out += ["", f"Track by track, disagreements first (the ones to listen to): {where} beside the build's manifest.", ""]
    return out


def _provenance(build_report: dict, manifest_path: Path) -> dict | None:
    """The last build's provenance (from its build_report.json), with the runs as the manifest
    has them now: a report made while a build runs counts that run too."""
    found = build_report.get("provenance")
    with Manifest(manifest_path, readonly=True) as manifest:
        runs = manifest.runs()
    if not found and not runs:
        return None
    return {**(found or {}), **summarize_runs(runs)}


def coverage_markdown(report: Report) -> list[str]:
    """The coverage table and plot of report.md, also on an exported copy's card."""
    out = [
        "Tracks per outcome, for each audio config (`full`: the preview, else a YouTube clip; "
        "`previews`: the preview only). The reasons are those of build_report.json and "
        f"{FAILED_NAME}.",
        "",
        "| outcome | full | previews |",
        "|---|---:|---:|",
    ]
    full, previews = report.coverage["full"], report.coverage["previews"]
    for source in (PREVIEW, YOUTUBE):
        out.append(f"| with audio: {source} | {full['with_audio'][source]:,} | {previews['with_audio'][source]:,} |")
    reasons = sorted(set(full["without_audio"]) | set(previews["without_audio"]))
    for reason in reasons:
        out.append(f"| without audio: {reason} | {full['without_audio'].get(reason, 0):,} | "
                   f"{previews['without_audio'].get(reason, 0):,} |")
    totals = {k: sum(v["with_audio"].values()) + sum(v["without_audio"].values()) for k, v in report.coverage.items()}
    return out + [f"| **total** | **{totals['full']:,}** | **{totals['previews']:,}** |", "",
                  "![coverage](coverage.png)", ""]


def provenance_markdown(provenance: dict) -> list[str]:
    """The "how this copy was built" lines of report.md and of an exported copy's card."""
    out = [f"Built from {provenance.get('started_at') or '?'} to {provenance.get('finished_at') or '?'} (UTC), "
           f"in {len(provenance.get('runs', []))} run(s):", "",
           "| run | config | tracks | started (UTC) | finished (UTC) | outcome |", "|---:|---|---:|---|---|---|"]
    for run in provenance.get("runs", []):
        out.append(f"| {run['run_id']} | {run.get('config') or ''} | {run.get('tracks') or 0:,} | "
                   f"{run['started_at']} | {run.get('finished_at') or ''} | {run.get('outcome') or 'killed'} |")
    out.append("")
    if versions := provenance.get("versions"):
        out += ["Tools: " + ", ".join(f"{name} {version}" for name, version in versions.items() if version) + ".", ""]
    if digests := provenance.get("sources_sha256"):
        out += ["| source file | sha256 |", "|---|---|", *(f"| {k} | `{v}` |" for k, v in digests.items()), ""]
    settings = {k: v for k, v in provenance.items()
                if k not in ("started_at", "finished_at", "runs", "versions", "sources_sha256")}
    if settings:
        out += ["Settings:", "", "```json", json.dumps(settings, indent=1), "```", ""]
    return out


# --- Tags per split ------------------------------------------------------------------

def find_matrix(cache_root: Path) -> Path | None:
    """The newest tag matrix in the datasets download cache of `cache_root`: a download
    whose URL (in the `.json` beside it) names the Zenodo file, or the configured URL."""
    names = {Path(urlsplit(Endpoints().zenodo_url).path).name}
    try:
        names.add(Path(urlsplit(resolve_endpoints({}).zenodo_url).path).name)
    except Exception:  # a malformed DEEZER_TAGS_* setting is the build's business, not the report's
        pass
    found = []
    for meta in (cache_root / "downloads").glob("*.json"):
        try:
            url = json.loads(meta.read_text()).get("url") or ""
        except (OSError, ValueError, AttributeError):
            continue
        data = meta.with_suffix("")
        if Path(urlsplit(url).path).name in names and data.is_file():
            found.append(data)
    return max(found, key=lambda p: p.stat().st_mtime, default=None)


def _tag_distribution(work_dir: Path, cache_root: Path, matrix_path: str | Path | None,
                      rows: Sequence[TrackRow]) -> tuple[dict | None, str]:
    splits_path = work_dir / SPLITS_NAME
    if not splits_path.is_file():
        return None, f"No {SPLITS_NAME} in {work_dir} yet (the build writes it once the tracks are resolved)."
    if matrix_path is None:
        matrix_path = find_matrix(cache_root)
        if matrix_path is None:
            return None, (f"The tag matrix was not found in {cache_root / 'downloads'}: "
                          "pass the Context_tags_dataset.csv the build used with `--matrix PATH`.")
    matrix = _read_matrix(Path(matrix_path))
    with open(splits_path, newline="", encoding="utf-8") as handle:
        split_of = {int(r["track_id"]): r["split"] for r in csv.DictReader(handle)}
    unknown = [t for t in split_of if t not in matrix.labels]
    if unknown:
        raise UserError(f"{len(unknown)} tracks of {splits_path} are not in the tag matrix {matrix_path} "
                        f"(e.g. {unknown[0]}); pass the matrix the build used with --matrix PATH")
    with_audio = {r.track_id for r in rows if has_audio(r, True)}
    order = [s for s in SPLITS if s in split_of.values()] + sorted(set(split_of.values()) - set(SPLITS))
    tags = {split: {"tracks": 0, "with_audio": 0, "positives": [0] * len(TAGS),
                    "positives_with_audio": [0] * len(TAGS)} for split in order}
    for track_id, split in split_of.items():
        entry = tags[split]
        audio = track_id in with_audio
        entry["tracks"] += 1
        entry["with_audio"] += audio
        for i, value in enumerate(matrix.labels[track_id]):
            entry["positives"][i] += value
            entry["positives_with_audio"][i] += value and audio
    return tags, f"Splits from {splits_path}; tags from {matrix_path}."


def _read_matrix(path: Path) -> TagMatrix:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise UserError(f"cannot read the tag matrix {path}: {error.strerror}; check --matrix") from None
    return parse_tag_matrix(text, f"the tag matrix {path}")


# --- YouTube match scores -----------------------------------------------------------

def _youtube_scores(rows: Sequence[TrackRow]) -> tuple[list[tuple[int, float, str]], float | None]:
    """title_score of the accepted candidate of every track whose clip is from YouTube."""
    scores, threshold = [], None
    for row in rows:
        if row.audio_source != YOUTUBE:
            continue
        chosen = chosen_candidate(row)
        if chosen.get("title_score") is not None:
            scores.append((row.track_id, float(chosen["title_score"]), found_by(row) or "?"))
        threshold = (row.match_evidence or {}).get("title_threshold", threshold)
    return scores, threshold


def score_histogram(scores: Sequence[float]) -> list[int]:
    counts = [0] * SCORE_BINS
    for score in scores:
        counts[min(SCORE_BINS - 1, max(0, int(round(score * SCORE_BINS, 9))))] += 1
    return counts


# --- Output ------------------------------------------------------------------------------

def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "–"


def _markdown(report: Report, manifest_path: Path) -> str:
    c = report.counts
    out = [
        "# Deezer Contextual Tags: build report",
        "",
        f"Manifest `{manifest_path}`, read {time.strftime('%Y-%m-%d %H:%M:%S')}: **{c.tracks:,} tracks**.",
        "",
        "## Sources",
        "",
        "| source | ok | none | failed | pending | not needed | awaiting the preview |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| Deezer metadata | {c.metadata['ok']:,} | {c.metadata['no_data']:,} (no_data) | "
        f"{c.metadata['failed']:,} | {c.metadata['pending']:,} | | |",
        f"| Deezer preview | {c.previews['ok']:,} | {c.previews['none']:,} | {c.previews['failed']:,} | "
        f"{c.previews['pending']:,} | | |",
        f"| YouTube | {c.youtube['ok']:,} | {c.youtube['none']:,} | {c.youtube['failed']:,} | "
        f"{c.youtube['pending']:,} | {c.youtube['not_needed']:,} | {c.youtube['awaiting_preview']:,} |",
        "",
        "`failed` and `pending` are retried by the next build. YouTube is asked only for the tracks "
        "whose preview is `none` (not needed: the preview is ok; awaiting the preview: it is pending, "
        "or failed and retried first).",
        "",
    ]
    if report.provenance:
        out += ["## This build", "", *provenance_markdown(report.provenance)]
    out += ["## Coverage", "", *coverage_markdown(report)]

    out += ["## Tags per split", "", report.tags_note, "", *tags_markdown(report)]
    out += ["## YouTube match scores", "", *scores_markdown(report)]

    out += ["## How right are the YouTube clips?", "", *calibration_markdown(report)]
    if report.calibration_scores:
        out += ["![calibration scores](calibration_scores.png)", ""]

    n = len(report.without_audio)
    out += ["## Tracks without audio (`full`)", "",
            f"{n:,} tracks; all of them, with the reason, in [{WITHOUT_AUDIO_NAME}]({WITHOUT_AUDIO_NAME})"
            + (f"; the first {LISTED}:" if n > LISTED else (":" if n else "."))]
    if n:
        out += ["", "| track_id | stage | status | reason |", "|---:|---|---|---|"]
        out += [f"| {t} | {stage} | {status} | {' '.join(reason.replace('|', '/').split())} |"
                for t, stage, status, reason in report.without_audio[:LISTED]]
    return "\n".join(out) + "\n"


def tags_markdown(report: Report) -> list[str]:
    """The positives of each tag per split, of all tracks and of those with audio."""
    if not report.tags:
        return []
    out: list[str] = []
    splits = list(report.tags)
    for title, key, n_key in (("All tracks of the split", "positives", "tracks"),
                              ("Tracks with audio (`full`)", "positives_with_audio", "with_audio")):
        out += [f"{title}: positives (rate).", "",
                "| tag | " + " | ".join(f"{s} (n={report.tags[s][n_key]:,})" for s in splits) + " |",
                "|---|" + "---:|" * len(splits)]
        for i, tag in enumerate(TAGS):
            cells = [f"{report.tags[s][key][i]:,} ({_pct(report.tags[s][key][i], report.tags[s][n_key])})"
                     for s in splits]
            out.append(f"| {tag} | " + " | ".join(cells) + " |")
        out.append("")
    return out + ["![tags by split](tags_by_split.png)", ""]


def scores_markdown(report: Report) -> list[str]:
    """The accepted YouTube candidates' match scores, as a histogram."""
    if not report.scores:
        return ["No YouTube clip in the manifest.", ""]
    sources = Counter(source for _, _, source in report.scores)
    values = [s for _, s, _ in report.scores]
    found = ", ".join(f"{FOUND_BY_TITLES[s]}: {sources.get(s, 0):,}" for s in FOUND_BY_TITLES)
    out = [f"Match score (0.7 x the title's share of the track's title words + 0.3 x the artist's) "
           f"of the accepted candidate, {len(values):,} YouTube clips ({found}); every check must "
           f"pass besides (see deezer_tags/matching.py); median {sorted(values)[len(values) // 2]:.2f}.", "",
           "| score | clips |", "|---|---:|"]
    histogram = score_histogram(values)
    first = next(i for i, n in enumerate(histogram) if n)
    for i in range(first, SCORE_BINS):
        bracket = "]" if i == SCORE_BINS - 1 else ")"
        out.append(f"| [{i / SCORE_BINS:.2f}, {(i + 1) / SCORE_BINS:.2f}{bracket} | {histogram[i]:,} |")
    return out + ["", "![YouTube match scores](youtube_match_scores.png)", ""]


def _as_json(report: Report, manifest_path: Path) -> dict:
    return {
        "manifest": str(manifest_path),
        "counts": report.counts.as_json(),
        "coverage": report.coverage,
        "tags": report.tags and {"tags": list(TAGS), "splits": report.tags},
        "youtube_match_scores": {
            "clips": len(report.scores),
            "threshold": report.score_threshold,
            "bins": [round(i / SCORE_BINS, 2) for i in range(SCORE_BINS + 1)],
            "counts": score_histogram([s for _, s, _ in report.scores]),
            "found_by": dict(Counter(source for _, _, source in report.scores)),
        },
        "without_audio": len(report.without_audio),
        "calibration": report.calibration,
        "provenance": report.provenance,
    }


def _plot(report: Report) -> None:
    """The four PNGs, with matplotlib's Agg canvas (no pyplot, no global backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    def figure(name: str, size: tuple[float, float], draw) -> None:
        fig = Figure(figsize=size)
        draw(fig.subplots(), report)
        FigureCanvasAgg(fig)
        fig.tight_layout()
        tmp = report.out_dir / f".{name}.tmp.png"
        fig.savefig(tmp, dpi=100)
        tmp.replace(report.out_dir / name)

    figure("coverage.png", (8, 2.8), _draw_coverage)
    figure("tags_by_split.png", (11, 4), _draw_tags)
    figure("youtube_match_scores.png", (6, 3.5), _draw_scores)
    figure("calibration_scores.png", (6, 3.5), _draw_calibration)


def _draw_coverage(ax, report: Report) -> None:
    """One stacked bar per config."""
    configs = list(report.coverage)
    parts = [("with audio: " + s, [report.coverage[c]["with_audio"][s] for c in configs]) for s in (PREVIEW, YOUTUBE)]
    reasons = sorted({r for c in configs for r in report.coverage[c]["without_audio"]})
    parts += [("no audio: " + r, [report.coverage[c]["without_audio"].get(r, 0) for c in configs]) for r in reasons]
    left = [0] * len(configs)
    for label, values in parts:
        ax.barh(configs, values, left=left, label=label)
        left = [a + b for a, b in zip(left, values)]
    ax.set_xlabel("tracks")
    ax.invert_yaxis()
    ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.set_title(f"Coverage of {report.counts.tracks:,} tracks")


def _draw_tags(ax, report: Report) -> None:
    """Positive rate per tag, one bar per split."""
    if report.tags:
        splits = list(report.tags)
        width = 0.8 / len(splits)
        for k, split in enumerate(splits):
            entry = report.tags[split]
            rates = [100 * p / entry["tracks"] if entry["tracks"] else 0 for p in entry["positives"]]
            ax.bar([i + (k - (len(splits) - 1) / 2) * width for i in range(len(TAGS))], rates, width,
                   label=f"{split} ({entry['tracks']:,})")
        ax.legend(fontsize="small")
    else:
        ax.text(0.5, 0.5, "tag matrix not found", ha="center", transform=ax.transAxes)
    ax.set_xticks(range(len(TAGS)), TAGS, rotation=45, ha="right")
    ax.set_ylabel("positive rate (%)")
    ax.set_title("Tags per split")


def _draw_scores(ax, report: Report) -> None:
    """The YouTube match scores of the accepted candidates."""
    values = [s for _, s, _ in report.scores]
    ax.hist(values, bins=[i / SCORE_BINS for i in range(SCORE_BINS + 1)], edgecolor="white")
    if report.score_threshold is not None:
        ax.axvline(report.score_threshold, color="black", linestyle="--", label=f"threshold {report.score_threshold}")
        ax.legend(fontsize="small")
    ax.set_xlabel("title score of the accepted candidate")
    ax.set_ylabel("YouTube clips")
    ax.set_title(f"YouTube match scores ({len(values):,} clips)")


def _draw_calibration(ax, report: Report) -> None:
    """The calibration's acoustic scores, the preview's recording or not."""
    bins = [i / SCORE_BINS for i in range(-SCORE_BINS // 2, SCORE_BINS + 1)]  # correlations from -0.5
    for verdict, label in (("same", "the preview's recording"), ("other", "another recording")):
        values = [score for score, status in report.calibration_scores if status == verdict]
        ax.hist(values, bins=bins, edgecolor="white", label=f"{label} ({len(values):,})", alpha=0.85)
    if report.calibration:
        ax.axvline(report.calibration["threshold"], color="black", linestyle="--",
                   label=f"threshold {report.calibration['threshold']}")
    if report.calibration_scores:
        ax.legend(fontsize="small")
    else:
        ax.text(0.5, 0.5, "no calibration in this build", ha="center", transform=ax.transAxes)
    ax.set_xlabel("acoustic score of the preview in the chosen video")
    ax.set_ylabel("calibration tracks")
    ax.set_title(f"YouTube calibration ({len(report.calibration_scores):,} videos heard)")
