"""The judge's version rules (deezer_tags.matching, issue: right recordings refused on a
version's wording). Each class of wrong refusal has a named case now accepted beside a
case of the same shape that is still refused, by the check named."""

from __future__ import annotations

import pytest

from deezer_tags.matching import (ART_TRACK_TOLERANCE_SECONDS, COMPILATION, CUT, DURATION, EXTRA_WORDS, GUESTS,
                                  NO_DURATION, TITLE, VERSION, Candidate, Track, judge)
from deezer_tags.testing.labelled import split_version


def track(title: str, artist: str = "Roger Sanchez", duration: float | None = 200, version: str = "") -> Track:
    """As Deezer gives it: the version (``title_version``) apart from the short title."""
    short, version = (title.replace(version, "").strip(), version) if version else split_version(title)
    return Track(title, short, version, (artist,), "", duration)


# (class, track, the candidate now accepted, a candidate of the same shape refused, its refusal's code)
PAIRS = [
    ("a mix is a remix: the who decides",
     track("Another Chance (Frisco Mix)"), "Roger Sanchez - Another Chance (Frisco Remix)",
     "Roger Sanchez - Another Chance (Dada Remix)", VERSION),
    ("a named radio edit is that remixer's remix cut short",
     track("Waves (Robin Schulz Radio Edit)", "Mr. Probz"), "Mr. Probz - Waves (Robin Schulz Remix Radio Edit)",
     "Mr. Probz - Waves (Kygo Remix Radio Edit)", VERSION),
    ("a named remix is the same remixer's club mix",
     track("Another Chance (Frisco Remix)"), "Roger Sanchez - Another Chance (Frisco Club Mix)",
     "Roger Sanchez - Another Chance (Dada Club Mix)", VERSION),
    ("a mix of a remixer named the same, beside its featured artists ('feat. A - X Remix')",
     track("Gasolina (DJ Buddah Remix)", "Daddy Yankee"),
     "Daddy Yankee - Gasolina (feat. Lil'Jon, Pitbull, Noriega - Dj Buddah Remix)",
     "Daddy Yankee - Gasolina (feat. Lil'Jon, Pitbull, Noriega - Dj Nesty Remix)", VERSION),
    ("a re-construction is a remix, its who the same",
     track("I'm On You (Dj Antoine vs Mad Mark Re-Construction)", "DJ Antoine",
           version="(Dj Antoine vs Mad Mark Re-Construction)"),
     "DJ Antoine - I'm On You (DJ Antoine vs Mad Mark RMX)", "DJ Antoine - I'm On You (Timati RMX)", VERSION),
    ("clean = edited: one version, two names",
     track("Over (Edited Version)", "Drake"), "Over (Clean) - Drake", "Over (Live Version) - Drake", VERSION),
    ("regular = the plain title",
     track("Another Chance (Regular Version)"), "Roger Sanchez - Another Chance",
     "Roger Sanchez - Another Chance (Piano Version)", VERSION),
    ("a language's version, spelled in that language",
     track("Lipstick (Radio French Edit)", "Sophia Del Carmen"), "Sophia Del Carmen - Lipstick (Version Française)",
     "Sophia Del Carmen - Lipstick (Versión Española)", VERSION),
    ("catalogue words name a release, not a version",
     track("Another Chance"), "Roger Sanchez - Another Chance (2009 Collection Remastered)",
     "Roger Sanchez - Another Chance (Live; 2009 Remastered)", VERSION),
    ("the album named before 'LP Version' is a release",
     track("More Than A Woman (2007 Remastered Saturday Night Fever LP Version)", "Bee Gees"),
     "Bee Gees - More Than A Woman (2021 Remaster)", "Bee Gees - More Than A Woman (Tavares Remix)", VERSION),
    ("a soundtrack's version is the film's release",
     track("I Just Can't Wait to Be King", "Jason Weaver"),
     "Jason Weaver - I Just Can't Wait to Be King (From \"The Lion King\"/Soundtrack Version)",
     "Jason Weaver - I Just Can't Wait to Be King (From \"The Lion King\"/Live Version)", VERSION),
    ("a cover's art is the sleeve, not a cover version",
     track("Black Pearl (He's A Pirate) (Radio Edit)", "Rebel"), "Rebel - Black Pearl (He's A Pirate) [Cover Art]",
     "Rebel - Black Pearl (He's A Pirate) [Piano Cover]", VERSION),
    ("the track's artist's own cover, however often the title says cover",
     track("Apologize", "Boyce Avenue"),
     "Apologize - One Republic & Timbaland (Boyce Avenue piano acoustic cover) OneRepublic Apologize Cover",
     "Apologize - One Republic & Timbaland (Boyce Avenue piano acoustic cover) OneRepublic Apologize Cover",
     VERSION),  # refused for the track by OneRepublic: see test_the_own_cover_is_the_covering_artists_only
    ("a studio's name is a take played there, 'Studio Version' the record",
     track("Baba O'Riley", "The Who"), "The Who - Baba O'Riley (Studio Version)",
     "The Who - Baba O'Riley (Shepperton Studios / 1978)", VERSION),
    ("a show's cast mimes its recording on screen: its performance clip is the record, a live one is not",
     track("Uptown Girl", "Glee Cast"), "GLEE - Uptown Girl (Full Performance) HD",
     "GLEE - Uptown Girl (Live Performance) HD", VERSION),
    ("a mix named after the track's artist among others is the track's unnamed version of it",
     track("Believe (Radio Edit)", "Sandy Vee"),
     "Ministers De-La-Funk feat. Jocelyn Brown - Believe (Antoine Clamaran and Sandy Vee Radio Mix)",
     "Sandy Vee feat. Jocelyn Brown - Believe (Antoine Clamaran Radio Mix)", VERSION),
    ("an artist segment after a bullet",
     track("Another Chance"), "Roger Sanchez & Stealth Kid • Another Chance",
     "Roger Sanchez & Stealth Kid Another Chance", EXTRA_WORDS),
    ("an artist segment after a bar",
     track("Another Chance"), "Roger Sanchez & Stealth Kid | Another Chance",
     "Roger Sanchez & Stealth Kid Another Chance", EXTRA_WORDS),
    ("an artist segment after an en dash",
     track("Another Chance"), "Roger Sanchez & Stealth Kid – Another Chance",
     "Roger Sanchez & Stealth Kid Another Chance", EXTRA_WORDS),
    ("artists credited after the song, by 'par'",
     track("Maldon", "Lynnsha"), "Tropical Family - Maldon par Louisy Joseph, Lynnsha et Fanny J (Audio officiel)",
     "Lynnsha - Maldon par amour toujours (Audio officiel)", EXTRA_WORDS),
    ("a one-letter slip in a long title word (two letters swapped)",
     track("Believe", "Cher"), "Cher - Beleive", "Cher - Belief", TITLE),
    ("a compilation's name is the album the song is on, a full album the whole of it",
     track("The Hustle", "Van McCoy"), "Van McCoy - The Hustle And Best Of - The Hustle",
     "Van McCoy - The Hustle And Best Of - The Hustle (Full Album)", COMPILATION),
    ("one guest under another name; a guest the track's lineup lacks",
     track("Thug Passion (ft. Jewell, Outlawz, The Storm)", "2Pac"),
     "2Pac - Thug Passion Feat. Dramacydal, Jewell & Storm",
     "2Pac - Thug Passion Feat. Dramacydal, Jewell, Storm & Snoop Dogg", GUESTS),
]


@pytest.mark.parametrize("why, wanted, accepted, refused, code", PAIRS, ids=[p[0] for p in PAIRS])
def test_a_version_class_accepted_beside_its_refused_twin(why, wanted, accepted, refused, code):
    verdict = judge(wanted, Candidate(accepted, wanted.duration))
    assert verdict.accepted, f"{why}: {verdict}"
    if wanted.artists == ("Boyce Avenue",):
        wanted = track("Apologize", "OneRepublic")  # the same title, for the covered artist's track
    verdict = judge(wanted, Candidate(refused, wanted.duration))
    assert verdict.code == code, f"{why}: {verdict}"


def test_a_compilations_name_is_refused_by_the_duration_of_the_whole():
    """A "Best Of" names the album a song is on; a video of the whole album lasts an album."""
    title = "Van McCoy - The Hustle And Best Of - The Hustle"
    assert judge(track("The Hustle", "Van McCoy"), Candidate(title, 3600)).code == DURATION
    assert judge(track("The Hustle", "Van McCoy", duration=None), Candidate(title, 3600)).code == DURATION


def test_the_own_cover_is_the_covering_artists_only():
    title = "Apologize - One Republic & Timbaland (Boyce Avenue piano acoustic cover) OneRepublic Apologize Cover"
    assert judge(track("Apologize", "Boyce Avenue"), Candidate(title, 200)).accepted
    assert judge(track("Apologize", "OneRepublic"), Candidate(title, 200)).code == VERSION


def test_a_performance_and_a_co_credited_mix_are_the_tracks_own_only_as_said():
    """Only a cast's track is mimed on screen; a mix credited to the track's artist among
    others is the track only when the track announces a version of its own."""
    clip = "GLEE - Uptown Girl (Full Performance) HD"
    assert judge(track("Uptown Girl", "Glee Cast"), Candidate(clip, 200)).accepted
    assert judge(track("Uptown Girl", "Glee"), Candidate(clip, 200)).code == VERSION
    mix = "Ministers De-La-Funk - Believe (Antoine Clamaran and Sandy Vee Radio Mix)"
    assert judge(track("Believe (Radio Edit)", "Sandy Vee"), Candidate(mix, 200)).accepted
    assert judge(track("Believe", "Sandy Vee"), Candidate(mix, 200)).code == VERSION
    assert judge(track("Believe (Radio Edit)", "Ministers De-La-Funk"), Candidate(mix, 200)).code == VERSION
    # a who that names the artist but no mix ("Super Smash Bros. Music Extended" for the act Smash)
    game = "The Edge of Dawn - Super Smash Bros. Ultimate Music Extended"
    assert judge(track("The Edge (Extended)", "Smash"), Candidate(game, 200)).code is not None


# A cut one side names alone: the duration settles it, within the art-track tolerance.
@pytest.mark.parametrize("wanted, title", [
    (track("Another Chance"), "Roger Sanchez - Another Chance (Long Version)"),
    (track("Another Chance"), "Roger Sanchez - Another Chance (Full Version)"),
    (track("Another Chance"), 'Roger Sanchez - Another Chance (12" Version)'),
    (track("Another Chance"), "Roger Sanchez - Another Chance (12 Inch Mix)"),
    (track("Another Chance"), "Roger Sanchez - Another Chance (Extended Mix)"),
    (track("Another Chance"), "Roger Sanchez - Another Chance (Short Edit)"),
    (track("Another Chance"), "Roger Sanchez - Another Chance (Club Mix)"),
    (track("Another Chance (Extended Mix)"), "Roger Sanchez - Another Chance"),  # the other way round
    (track("Another Chance (Long Version)"), "Roger Sanchez - Another Chance [Official Audio]"),
])
@pytest.mark.parametrize("delta, code", [
    (0, None), (ART_TRACK_TOLERANCE_SECONDS, None), (-ART_TRACK_TOLERANCE_SECONDS, None),
    (ART_TRACK_TOLERANCE_SECONDS + 6, CUT),       # within a video's tolerance (20 s), not a cut's
    (-(ART_TRACK_TOLERANCE_SECONDS + 6), CUT),
    (45, DURATION),                                # beyond a video's tolerance: the duration refuses first
])
def test_the_duration_settles_a_cut_named_on_one_side(wanted, title, delta, code):
    verdict = judge(wanted, Candidate(title, wanted.duration + delta))
    assert verdict.code == code, verdict
    assert verdict.checks["cut"] is not None


def test_a_cut_with_an_unknown_duration():
    """The candidate's unknown: "no duration", which the build resolves on the watch page
    (matching.could_pass). Deezer's unknown: nothing settles the word, so it refuses."""
    title = "Roger Sanchez - Another Chance (Extended Mix)"
    assert judge(track("Another Chance"), Candidate(title, None)).code == NO_DURATION
    unknown = judge(track("Another Chance", duration=None), Candidate(title, 200))
    assert unknown.code == CUT and "unknown" in unknown.refusal
    assert judge(track("Another Chance", duration=None), Candidate("Roger Sanchez - Another Chance", 200)).accepted


@pytest.mark.parametrize("mine, theirs", [
    ("Another Chance (Radio Edit)", "Roger Sanchez - Another Chance (Extended Mix)"),
    ("Another Chance (Extended Mix)", "Roger Sanchez - Another Chance (Radio Edit)"),
    ("Another Chance (Frisco Radio Edit)", "Roger Sanchez - Another Chance (Frisco Club Mix)"),
    ("Another Chance (Single Version)", "Roger Sanchez - Another Chance (12 Inch Version)"),
    ("Another Chance (Radio Edit Long Version)", "Roger Sanchez - Another Chance (Radio Edit)"),
])
def test_a_long_cut_against_a_short_one_is_refused_whatever_the_duration(mine, theirs):
    """Both titles name their cut, and the cuts differ: two edits of one mix."""
    wanted = track(mine)
    assert judge(wanted, Candidate(theirs, wanted.duration)).code == VERSION


@pytest.mark.parametrize("mine, theirs", [
    ("Another Chance (Radio Edit)", "Roger Sanchez - Another Chance"),          # soft as before: no cut settles
    ("Another Chance", "Roger Sanchez - Another Chance (Radio Edit)"),
    ("Another Chance (Radio Edit)", "Roger Sanchez - Another Chance (Short Edit)"),
    ("Another Chance (Club Mix)", "Roger Sanchez - Another Chance (Extended Mix)"),  # two long cuts
])
def test_cuts_that_agree_need_no_settling(mine, theirs):
    wanted = track(mine)
    verdict = judge(wanted, Candidate(theirs, wanted.duration + 12))  # within a video's 20 s, beyond a cut's 4 s
    assert verdict.accepted and verdict.checks["cut"] is None, verdict


def test_a_studio_named_take_is_live_once():
    """"Live at Abbey Road Studios" and "Live at Abbey Road" are one live take."""
    wanted = track("Another Chance (Live at Abbey Road Studios)")
    assert judge(wanted, Candidate("Roger Sanchez - Another Chance (Live at Abbey Road)", 200)).accepted
    assert judge(wanted, Candidate("Roger Sanchez - Another Chance", 200)).code == VERSION
