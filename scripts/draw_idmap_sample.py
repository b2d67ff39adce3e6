"""Draw the seeded sample of the published YouTube id map that tests/data/idmap_labelled.tsv labels.

The sample is drawn once and labelled by reading; this script says how it was drawn so
that anyone can check the labelled rows are the seeded ones and not picked by hand.

    python scripts/draw_idmap_sample.py > sample.tsv                 # 320 entries at random
    python scripts/draw_idmap_sample.py --low-overlap > hard.tsv    # 120 of the doubtful ones

A random sample holds few wrong entries (13 of 320 here), too few to measure how often the
matcher accepts one; the second sample is drawn, with the same seed, from the entries
whose video title holds less than half of the query's words (478 of 12,640, where the
wrong ones gather), leaving out the first sample's.
"""
import argparse
import csv
import json
import random
import re
import sys
from pathlib import Path

ID_MAP = Path(__file__).resolve().parents[1].parent / "shared/data/seed-repo/id_to_url.json"
SEED = 13
SIZE = 320
LOW_OVERLAP_SIZE = 120


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.casefold()))


def low_overlap(entry: dict) -> bool:
    """The video title holds less than half of the query's words."""
    wanted = _words(entry["query"])
    return bool(wanted) and len(wanted & _words(entry["title"])) < 0.5 * len(wanted)


def draw(id_map_path: Path = ID_MAP, seed: int = SEED, size: int = SIZE, *, doubtful: bool = False) -> list[dict]:
    entries = json.loads(id_map_path.read_text(encoding="utf-8"))
    chosen = random.Random(seed).sample(sorted(entries, key=int), size)
    if doubtful:
        rest = [t for t in sorted(entries, key=int) if t not in set(chosen) and low_overlap(entries[t])]
        chosen = random.Random(seed).sample(rest, LOW_OVERLAP_SIZE)
    rows = []
    for track_id in sorted(chosen, key=int):
        entry = entries[track_id]
        rows.append({
            "track_id": track_id,
            "video_id": entry["url"].rsplit("v=", 1)[-1],
            "query": entry["query"],
            "youtube_title": entry["title"],
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--id-map", type=Path, default=ID_MAP)
    parser.add_argument("--low-overlap", action="store_true", help="the second sample: doubtful entries")
    args = parser.parse_args()
    rows = draw(args.id_map, doubtful=args.low_overlap)
    writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


if __name__ == "__main__":
    main()
