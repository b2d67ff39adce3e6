"""Every rule of the judge that is data: the thresholds, the tolerances, the word lists and
the patterns. Change them here; ``TABLES`` names the word lists and patterns whose digest
``rules()`` records (see ``deezer_tags.matching``)."""

from __future__ import annotations

import re

TITLE_MIN_SHARE = 0.75      # of the track's title words found in the candidate's song name
ARTIST_MIN_SHARE = 0.5      # of the best-named artist's words found anywhere in the candidate
EXTRA_WORDS_MAX = 1         # title words beyond the track's (outside brackets) still accepted
NEAR_SPELLING = 0.8         # normalized similarity from which two words of 4+ letters are one
NEAR_SPELLING_EDITS = (6, 1)  # a word of 6+ letters is also one at 1 edit (a transposition is one)
WHO_MIN_SHARE = 0.5         # of one version's who words found in the other's: the same remixer
DURATION_TOLERANCE_SECONDS = 15.0
DURATION_TOLERANCE_FRACTION = 0.10
ART_TRACK_TOLERANCE_SECONDS = 4.0   # an art track is the master Deezer streams; also what settles a cut
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
# Phrases that hold a version's word but describe the upload's picture: "(Cover Art)" is the
# record's sleeve over the audio, not a cover version.
NOT_VERSIONS = ("cover art", "cover audio", "album cover", "cover image", "cover photo", "artwork")
# Versions that must be announced on both sides or on neither: another performance, another
# arrangement, another voice. A title naming a studio ("Shepperton Studios", "Abbey Road Studios")
# names a take played there, live; the record is not titled after where it was made.
HARD_VERSIONS = {
    "live": ("live", "ao vivo", "en vivo", "en directo", "dal vivo", "live at", "concert", "tour", "in concert",
             "studios"),
    "unplugged": ("unplugged",),
    "acoustic": ("acoustic", "acustico", "acustica", "acoustique", "akustik", "stripped", "piano version"),
    "session": ("session", "sessions", "deezer session", "live session", "bbc session"),
    "dub": ("dub",),
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
# Kinds a track's artist can make its own: a show's cast records its songs in a studio and
# mimes them on screen, so for a track by a cast ("Glee Cast", "Cast of Pocahontas") a
# performance clip of the show is the cast recording. (In the published id map, 13 of the
# 14 titles saying "performance" without "live" are Glee's "Full Performance" clips of
# tracks by Glee Cast.) kind -> words of the track's artist that make it so.
MIMED = {"performance": ("cast",)}
# Words of a remix: someone reworked the recording. With a who ("Skrillex Remix") the who
# decides; without one ("(Remix)") both sides must say it. "re-edit" is read "reedit".
REMIXES = ("remix", "rmx", "remixed", "rework", "reworked", "bootleg", "vip", "flip", "refix", "reedit",
           "reconstruction", "remake")
# Words of a mix: a release's bracket naming one still names its mixer ("(2011 Remaster / Frisco Mix)").
MIXES = ("mix", "mixed", "dub", *REMIXES)
# The cuts of one mix. One side's long cut against the other's short one: two edits, refused.
# A long, short or club cut named on one side only, the other naming no cut: the duration settles
# it (the word then names the track's own edit, if the lengths agree within the art-track tolerance).
CUTS = {
    "long": ("extended", "long version", "long mix", "long edit", "full version", "full length", "12 inch",
             "12 version", "12 mix", "12 remix", "12 edit", "maxi version", "maxi mix"),
    "short": ("short version", "short edit", "short mix", "short cut"),
    "club": ("club mix", "club version", "club remix"),
    "edit": ("radio edit", "radio version", "radio mix", "radio cut", "single version", "single edit", "single mix",
             "7 inch", "7 version", "7 edit", "7 mix", "video edit", "edit"),
}
LONG_CUTS, SHORT_CUTS, DURATION_SETTLES = ("long", "club"), ("short", "edit"), ("long", "short", "club")
# One version, several names: one entry each. None of them refuses: each is the track's own
# recording as far as titles tell (a clean edit is the same take bleeped).
VERSION_SYNONYMS = {
    "clean": ("clean", "clean version", "clean edit", "edited", "edited version", "censored", "radio edit"),
    "explicit": ("explicit", "explicit version", "dirty", "uncensored", "unedited", "uncut"),
    "plain": ("regular", "regular version", "original", "original version", "original mix", "original edit",
              "album version", "lp version", "studio version", "standard version", "normal version"),
}
# The language a version is sung in, one entry each with its spellings; read in a version's
# name only ("(Version Française)" is "(French Radio Edit)"), and both sides must agree.
LANGUAGES = {
    "french": ("french", "francais", "francaise"),
    "spanish": ("spanish", "espanol", "espanola", "castellano"),
    "english": ("english", "anglais", "anglaise", "ingles", "englisch"),
    "german": ("german", "deutsch", "deutsche", "allemand", "aleman"),
    "italian": ("italian", "italiano", "italiana", "italien"),
    "portuguese": ("portuguese", "portugues", "portuguesa"),
}
# Words that name a release, not a recording: a remaster, an edition, the album or film a song is
# from, a compilation it is on. They never refuse: a bracket holding one names no remixer (unless
# it names a remix), and a whole compilation is refused by its duration, not by its name.
RELEASES = ("remaster", "remastered", "remasterd", "anniversary", "deluxe", "edition", "collection", "expanded",
            "reissue", "bonus track", "soundtrack", "ost", "from", "lp", "album", "motion picture",
            "greatest hits", "best of", "compilation", "anthology")
# A candidate announcing one of these is not one recording of one song (unless the track says it too).
COMPILATIONS = ("full album", "album stream", "full ep", "megamix", "medley", "playlist",
                "non stop", "nonstop", "one hour", "hour loop", "mixtape",
                "top 10", "top 20", "top 40", "top 50", "top 100", "full concert",
                "reaction", "reacts", "tutorial", "lesson", "how to play", "interview", "documentary",
                "trailer", "teaser", "behind the scenes", "making of", "parody", "review", "unboxing")
# Words that make a bracket a version's name ("(D Ramirez Radio Edit)": named "d ramirez").
VERSION_HEADS = frozenset({"remix", "rmx", "mix", "edit", "version", "rework", "bootleg", "dub", "vip", "flip",
                           "refix", "reedit", "reconstruction", "extended", "remaster", "remastered"})
# Words in a version's name that say what kind, not whose ("Vocal Radio Edit" is named "vocal"); the
# words of every phrase above are such words too.
VERSION_KINDS = frozenset({"radio", "single", "vocal", "instrumental", "main", "new", "video", "official", "mix",
                           "version", "inch", "mono", "stereo", "digital", "track", "ep", "by", "prod", "dj", "mc",
                           "10th", "20th", "25th", "30th", "40th", "50th", "mixed", "broadcast"})

_OPEN, _CLOSE = "([{【「『〔", ")]}】」』〕"
# A featured artists' list: to the end of the segment, or to a " - " inside a bracket
# ("(feat. A, B - X Remix)" is A and B's part and X's remix).
_FEAT = re.compile(r"\b(?:feat|ft|featuring|with)\b\.?(?:(?!\s[-–—|•]\s).)*", re.IGNORECASE)
# The artists credited after the song: "Maldon par Louisy Joseph, Lynnsha et Fanny J".
_CREDIT = re.compile(r"\b(?:by|par)\b.*$", re.IGNORECASE)
_GUESTS = re.compile(r"\b(?:feat|ft|featuring)\b\.?\s*((?:(?!\s[-–—|•]\s)[^()\[\]{}【】])+)", re.IGNORECASE)
_NAMES = re.compile(r"\s*(?:,|&|\+|\band\b|\by\b|\bet\b|\bx\b|\bund\b)\s*", re.IGNORECASE)
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_HOURS = re.compile(r"\b\d+\s*(?:hours?|hrs?|h)\b")  # "1 hour", "10 hours": a loop
# Between a video title's segments: a dash (or an en or em dash), a bar, a slash pair, a bullet.
_SEPARATOR = re.compile(r"\s[-–—|~•·]\s|\s?//\s?|\s?[|｜•·]\s?")
_QUOTED = re.compile(r"[\"“”«»]([^\"“”«»]+)[\"“”«»]|(?<!\w)['‘’]([^'‘’]+)['‘’](?!\w)")


# The data the judge reads, by name: ``rules()`` records a digest of each, so that a build's
# recorded rules change when a word list does.
TABLES = ("FILLER", "UPLOAD_WORDS", "NOT_VERSIONS", "HARD_VERSIONS", "MIMED", "REMIXES", "CUTS", "LONG_CUTS",
          "SHORT_CUTS", "DURATION_SETTLES", "MIXES", "VERSION_SYNONYMS", "LANGUAGES", "RELEASES", "COMPILATIONS",
          "VERSION_HEADS", "VERSION_KINDS", "_FEAT", "_CREDIT", "_GUESTS", "_NAMES", "_YEAR", "_HOURS", "_SEPARATOR",
          "_QUOTED")
