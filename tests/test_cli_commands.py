"""`deezer-tags status / report / export / push`, run as a user runs them (subprocesses),
on one demo build per module, checked against the manifest read with sqlite3 directly."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import datasets
import pytest
from filelock import FileLock

from deezer_tags import TAGS
from deezer_tags.features import decoded_array, decoder_problem
from deezer_tags.testing.demo import FIXTURE, demo_scenario

SPLITS = ("train", "validation", "test", "unassigned")


def clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("DEEZER_TAGS_") or k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))}
    return {**env, **extra}


def run_cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deezer_tags", *args], capture_output=True, text=True,
                          env=env or clean_env(), timeout=timeout)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`deezer-tags demo` into a fresh cache dir, with `status --json` polled while it runs.
    Returns the cache dir, the snapshots taken while the build was still running, and what
    the demo printed."""
    cache = tmp_path_factory.mktemp("demo-cache")
    logs = tmp_path_factory.mktemp("demo-logs")
    with open(logs / "out", "w") as out, open(logs / "err", "w") as err:
        child = subprocess.Popen([sys.executable, "-m", "deezer_tags", "demo", "--cache-dir", str(cache)],
                                 stdout=out, stderr=err, env=clean_env())
        mid_build = []
        try:
            while child.poll() is None and len(mid_build) < 3:
                time.sleep(1.0)
                result = run_cli("status", "--cache-dir", str(cache), "--json", timeout=30)
                if child.poll() is None and result.returncode == 0:  # the build ran all along
                    mid_build.append(json.loads(result.stdout))
            child.wait(timeout=300)
        finally:
            if child.poll() is None:
                child.kill()
    assert child.returncode == 0, (logs / "err").read_text()[-3000:]
    return cache, mid_build, (logs / "out").read_text()


def sql(cache: Path, query: str) -> list[tuple]:
    path = cache / "deezer_tags" / "manifest.sqlite"
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute(query).fetchall()
    finally:
        db.close()


def manifest_counts(cache: Path) -> dict:
    """What status must say, counted by hand."""
    def by(column: str, where: str = "1") -> dict:
        return dict(sql(cache, f"SELECT {column}, COUNT(*) FROM tracks WHERE {where} GROUP BY 1"))

    zero = {"ok": 0, "none": 0, "failed": 0, "pending": 0}
    return {
        "tracks": sql(cache, "SELECT COUNT(*) FROM tracks")[0][0],
        "metadata": {"ok": 0, "no_data": 0, "failed": 0, "pending": 0, **by("meta_status")},
        "previews": {**zero, **by("preview_status")},
        "youtube": {**zero, **by("youtube_status", "preview_status = 'none'"),
                    "not_needed": sql(cache, "SELECT COUNT(*) FROM tracks WHERE preview_status = 'ok'")[0][0],
                    "awaiting_preview": sql(cache, "SELECT COUNT(*) FROM tracks "
                                                   "WHERE preview_status IN ('pending', 'failed')")[0][0]},
        "with_audio": by("audio_source", "audio_source IS NOT NULL"),
    }


def arrow_splits(cache: Path) -> dict[str, datasets.Dataset]:
    """The Arrow files the build wrote, read directly (not through the code under test)."""
    # 3.x's script loading adds a script-hash level; the builder class (4+) does not.
    [directory] = {p.parent for pattern in ("full-*/*/*/", "full-*/*/")
                   for p in cache.glob(f"deezer_contextual_tags/{pattern}deezer_contextual_tags-*.arrow")}
    return {split: datasets.Dataset.from_file(str(directory / f"deezer_contextual_tags-{split}.arrow"))
            for split in SPLITS if (directory / f"deezer_contextual_tags-{split}.arrow").exists()}


# --- demo ---------------------------------------------------------------------------------

def test_demo_runs_offline_and_ends_with_the_summary(demo):
    cache, _, printed = demo
    report = json.loads((cache / "deezer_tags" / "build_report.json").read_text())
    counts = report["metadata"]
    assert counts["ok"] + counts["no_data"] == 300 and counts["no_data"] == 6
    assert f"Deezer metadata: pending 0, ok {counts['ok']}, no_data 6, failed 0" in printed
    with_audio = report["audio"]["with_audio"]
    assert with_audio["deezer_preview"] > 0 and with_audio["youtube"] > 0
    splits = re.search(r"Splits: train (\d+), validation (\d+), test (\d+), unassigned (\d+)", printed)
    assert sum(map(int, splits.groups())) == sum(with_audio.values())
    assert sum(with_audio.values()) + sum(report["audio"]["without_audio"].values()) == 300
    # It ends with the report and its plots, in the demo's folder, and says where.
    for name in ("report.md", "coverage.png", "tags_by_split.png", "youtube_match_scores.png"):
        path = cache / "report" / name
        assert path.stat().st_size > 0 and str(path) in printed, name
    assert "## This build" in (cache / "report" / "report.md").read_text()


def test_the_report_says_when_how_and_from_what_the_build_was_made(demo):
    cache, _, _ = demo
    report = json.loads((cache / "deezer_tags" / "build_report.json").read_text())
    provenance = report["provenance"]
    [run] = provenance["runs"]
    assert run["outcome"] == "complete" and run["config"] == "full" and run["tracks"] == 300
    stamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
    assert stamp.fullmatch(provenance["started_at"]) and stamp.fullmatch(provenance["finished_at"])
    assert provenance["started_at"] <= provenance["finished_at"]
    assert set(provenance["versions"]) >= {"deezer_tags", "python", "datasets", "yt_dlp", "ffmpeg"}
    assert all(provenance["versions"].values())
    served = {key: hashlib.sha256(data).hexdigest() for key, data in demo_scenario().files.items()}
    assert provenance["sources_sha256"] == served
    assert provenance["split_scheme"] == "paper" and provenance["quota"] == {"calls": 50, "window": 1.0}
    assert provenance["youtube"]["sources"] == ["isrc", "id_map", "music_search", "search"]
    # The counts per split and per audio source add up to the dataset's.
    splits = report["splits"]
    assert sum(s["tracks"] for s in splits.values()) == 300
    assert sum(sum(s["with_audio"].values()) for s in splits.values()) == sum(report["audio"]["with_audio"].values())
    text = run_cli("status", "--cache-dir", str(cache)).stdout
    assert f"Built: 1 run, the first started {provenance['started_at']}, the last finished " in text


# --- status -------------------------------------------------------------------------------

def test_status_equals_the_manifest(demo):
    cache, _, _ = demo
    expected = manifest_counts(cache)
    assert expected["tracks"] == 300
    result = run_cli("status", "--cache-dir", str(cache), "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    for key in ("tracks", "metadata", "previews", "youtube"):
        assert status[key] == expected[key], key
    assert {k: v for k, v in status["with_audio"].items() if k != "total"} == expected["with_audio"]
    for key in ("metadata", "previews", "youtube"):
        assert sum(status[key].values()) == 300, key
    assert status["with_audio"]["total"] + status["without_audio"] == 300

    text = run_cli("status", "--cache-dir", str(cache))
    assert text.returncode == 0, text.stderr
    assert "Tracks known: 300" in text.stdout
    assert f"Tracks with audio: {sum(expected['with_audio'].values())} " in text.stdout
    m = expected["metadata"]
    assert f"Deezer metadata: ok {m['ok']}, no_data {m['no_data']}, failed 0, pending 0" in text.stdout
    assert len(text.stdout.splitlines()) <= 24


def test_status_runs_while_a_build_runs(demo):
    """Snapshots taken by the fixture during the demo build: each adds up, and shows work in progress."""
    cache, mid_build, _ = demo
    assert mid_build, "no status snapshot succeeded while the build ran"
    final = manifest_counts(cache)
    for snap in mid_build:
        assert 0 < snap["tracks"] <= 300
        for key in ("metadata", "previews", "youtube"):
            assert sum(snap[key].values()) == snap["tracks"], key
        assert snap["with_audio"]["total"] <= sum(final["with_audio"].values())
    assert any(snap["metadata"]["pending"] + snap["previews"]["pending"] + snap["youtube"]["pending"] > 0
               for snap in mid_build), "every snapshot was taken after the build had finished its work"


def test_status_is_not_blocked_by_a_writer_holding_the_lock(demo):
    """A build holds build.lock and writes in transactions: status reads the last commit, at once."""
    cache, _, _ = demo
    before = manifest_counts(cache)
    work = cache / "deezer_tags"
    with FileLock(str(work / "build.lock"), timeout=0):
        db = sqlite3.connect(work / "manifest.sqlite", isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("UPDATE tracks SET meta_status = 'failed' WHERE meta_status = 'ok'")
            started = time.monotonic()
            result = run_cli("status", "--cache-dir", str(cache), "--json", timeout=60)
            seconds = time.monotonic() - started
        finally:
            db.execute("ROLLBACK")
            db.close()
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["metadata"] == before["metadata"]  # the uncommitted write is not seen
    assert seconds < 8, f"status waited {seconds:.1f} s for the writer"


def test_no_build_is_one_sentence(demo, tmp_path):
    result = run_cli("status", "--cache-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert re.match(rf"deezer-tags: no build has run in {re.escape(str(tmp_path))}\b.*"
                    rf"run `deezer-tags build --cache-dir {re.escape(str(tmp_path))}`", result.stderr)

    cache, _, _ = demo  # a config that was not built there
    result = run_cli("export", "--format", "parquet", "--config", "previews", "--out", str(tmp_path / "out"),
                     "--cache-dir", str(cache))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("deezer-tags: the `previews` config has not been built in")
    assert not (tmp_path / "out").exists()


def test_default_cache_dir_is_the_one_datasets_uses(tmp_path):
    check = ("import datasets.config, deezer_tags.workdir as s; "
             "print(s.default_cache_root() == datasets.config.HF_DATASETS_CACHE)")
    for extra in ({"HF_HOME": str(tmp_path / "home")}, {"HF_DATASETS_CACHE": str(tmp_path / "ds")},
                  {"XDG_CACHE_HOME": str(tmp_path / "xdg")}):
        env = {k: v for k, v in clean_env().items() if k not in ("HF_HOME", "HF_DATASETS_CACHE", "XDG_CACHE_HOME")}
        result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, env={**env, **extra})
        assert result.stdout.strip() == "True", (extra, result.stderr)


# --- report -------------------------------------------------------------------------------

def table_rows(markdown: str, heading: str) -> dict[str, list[str]]:
    """The body of the first table after `## heading`: first cell -> the other cells."""
    section = markdown.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    lines = section.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|---")) + 1
    rows = {}
    for line in lines[start:]:
        if not line.startswith("| "):
            break
        cells = [c.strip().strip("*") for c in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def test_report_adds_up_to_the_manifest(demo, tmp_path):
    cache, _, _ = demo
    out = tmp_path / "report"
    result = run_cli("report", "--cache-dir", str(cache), "--out", str(out))
    assert result.returncode == 0, result.stderr
    for name in ("coverage.png", "tags_by_split.png", "youtube_match_scores.png"):
        data = (out / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000, name
    markdown = (out / "report.md").read_text()
    expected = manifest_counts(cache)

    # Coverage: each config's column adds up to the manifest's 300 tracks; with-audio rows are its counts.
    coverage = table_rows(markdown, "Coverage")
    for column in (0, 1):
        assert sum(int(cells[column]) for label, cells in coverage.items() if label != "total") == 300
        assert int(coverage["total"][column]) == 300
    for source, n in expected["with_audio"].items():
        assert int(coverage[f"with audio: {source}"][0]) == n
    # Without audio (full): the build's own reasons and numbers, and the CSV lists those tracks.
    build_report = json.loads((cache / "deezer_tags" / "build_report.json").read_text())
    reasons = {label.removeprefix("without audio: "): int(cells[0]) for label, cells in coverage.items()
               if label.startswith("without audio: ") and int(cells[0])}
    assert reasons == build_report["audio"]["without_audio"] and reasons
    with open(out / "tracks_without_audio.csv", newline="") as handle:
        listed = list(csv.DictReader(handle))
    assert Counter(r["status"] for r in listed) == Counter(reasons)
    assert {int(r["track_id"]) for r in listed} == {t for (t,) in sql(cache, "SELECT track_id FROM tracks "
                                                                         "WHERE audio_source IS NULL")}
    sources = table_rows(markdown, "Sources")
    assert int(sources["Deezer preview"][0]) == expected["previews"]["ok"]
    assert int(sources["YouTube"][0]) == expected["youtube"]["ok"]
    assert int(sources["YouTube"][4]) == expected["youtube"]["not_needed"]

    # Tags per split: all tracks from splits.csv and the demo's matrix; with audio from the built dataset.
    report = json.loads((out / "report.json").read_text())
    tags = report["tags"]["splits"]
    matrix = {int(r["song_id"]): [int(r[t]) for t in TAGS] for r in csv.DictReader(open(FIXTURE / "annotation.csv"))}
    with open(cache / "deezer_tags" / "splits.csv", newline="") as handle:
        split_of = {int(r["track_id"]): r["split"] for r in csv.DictReader(handle)}
    built = arrow_splits(cache)
    for split in set(split_of.values()):
        ids = [t for t, s in split_of.items() if s == split]
        assert tags[split]["tracks"] == len(ids)
        assert tags[split]["positives"] == [sum(matrix[t][i] for t in ids) for i in range(len(TAGS))]
        assert tags[split]["with_audio"] == len(built[split])
        assert tags[split]["positives_with_audio"] == [sum(v) for v in zip(*built[split]["labels"])]
    assert sum(s["tracks"] for s in tags.values()) == 300
    assert f"| car | {tags['train']['positives'][0]} (" in markdown

    # YouTube match scores: one per YouTube clip, the same as the dataset's youtube_match_score.
    histogram = report["youtube_match_scores"]["counts"]
    assert sum(histogram) == expected["with_audio"]["youtube"]
    scores = [s for split in built.values() for s, src in zip(split["youtube_match_score"], split["audio_source"])
              if src == "youtube"]
    assert histogram == [sum(1 for s in scores if min(19, int(round(s * 20, 4))) == i) for i in range(20)]
    rows = table_rows(markdown, "YouTube match scores")
    assert sum(int(cells[0]) for cells in rows.values() if cells[0].isdigit()) == len(scores)
    # Which source found each clip's video: the report's counts are the dataset's.
    found = Counter(f for split in built.values()
                                for f, src in zip(split["youtube_found_by"], split["audio_source"]) if src == "youtube")
    assert report["youtube_match_scores"]["found_by"] == dict(found)
    assert found["isrc"] and found["id_map"]  # the demo's art tracks are found by their ISRC first


# --- export -------------------------------------------------------------------------------

def test_export_parquet_embeds_the_audio(demo, tmp_path):
    cache, _, _ = demo
    out = tmp_path / "parquet"
    result = run_cli("export", "--format", "parquet", "--out", str(out), "--cache-dir", str(cache))
    assert result.returncode == 0, result.stderr
    built = arrow_splits(cache)
    files = {split: out / "full" / f"{split}-00000-of-00001.parquet" for split in built}
    assert sorted(out.rglob("*.parquet")) == sorted(files.values())

    audio_dir = cache / "deezer_tags" / "audio"
    moved = audio_dir.with_name("audio.moved")
    audio_dir.rename(moved)  # the Parquet files must stand on their own
    try:
        loaded = datasets.load_dataset("parquet", data_files={k: str(v) for k, v in files.items()},
                                       cache_dir=str(tmp_path / "hf"))
        assert isinstance(loaded["train"].features["audio"], datasets.Audio)
        if decoder_problem() is None:  # 4+ decodes with torchcodec: CI's 5.x venv has it
            array, rate = decoded_array(loaded["train"][0]["audio"])  # 3.x: a dict; 4+: a torchcodec decoder
            assert rate == 44100 and array.shape[0] == 2
            assert array.shape[1] > 25 * 44100
    finally:
        moved.rename(audio_dir)

    sha_of = dict(sql(cache, "SELECT track_id, audio_sha256 FROM tracks WHERE audio_source IS NOT NULL"))
    assert sum(len(split) for split in loaded.values()) == len(sha_of)
    for split, arrow in built.items():
        parquet = loaded[split]
        assert parquet["track_id"] == arrow["track_id"]
        assert parquet.remove_columns("audio").to_list() == arrow.remove_columns("audio").to_list()
        raw = parquet.cast_column("audio", datasets.Audio(decode=False))
        for row in raw:
            assert hashlib.sha256(row["audio"]["bytes"]).hexdigest() == row["audio_sha256"] == sha_of[row["track_id"]]
            assert "/" not in row["audio"]["path"]


def test_an_exported_copy_has_its_own_card_and_loads_by_its_folder(demo, tmp_path):
    """The card beside the Parquet files declares exactly the exported config, with this
    copy's split sizes, and says how the copy was built: load_dataset(DIR, "full") finds
    all four splits (unassigned too) with the features of the build."""
    from huggingface_hub import DatasetCard

    cache, _, _ = demo
    out = tmp_path / "copy"
    result = run_cli("export", "--format", "parquet", "--out", str(out), "--cache-dir", str(cache))
    assert result.returncode == 0, result.stderr
    assert str(out / "README.md") in result.stdout
    built = arrow_splits(cache)
    card = DatasetCard.load(out / "README.md")
    assert [c["config_name"] for c in card.data["configs"]] == ["full"]
    [info] = card.data["dataset_info"] if isinstance(card.data["dataset_info"], list) else [card.data["dataset_info"]]
    assert {s["name"]: s["num_examples"] for s in info["splits"]} == {k: len(v) for k, v in built.items()}
    assert "## This copy" in card.text and "| source file | sha256 |" in card.text
    assert (out / "coverage.png").stat().st_size > 0

    loaded = datasets.load_dataset(str(out), "full", cache_dir=str(tmp_path / "hf"))
    assert {k: len(v) for k, v in loaded.items()} == {k: len(v) for k, v in built.items()}
    assert set(loaded) == {"train", "validation", "test", "unassigned"}
    features = loaded["train"].features
    assert isinstance(features["tags"].feature, datasets.ClassLabel) and isinstance(features["audio"], datasets.Audio)
    assert features == built["train"].features


# --- push ---------------------------------------------------------------------------------

def test_push_without_a_token_is_one_sentence(demo, tmp_path):
    cache, _, _ = demo
    env = {k: v for k, v in clean_env().items() if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH")}
    env.update(HF_HOME=str(tmp_path / "hf-home"), HF_HUB_OFFLINE="1")  # no stored token, no network
    result = run_cli("push", "someone/deezer-contextual-tags", "--cache-dir", str(cache), env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("deezer-tags: no Hugging Face token found")


def test_push_checks_the_card_then_stops_at_the_network(demo, tmp_path):
    """With a token but HF_HUB_OFFLINE=1 (nothing leaves the machine): a card that does not
    declare the config is refused first; with a card that does, the push gets as far as the Hub."""
    cache, _, _ = demo
    env = clean_env(HF_TOKEN="hf_not_a_real_token", HF_HUB_OFFLINE="1")
    card = tmp_path / "README.md"
    card.write_text("---\nconfigs:\n- config_name: metadata\n  data_files: metadata/train-*\n---\n# card\n")
    result = run_cli("push", "someone/deezer-contextual-tags", "--cache-dir", str(cache), "--card", str(card), env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"deezer-tags: the dataset card {card} declares no `full` config")

    card.write_text(card.read_text().replace("- config_name: metadata", "- config_name: full"))
    result = run_cli("push", "someone/deezer-contextual-tags", "--cache-dir", str(cache), "--card", str(card), env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "Pushing the `full` build at" in result.stdout
    assert result.stderr == "deezer-tags: HF_HUB_OFFLINE is set, so nothing can be pushed; unset it and push again\n"

    # Without --card the copy's own card is made (as export makes it), then the Hub is asked.
    result = run_cli("push", "someone/deezer-contextual-tags", "--cache-dir", str(cache), env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr == "deezer-tags: HF_HUB_OFFLINE is set, so nothing can be pushed; unset it and push again\n"
