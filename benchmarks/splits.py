"""Benchmark: the `paper` and `artist` split schemes on the real published files.

Loads the tag matrix, the paper's split files and its folds file (artist ids) from
data/public, computes both schemes over all 49,929 tracks and prints JSON: split sizes,
artists shared between splits, the worst per-tag deviation of each split from the whole
(percentage points), the stability check (drop a random 10 % of the tracks, or keep a
500-track subset, recompute: no remaining track may change split), and how sensitive the
`artist` scheme's figures are to the artists of the 1,347 tracks the paper left out (the
published files do not name them; a build takes them from the Deezer metadata).

    python benchmarks/splits.py            # the figures
    python benchmarks/splits.py --derive   # re-derive FLIPPED_ARTISTS (needs numpy)
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time

from deezer_tags import TAGS
from deezer_tags.matrix import TagMatrix, parse_split_file, parse_tag_matrix
from deezer_tags.splits import (
    SPLITS,
    VALIDATION_SHARE,
    _unit,
    artist_assignment,
    group_key,
    paper_assignment,
    parse_folds,
    shared_artists,
    split_stats,
)
from deezer_tags.testing import public_text


def load() -> tuple[TagMatrix, dict[int, str], dict[int, int]]:
    read = public_text
    matrix = parse_tag_matrix(read("seed-repo/annotation.csv"), "the tag matrix")
    split_ids = {
        split: parse_split_file(read(f"paper-splits/{split}_ground_truth.csv"), f"the paper's {split} split file", matrix)
        for split in ("train", "validation", "test")
    }
    folds = parse_folds(read("paper-splits/ground_truth_folds.csv"), "the paper's folds file")
    return matrix, paper_assignment(split_ids), folds


def figures(assignment: dict[int, str], matrix: TagMatrix, artist_of: dict[int, int | None]) -> dict:
    stats = split_stats(assignment, matrix.labels, artist_of)
    pool = sum(stats["splits"].get(s, {}).get("size", 0) for s in ("train", "validation"))
    return {
        "sizes": {s: e["size"] for s, e in stats["splits"].items()},
        "artists": {s: e["artists"] for s, e in stats["splits"].items()},
        "validation_share_of_train_plus_validation": round(stats["splits"]["validation"]["size"] / pool, 4),
        "shared_artists": shared_artists(assignment, artist_of),
        "worst_deviation_pp": {s: round(e["max_deviation_pp"], 3) for s, e in stats["splits"].items()},
        "worst_tag": {s: e["worst_tag"] for s, e in stats["splits"].items()},
    }


def stability(matrix: TagMatrix, split_of: dict[int, str], folds: dict[int, int], seed: int = 0) -> dict:
    full = artist_assignment(matrix.ids, split_of, folds)
    rng = random.Random(seed)
    dropped = set(rng.sample(matrix.ids, len(matrix.ids) // 10))
    kept = [t for t in matrix.ids if t not in dropped]
    after_drop = artist_assignment(kept, split_of, folds)
    subset = rng.sample(matrix.ids, 500)
    after_subset = artist_assignment(subset, split_of, folds)
    return {
        "dropped_tracks": len(dropped),
        "changed_after_dropping_10pct": sum(after_drop[t] != full[t] for t in kept),
        "subset_tracks": len(subset),
        "changed_in_500_subset": sum(after_subset[t] != full[t] for t in subset),
    }


def sensitivity(matrix: TagMatrix, split_of: dict[int, str], folds: dict[int, int],
                worlds: int, known_share: float) -> dict:
    """The left-out tracks' artists are known only from the Deezer metadata. Simulate it:
    each gets, with probability `known_share`, the artist of a random folds track (a known
    artist, test ones included), else one of n/4 new artists (the folds file's mean is 4.1
    tracks per artist); recompute the scheme's worst deviations in each world."""
    left_out = [t for t in matrix.ids if t not in split_of]
    folds_tracks = sorted(folds)
    worst: dict[str, list[float]] = {"train": [], "validation": []}
    to_unassigned = []
    for world in range(worlds):
        rng = random.Random(1000 + world)
        new_artists = max(1, len(left_out) // 4)
        artist_of: dict[int, int | None] = dict(folds)
        for t in left_out:
            if rng.random() < known_share:
                artist_of[t] = folds[rng.choice(folds_tracks)]
            else:
                artist_of[t] = 900_000_000 + rng.randrange(new_artists)
        assignment = artist_assignment(matrix.ids, split_of, artist_of)
        stats = split_stats(assignment, matrix.labels)["splits"]
        for split, values in worst.items():
            values.append(stats[split]["max_deviation_pp"])
        to_unassigned.append(sum(assignment[t] == "unassigned" for t in left_out))
    return {
        "worlds": worlds,
        "known_artist_share": known_share,
        "worst_deviation_pp": {
            s: {"median": round(statistics.median(v), 3), "max": round(max(v), 3),
                "worlds_within_1pp": sum(x <= 1 for x in v)}
            for s, v in worst.items()
        },
        "left_out_tracks_unassigned_for_a_test_artist": {
            "median": statistics.median(to_unassigned), "max": max(to_unassigned)},
    }


def plain_hash(matrix: TagMatrix, split_of: dict[int, str], folds: dict[int, int], seeds: range) -> dict:
    """The plain seeded hash (no flips) for several seeds: how far it strays from the whole."""
    import hashlib

    labels = matrix.labels
    total = [sum(col) / len(labels) for col in zip(*labels.values())]
    groups: dict[str, list] = {}
    for t in matrix.ids:
        if split_of.get(t) != "test":
            acc = groups.setdefault(group_key(t, folds.get(t)), [[0] * len(TAGS), 0])
            acc[0] = [a + b for a, b in zip(acc[0], labels[t])]
            acc[1] += 1
    pool_sum = [sum(g[0][i] for g in groups.values()) for i in range(len(TAGS))]
    pool_n = sum(g[1] for g in groups.values())
    worst_val, worst_train, shares, within = [], [], [], 0
    for seed in seeds:
        val_sum, val_n = [0] * len(TAGS), 0
        for key, (sums, n) in groups.items():
            if int.from_bytes(hashlib.sha256(f"{seed}:{key}".encode()).digest()[:8], "big") / 2**64 < VALIDATION_SHARE:
                val_sum = [a + b for a, b in zip(val_sum, sums)]
                val_n += n
        dv = max(abs(s / val_n - o) * 100 for s, o in zip(val_sum, total))
        dt = max(abs((p - s) / (pool_n - val_n) - o) * 100 for p, s, o in zip(pool_sum, val_sum, total))
        worst_val.append(dv)
        worst_train.append(dt)
        shares.append(val_n / pool_n)
        within += max(dv, dt) <= 1
    return {
        "seeds": f"{seeds.start}-{seeds.stop - 1}",
        "threshold": VALIDATION_SHARE,
        "validation_share": {"min": round(min(shares), 4), "max": round(max(shares), 4)},
        "validation_worst_deviation_pp": {"median": round(statistics.median(worst_val), 3),
                                          "min": round(min(worst_val), 3)},
        "train_worst_deviation_pp": {"median": round(statistics.median(worst_train), 3)},
        "seeds_within_1pp": within,
    }


def derive(matrix: TagMatrix, split_of: dict[int, str], folds: dict[int, int]) -> list[int]:
    """FLIPPED_ARTISTS, as pinned: start from the plain hash (ARTIST_SEED, VALIDATION_SHARE),
    the left-out tracks each their own group (the published files name no artist for them);
    then flip, one at a time, the folds artist whose flip most lowers the worst per-tag
    deviation of train and validation from the whole (validation kept within 9.5-10.5 % of
    train + validation), until no flip lowers it."""
    import numpy as np

    labels = matrix.labels
    overall = np.array(list(labels.values()), dtype=float).mean(0)
    groups: dict[str, list] = {}
    for t in matrix.ids:
        if split_of.get(t) == "test":
            continue
        key = group_key(t, folds.get(t))
        acc = groups.setdefault(key, [np.zeros(len(TAGS)), 0])
        acc[0] += labels[t]
        acc[1] += 1
    keys = sorted(groups)
    sums = np.array([groups[k][0] for k in keys])
    sizes = np.array([groups[k][1] for k in keys], dtype=float)
    in_val = np.array([_unit(k) < VALIDATION_SHARE for k in keys])
    flippable = np.array([k.startswith("artist:") for k in keys])

    def score(vs, vn, ts, tn):
        dv = np.abs(vs / vn[:, None] - overall).max(1)
        dt = np.abs(ts / tn[:, None] - overall).max(1)
        share = vn / (vn + tn)
        penalty = np.where(np.abs(share - VALIDATION_SHARE) > 0.005, 10.0, 0.0)
        tie = ((vs / vn[:, None] - overall) ** 2).sum(1) + ((ts / tn[:, None] - overall) ** 2).sum(1)
        return np.maximum(dv, dt) * 100 + penalty, tie

    flipped: list[int] = []
    while True:
        vs, vn = sums[in_val].sum(0), sizes[in_val].sum()
        ts, tn = sums[~in_val].sum(0), sizes[~in_val].sum()
        current, _ = score(vs[None], np.array([vn]), ts[None], np.array([tn]))
        sign = np.where(in_val, -1.0, 1.0)
        cand, cand_tie = score(vs + sign[:, None] * sums, vn + sign * sizes,
                               ts - sign[:, None] * sums, tn - sign * sizes)
        cand = np.where(flippable, cand, np.inf)
        best = int(np.argmin(cand + 1e-3 * cand_tie))
        if not cand[best] < current[0] - 1e-6:
            break
        in_val[best] = ~in_val[best]
        flipped.append(int(keys[best].split(":", 1)[1]))
    return sorted(flipped)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--derive", action="store_true", help="print FLIPPED_ARTISTS re-derived from the published files")
    parser.add_argument("--worlds", type=int, default=30, help="simulated worlds per known-artist share for the sensitivity check")
    args = parser.parse_args(argv)
    started = time.monotonic()
    matrix, split_of, folds = load()
    if args.derive:
        print(json.dumps({"flipped_artists": derive(matrix, split_of, folds)}))
        return
    paper = {t: split_of.get(t, "unassigned") for t in matrix.ids}
    artist = artist_assignment(matrix.ids, split_of, folds)
    left_out = [t for t in matrix.ids if t not in split_of]
    report = {
        "tracks": len(matrix.ids),
        "paper": figures(paper, matrix, folds),
        "artist": figures(artist, matrix, folds),
        "artist_test_equals_paper_test": sorted(t for t, s in artist.items() if s == "test")
        == sorted(t for t, s in paper.items() if s == "test"),
        "artist_left_out_tracks": {s: sum(artist[t] == s for t in left_out) for s in SPLITS},
        "artist_paper_train_validation_tracks_of_a_test_artist": sum(
            artist[t] == "unassigned" for t in matrix.ids if t in split_of),
        "stability": stability(matrix, split_of, folds),
        "plain_hash": plain_hash(matrix, split_of, folds, range(200)),
        "sensitivity_to_left_out_artists": [
            sensitivity(matrix, split_of, folds, worlds=args.worlds, known_share=share)
            for share in (0.0, 0.5, 1.0)
        ],
    }
    report["seconds"] = round(time.monotonic() - started, 1)
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
