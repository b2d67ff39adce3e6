"""Draw the seeded sample of the published YouTube id map that tests/data/idmap_labelled.tsv labels.

The sample is drawn once and labelled by reading; this script says how it was drawn so
that anyone can check the labelled rows are the seeded ones and not picked by hand.

    python scripts/draw_idmap_sample.py > sample.tsv                 # 320 entries at random
    python scripts/draw_idmap_sample.py --low-overlap > hard.tsv    # 120 of the doubtful ones
    python scripts/draw_idmap_sample.py --versions > versions.tsv   # 200 that name a version

A random sample holds few wrong entries (13 of 320 here), too few to measure how often the
matcher accepts one; the second sample is drawn, with the same seed, from the entries
whose video title holds less than half of the query's words (478 of 12,640, where the
wrong ones gather), leaving out the first sample's.

The third sample (the version stratum) is drawn, with the same seed, from the entries whose
video title or Deezer title names a version: a bracket, or a " - " segment, holding one of
VERSION_WORDS (3,667 of 12,640), leaving out the first two samples' entries. That is where
the judge's version rules decide, and where a random sample has too few entries to measure them.
"""
import argparse
import csv
import json
import random
import re
import sys
from pathlib import Path

from deezer_tags.testing import public_text

ID_MAP = "seed-repo/id_to_url.json"  # of the repository's public data (deezer_tags.testing.public_data)
SEED = 13
SIZE = 320
LOW_OVERLAP_SIZE = 120
VERSION_SIZE = 200
# Words that name a version, for drawing the version stratum: chosen before the judge's new
# rules were written, and independent of its word lists.
VERSION_WORDS = (
    "remix", "rmx", "mix", "edit", "version", "live", "acoustic", "extended", "instrumental", "radio",
    "remaster", "remastered", "club", "dub", "original", "unplugged", "session", "demo", "mono", "stereo",
    "long", "full", "short", "clean", "explicit", "single", "album", "deluxe", "anniversary", "rework",
    "bootleg", "vip", "cover", "reprise", "acapella", "karaoke", "orchestral", "symphonic", "12 inch",
    "vocal", "dance", "ao vivo", "en vivo", "sped up", "slowed",
)
_VERSION_PLACE = re.compile(
    r"(?:[(\[][^)\]]*|\s-\s.*)\b(?:" + "|".join(re.escape(w) for w in VERSION_WORDS) + r")\b", re.IGNORECASE)


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.casefold()))


def low_overlap(entry: dict) -> bool:
    """The video title holds less than half of the query's words."""
    wanted = _words(entry["query"])
    return bool(wanted) and len(wanted & _words(entry["title"])) < 0.5 * len(wanted)


def names_a_version(entry: dict) -> bool:
    """The video title or the Deezer title (the query) names a version in a bracket or a " - " segment."""
    return bool(_VERSION_PLACE.search(entry["title"]) or _VERSION_PLACE.search(entry["query"]))


def draw(id_map_path: Path | None = None, seed: int = SEED, size: int = SIZE, *, doubtful: bool = False,
         versions: bool = False) -> list[dict]:
    text = id_map_path.read_text(encoding="utf-8") if id_map_path else public_text(ID_MAP)
    entries = json.loads(text)
    ordered = sorted(entries, key=int)
    chosen = random.Random(seed).sample(ordered, size)
    if doubtful or versions:
        first = set(chosen)
        rest = [t for t in ordered if t not in first and low_overlap(entries[t])]
        second = random.Random(seed).sample(rest, LOW_OVERLAP_SIZE)
        chosen = second
        if versions:
            taken = first | set(second)
            rest = [t for t in ordered if t not in taken and names_a_version(entries[t])]
            chosen = random.Random(seed).sample(rest, VERSION_SIZE)
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
    parser.add_argument("--id-map", type=Path, help="another copy of id_to_url.json (default: the repository's)")
    parser.add_argument("--low-overlap", action="store_true", help="the second sample: doubtful entries")
    parser.add_argument("--versions", action="store_true", help="the third sample: entries that name a version")
    args = parser.parse_args()
    rows = draw(args.id_map, doubtful=args.low_overlap, versions=args.versions)
    writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


if __name__ == "__main__":
    main()
