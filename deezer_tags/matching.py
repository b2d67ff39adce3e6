"""Is this YouTube candidate the track's recording? A judge made of named checks.

Pure functions: a ``Track`` (what Deezer says) and a ``Candidate`` (what YouTube says)
go in, a ``Verdict`` comes out with every check's result, so that the manifest shows why
a video was taken or refused. Like a music matcher (beets' distance of named penalties,
spotDL's version words), each check answers one question:

- artist: is any of the track's artists named (in the title, the channel, or the artist
  fields)? A title match with no word of any artist is another singer's song, or a
  compilation act's.
- title: are the track's title words in the candidate's song name (the title, or the
  ``track`` field of a YouTube Music upload)?
- compilation: a full album, an album stream, a megamix, a medley, a playlist, "1 hour",
  or a video that is not music (a reaction, a tutorial, an interview).
- extra words: does the candidate's title name more of a song than the track's title
  ("Call Me A Spaceman" for "Spaceman", a medley "A / B / C")? Only the segment that names
  the song counts: words in brackets, the artists' segment, "official video" and the like,
  and an album or film named in a further " - " segment do not.
- versions, both ways: what one side announces (live, unplugged, acoustic, session, a
  remix, an extended or club mix, instrumental, ...) must be announced by the other; two
  differently named edits or mixes ("Radio Edit" / "Frisco Radio Edit") refuse. A radio
  edit, a single or album version, an original mix or a remaster is the track's own
  recording as far as titles can tell, so those need not be announced on both sides.
- duration: within max(15 s, 10 %) of Deezer's for a video (an intro, a re-upload), a
  few seconds for an art track, which is the same master.

Every rule below is data: the word lists, the thresholds, the tolerances, and ``CHECKS``,
one row per check (code, test, sentence) in the order they are asked. Change them here;
the verdict's ``code`` and ``refusal`` say which check refused, its ``checks`` every
measure, and ``rules()`` records the thresholds with a digest of every word list.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from rapidfuzz.distance import Levenshtein

# -- the rules ------------------------------------------------------------------------------

TITLE_MIN_SHARE = 0.75      # of the track's title words found in the candidate's song name
ARTIST_MIN_SHARE = 0.5      # of the best-named artist's words found anywhere in the candidate
EXTRA_WORDS_MAX = 1         # title words beyond the track's (outside brackets) still accepted
NEAR_SPELLING = 0.8         # normalized similarity from which two words of 4+ letters are one
DURATION_TOLERANCE_SECONDS = 15.0
DURATION_TOLERANCE_FRACTION = 0.10
ART_TRACK_TOLERANCE_SECONDS = 4.0   # an art track is the master Deezer streams
SONG_LENGTH_RANGE = (30.0, 900.0)   # the only duration check when Deezer's is unknown

# Words that say nothing about which song it is.
FILLER = frozenset({"the", "a", "an", "and", "of", "feat", "ft", "featuring", "with", "vs", "x", "y", "et", "e"})
# Words a video title adds about the upload, not the song.
UPLOAD_WORDS = frozenset({
    "official", "video", "audio", "music", "musicvideo", "mv", "m", "v", "lyric", "lyrics", "letra", "paroles",
    "hd", "hq", "4k", "1080p", "720p", "clip", "videoclip", "visualizer", "visualiser", "new", "full", "song",
    "explicit", "clean", "uncensored", "dirty", "vevo", "topic", "subtitulado", "legendado", "sub", "subs",
    "oficial", "officiel", "ufficiale", "offizielles", "musikvideo", "version", "original", "premiere",
})
# Versions that must be announced on both sides or on neither.
HARD_VERSIONS = {
    "live": ("live", "ao vivo", "en vivo", "en directo", "dal vivo", "live at", "concert", "tour", "in concert"),
    "unplugged": ("unplugged",),
    "acoustic": ("acoustic", "acustico", "acustica", "acoustique", "akustik", "stripped", "piano version"),
    "session": ("session", "sessions", "deezer session", "live session", "bbc session"),
    "remix": ("remix", "rmx", "remixed", "rework", "bootleg", "vip", "flip", "refix", "re edit", "reedit"),
    "extended": ("extended", "12 version", "12 mix", "12 inch", "long version", "full version"),
    "club": ("club", "dub"),
    "instrumental": ("instrumental", "karaoke", "backing track", "minus one", "acapella", "a cappella",
                     "acappella"),
    "cover": ("cover", "tribute", "in the style of", "originally performed"),
    "demo": ("demo",),
    "reprise": ("reprise",),
    "orchestral": ("orchestral", "symphonic", "orchestra"),
    "altered": ("sped up", "speed up", "slowed", "reverb", "nightcore", "8d", "bass boosted", "daycore"),
    "performance": ("performance", "performs", "performing", "rehearsal", "tv show", "late show",
                    "tonight show", "jools holland", "snl", "top of the pops", "mtv"),
    "mashup": ("mashup", "mash up"),
}
# The track's own recording, as far as a title can tell: one side may say it, the other not.
SOFT_VERSIONS = ("radio edit", "radio version", "radio mix", "single version", "album version",
                 "original mix", "original version", "original edit", "remaster", "remastered", "mono",
                 "stereo", "edit", "explicit version", "clean version", "bonus track")
# A candidate announcing one of these is not one recording of one song (unless the track says it too).
COMPILATIONS = ("full album", "album stream", "full ep", "megamix", "medley", "playlist", "compilation",
                "greatest hits", "best of", "non stop", "nonstop", "one hour", "hour loop", "mixtape",
                "top 10", "top 20", "top 40", "top 50", "top 100", "full concert",
                "reaction", "reacts", "tutorial", "lesson", "how to play", "interview", "documentary",
                "trailer", "teaser", "behind the scenes", "making of", "parody", "review", "unboxing")
# Words that make a bracket a version's name ("(D Ramirez Radio Edit)": named "d ramirez").
VERSION_HEADS = frozenset({"remix", "rmx", "mix", "edit", "version", "rework", "bootleg", "dub", "vip", "flip",
                           "refix", "extended", "remaster", "remastered"})
# Words in a version's name that say what kind, not whose ("Vocal Radio Edit" is named "vocal").
VERSION_KINDS = frozenset({"radio", "single", "album", "original", "extended", "club", "dub", "vocal",
                           "instrumental", "short", "long", "full", "main", "clean", "explicit", "remastered",
                           "remaster", "new", "video", "official", "edit", "mix", "version", "remix", "rmx",
                           "7", "12", "inch", "mono", "stereo", "digital", "anniversary", "deluxe", "edition",
                           "expanded", "bonus", "track", "lp", "ep", "soundtrack", "from", "by", "prod", "10th",
                           "20th", "25th", "30th", "40th", "50th", "mixed", "unedited", "broadcast", "censored"})

_OPEN, _CLOSE = "([{【「『〔", ")]}】」』〕"
_FEAT = re.compile(r"\b(?:feat|ft|featuring|with)\b\.?.*$", re.IGNORECASE)
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_HOURS = re.compile(r"\b\d+\s*(?:hours?|hrs?|h)\b")  # "1 hour", "10 hours": a loop


# -- the inputs ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Track:
    """What the right recording must match. ``artists``: the main artist first, then the
    contributors; empty when only the id map's query is known (it holds the artist)."""

    title: str
    title_short: str = ""
    title_version: str = ""
    artists: tuple[str, ...] = ()
    album: str = ""
    duration: float | None = None

    @classmethod
    def from_metadata(cls, meta: Mapping[str, Any]) -> Track | None:
        title = str(meta.get("title") or meta.get("title_short") or "").strip()
        if not title:
            return None
        names = [meta.get("artist_name"), *(meta.get("contributors") or [])]
        artists = tuple(dict.fromkeys(str(n).strip() for n in names if isinstance(n, str) and n.strip()))
        duration = meta.get("duration")
        duration = float(duration) if isinstance(duration, (int, float)) and duration > 0 else None
        return cls(title, str(meta.get("title_short") or title).strip(), str(meta.get("title_version") or "").strip(),
                   artists, str(meta.get("album_title") or "").strip(), duration)

    @classmethod
    def from_query(cls, query: str, duration: float | None = None) -> Track:
        """The id map's "{title} {artist}" query alone: all of its words play the title."""
        return cls(query.strip(), query.strip(), "", (), "", duration)

    @property
    def name(self) -> str:
        return self.title_short or self.title

    def tolerance(self, art_track: bool = False) -> float | None:
        if self.duration is None:
            return None
        if art_track:
            return ART_TRACK_TOLERANCE_SECONDS
        return max(DURATION_TOLERANCE_SECONDS, DURATION_TOLERANCE_FRACTION * self.duration)


@dataclass(frozen=True)
class Candidate:
    """What YouTube says of a video: from a search page (title, duration, maybe the channel)
    or a watch page (yt-dlp's info: also ``track``, ``artists``, ``album`` for music)."""

    title: str | None
    duration: float | None = None
    channel: str | None = None
    track: str | None = None
    artists: tuple[str, ...] = ()
    album: str | None = None

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> Candidate:
        """From a yt-dlp info dict or a flat search entry."""
        artists = info.get("artists")
        if not isinstance(artists, list):
            artist = info.get("artist") or info.get("creator")
            artists = re.split(r"\s*,\s*", artist) if isinstance(artist, str) and artist else []
        channel = info.get("channel") or info.get("uploader")
        return cls(_text(info.get("title")), _number(info.get("duration")), _text(channel), _text(info.get("track")),
                   tuple(a for a in artists if isinstance(a, str) and a), _text(info.get("album")))

    @property
    def art_track(self) -> bool:
        """A YouTube Music song: the label's upload of the master, an "Artist - Topic" channel."""
        return bool(self.track) or bool(self.channel and self.channel.endswith(" - Topic"))


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
EXTRA_WORDS, VERSION, NO_DURATION, DURATION = "extra_words", "version", "no_duration", "duration"


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
    duration_known: bool = False
    duration_tolerance: float | None = None
    too_far: str | None = None          # why the durations disagree


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
    Check(NO_DURATION, lambda f: not f.duration_known, lambda f: "no duration"),
    Check(DURATION, lambda f: f.too_far is not None, lambda f: f.too_far),
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
              "extra_words": list(found.extra_words), "version": found.version,
              "duration_tolerance": found.duration_tolerance}
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
    tolerance = track.tolerance(candidate.art_track)
    delta = duration_delta(track, candidate)
    too_far = None if candidate.duration is None else _duration_refusal(track, candidate.duration, delta, tolerance)
    return Facts(title_known=True, art_track=candidate.art_track, artist=artist, title=share,
                 compilation=tuple(compilation), extra_words=tuple(extra_words(song, track, candidate)),
                 version=version_mismatch(own_title, theirs, track.artists, known),
                 duration_known=candidate.duration is not None, duration_tolerance=tolerance, too_far=too_far)


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

def words(text: str) -> list[str]:
    """Lower-case words without accents or punctuation; "Ke$ha & Co" -> kesha, and, co."""
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = text.casefold().replace("&", " and ").replace("$", "s")
    text = re.sub(r"(?<=\w)['\u2019\u2018`´.](?=\w)", "", text)  # let's / lets, will.i.am / william
    return re.findall(r"\w+", text)


def key_words(text: str) -> set[str]:
    found = set(words(text))
    return (found - FILLER) or found


def _neighbours_joined(found: list[str], i: int) -> tuple[str, ...]:
    """The i-th word run together with the word before it and with the word after it."""
    return tuple(found[j] + found[j + 1] for j in (i - 1, i) if 0 <= j < len(found) - 1)


def _with_compounds(found: list[str]) -> set[str]:
    """The words and each two neighbours run together: "Summerbreeze" is "Summer Breeze"."""
    return set(found) | {a + b for a, b in zip(found, found[1:])}


def share_found(wanted: set[str], seen: set[str]) -> float:
    """The share of ``wanted`` words in ``seen``, near spellings of long words included."""
    if not wanted:
        return 0.0
    return sum(1 for word in wanted if _found(word, seen)) / len(wanted)


def title_share(title: str, seen: set[str]) -> float:
    """The share of the title's key words in ``seen``; two neighbours run together in
    ``seen`` count for both ("Sex Bomb" / "Sexbomb")."""
    found = words(title)
    wanted = key_words(title)
    if not wanted:
        return 0.0
    hits = {word for i, word in enumerate(found)
            if _found(word, seen) or any(joined in seen for joined in _neighbours_joined(found, i))}
    return len(wanted & hits) / len(wanted)


def _found(word: str, seen: Iterable[str]) -> bool:
    if word in seen:
        return True
    return len(word) >= 4 and any(
        abs(len(other) - len(word)) <= 2 and Levenshtein.normalized_similarity(word, other) >= NEAR_SPELLING
        for other in seen)


def phrases(text: str, vocabulary: Iterable[str]) -> list[str]:
    """The phrases of ``vocabulary`` that ``text`` holds as whole words."""
    padded = f" {' '.join(words(text))} "
    return [p for p in vocabulary if f" {p} " in padded]


def split_brackets(text: str) -> tuple[str, list[str]]:
    """The text outside brackets, and each bracket's content ("A (B) [C]" -> "A", [B, C])."""
    outside, inside, depth, current = [], [], 0, []
    for char in text:
        if char in _OPEN:
            depth += 1
            if depth == 1:
                current = []
                continue
        elif char in _CLOSE and depth:
            depth -= 1
            if depth == 0:
                inside.append("".join(current))
                continue
        (current if depth else outside).append(char)
    if depth:
        inside.append("".join(current))
    return "".join(outside), inside


def version_mismatch(mine: str, theirs: str, artists: tuple[str, ...] = (), known: set[str] = frozenset()) -> str | None:
    """Why two titles name different versions, or None. ``known``: words of the track's
    title and artists, which name no version."""
    mine_kinds, theirs_kinds = _version_kinds(mine, artists), _version_kinds(theirs, artists)
    only_theirs = sorted(theirs_kinds - mine_kinds)
    if only_theirs:
        return f"the candidate's title says {', '.join(only_theirs)}; the track's does not"
    only_mine = sorted(mine_kinds - theirs_kinds)
    if only_mine:
        return f"the track's title says {', '.join(only_mine)}; the candidate's does not"
    mine_names, theirs_names = _version_names(mine) - known, _version_names(theirs) - known
    if mine_names and share_found(mine_names, theirs_names) < 0.5:
        shown = " ".join(sorted(theirs_names)) or "none"
        return f"the track's version is named {' '.join(sorted(mine_names))}; the candidate's {shown}"
    if theirs_names and share_found(theirs_names, mine_names) < 0.5:
        return f"the candidate's version is named {' '.join(sorted(theirs_names))}; the track's is not"
    return None


def _version_kinds(title: str, artists: tuple[str, ...] = ()) -> set[str]:
    """The hard versions a title announces; a cover bracket naming one of ``artists`` is that
    artist's own recording ("(Cover by Jasmine Thompson)" for her track), so it is skipped."""
    outside, brackets = split_brackets(title)
    artist_words = [key_words(a) for a in artists]
    kept = [b for b in brackets
            if not ("cover" in words(b) and any(w and w <= set(words(b)) for w in artist_words))]
    padded = f" {' '.join(words(' '.join([outside, *kept])))} "
    for soft in SOFT_VERSIONS:  # "original mix" is no "mix"
        padded = re.sub(f"(?<= ){soft}(?= )", "", padded)
    return {kind for kind, forms in HARD_VERSIONS.items() if any(f" {form} " in padded for form in forms)}


def _version_names(title: str) -> set[str]:
    """The words naming whose version it is, from brackets with a version word ("(Frisco
    Radio Edit)" -> {"frisco"}); the kinds (radio, club, vocal, ...) and years left out."""
    names: set[str] = set()
    for part in split_brackets(title)[1] + _dash_tails(title):
        found = words(part)
        if VERSION_HEADS & set(found):
            found = words(_FEAT.sub("", part))
            names |= {w for w in found if w not in VERSION_KINDS and w not in FILLER and w not in UPLOAD_WORDS
                      and not _YEAR.match(w) and not w.isdigit()}
    return names


def _dash_tails(title: str) -> list[str]:
    """What follows a " - " in a title, when it names a version ("Song - Radio Edit")."""
    parts = re.split(r"\s[-–—|]\s", split_brackets(title)[0])
    return [p for p in parts[1:] if VERSION_HEADS & set(words(p))]


_SEPARATOR = re.compile(r"\s[-–—|~]\s|\s?//\s?|\s\|\s?|\|")
_QUOTED = re.compile(r"[\"“”«»]([^\"“”«»]+)[\"“”«»]|(?<!\w)['‘’]([^'‘’]+)['‘’](?!\w)")


def song_segment(title: str, track: Track) -> str:
    """The part of a video title that names the song: the quoted part if any ("BTS 'Dynamite'"),
    else the " - "-separated segment holding most of the track's title words, up to its
    first bracket. The others name the artists, an album, a film, the uploader."""
    quoted = [a or b for a, b in _QUOTED.findall(title)]
    segments = quoted + [s for s in _SEPARATOR.split(title) if s.strip()] or [title]
    wanted = split_brackets(track.name)[0] or track.name
    # max() keeps the first of equals: a quoted part before the segment holding it
    best = max(segments, key=lambda s: title_share(wanted, _with_compounds(words(split_brackets(s)[0]))))
    head = re.split(f"[{re.escape(_OPEN)}]", best, maxsplit=1)[0]
    return head if head.strip() else split_brackets(best)[0]


def extra_words(song: str, track: Track, candidate: Candidate) -> list[str]:
    """Words of the candidate's song name that neither the track's title, nor an artist, nor
    the upload ("official video") accounts for; a featured artist's part left out."""
    segment = _FEAT.sub("", song_segment(song, track))
    known = set(words(f"{track.title} {track.title_version}"))
    for name in (*track.artists, candidate.channel or "", *candidate.artists):
        known |= set(words(name))
    known |= {w[:-4] for w in known if w.endswith("vevo")} | {w + "vevo" for w in known}
    found = words(segment)
    return [word for i, word in enumerate(found)
            if not (word in known or word in FILLER or word in UPLOAD_WORDS or word.isdigit() or _found(word, known)
                    # "Love Parade" for "Loveparade"
                    or any(joined in known for joined in _neighbours_joined(found, i)))]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


# The data the judge reads, by name: ``rules()`` records a digest of each, so that a build's
# recorded rules change when a word list does.
TABLES = ("FILLER", "UPLOAD_WORDS", "HARD_VERSIONS", "SOFT_VERSIONS", "COMPILATIONS", "VERSION_HEADS",
          "VERSION_KINDS", "_FEAT", "_YEAR", "_HOURS", "_SEPARATOR", "_QUOTED")


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
        "duration_tolerance": [DURATION_TOLERANCE_SECONDS, DURATION_TOLERANCE_FRACTION],
        "art_track_tolerance": ART_TRACK_TOLERANCE_SECONDS,
        "song_length_range": list(SONG_LENGTH_RANGE),
        "checks": [check.code for check in CHECKS],
        "tables_sha256": digests,
        "sha256": hashlib.sha256(json.dumps(digests, sort_keys=True).encode()).hexdigest()[:16],
    }
