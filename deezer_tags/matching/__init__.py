"""Is this YouTube candidate the track's recording? A judge made of named checks.

Pure functions: a ``Track`` (what Deezer says) and a ``Candidate`` (what YouTube says)
go in, a ``Verdict`` comes out with every check's result, so that the manifest shows why
a video was taken or refused. Like a music matcher (beets' distance of named penalties,
spotDL's version words), each check answers one question:

- artist: is any of the track's artists named (in the title, the channel, or the artist
  fields)? A title match with no word of any artist is another singer's song, or a
  compilation act's.
- title: are the track's title words in the candidate's song name (the title, or the
  ``track`` field of a YouTube Music upload)? A near spelling counts as the word (one
  edit, a swap of two letters included, in a word of six letters or more).
- compilation: a full album, an album stream, a megamix, a medley, a playlist, "1 hour",
  or a video that is not music (a reaction, a tutorial, an interview). A compilation's
  name ("Best Of", "Greatest Hits") names the release a song is on: the duration refuses
  a video of the whole of it.
- extra words: does the candidate's title name more of a song than the track's title
  ("Call Me A Spaceman" for "Spaceman", a medley "A / B / C")? Only the segment that names
  the song counts: words in brackets, the artists' segment, "official video" and the like,
  and an album or film named in a further segment (after " - ", "|", "•", ...) do not, nor
  the artists credited after the song ("Song par A, B et C", "Song by A").
- versions, read as music people name them (``read_version``, ``compare_versions``): a
  version has kinds (live, unplugged, acoustic, a session, instrumental, a cover, a language,
  ...) that both sides must announce or neither; often a who (the remixer: "(Frisco Radio
  Edit)" is Frisco's), and when either side names one the whos decide: "(X Mix)" is
  "(X Remix)", "(X Radio Edit)" is "(X Remix Radio Edit)", another who refuses; without a
  who, a remix must be announced on both sides. Names of one version are one entry of
  VERSION_SYNONYMS (clean = edited = radio edit; regular = original = album version = the
  plain title) and refuse nothing; words naming a release (a remaster, an edition, a
  collection, a soundtrack, a year) name no who and refuse nothing.
- guests: a candidate listing more featured artists than the track's title lists, one of
  them not the track's, is another lineup (a remix with an added verse).
- duration: within max(15 s, 10 %) of Deezer's for a video (an intro, a re-upload), a
  few seconds for an art track, which is the same master.
- cut: a long cut (extended, long, full, 12", a club mix) or a short one named on one side
  only is settled by the duration: within the art-track tolerance the word names the
  track's own edit, beyond it another cut. A long cut against a short one (a radio edit,
  a single version) is refused with the versions. A candidate's unknown duration is
  "no duration" first (undecided: its watch page tells); with Deezer's unknown, nothing
  settles the word, and it refuses as it did before durations were asked.

Every rule below is data: the word lists, the thresholds, the tolerances, and ``CHECKS``,
one row per check (code, test, sentence) in the order they are asked. Change them here;
the verdict's ``code`` and ``refusal`` say which check refused, its ``checks`` every
measure, and ``rules()`` records the thresholds with a digest of every word list.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

# -- the rules: deezer_tags.matching.tables -------------------------------------------------

from deezer_tags.matching.tables import (
    ARTIST_MIN_SHARE, ART_TRACK_TOLERANCE_SECONDS, COMPILATIONS, CUTS, DURATION_SETTLES,
    DURATION_TOLERANCE_FRACTION, DURATION_TOLERANCE_SECONDS, EXTRA_WORDS_MAX, FILLER, HARD_VERSIONS, LANGUAGES,
    LONG_CUTS, MIXES, NEAR_SPELLING, NEAR_SPELLING_EDITS, NOT_VERSIONS, RELEASES, REMIXES, SHORT_CUTS,
    SONG_LENGTH_RANGE, TABLES, TITLE_MIN_SHARE, UPLOAD_WORDS, VERSION_HEADS, VERSION_KINDS, VERSION_SYNONYMS,
    WHO_MIN_SHARE, _CREDIT, _FEAT, _GUESTS, _HOURS, _NAMES, _QUOTED, _SEPARATOR, _YEAR,
)
from deezer_tags.matching.sides import Candidate, Track
from deezer_tags.matching.titles import extra_words, guests, song_segment, uncredited_guests
from deezer_tags.matching.versions import Version, compare_versions, read_version, version_mismatch
from deezer_tags.matching.words import (
    _with_compounds, key_words, phrases, share_found, split_brackets, title_share, words,
)


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


# -- the checks' parts ---------------------------------------------------------------------


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
    """Each table of ``TABLES``, as it is now: the first 16 hex digits of its JSON's sha256."""
    module = globals()
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
