"""The judge on the hand-labelled id map entries: the confusion table per sample and every
misjudged entry, as JSON.

    python benchmarks/matching.py            # figures and misjudged entries
"""

from __future__ import annotations

import argparse
import json

from deezer_tags.testing.labelled import LABELLED, confusion, judge_all, load, shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labelled", default=str(LABELLED))
    args = parser.parse_args()
    judged = judge_all(load(args.labelled))
    figures = {}
    for sample in sorted({j.entry["sample"] for j in judged}) + ["all"]:
        part = [j for j in judged if sample in ("all", j.entry["sample"])]
        table = confusion(part)
        figures[sample] = {"entries": len(part), "confusion": table, **shares(table)}
    figures["misjudged"] = [
        {"sample": j.entry["sample"], "label": j.entry["label"], "track": j.entry["deezer_title"],
         "artist": j.entry["artist_en"] or j.entry["deezer_artist"], "video_title": j.entry["youtube_title"],
         "verdict": "accepted" if j.accepted else f"refused: {j.refusal}", "code": j.code, "label_reason": j.entry["reason"]}
        for j in judged if j.wrong and not j.needs_channel
    ]
    print(json.dumps(figures, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
