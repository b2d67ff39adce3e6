"""The judge's text helpers: a title's words, its key words, near spellings, the share of
one set of words found in another, phrases held as whole words, and brackets."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from rapidfuzz.distance import OSA, Levenshtein

from deezer_tags.matching.tables import _CLOSE, _OPEN, FILLER, NEAR_SPELLING, NEAR_SPELLING_EDITS


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
    """``word`` or a near spelling of it in ``seen``: a similar word of 4+ letters, or one
    edit (a letter changed, added, dropped, or two swapped) in a word of 6+ letters."""
    if word in seen:
        return True
    letters, edits = NEAR_SPELLING_EDITS
    return len(word) >= 4 and any(
        abs(len(other) - len(word)) <= 2 and (
            Levenshtein.normalized_similarity(word, other) >= NEAR_SPELLING
            or (len(word) >= letters and OSA.distance(word, other) <= edits))
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


def _padded(text: str) -> str:
    """The text's words between spaces, "re-" joined to its word ("Re-Edit" is "reedit")."""
    return re.sub(r" re (?=\w)", " re", f" {' '.join(words(text))} ")


def _holds(padded: str, vocabulary: Iterable[str]) -> bool:
    return any(f" {phrase} " in padded for phrase in vocabulary)


def _without(padded: str, vocabulary: Iterable[str]) -> str:
    for phrase in vocabulary:
        padded = padded.replace(f" {phrase} ", "  ")
    return padded
