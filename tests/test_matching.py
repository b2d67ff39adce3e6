"""The judge (deezer_tags.matching) on named cases and on the hand-labelled real entries of
the published id map (tests/data/idmap_labelled.tsv, see deezer_tags.testing.labelled)."""

from __future__ import annotations

import json
import re

import pytest

from deezer_tags import matching
from deezer_tags.matching import (COMPILATION, CUT, DURATION, EXTRA_WORDS, GUESTS, NO_ARTIST, NO_DURATION, NO_TITLE,
                                  TITLE, VERSION, Candidate, Track, judge, rules)
from deezer_tags.testing.labelled import confusion, judge_all, load, shares

ANOTHER_CHANCE = Track("Another Chance (Radio Edit)", "Another Chance", "(Radio Edit)", ("Roger Sanchez",), "", 241)


@pytest.mark.parametrize("title, duration, channel, code", [
    ("Roger Sanchez - Another Chance (Radio Edit) (HQ)", 240, None, None),
    ("ROGER SÁNCHEZ — ANOTHER CHANCE", 241, None, None),              # case, accents, punctuation
    ("Another Chance [Official Audio]", 243, "Roger Sanchez - Topic", None),  # the artist in the channel
    ("Another Chance [Official Audio]", 250, "Best Dance Hits", NO_ARTIST),   # nowhere
    ("Roger Sanchez - Another Chance", 241 + 25, None, DURATION),     # beyond max(15 s, 10 %)
    ("Roger Sanchez - Another Chance", 241 + 23, None, None),
    ("Roger Sanchez - Another Chance (Live at Ibiza)", 241, None, VERSION),  # another recording
    ("Roger Sanchez - Another Day", 241, None, TITLE),                # the artist's other song
    ("Roger Sanchez - Full Album", 3600, None, TITLE),                # the title's words are not there
    ("Roger Sanchez - Another Chance", None, None, NO_DURATION),
    (None, 241, None, NO_TITLE),
])
def test_judge_on_one_track(title, duration, channel, code):
    verdict = judge(ANOTHER_CHANCE, Candidate(title, duration, channel))
    assert (verdict.code, verdict.accepted) == (code, code is None), verdict
    assert (verdict.refusal is None) == (code is None)


def track(title: str, artist: str, duration: float = 200, version: str = "", short: str = "") -> Track:
    return Track(title, short or title, version, (artist,), "", duration)


# The classes of wrong candidates the old judge let through (issue 13), each refused by its check.
@pytest.mark.parametrize("wanted, title, code, why", [
    (track("Wonderwall", "Oasis"), "Oasis - Wonderwall (MTV Unplugged Version)", VERSION,
     "live take for a studio track"),
    (track("Wonderwall", "Oasis"), "Oasis - Wonderwall (Deezer Session)", VERSION, "a session for a studio track"),
    (track("Evidências", "Chitãozinho & Xororó"), "Chitãozinho & Xororó - Evidências (Ao Vivo)", VERSION,
     "live, in Portuguese"),
    (track("Hold On", "Ben Howard"), "Ben Howard - Hold On (Live & Acoustic)", VERSION, "live and acoustic"),
    (track("Keep On (Vocal Radio Edit)", "Jay Kay", short="Keep On", version="(Vocal Radio Edit)"),
     "Jay Kay - Keep On (Vocal Extended)", VERSION, "two different named edits"),
    (track("Blue (Radio Edit)", "Eiffel 65", short="Blue", version="(Radio Edit)"),
     "Eiffel 65 - Blue (Frisco Radio Edit)", VERSION, "another named radio edit"),
    (track("Spaceman", "The Killers"), "The Killers - Call Me A Spaceman", EXTRA_WORDS,
     "another song containing the title"),
    (track("Bohemian Rhapsody", "Queen"), "Queen - Bohemian Rhapsody / Radio Ga Ga / Hammer to Fall", EXTRA_WORDS,
     "a medley"),
    (track("Halo", "Beyoncé"), "Halo - Live Session by Sam Tsui", NO_ARTIST, "another singer, and a session"),
    (track("Halo", "Beyoncé"), "Halo (Ultimate Version) - The Hit Crew", NO_ARTIST, "a compilation act's"),
    (track("Halo", "Beyoncé"), "Halo", NO_ARTIST, "no word of the artist anywhere"),
    (track("Thriller", "Michael Jackson"), "Michael Jackson - Thriller (Full Album)", COMPILATION, "a full album"),
    (track("Thriller", "Michael Jackson"), "Michael Jackson - Thriller 1 Hour Loop", COMPILATION, "a loop"),
    (track("Rolling in the Deep", "Adele"), "Adele performs Rolling in the Deep on Jools Holland", EXTRA_WORDS,
     "a TV show"),
    (track("Levels", "Avicii"), "Avicii - Levels (Skrillex Remix)", VERSION, "a remix for the original"),
    (track("Levels (Skrillex Remix)", "Avicii", short="Levels", version="(Skrillex Remix)"), "Avicii - Levels",
     VERSION, "the original for a remix"),
    (track("Johnny B. Goode", "Marty McFly"),
     'Back to the Future | Marty McFly Plays "Johnny B. Goode" and "Earth Angel"', COMPILATION, "two songs"),
])
def test_failure_classes_are_refused(wanted, title, code, why):
    verdict = judge(wanted, Candidate(title, wanted.duration))
    assert verdict.code == code, f"{why}: {verdict}"


@pytest.mark.parametrize("wanted, title", [
    (track("Crazy Kids", "Kesha"), "Ke$ha - Crazy Kids (Official Video)"),  # $ for s
    (track("Meet Her At the Loveparade (Radio Edit)", "Da Hool", short="Meet Her At the Loveparade",
           version="(Radio Edit)"), "Da Hool - Meet Her At The Love Parade (Radio Edit)"),  # a word split
    (track("Take on Me (Extended Mix)", "a-ha", short="Take on Me", version="(Extended Mix)"),
     "A-HA - Take On Me - (Extended Version)"),
    (track("Let Her Go", "Jasmine Thompson"), "Let Her Go - Passenger (Official Video Cover by Jasmine Thompson)"),
    (track("Colors (Radio Edit) [feat. Sterling Fox]", "Tritonal"),
     "Tritonal & Paris Blohm ft. Sterling Fox - Colors (Official Music Video)"),  # a co-artist in the artist part
    (track("I Need Your Love (Radio Edit)", "Calvin Harris", short="I Need Your Love", version="(Radio Edit)"),
     "Calvin Harris - I Need Your Love"),  # the video is the radio edit as far as titles tell
])
def test_the_same_recording_in_other_words_is_accepted(wanted, title):
    verdict = judge(wanted, Candidate(title, wanted.duration))
    assert verdict.accepted, verdict


def test_an_art_track_is_judged_on_its_fields_with_a_tight_duration():
    wanted = track("Another Chance (Radio Edit)", "Roger Sanchez", 241, "(Radio Edit)", "Another Chance")
    art = dict(channel="Roger Sanchez - Topic", track="Another Chance (Radio Edit)", artists=("Roger Sanchez",))
    assert judge(wanted, Candidate("Another Chance (Radio Edit)", 242, **art)).accepted
    far = judge(wanted, Candidate("Another Chance (Radio Edit)", 241 + 10, **art))  # a video would pass at 10 s
    assert far.code == DURATION and far.checks["art_track"] and "apart" in far.refusal
    other = judge(wanted, Candidate("Another Chance (Radio Edit)", 241, channel="Roger Sanchez - Topic",
                                    track="Another Chance (Extended Mix)", artists=("Roger Sanchez",)))
    assert other.code == VERSION


def test_every_check_is_in_the_verdict():
    verdict = judge(ANOTHER_CHANCE, Candidate("Roger Sanchez - Another Chance (Radio Edit) (HQ)", 240))
    assert {"title", "artist", "compilation", "extra_words", "version", "duration_tolerance"} <= verdict.checks.keys()
    assert verdict.checks["title"] == 1.0 and verdict.checks["artist"] == 1.0 and verdict.duration_delta == -1


def test_every_refusal_has_a_code_and_a_sentence():
    """One row per check; the codes are the module's constants, in the order ``rules()`` states."""
    codes = [check.code for check in matching.CHECKS]
    assert codes == [NO_TITLE, NO_ARTIST, TITLE, COMPILATION, EXTRA_WORDS, VERSION, GUESTS, NO_DURATION, DURATION, CUT]
    assert rules()["checks"] == codes and len(set(codes)) == len(codes)
    refused = judge(ANOTHER_CHANCE, Candidate("Roger Sanchez - Another Day", 241))
    assert refused.code == TITLE and refused.refusal.startswith("the title holds 0.50")
    assert judge(ANOTHER_CHANCE, Candidate(None, 241)).refusal == "no title"
    assert judge(ANOTHER_CHANCE, Candidate("Roger Sanchez - Another Chance", None)).refusal == "no duration"


@pytest.mark.parametrize("name", matching.TABLES)
def test_the_recorded_rules_change_with_any_word_list(monkeypatch, name):
    """A build records rules(): a word added to any table the judge reads changes it."""
    before = rules()
    table = getattr(matching, name)
    if isinstance(table, dict):
        changed = {**table, "zzz": ("zzz",)}
    elif isinstance(table, (set, frozenset)):
        changed = frozenset(table | {"zzz"})
    elif isinstance(table, tuple):
        changed = (*table, "zzz")
    else:  # a pattern
        changed = re.compile(table.pattern + "|zzz", table.flags)
    monkeypatch.setattr(matching, name, changed)
    after = rules()
    assert after["tables_sha256"][name] != before["tables_sha256"][name]
    assert after["sha256"] != before["sha256"]
    assert {k: v for k, v in after["tables_sha256"].items() if k != name} == {
        k: v for k, v in before["tables_sha256"].items() if k != name}
    json.dumps(after)  # the build report writes it as JSON


@pytest.fixture(scope="module")
def strata() -> dict[str, dict[str, dict[str, int]]]:
    """Each stratum's confusion table (random, doubtful, version), and all of them together."""
    judged = judge_all(load())
    tables = {sample: confusion([j for j in judged if j.entry["sample"] == sample])
              for sample in {j.entry["sample"] for j in judged}}
    return {**tables, "all": confusion(judged)}


def test_the_judge_on_the_labelled_real_entries(strata):
    """Among the entries the title decides: at least 98.5 % of the random stratum's
    same-recording entries accepted, and at most 4 % of the other recordings in the doubtful
    and version strata (the version stratum's same recordings: the next test). The map holds no
    channel, which decides an entry whose title names no artist: those are counted apart
    (benchmarks/matching.py prints them), and there must not be more than a sixth of them."""
    assert sum(strata["random"]["same"].values()) >= 280 and sum(strata["all"]["other"].values()) >= 50  # whole
    assert sum(strata["version"].get(label, {}).get(v, 0) for label in ("same", "other", "unsure")
               for v in ("accepted", "refused", "needs_channel")) == 200
    assert shares(strata["random"])["same_accepted_share"] >= 0.985, strata["random"]
    for sample in ("doubtful", "version"):
        assert shares(strata[sample])["other_accepted_share"] <= 0.04, (sample, strata[sample])
    # The random stratum's one other recording still accepted: "Crazy Kids" for the single
    # with will.i.am's added verse. Only Deezer's contributors could tell (the labels lack them).
    assert strata["random"]["other"]["accepted"] <= 1, strata["random"]
    assert strata["random"]["same"]["needs_channel"] <= sum(strata["random"]["same"].values()) / 6, strata["random"]


def test_the_issues_target_on_the_version_stratum(strata):
    """The issue's target: 95 % of the version stratum's same recordings accepted (95.7 %; the
    5 refused: a song titled by its hook, an unnamed 'Pop Version', an acoustic cover, a remix
    known only by its guest list, a remix named after its own artist against the plain clip)."""
    assert shares(strata["version"])["same_accepted_share"] >= 0.95, strata["version"]


@pytest.mark.xfail(strict=True, reason="not met by sound rules: the random stratum's 13 other recordings allow "
                   "none accepted, and 'Crazy Kids' for the single with will.i.am's verse needs Deezer's contributors")
def test_the_issues_target_on_other_recordings_in_every_stratum(strata):
    """The issue's target: at most 4 % of the other recordings accepted in every stratum."""
    assert all(shares(strata[sample])["other_accepted_share"] <= 0.04 for sample in ("random", "doubtful", "version"))


def test_a_candidate_is_worth_its_watch_page_only_when_the_page_could_make_it_pass():
    """matching.could_pass: what a search page or the id map may lack (the channel, the duration)
    is taken at its most favourable; anything else it shows decides already."""
    from deezer_tags.matching import could_pass

    track = Track("Another Chance", "Another Chance", "", ("Roger Sanchez",), "", 240.0)
    bare = Candidate("Another Chance (Official Video)")                     # no artist, no channel, no length
    assert judge(track, bare).code == NO_ARTIST and could_pass(track, bare)  # the channel may name him
    other_song = Candidate("Stay Another Day (Official Video)")
    assert judge(track, other_song).code == NO_ARTIST and not could_pass(track, other_song)  # the title refuses
    named_by_another = Candidate("Another Chance (Official Video)", 240.0, channel="Some Cover Band")
    assert not could_pass(track, named_by_another)  # a known channel is judged as it is
    too_long = Candidate("Roger Sanchez - Another Chance", 3600.0)
    assert not could_pass(track, too_long)  # a known length too
    assert could_pass(track, Candidate(None))  # no title: only the page can tell
