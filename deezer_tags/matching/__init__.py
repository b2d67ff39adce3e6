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
  A kind the track's artist makes its own is no version: a show's cast mimes its recording
  on screen (MIMED). A mix named after the track's artist among others ("Antoine Clamaran
  and Sandy Vee Radio Mix" for Sandy Vee's "Radio Edit") is the track's version when the
  track announces one without a name: Deezer credits a remix to its remixer.
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

Every rule is data: the word lists, the thresholds and the tolerances (``tables``), and
``CHECKS`` (``checks``), one row per check (code, test, sentence) in the order they are
asked. Change them there; the verdict's ``code`` and ``refusal`` say which check refused,
its ``checks`` every measure, and ``rules()`` records the thresholds with a digest of every
word list.

One room per concern (none named after a function the package exports, which would hide
it: ``judge``, ``rules``, ``words``), every name importable from here as before:
- ``tables``: the thresholds, tolerances, word lists and patterns (``TABLES``: the digested ones);
- ``text``: a title's words, key words, near spellings, shares, phrases and brackets;
- ``versions``: reading a title's version and comparing two (``read_version``, ``compare_versions``);
- ``sides``: the ``Track`` and the ``Candidate``, read from Deezer's and YouTube's metadata;
- ``titles``: a video title against the track: its song segment, extra words and guests;
- ``checks``: the measures (``facts``), ``CHECKS``, ``judge`` and its ``Verdict``, and ``rules()``.
"""

from deezer_tags.matching.checks import (
    CHECKS, COMPILATION, CUT, DURATION, EXTRA_WORDS, GUESTS, NO_ARTIST, NO_DURATION, NO_TITLE, TITLE, VERSION, Check,
    Facts, Verdict, could_pass, duration_delta, facts, judge, rules, table_digests,
)
from deezer_tags.matching.sides import Candidate, Track
from deezer_tags.matching.tables import (
    ART_TRACK_TOLERANCE_SECONDS, ARTIST_MIN_SHARE, COMPILATIONS, CUTS, DURATION_SETTLES, DURATION_TOLERANCE_FRACTION,
    DURATION_TOLERANCE_SECONDS, EXTRA_WORDS_MAX, FILLER, HARD_VERSIONS, LANGUAGES, LONG_CUTS, MIMED, MIXES,
    NEAR_SPELLING, NEAR_SPELLING_EDITS, NOT_VERSIONS, RELEASES, REMIXES, SHORT_CUTS, SONG_LENGTH_RANGE, TABLES,
    TITLE_MIN_SHARE, UPLOAD_WORDS, VERSION_HEADS, VERSION_KINDS, VERSION_SYNONYMS, WHO_MIN_SHARE,
)
# The patterns of TABLES too: rules() digests every table by name, as this package holds it.
from deezer_tags.matching.tables import (  # noqa: F401
    _CREDIT, _FEAT, _GUESTS, _HOURS, _NAMES, _QUOTED, _SEPARATOR, _YEAR,
)
from deezer_tags.matching.text import key_words, phrases, share_found, split_brackets, title_share, words
from deezer_tags.matching.titles import extra_words, guests, song_segment, uncredited_guests
from deezer_tags.matching.versions import Version, compare_versions, read_version, version_mismatch

__all__ = [
    "ARTIST_MIN_SHARE", "ART_TRACK_TOLERANCE_SECONDS", "CHECKS", "COMPILATION", "COMPILATIONS", "CUT", "CUTS",
    "Candidate", "Check", "could_pass", "DURATION", "DURATION_SETTLES", "DURATION_TOLERANCE_FRACTION",
    "DURATION_TOLERANCE_SECONDS", "EXTRA_WORDS", "EXTRA_WORDS_MAX", "FILLER", "Facts", "GUESTS", "HARD_VERSIONS",
    "LANGUAGES", "LONG_CUTS", "MIMED", "MIXES", "NEAR_SPELLING", "NEAR_SPELLING_EDITS", "NOT_VERSIONS", "NO_ARTIST",
    "NO_DURATION", "NO_TITLE", "RELEASES", "REMIXES", "SHORT_CUTS", "SONG_LENGTH_RANGE", "TABLES", "TITLE",
    "TITLE_MIN_SHARE", "Track", "UPLOAD_WORDS", "VERSION", "VERSION_HEADS", "VERSION_KINDS", "VERSION_SYNONYMS",
    "Verdict", "Version", "WHO_MIN_SHARE", "compare_versions", "duration_delta", "extra_words", "facts", "guests",
    "judge", "key_words", "phrases", "read_version", "rules", "share_found", "song_segment", "split_brackets",
    "table_digests", "title_share", "uncredited_guests", "version_mismatch", "words",
]
