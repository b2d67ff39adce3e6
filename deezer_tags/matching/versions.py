"""Versions, read as music people name them: what a title says of its version (its kinds,
remix word, who and cuts: ``read_version``), and why two versions differ
(``compare_versions``). The rules are the tables' HARD_VERSIONS, MIMED, REMIXES, CUTS,
VERSION_SYNONYMS, LANGUAGES and RELEASES; see ``deezer_tags.matching`` for what they decide."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from deezer_tags.matching.tables import (
    _FEAT, _SEPARATOR, _YEAR, CUTS, DURATION_SETTLES, FILLER, HARD_VERSIONS, LANGUAGES, LONG_CUTS, MIMED, MIXES,
    NOT_VERSIONS, RELEASES, REMIXES, SHORT_CUTS, UPLOAD_WORDS, VERSION_HEADS, VERSION_KINDS, VERSION_SYNONYMS,
    WHO_MIN_SHARE,
)
from deezer_tags.matching.text import _found, _holds, _padded, _without, key_words, share_found, split_brackets, words


@dataclass(frozen=True)
class Version:
    """What a title says of its version: the kinds both sides must share (live, acoustic, a
    language, ...), a remix word, whose version it is, and the cuts it names (CUTS)."""

    kinds: frozenset[str] = frozenset()
    remix: bool = False
    who: frozenset[str] = frozenset()
    cuts: tuple[tuple[str, str], ...] = ()     # (the CUTS entry, the phrase that named it)
    by_artist: bool = False     # a mix whose who names one of the track's artists among others

    @property
    def cut_kinds(self) -> set[str]:
        return {kind for kind, _ in self.cuts}

    @property
    def announced(self) -> bool:
        """The title names a version of some kind (a cut, a remix, a kind), whoever's."""
        return bool(self.cuts or self.remix or self.kinds)

    @property
    def long(self) -> bool:
        return bool(self.cut_kinds & set(LONG_CUTS))

    @property
    def short(self) -> bool:
        return bool(self.cut_kinds & set(SHORT_CUTS)) and not self.long

    def named(self, kinds: Iterable[str]) -> str:
        return ", ".join(phrase for kind, phrase in self.cuts if kind in kinds)


def read_version(title: str, artists: tuple[str, ...] = (), known: set[str] = frozenset()) -> Version:
    """What ``title`` says of its version. ``artists``: the track's. A cover bracket naming one
    of them is that artist's own recording ("(Cover by Jasmine Thompson)" for her track): it
    and every other "cover" of the title describe the track; a kind MIMED by an artist's
    words is the track's own too. ``known``: words of the track's title and artists, which
    name no one's version."""
    outside, brackets = split_brackets(title)
    artist_words = [key_words(a) for a in artists]
    own_cover = [b for b in brackets if "cover" in words(b) and any(w and w <= set(words(b)) for w in artist_words)]
    padded = _without(_padded(" ".join([outside, *(b for b in brackets if b not in own_cover)])), NOT_VERSIONS)
    kinds = {kind for kind, forms in HARD_VERSIONS.items() if _holds(padded, forms)}
    kinds -= {"cover"} if own_cover else set()
    kinds -= {kind for kind, marks in MIMED.items() if any(set(marks) & set(words(a)) for a in artists)}
    parts = [_padded(_FEAT.sub("", part)) for part in _version_parts(title)]
    kinds |= {language for language, forms in LANGUAGES.items() if any(_holds(part, forms) for part in parts)}
    not_who = _not_who()
    who = {word for part in parts if not (_holds(part, RELEASES) and not _holds(part, MIXES))
           for word in part.split() if word not in not_who and not _YEAR.match(word) and not word.isdigit()}
    cuts = tuple((kind, max((f for f in forms if f" {f} " in padded), key=len))
                 for kind, forms in CUTS.items() if _holds(padded, forms))
    # Named after the track's artist among the mixers: "(Antoine Clamaran and Sandy Vee Radio Mix)".
    mixed = any(_holds(part, MIXES) for part in parts)
    by_artist = mixed and any(w and w <= who for w in artist_words)
    who = {word for word in who if not _found(word, known)}  # "Sidney Berlin's Band" for the track's "Sidney Berlin"
    return Version(frozenset(kinds), _holds(padded, REMIXES), frozenset(who), cuts, by_artist and bool(who))


def compare_versions(mine: Version, theirs: Version) -> tuple[str | None, str | None]:
    """Why the track's version (``mine``) and the candidate's differ, or None; and, when they
    agree but one names a cut the other does not (DURATION_SETTLES), what the duration must settle."""
    for this, that, side, other in ((theirs, mine, "candidate", "track"), (mine, theirs, "track", "candidate")):
        only = sorted(this.kinds - that.kinds)
        if only:
            return f"the {side}'s title says {', '.join(only)}; the {other}'s does not", None
    if mine.who or theirs.who:  # a who decides: "(X Mix)" is "(X Remix)", "(X Radio Edit)" X's remix cut short
        if mine.who and share_found(mine.who, theirs.who) < WHO_MIN_SHARE and not _co_credited(mine, theirs):
            shown = " ".join(sorted(theirs.who)) or "none"
            return f"the track's version is named {' '.join(sorted(mine.who))}; the candidate's {shown}", None
        if theirs.who and share_found(theirs.who, mine.who) < WHO_MIN_SHARE and not _co_credited(theirs, mine):
            return f"the candidate's version is named {' '.join(sorted(theirs.who))}; the track's is not", None
    elif mine.remix != theirs.remix:
        side, other = ("track", "candidate") if mine.remix else ("candidate", "track")
        return f"the {side}'s title says remix; the {other}'s does not", None
    if (mine.long and theirs.short) or (mine.short and theirs.long):
        return (f"the track's title names the {mine.named(mine.cut_kinds)} cut; "
                f"the candidate's the {theirs.named(theirs.cut_kinds)} cut"), None
    for this, that, side, other in ((theirs, mine, "candidate", "track"), (mine, theirs, "track", "candidate")):
        settles = this.cut_kinds & set(DURATION_SETTLES)
        if settles and not that.cuts:
            return None, f"the {side}'s title says {this.named(settles)}; the {other}'s names no cut"
    return None, None


def _co_credited(named: Version, other: Version) -> bool:
    """A version named after the track's artist and others, against a version the other side
    announces without a name: Deezer credits a remix to its remixer, so the track's artist's
    "(Radio Edit)" is "(Antoine Clamaran and Sandy Vee Radio Mix)" when the track is Sandy Vee's."""
    return named.by_artist and not other.who and other.announced


def version_mismatch(mine: str, theirs: str, artists: tuple[str, ...] = (), known: set[str] = frozenset()) -> str | None:
    """Why two titles name different versions, or None (a cut only one names aside)."""
    return compare_versions(read_version(mine, artists, known), read_version(theirs, artists, known))[0]


def _not_who() -> frozenset[str]:
    """Words that say what kind of version, never whose: every word of the version tables."""
    tables = (VERSION_KINDS, VERSION_HEADS, FILLER, UPLOAD_WORDS, REMIXES, RELEASES, *CUTS.values(),
              *VERSION_SYNONYMS.values(), *LANGUAGES.values())
    return _words_of(tables)


@functools.lru_cache(maxsize=4)
def _words_of(tables: tuple[Iterable[str], ...]) -> frozenset[str]:
    """Every word of the tables' phrases (kept for as long as the tables are the same)."""
    return frozenset(word for table in tables for phrase in table for word in phrase.split())


def _version_parts(title: str) -> list[str]:
    """The brackets and the " - " tails of a title that name a version ("Song - Radio Edit")."""
    outside, brackets = split_brackets(title)
    tails = _SEPARATOR.split(outside)[1:]
    return [part for part in brackets + tails if VERSION_HEADS & set(_padded(part).split())]
