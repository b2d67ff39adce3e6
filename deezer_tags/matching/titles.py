"""A video title read against the track: the segment that names the song
(``song_segment``), the words it names beyond the track's title (``extra_words``), and the
guests it lists beyond the track's lineup (``guests``, ``uncredited_guests``)."""

from __future__ import annotations

import re

from deezer_tags.matching.sides import Candidate, Track
from deezer_tags.matching.tables import (
    _CREDIT, _FEAT, _GUESTS, _NAMES, _OPEN, _QUOTED, _SEPARATOR, ARTIST_MIN_SHARE, FILLER, UPLOAD_WORDS,
)
from deezer_tags.matching.text import (
    _found, _neighbours_joined, _with_compounds, key_words, share_found, split_brackets, title_share, words,
)


def guests(text: str) -> list[str]:
    """The featured artists a title lists ("ft. A, B & C"), each once."""
    found: dict[frozenset, str] = {}
    for clause in _GUESTS.findall(text):
        for name in _NAMES.split(clause):
            key = frozenset(key_words(name) - UPLOAD_WORDS)
            if key and name.strip():
                found.setdefault(key, name.strip(" .,"))
    return list(found.values())


def uncredited_guests(track: Track, candidate: Candidate) -> list[str]:
    """The candidate's guests beyond the lineup the track's title lists, when it lists more
    guests than the track: another lineup (a remix with an added verse). Only when the track's
    title lists its guests, and one name for another (a group's earlier name) is let through."""
    mine = guests(f"{track.title} {track.title_version}")
    if not mine:
        return []
    credited = set(words(f"{track.title} {track.title_version}")) | {w for a in track.artists for w in words(a)}
    theirs = guests(" ".join(filter(None, (candidate.title, candidate.track))))
    extra = [name for name in theirs if share_found(key_words(name), credited) < ARTIST_MIN_SHARE]
    return extra if len(theirs) > len(mine) else []


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
    names = [name for name in (*track.artists, candidate.channel or "", *candidate.artists) if name]
    credit = _CREDIT.search(segment)  # "Song by A & B", "Song par A, B et C": the artists, if they are named
    if credit and any(share_found(key_words(name), set(words(credit[0]))) >= ARTIST_MIN_SHARE for name in names):
        segment = segment[:credit.start()]
    known = set(words(f"{track.title} {track.title_version}"))
    for name in names:
        known |= set(words(name))
    known |= {w[:-4] for w in known if w.endswith("vevo")} | {w + "vevo" for w in known}
    found = words(segment)
    return [word for i, word in enumerate(found)
            if not (word in known or word in FILLER or word in UPLOAD_WORDS or word.isdigit() or _found(word, known)
                    # "Love Parade" for "Loveparade"
                    or any(joined in known for joined in _neighbours_joined(found, i)))]
