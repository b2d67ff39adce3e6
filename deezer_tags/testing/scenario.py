"""The world the local web plays: which files it serves, which tracks and videos exist.

A scenario is a pure function of its input files and a seed, so a test can predict
every outcome (``no_data_ids``, ``dead_preview_ids``, a video's duration, ...) and two
runs see the same world. Nothing is generated per request here and no audio is made.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from .audio import FRAME_SAMPLES, PREVIEW_SECONDS, SAMPLE_RATE
from .public_data import read_public

# Served file key -> the public data file it is (data/public/, see its README).
PUBLIC_FILES = {
    "annotation": "seed-repo/annotation.csv",
    "train": "paper-splits/train_ground_truth.csv",
    "validation": "paper-splits/validation_ground_truth.csv",
    "test": "paper-splits/test_ground_truth.csv",
    "folds": "paper-splits/ground_truth_folds.csv",
    "youtube_map": "seed-repo/id_to_url.json",
}

PreviewState = Literal["ok", "none", "dead"]


@dataclass(frozen=True, slots=True)
class TrackSpec:
    """What the Deezer API knows about one track."""

    id: int
    title: str
    title_short: str
    title_version: str
    artist_id: int
    artist_name: str
    album_id: int
    album_title: str
    duration: int  # seconds
    isrc: str
    release_date: str
    bpm: int
    gain: float
    rank: int
    track_position: int
    readable: bool
    preview: PreviewState
    # The name the API gives callers in Korea unless they ask for English ("" when the same).
    artist_name_localized: str = ""


@dataclass(frozen=True, slots=True)
class VideoSpec:
    """One "YouTube" video. ``track_id`` is the track whose recording it carries (the first
    id map entry naming it; several tracks may map to one video), None for an unrelated one."""

    video_id: str
    track_id: int | None
    title: str
    duration: int  # seconds
    wrong: bool = False  # far from the track's duration: a full album, a TV clip
    # An art track (YouTube Music's upload of the master): the "Artist - Topic" channel and
    # the artist, which its watch page carries; None for an ordinary video.
    channel: str | None = None
    artist: str | None = None
    # "master": the track's recording, as released. "live": a concert recording or a
    # re-recording uploaded under the song's name: same title, about the same duration,
    # other audio, which only listening can tell apart (see ``Scenario.video_recording``).
    take: str = "master"


_ADJECTIVES = (
    "Amber", "Blue", "Broken", "Crimson", "Distant", "Electric", "Endless", "Faded",
    "Golden", "Hidden", "Hollow", "Lonely", "Lucky", "Midnight", "Neon", "Paper",
    "Quiet", "Restless", "Silver", "Simple", "Slow", "Stolen", "Summer", "Velvet",
)
_NOUNS = (
    "Avenue", "Bridge", "Candle", "Echo", "Engine", "Fever", "Garden", "Harbor",
    "Highway", "Horizon", "Island", "Lantern", "Mirror", "Ocean", "Orchid", "River",
    "Rocket", "Shadow", "Signal", "Skyline", "Station", "Thunder", "Window", "Wire",
)
_COUNTRIES = ("GB", "US", "FR", "DE", "SE", "NL", "IT", "ES")
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")  # fullmatch: "$" would let a trailing newline in


class _Draw:
    """Numbers drawn from a hash of a key: a cheap, process-independent random source."""

    def __init__(self, *key: object) -> None:
        digest = hashlib.blake2b(":".join(map(str, key)).encode(), digest_size=32).digest()
        self._x = int.from_bytes(digest, "big")

    def below(self, n: int) -> int:
        self._x, r = divmod(self._x, n)
        return r

    def pick(self, items: Sequence[str]) -> str:
        return items[self.below(len(items))]


# Deezer localizes artist names by the caller's IP (the earlier crawl, run from Korea, got
# Hangul names for 255 of the id map's 12,640 queries: "프린스" for Prince). This share of
# artists gets a localized name here, which the API gives unless asked for English.
LOCALIZED_ARTIST_PERCENT = 2


def localized(name: str) -> str:
    """A Hangul stand-in for a localized name: one syllable per letter. Not a real
    transliteration; what matters is that YouTube titles do not carry it."""
    return "".join(chr(0xAC00 + 429 * (ord(c) - 97)) if "a" <= c <= "z" else c for c in name.casefold())


def art_track_id(seed: int, track_id: int) -> str:
    """The video id of a track's art track: 11 characters drawn from the track id."""
    draw = _Draw(seed, "art-track", track_id)
    return "".join(draw.pick(_ID_CHARS) for _ in range(11))


def _synthetic_name(seed: int, kind: str, key: int) -> str:
    draw = _Draw(seed, kind, key)
    return f"{draw.pick(_ADJECTIVES)} {draw.pick(_NOUNS)}"


def _split_query(query: str, video_title: str) -> tuple[str, str] | None:
    """Split the id map's "{title} {artist}" query: the longest tail of words that the video's
    title contains is taken as the artist. None when no tail is found."""
    words = query.split()
    lowered = video_title.casefold()
    for k in range(1, len(words)):
        artist = " ".join(words[k:])
        if artist.casefold() in lowered:
            return " ".join(words[:k]), artist
    return None


def track_duration(seed: int, track_id: int) -> int:
    """The track's Deezer duration in seconds (120 to 360), also for tracks the API does not know."""
    return 120 + _Draw(seed, "duration", track_id).below(241)


def preview_offset(seed: int, track_id: int, duration: float) -> float:
    """Where in its recording (``duration`` s long) a track's 30.72 s preview starts: drawn
    uniformly, leaving room for the whole preview (Deezer cuts previews out of the song,
    not always from its start). On an MP3 frame (26 ms), so that the preview's frames are
    the recording's own, as a cut of the master would be."""
    frame = FRAME_SAMPLES / SAMPLE_RATE
    room = int(max(0.0, duration - PREVIEW_SECONDS) / frame)
    return _Draw(seed, "preview-offset", track_id).below(room + 1) * frame


def video_id_of(url: str) -> str | None:
    """The 11-character video id of a youtube.com watch or shorts URL."""
    parts = urlsplit(url)
    candidates = parse_qs(parts.query).get("v", []) + parts.path.rsplit("/", 1)[-1:]
    return next((c for c in candidates if _VIDEO_ID.fullmatch(c)), None)


def _matrix_ids(annotation: bytes) -> list[int]:
    return [int(line.split(b",", 1)[0]) for line in annotation.splitlines()[1:] if line]


def _artist_ids(folds: bytes) -> dict[int, int]:
    """song_id -> Deezer artist id, from ground_truth_folds.csv (song_id,label,artist_id,fold)."""
    ids = {}
    for line in folds.splitlines()[1:]:
        fields = line.split(b",")
        if len(fields) == 4:
            ids[int(fields[0])] = int(fields[2])
    return ids


class _LazyTracks(Mapping[int, TrackSpec]):
    """Track id -> TrackSpec, each spec made on first access: a full-size scenario is built
    in a fraction of a second and a server only pays for the tracks it is asked about."""

    def __init__(self, ids: list[int], make: Callable[[int], TrackSpec]) -> None:
        self._ids = ids
        self._known = set(ids)
        self._make = make
        self._specs: dict[int, TrackSpec] = {}

    def __getitem__(self, tid: int) -> TrackSpec:
        spec = self._specs.get(tid)
        if spec is None:
            if tid not in self._known:
                raise KeyError(tid)
            spec = self._specs[tid] = self._make(tid)  # a race makes an equal spec twice: harmless
        return spec

    def __contains__(self, tid: object) -> bool:
        return tid in self._known

    def __iter__(self) -> Iterator[int]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)


class Scenario:
    """Files to serve, tracks the API knows and videos the YouTube stand-in has.

    Replacing ``files[key]`` changes what is served (to test a tampered or malformed
    file), not the tracks and videos, which are derived once, at construction.

    Three overrides serve a chosen body in place of the healthy one, to test bad inputs:
    ``api_overrides[track_id]`` is the raw body of ``/track/{id}`` (HTTP 200, JSON content
    type, whatever the bytes are; quota answers and injected faults still come first);
    ``preview_overrides[track_id]`` and ``media_overrides[video_id]`` are the bytes the CDN
    and the media host send, as 200 ``audio/mpeg`` with Range support, for a valid signed
    preview URL of the track (dead or not) and for every format of the video. Watch pages,
    manifests and
    API bodies still describe the track and video as the scenario has them.
    """

    def __init__(
        self,
        files: dict[str, bytes],
        *,
        track_ids: Iterable[int] | None = None,
        seed: int = 0,
        no_data_fraction: float = 0.0,
        no_preview_fraction: float = 0.0,
        dead_preview_fraction: float = 0.0,
        wrong_video_fraction: float = 0.0,
        previewless_in_map: bool = False,
        art_track_fraction: float = 0.0,
        live_take_fraction: float = 0.0,
    ) -> None:
        missing = set(PUBLIC_FILES) - set(files)
        if missing:
            raise ValueError(f"Scenario files lack {sorted(missing)}")
        self.files = dict(files)
        self.seed = seed
        # In the matrix's (or the caller's) order, without repeats.
        ids = list(dict.fromkeys(_matrix_ids(files["annotation"]) if track_ids is None else map(int, track_ids)))
        youtube_map: dict[str, dict[str, str]] = json.loads(files["youtube_map"])

        # One shuffle picks disjoint sets with exact sizes: no data, then no preview, then dead.
        order = sorted(ids)
        random.Random(f"{seed}:outcomes").shuffle(order)
        counts = [round(f * len(ids)) for f in (no_data_fraction, no_preview_fraction, dead_preview_fraction)]
        if sum(counts) > len(ids):
            raise ValueError("no_data, no_preview and dead_preview fractions add up to more than 1")
        if previewless_in_map:
            # As on the real service: the id map was made for the tracks whose preview
            # was gone, so those are drawn from the map's tracks first.
            rest = order[counts[0]:]
            order = order[:counts[0]] + [t for t in rest if str(t) in youtube_map] + \
                [t for t in rest if str(t) not in youtube_map]
        cut1, cut2 = counts[0], counts[0] + counts[1]
        self.no_data_ids: set[int] = set(order[:cut1])
        self.no_preview_ids: set[int] = set(order[cut1:cut2])
        self.dead_preview_ids: set[int] = set(order[cut2:cut2 + counts[2]])

        artists = _artist_ids(files["folds"])
        self.tracks: Mapping[int, TrackSpec] = _LazyTracks(
            ids, lambda tid: self._track(tid, artists.get(tid), youtube_map.get(str(tid)))
        )
        # Track id -> the track whose recording it is, where that is another (see recording_of).
        self._recording_track: dict[int, int] = {}
        self.live_take_ids: set[str] = set()  # the id map's videos carrying a live take
        self.videos: dict[str, VideoSpec] = self._videos(youtube_map, wrong_video_fraction, live_take_fraction)
        # Tracks with an art track on YouTube Music (found by ISRC or name), made on demand.
        art = sorted(ids)
        random.Random(f"{seed}:art-tracks").shuffle(art)
        self.art_track_ids: set[int] = set(art[:round(art_track_fraction * len(ids))])
        self._art_tracks: dict[str, int] = {art_track_id(seed, t): t for t in self.art_track_ids}
        self._art_track_list: list[VideoSpec] | None = None   # made on the first music search
        self._art_track_by_isrc: dict[str, str] | None = None
        self._preview_keys: dict[str, int] | None = None
        # Bodies served instead of the healthy ones (see the class docstring).
        self.api_overrides: dict[int, bytes] = {}
        self.preview_overrides: dict[int, bytes] = {}
        self.media_overrides: dict[str, bytes] = {}

    @classmethod
    def from_public_data(
        cls,
        track_ids: Iterable[int] | None = None,
        seed: int = 0,
        no_data_fraction: float = 0.0,
        no_preview_fraction: float = 0.0,
        dead_preview_fraction: float = 0.0,
        wrong_video_fraction: float = 0.0,
        previewless_in_map: bool = False,
        art_track_fraction: float = 0.0,
        live_take_fraction: float = 0.0,
    ) -> Scenario:
        """A scenario serving the real published files (the repository's copy: public_data)."""
        files = {key: read_public(name) for key, name in PUBLIC_FILES.items()}
        return cls(
            files, track_ids=track_ids, seed=seed, no_data_fraction=no_data_fraction,
            no_preview_fraction=no_preview_fraction, dead_preview_fraction=dead_preview_fraction,
            wrong_video_fraction=wrong_video_fraction, previewless_in_map=previewless_in_map,
            art_track_fraction=art_track_fraction, live_take_fraction=live_take_fraction,
        )

    def _track(self, tid: int, artist_id: int | None, mapped: dict[str, str] | None) -> TrackSpec:
        seed = self.seed
        draw = _Draw(seed, "track", tid)
        if artist_id is None:
            artist_id = 10_000_000 + draw.below(90_000_000)
        split = _split_query(mapped["query"], mapped["title"]) if mapped else None
        if split:
            title, artist_name = split
        else:
            title = mapped["query"] if mapped else _synthetic_name(seed, "title", tid)
            artist_name = f"The {_synthetic_name(seed, 'artist', artist_id)}s"
        short, _, version = title.partition(" (")
        album_id = 100_000 + draw.below(900_000_000)
        isrc = (draw.pick(_COUNTRIES) + "".join(draw.pick(_ALNUM) for _ in range(3))
                + f"{draw.below(100):02d}{draw.below(100_000):05d}")
        if tid in self.dead_preview_ids:
            preview: PreviewState = "dead"
        elif tid in self.no_preview_ids:
            preview = "none"
        else:
            preview = "ok"
        return TrackSpec(
            id=tid,
            title=title,
            title_short=short,
            title_version=f"({version}" if version else "",
            artist_id=artist_id,
            artist_name=artist_name,
            album_id=album_id,
            album_title=_synthetic_name(seed, "album", album_id),
            duration=track_duration(seed, tid),
            isrc=isrc,
            release_date=f"{1960 + draw.below(60)}-{1 + draw.below(12):02d}-{1 + draw.below(28):02d}",
            bpm=70 + draw.below(111),
            gain=-round(4 + draw.below(120) / 10, 1),
            rank=10_000 + draw.below(990_000),
            track_position=1 + draw.below(14),
            readable=not (preview == "none" and draw.below(2)),  # like Deezer: some unreadable
            preview=preview,
            artist_name_localized=(localized(artist_name) if _Draw(seed, "localized", artist_id).below(100)
                                   < LOCALIZED_ARTIST_PERCENT else ""),
        )

    def _videos(self, youtube_map: dict[str, dict[str, str]], wrong_fraction: float,
                live_fraction: float) -> dict[str, VideoSpec]:
        first: dict[str, tuple[int, str]] = {}  # video id -> (track id, title), first entry wins
        for key, entry in youtube_map.items():
            vid = video_id_of(entry.get("url", ""))
            if vid and vid not in first:
                first[vid] = (int(key), entry.get("title", ""))
            elif vid:  # one recording released under several Deezer ids (single, album, best-of)
                self._recording_track[int(key)] = first[vid][0]
        wrong = set(random.Random(f"{self.seed}:wrong-videos").sample(sorted(first), round(wrong_fraction * len(first))))
        rest = sorted(set(first) - wrong)
        live_count = round(live_fraction * len(first))
        if live_count > len(rest):
            raise ValueError("wrong_video and live_take fractions add up to more than 1")
        self.live_take_ids = set(random.Random(f"{self.seed}:live-takes").sample(rest, live_count))
        videos = {}
        for vid, (tid, title) in first.items():
            duration = track_duration(self.seed, tid)
            if vid in wrong:
                duration = round(duration * 2.5)
            else:
                duration += _Draw(self.seed, "video", vid).below(5) - 2  # +-2 s, as re-uploads are
            take = "live" if vid in self.live_take_ids else "master"
            videos[vid] = VideoSpec(vid, tid, title, duration, vid in wrong, take=take)
        return videos

    def add_video(self, video_id: str, title: str, duration: int, *, track_id: int | None = None,
                  wrong: bool = False, take: str = "master") -> VideoSpec:
        """Add (or replace) a video, e.g. a search result the id map does not name."""
        if not _VIDEO_ID.fullmatch(video_id):
            raise ValueError(f"a video id is 11 characters of [A-Za-z0-9_-], not {video_id!r}")
        if take not in ("master", "live"):
            raise ValueError(f"a video's take is 'master' or 'live', not {take!r}")
        self.videos[video_id] = VideoSpec(video_id, track_id, title, duration, wrong, take=take)
        return self.videos[video_id]

    def video(self, video_id: str) -> VideoSpec | None:
        """A video of the YouTube stand-in: an uploaded one, or a track's art track."""
        video = self.videos.get(video_id)
        if video is None and video_id in self._art_tracks:
            tid = self._art_tracks[video_id]
            track = self.tracks[tid]
            video = VideoSpec(video_id, tid, track.title, track.duration,
                              channel=f"{track.artist_name} - Topic", artist=track.artist_name)
        return video

    def art_tracks(self) -> list[VideoSpec]:
        if self._art_track_list is None:  # a race makes an equal list twice: harmless
            self._art_track_list = [v for v in map(self.video, sorted(self._art_tracks)) if v is not None]
        return self._art_track_list

    def art_track_by_isrc(self, isrc: str) -> VideoSpec | None:
        if self._art_track_by_isrc is None:
            self._art_track_by_isrc = {self.tracks[t].isrc: vid for vid, t in self._art_tracks.items()}
        video_id = self._art_track_by_isrc.get(isrc)
        return self.video(video_id) if video_id else None

    def recording_of(self, track_id: int) -> str:
        """The key of a track's recording (its master; see ``media.recording``). Tracks of the
        id map that name the same video are one recording released under several Deezer ids
        (a single, its album, a best-of): the first of them in the map's order names it."""
        return f"track:{self._recording_track.get(track_id, track_id)}"

    def recording_seconds(self, track_id: int) -> int:
        """How long a track's recording lasts: the Deezer duration of the track naming it."""
        return track_duration(self.seed, self._recording_track.get(track_id, track_id))

    def preview_excerpt(self, track_id: int) -> tuple[str, int, float]:
        """What a track's preview is cut from: (recording key, its seconds, offset s), the
        arguments of ``audio.preview_mp3`` after the track id."""
        seconds = self.recording_seconds(track_id)
        return self.recording_of(track_id), seconds, preview_offset(self.seed, track_id, seconds)  # the module function

    def preview_offset(self, track_id: int) -> float:
        """Where in its recording (and so in a video of it) a track's preview starts, in s."""
        return self.preview_excerpt(track_id)[2]

    def video_recording(self, video: VideoSpec) -> str:
        """The key of the recording a video carries, played from its second 0: its track's
        master (an upload of the release, or the art track), a live take of it, or, for a
        wrong video (a full album, a TV clip) or one of no track, a recording of its own."""
        if video.track_id is None or video.wrong:
            return f"video:{video.video_id}"
        master = self.recording_of(video.track_id)
        return f"live:{master}" if video.take == "live" else master  # media.LIVE_PREFIX

    def answers(self, track_id: int) -> TrackSpec | None:
        """The track the API describes for this id, None where it answers "no data"."""
        return None if track_id in self.no_data_ids else self.tracks.get(track_id)

    def preview_key(self, track_id: int) -> str:
        """The 32 hex digits naming a track's preview on the CDN."""
        return hashlib.md5(f"{self.seed}:preview:{track_id}".encode()).hexdigest()

    def track_for_preview_key(self, key: str) -> int | None:
        if self._preview_keys is None:  # built on the first CDN request: construction stays cheap
            self._preview_keys = {self.preview_key(tid): tid for tid in self.tracks}
        return self._preview_keys.get(key)
