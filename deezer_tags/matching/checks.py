"""The judge: the measures taken once from a track and a candidate (``facts``), the checks
asked of them in order (``CHECKS``), the ``Verdict``, and the rules as a build records them
(``rules()``). What each check asks: see ``deezer_tags.matching``."""

from __future__ import annotations

import hashlib
import importlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from deezer_tags.matching.sides import Candidate, Track
from deezer_tags.matching.tables import (
    _HOURS, _QUOTED, ART_TRACK_TOLERANCE_SECONDS, ARTIST_MIN_SHARE, COMPILATIONS, DURATION_TOLERANCE_FRACTION,
    DURATION_TOLERANCE_SECONDS, EXTRA_WORDS_MAX, NEAR_SPELLING, NEAR_SPELLING_EDITS, SONG_LENGTH_RANGE, TABLES,
    TITLE_MIN_SHARE, WHO_MIN_SHARE,
)
from deezer_tags.matching.text import (
    _with_compounds, key_words, phrases, share_found, split_brackets, title_share, words,
)
from deezer_tags.matching.titles import extra_words, uncredited_guests
from deezer_tags.matching.versions import compare_versions, read_version


@dataclass(frozen=True)
class Verdict:
    refusal: str | None          # None: acceptable; else the refusing check's sentence
    score: float                 # for ranking the acceptable ones: higher is better
    duration_delta: float | None
    checks: dict = field(default_factory=dict)
    code: str | None = None      # None: acceptable; else the refusing check's code (see CHECKS)

    @property
    def accepted(self) -> bool:
        return self.refusal is None


# -- the checks: one row each, in the order they are asked --------------------------------------

# The refusal codes: short and stable, for callers and reports to compare against.
NO_TITLE, NO_ARTIST, TITLE, COMPILATION = "no_title", "no_artist", "title", "compilation"
EXTRA_WORDS, VERSION, GUESTS = "extra_words", "version", "guests"
NO_DURATION, DURATION, CUT = "no_duration", "duration", "cut"


@dataclass(frozen=True)
class Facts:
    """What the checks read: each measure taken once from the track and the candidate."""

    title_known: bool
    art_track: bool
    artist: float | None = None         # the best-named artist's share of words; None: no artist known
    title: float = 0.0                  # the track's title words' share in the candidate's song name
    compilation: tuple[str, ...] = ()
    extra_words: tuple[str, ...] = ()
    version: str | None = None          # why the two titles name different versions
    guests: tuple[str, ...] = ()        # the candidate's guests beyond the track's lineup
    duration_known: bool = False
    duration_tolerance: float | None = None
    too_far: str | None = None          # why the durations disagree
    cut: str | None = None              # a cut one title names alone, which the duration settles
    cut_too_far: str | None = None      # why the duration does not settle it


class Check(NamedTuple):
    code: str
    failed: Callable[[Facts], bool]
    message: Callable[[Facts], str]


CHECKS: tuple[Check, ...] = (
    Check(NO_TITLE, lambda f: not f.title_known, lambda f: "no title"),
    Check(NO_ARTIST, lambda f: f.artist is not None and f.artist < ARTIST_MIN_SHARE,
          lambda f: "no word of the track's artist in the title, channel or artist fields"),
    Check(TITLE, lambda f: f.title < TITLE_MIN_SHARE,
          lambda f: f"the title holds {f.title:.2f} of the track's title words, below {TITLE_MIN_SHARE}"),
    Check(COMPILATION, lambda f: bool(f.compilation),
          lambda f: f"the title says {', '.join(f.compilation)}: not one recording of one song"),
    Check(EXTRA_WORDS, lambda f: len(f.extra_words) > EXTRA_WORDS_MAX,
          lambda f: f"the title names more than the track's: {' '.join(f.extra_words)}"),
    Check(VERSION, lambda f: f.version is not None, lambda f: f.version),
    Check(GUESTS, lambda f: bool(f.guests),
          lambda f: f"the candidate's title lists more guests than the track's: {', '.join(f.guests)}"),
    Check(NO_DURATION, lambda f: not f.duration_known, lambda f: "no duration"),
    Check(DURATION, lambda f: f.too_far is not None, lambda f: f.too_far),
    Check(CUT, lambda f: f.cut_too_far is not None, lambda f: f"{f.cut}, and {f.cut_too_far}"),
)


# -- the judge ------------------------------------------------------------------------------

def judge(track: Track, candidate: Candidate) -> Verdict:
    """Measure once (``facts``), then ask every row of ``CHECKS`` in order: the first that
    fails is the refusal, its code and its sentence. ``checks`` holds every measure."""
    delta = duration_delta(track, candidate)
    found = facts(track, candidate)
    failed = next((check for check in CHECKS if check.failed(found)), None)
    if not found.title_known:
        return Verdict(failed.message(found), 0.0, delta, {"art_track": found.art_track}, failed.code)
    checks = {"art_track": found.art_track, "artist": None if found.artist is None else round(found.artist, 3),
              "title": round(found.title, 3), "compilation": list(found.compilation),
              "extra_words": list(found.extra_words), "version": found.version, "guests": list(found.guests),
              "duration_tolerance": found.duration_tolerance, "cut": found.cut}
    score = round(0.7 * found.title + 0.3 * (1.0 if found.artist is None else found.artist), 3)
    if failed is None:
        return Verdict(None, score, delta, checks)
    return Verdict(failed.message(found), score, delta, checks, failed.code)


def could_pass(track: Track, candidate: Candidate) -> bool:
    """Could a watch page make this candidate acceptable? What a search page may lack (the
    channel, the duration) is taken at its most favourable: a channel named after the track's
    artist, Deezer's duration. Known fields are judged as they are. Without a title, only the
    watch page can tell."""
    if candidate.title is None:
        return True
    hopeful = replace(
        candidate,
        channel=candidate.channel or (track.artists[0] if track.artists else None),
        duration=candidate.duration if candidate.duration is not None else track.duration,
    )
    verdict = judge(track, hopeful)
    return verdict.accepted or verdict.code == NO_DURATION  # neither side knows its length: the page tells


def duration_delta(track: Track, candidate: Candidate) -> float | None:
    if candidate.duration is None or track.duration is None:
        return None
    return round(candidate.duration - track.duration, 1)


def facts(track: Track, candidate: Candidate) -> Facts:
    """Every measure the checks read, from one track and one candidate."""
    if candidate.title is None:
        return Facts(title_known=False, art_track=candidate.art_track)
    song = candidate.track or candidate.title
    everything = " ".join(filter(None, (candidate.title, candidate.track, candidate.channel, *candidate.artists)))
    theirs = " ".join(filter(None, (candidate.title, candidate.track)))
    own_title = track.title if track.title_version in track.title else f"{track.title} {track.title_version}"

    share = title_share(split_brackets(track.name)[0] or track.name, _with_compounds(words(song)))
    # Without Deezer's metadata the query's words, the artist's among them, are the title's.
    artist = (max(share_found(key_words(a), set(words(everything))) for a in track.artists)
              if track.artists else None)
    compilation = sorted(set(phrases(theirs, COMPILATIONS)) - set(phrases(f"{own_title} {track.album}", COMPILATIONS)))
    compilation += ["hours"] if _HOURS.search(" ".join(words(theirs))) else []
    compilation += ["several quoted titles"] if len(_QUOTED.findall(candidate.title)) > 1 else []
    known = set(words(track.name)) | {w for a in track.artists for w in words(a)}
    version, cut = compare_versions(read_version(own_title, track.artists, known),
                                    read_version(theirs, track.artists, known))
    tolerance = track.tolerance(candidate.art_track)
    delta = duration_delta(track, candidate)
    too_far = None if candidate.duration is None else _duration_refusal(track, candidate.duration, delta, tolerance)
    return Facts(title_known=True, art_track=candidate.art_track, artist=artist, title=share,
                 compilation=tuple(compilation), extra_words=tuple(extra_words(song, track, candidate)),
                 version=version, guests=tuple(uncredited_guests(track, candidate)),
                 duration_known=candidate.duration is not None, duration_tolerance=tolerance, too_far=too_far,
                 cut=cut, cut_too_far=None if cut is None else _cut_refusal(track, delta))


def _cut_refusal(track: Track, delta: float | None) -> str | None:
    """Why the duration does not settle a cut one title names alone: only a length within the
    art-track tolerance of Deezer's says the word names the track's own edit."""
    if track.duration is None:
        return "the track's duration is unknown"
    if delta is None:
        return "the candidate's duration is unknown"
    if abs(delta) > ART_TRACK_TOLERANCE_SECONDS:
        return f"the durations are {abs(delta):.0f} s apart (more than {ART_TRACK_TOLERANCE_SECONDS:.0f} s)"
    return None


def _duration_refusal(track: Track, duration: float, delta: float | None, tolerance: float | None) -> str | None:
    if tolerance is None:
        low, high = SONG_LENGTH_RANGE
        if not low <= duration <= high:
            return f"{duration:.0f} s is not a song's length ({low:.0f} to {high:.0f} s)"
        return None
    if abs(delta) > tolerance:
        return f"{duration:.0f} s, the track is {track.duration:.0f} s (more than {tolerance:.0f} s apart)"
    return None


# -- the rules, as a build records them --------------------------------------------------------

def _canonical(value: object) -> object:
    """A word list or table as JSON the same way every time: sets sorted, mappings by key."""
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, (set, frozenset)):
        return sorted(_canonical(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, re.Pattern):
        return [value.pattern, value.flags]
    return value


def table_digests() -> dict[str, str]:
    """Each table of ``TABLES``, as it is now: the first 16 hex digits of its JSON's sha256.
    Read by name where callers read them, in the package ``deezer_tags.matching``."""
    module = vars(importlib.import_module(__package__))
    return {name: hashlib.sha256(json.dumps(_canonical(module[name]), sort_keys=True, ensure_ascii=False)
                                 .encode()).hexdigest()[:16] for name in TABLES}


def rules() -> dict[str, Any]:
    """The thresholds, the checks in order, and a digest of every table, as the build
    report states them."""
    digests = table_digests()
    return {
        "title_min_share": TITLE_MIN_SHARE, "artist_min_share": ARTIST_MIN_SHARE,
        "extra_words_max": EXTRA_WORDS_MAX, "near_spelling": NEAR_SPELLING,
        "near_spelling_edits": list(NEAR_SPELLING_EDITS), "who_min_share": WHO_MIN_SHARE,
        "duration_tolerance": [DURATION_TOLERANCE_SECONDS, DURATION_TOLERANCE_FRACTION],
        "art_track_tolerance": ART_TRACK_TOLERANCE_SECONDS,
        "song_length_range": list(SONG_LENGTH_RANGE),
        "checks": [check.code for check in CHECKS],
        "tables_sha256": digests,
        "sha256": hashlib.sha256(json.dumps(digests, sort_keys=True).encode()).hexdigest()[:16],
    }
