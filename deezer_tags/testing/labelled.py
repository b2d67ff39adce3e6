"""The hand-labelled entries of the published id map (tests/data/idmap_labelled.tsv), and
the judge run over them: the only real evidence of what the matcher faces on YouTube.

Each entry is a real Deezer title and artist (split back from the id map's query) beside
the real title of the video the earlier crawl chose, labelled by reading: ``same`` (that
recording), ``other`` (another recording, or not music) or ``unsure``, with a reason.
The judge sees the title only, as the id map has nothing else, and a neutral duration (the
track's own), so that the title judgement alone decides.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from deezer_tags.matching import ARTIST_MIN_SHARE, VERSION_HEADS, Candidate, Track, judge, words

LABELLED = Path(__file__).resolve().parents[2] / "tests" / "data" / "idmap_labelled.tsv"
NEUTRAL_DURATION = 200.0


@dataclass(frozen=True)
class Judged:
    entry: dict
    accepted: bool
    refusal: str | None
    # The map records no channel, which the build reads off the watch page: an entry whose
    # title names no artist is decided there, by the channel ("Artist - Topic" or another).
    needs_channel: bool = False
    code: str | None = None     # the refusing check's code (deezer_tags.matching.CHECKS)

    @property
    def wrong(self) -> bool:
        """Accepted another recording, or refused the same one."""
        return self.entry["label"] != "unsure" and self.accepted != (self.entry["label"] == "same")


def load(path: Path = LABELLED) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def split_version(title: str) -> tuple[str, str]:
    """Deezer's title_short and title_version, from the title the id map's query holds:
    ("Another Chance", "(Radio Edit)") from "Another Chance (Radio Edit)"; a bracket that
    names no version ("(feat. X)", "(Everybody Dance Now)") stays in the short title."""
    match = re.search(r"\s*[(\[]([^()\[\]]*)[)\]]\s*$", title)
    if match and (VERSION_HEADS | {"live", "acoustic", "unplugged", "instrumental", "session"}) & set(words(match[1])):
        return title[:match.start()].strip(), title[match.start():].strip()
    return title, ""


def track_of(entry: dict) -> Track:
    """The track as our build sees it: English artist names (Accept-Language: en)."""
    short, version = split_version(entry["deezer_title"])
    artist = entry["artist_en"] or entry["deezer_artist"]
    return Track(entry["deezer_title"], short, version, (artist,), "", NEUTRAL_DURATION)


def judge_all(entries: list[dict]) -> list[Judged]:
    judged = []
    for entry in entries:
        track = track_of(entry)
        verdict = judge(track, Candidate(entry["youtube_title"], NEUTRAL_DURATION))
        needs_channel = verdict.checks.get("artist", 1.0) < ARTIST_MIN_SHARE and judge(
            track, Candidate(entry["youtube_title"], NEUTRAL_DURATION, channel=track.artists[0])).accepted
        judged.append(Judged(entry, verdict.accepted, verdict.refusal, needs_channel, verdict.code))
    return judged


def confusion(judged: list[Judged]) -> dict[str, dict[str, int]]:
    """label -> {"accepted": n, "refused": n, "needs_channel": n}: the last are refused here
    and decided by the channel in a build (see ``Judged.needs_channel``)."""
    table: dict[str, Counter] = {}
    for item in judged:
        verdict = "accepted" if item.accepted else "needs_channel" if item.needs_channel else "refused"
        table.setdefault(item.entry["label"], Counter())[verdict] += 1
    return {label: {k: c[k] for k in ("accepted", "refused", "needs_channel")} for label, c in sorted(table.items())}


def shares(table: dict[str, dict[str, int]]) -> dict[str, float]:
    """Accepted shares of the entries the title decides (those needing the channel left out)."""
    def share(label: str) -> float:
        row = table.get(label, {})
        decided = row.get("accepted", 0) + row.get("refused", 0)
        return round(row.get("accepted", 0) / decided, 4) if decided else 0.0
    return {"same_accepted_share": share("same"), "other_accepted_share": share("other")}
