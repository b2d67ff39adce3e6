"""Derive the demo scenario's small source files from the real ones (the repository's data/public/).

The demo (`deezer-tags demo`) must run on a machine that has only this package,
so it ships a few hundred real rows of each published file. Run from the repo
root: `python scripts/make_demo_fixture.py`.
"""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

from deezer_tags.testing import public_text

OUT = Path(__file__).resolve().parents[1] / "deezer_tags" / "testing" / "fixtures" / "demo"
PER_SPLIT = {"train": 200, "validation": 30, "test": 60, "unassigned": 10}
SEED = 2020


def main() -> None:
    rng = random.Random(SEED)
    youtube_map = json.loads(public_text("seed-repo/id_to_url.json"))
    split_rows = {
        split: list(csv.reader(io.StringIO(public_text(f"paper-splits/{split}_ground_truth.csv"))))
        for split in ("train", "validation", "test")
    }
    matrix = list(csv.reader(io.StringIO(public_text("seed-repo/annotation.csv"))))
    header, body = matrix[0], matrix[1:]
    in_splits = {row[0] for rows in split_rows.values() for row in rows[1:]}

    chosen: set[str] = set()
    for split, rows in split_rows.items():
        ids = [row[0] for row in rows[1:]]
        # Half of the picks from tracks the YouTube map knows, so the fallback has work.
        mapped = [t for t in ids if t in youtube_map]
        chosen |= set(rng.sample(mapped, PER_SPLIT[split] // 2))
        chosen |= set(rng.sample([t for t in ids if t not in chosen], PER_SPLIT[split] - PER_SPLIT[split] // 2))
    unassigned = [row[0] for row in body if row[0] not in in_splits]
    chosen |= set(rng.sample(unassigned, PER_SPLIT["unassigned"]))

    OUT.mkdir(parents=True, exist_ok=True)
    _write_csv(OUT / "annotation.csv", [header] + [r for r in body if r[0] in chosen])
    for split, rows in split_rows.items():
        _write_csv(OUT / f"{split}_ground_truth.csv", [rows[0]] + [r for r in rows[1:] if r[0] in chosen])
    folds = list(csv.reader(io.StringIO(public_text("paper-splits/ground_truth_folds.csv"))))
    _write_csv(OUT / "ground_truth_folds.csv", [folds[0]] + [r for r in folds[1:] if r[0] in chosen])
    subset = {k: v for k, v in youtube_map.items() if k in chosen}
    (OUT / "id_to_url.json").write_text(json.dumps(subset, indent=4, ensure_ascii=False) + "\n")
    print(f"{len(chosen)} tracks, {len(subset)} in the YouTube map -> {OUT}")


def _write_csv(path: Path, rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue())


if __name__ == "__main__":
    main()
