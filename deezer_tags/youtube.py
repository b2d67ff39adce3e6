"""The YouTube fallback: a 30 s clip of the same recording, for tracks Deezer has no preview of.

For one track, candidates come from four sources, in this order; the first acceptable one
is fetched, and the evidence says which source found it (``found_by``):
1. ``isrc``: YouTube Music's song search for the track's ISRC. Its songs are the labels'
   own uploads ("Artist - Topic") of the master Deezer streams.
2. ``id_map``: the published id map's video, checked like any search result, because the
   map is the first hit of a scraped search and hundreds of its entries are other
   recordings or not music.
3. ``music_search``: YouTube Music's song search for "artist title".
4. ``search``: YouTube's video search for "artist title".
Every candidate looked at goes into the evidence, with every check of the judge
(``deezer_tags.matching``) and the reason it was taken or refused. A search that fails
after its retries makes the track "failed" (retried by the next build) rather than let a
later source choose: the same world always gives the same clip.

Only a section is fetched, never the whole video: yt-dlp resolves the watch page to a media
URL (it must be on the configured media hosts), then ffmpeg reads 30 s from it with a Range
request (deezer_tags.ffmpeg). The section starts at the middle of the video (duration/2 -
15 s, where the chorus usually is), at 0 (`section_start="start"`), or at a given number
of seconds (kept inside the video).

The id map's URLs are never handed to yt-dlp: the engine takes the 11-character video id
from a URL on a YouTube host and formats the configured watch URL with it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from http.cookiejar import LoadError
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlsplit

import requests
import yt_dlp
from yt_dlp.cookies import SUPPORTED_BROWSERS, YoutubeDLCookieJar
from yt_dlp.utils import DownloadError, unsmuggle_url

from deezer_tags import acoustic
from deezer_tags.audio import InvalidAudio, checked_clip
from deezer_tags.errors import MalformedSourceError, UserError
from deezer_tags.ffmpeg import FfmpegFailed, fetch_section, ffmpeg_dir, ffmpeg_exe
from deezer_tags.manifest import YOUTUBE
from deezer_tags.matching import NO_ARTIST, NO_DURATION, NO_TITLE, Candidate, Track, Verdict, judge, rules
from deezer_tags.previews import StoredAudio
from deezer_tags.recipe import DURATION_SLACK, RecipeRow
from deezer_tags.private_tmp import make_private_folder
from deezer_tags.relay import MediaRelay
from deezer_tags.seekpoints import HEAD_BYTES, seek_points
from deezer_tags.sources import Endpoints

log = logging.getLogger("deezer_tags.youtube")

# Candidate sources, in the order they are asked (see the module docstring).
SOURCES = ("isrc", "id_map", "music_search", "search")
_ISRC = re.compile(r"[A-Z]{2}[A-Z0-9]{3}\d{7}")

# Fetching.
ATTEMPTS = 3             # per candidate (and per search) on transient errors
BACKOFF = 0.5            # seconds before the 2nd attempt, doubled after
SOCKET_TIMEOUT = 20.0    # yt-dlp's, seconds
FFMPEG_TIMEOUT = 180.0   # one section, seconds
CLIP_SLACK = 1.0         # seconds a clip may be shorter or longer than asked (frame rounding)
# YouTube's DASH files index their audio every ~10 s (sidx subsegments, WebM cues): ffmpeg's
# seek lands on the index point before the section's start, 5 s early on average. The
# "middle" section therefore starts just after the index point before the middle (see
# seekpoints): ffmpeg's seek lands on it and reads nothing it throws away.
SEEK_LANDING = 5.0       # seconds read before the section when its start is not on an index point
AFTER_INDEX_POINT = 0.1  # seconds: past the point, so that rounding and Opus's 80 ms pre-roll land on it
FORMAT = "bestaudio/best"
# The calibration hears a whole stream: AAC (itag 140, on every YouTube video) decodes in half
# the CPU time of Opus (0.7 against 1.4 CPU-s for 5 minutes, measured), and both formats of
# a video carry the same recording, which is all the calibration asks about.
LISTEN_FORMAT = "140/bestaudio[acodec^=mp4a]/bestaudio/best"
# yt-dlp options a user may not set through youtube_options, and why: the engine owns them.
ENGINE_OWNED_OPTIONS = {
    "skip_download": "the engine fetches only a section, never the file",
    "simulate": "the engine fetches only a section, never the file",
    "outtmpl": "the engine names and places every file itself",
    "paths": "the engine names and places every file itself",
    "postprocessors": "the engine cuts and converts the section itself",
    "postprocessor_args": "the engine cuts and converts the section itself",
    "postprocessor_hooks": "the engine cuts and converts the section itself",
    "progress_hooks": "the engine reports progress itself",
    "external_downloader": "the engine fetches only a section, through its relay",
    "download_archive": "the manifest is the build's record",
    "noplaylist": "a watch URL must give one video",
    "extract_flat": "searches are read flat, candidates one by one",
    "playlistend": "search_results sets how many results are judged",
    "logger": "yt-dlp's messages go to the engine's log",
    "cookiefile": "pass the cookies file as youtube_cookies (it is copied per thread)",
    "cookiesfrombrowser": "pass the browser as youtube_cookies_from_browser",
    "ffmpeg_location": "the engine chooses ffmpeg",
    "cachedir": "yt-dlp's cache lives in the recoverer's private folder",
}

# Used with fullmatch: "^...$" with match() lets a trailing newline ("?v=<id>%0A") through.
_VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")
_VIDEO_PATHS = ("shorts", "embed", "v", "live")  # youtube.com/<one of these>/<id>
# What yt-dlp and ffmpeg say when YouTube takes us for a bot or throttles us (its session
# rate limit reads "Video unavailable. This content isn't available, try again later").
_BLOCKED = ("not a bot", "http error 429", "too many requests", "429 too many", "rate-limited",
            "try again later")
# Says "not available" but is worth another build: e.g. no JavaScript runtime for yt-dlp.
_NOT_GONE = ("requested format is not available",)
# A video that is gone or closed to us: that candidate is refused, the next one tried.
_GONE = ("video unavailable", "http error 404", "http error 410", "private video", "is private",
         "has been removed", "is not available", "no longer available", "unsupported url",
         "confirm your age", "members-only", "members only")


class YouTubeBlocked(Exception):
    """YouTube refuses us (bot check / "Sign in to confirm you're not a bot" / HTTP 429): the
    pipeline pauses the YouTube stream and tells the user once; ``detail`` is what YouTube said."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            "YouTube is refusing this machine's requests (bot check or HTTP 429), so the YouTube "
            "fallback stopped; pass a cookies file from a browser signed in to YouTube "
            "(the youtube_cookies option, yt-dlp's cookiefile) or run the build again later: it resumes."
        )
        self.detail = detail


@dataclass(frozen=True)
class YouTubeOutcome:
    """What became of one track. Each candidate in ``evidence["candidates"]`` has a verdict:
    "accepted" (fetched), "refused" (with the reason), "failed" (transient errors, every
    attempt) or "acceptable" (passed on the search page, not needed: a better one was taken)."""

    status: str                 # "ok" | "none" (no acceptable candidate: final) | "failed" (transient)
    video_id: str | None        # the chosen video (or the best refused one)
    evidence: dict              # JSON-serialisable: the query, the checks, every candidate
    error: str | None
    audio: StoredAudio | None


def parse_youtube_map(text: str, source: str = "the YouTube id map") -> dict[int, dict]:
    """track id -> {"url", "title", "query"}, entries kept as given: each is checked when
    its track is recovered, so one bad entry does not sink the build."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise MalformedSourceError(
            f"{source} is not valid JSON ({error.msg} at line {error.lineno}); "
            "point youtube_map_url at an intact copy of id_to_url.json"
        ) from None
    if not isinstance(data, dict):
        raise MalformedSourceError(
            f"{source} is a JSON {type(data).__name__}, not an object of track id -> entry; "
            "point youtube_map_url at id_to_url.json"
        )
    parsed: dict[int, dict] = {}
    for key, entry in data.items():
        if not (key.isascii() and key.isdigit() and int(key) > 0):
            raise MalformedSourceError(
                f"{source} has the key {key[:40]!r}, which is not a positive integer track id; "
                "point youtube_map_url at an intact copy of id_to_url.json"
            )
        if not isinstance(entry, dict):
            raise MalformedSourceError(
                f"{source} maps track {key} to a JSON {type(entry).__name__}, not an object with "
                "url, title and query; point youtube_map_url at an intact copy of id_to_url.json"
            )
        parsed[int(key)] = entry
    return parsed


# -- video ids ---------------------------------------------------------------------------

def video_id_of(url: str) -> str | None:
    """The video id in a watch URL (?v=), a youtu.be link or a /shorts/, /embed/ ... path."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    segments = [s for s in parts.path.split("/") if s]
    candidates = parse_qs(parts.query).get("v", [])
    if (parts.hostname or "").endswith("youtu.be") and segments:
        candidates.append(segments[0])
    if len(segments) == 2 and segments[0] in _VIDEO_PATHS:
        candidates.append(segments[1])
    return next((c for c in candidates if _VIDEO_ID.fullmatch(c)), None)


def map_video_id(entry: Mapping[str, Any], endpoints: Endpoints) -> tuple[str | None, str | None]:
    """(video id, None) for an id map entry we may use, else (None, why it is refused)."""
    url = entry.get("url")
    if not isinstance(url, str) or not url:
        return None, "the id map entry has no URL"
    shown = url if len(url) <= 80 else url[:79] + "…"
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None, f"the id map URL {shown!r} is not a valid URL"
    if scheme not in ("http", "https"):
        return None, f"the id map URL {shown!r} is not http(s)"
    if not endpoints.is_youtube_url(url):
        return None, f"the id map URL {shown!r} is not on a YouTube host"
    video_id = video_id_of(url)
    if video_id is None:
        return None, f"the id map URL {shown!r} holds no valid 11-character video id"
    return video_id, None


# -- matching ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Wanted:
    """What the right video must match (``track``), and what the searches ask for."""

    track: Track
    query: str            # "artist title", for the name searches
    isrc: str | None

    @classmethod
    def of(cls, metadata: Mapping[str, Any] | None, entry: Mapping[str, Any] | None) -> Wanted | None:
        """From Deezer's metadata, else from the id map's query ("title artist")."""
        track = Track.from_metadata(metadata or {})
        if track is not None:
            isrc = (metadata or {}).get("isrc")
            isrc = isrc.strip().upper() if isinstance(isrc, str) and _ISRC.fullmatch(isrc.strip().upper()) else None
            artist = track.artists[0] if track.artists else ""
            return cls(track, f"{artist} {track.title}".strip(), isrc)
        query = (entry or {}).get("query")
        if isinstance(query, str) and query.strip():
            return cls(Track.from_query(query), query.strip(), None)
        return None

    def as_dict(self) -> dict:
        track = self.track
        return {"title": track.title, "title_version": track.title_version or None,
                "artists": list(track.artists), "duration": track.duration, "isrc": self.isrc}


def undecided(verdict: Verdict, candidate: Candidate) -> bool:
    """Acceptable, or refused only for want of what a watch page has (a title, a duration,
    the channel that may name the artist)."""
    return verdict.refusal in (None, NO_TITLE, NO_DURATION) or (
        verdict.refusal == NO_ARTIST and candidate.channel is None)


def classify_error(message: str) -> str:
    """'blocked', 'gone' or 'transient', from what yt-dlp or ffmpeg said."""
    lowered = message.lower()
    if any(p in lowered for p in _BLOCKED):
        return "blocked"
    if any(p in lowered for p in _GONE) and not any(p in lowered for p in _NOT_GONE):
        return "gone"
    return "transient"


# -- the recoverer -----------------------------------------------------------------------

class _Refused(Exception):
    """This candidate is not the track's recording, or cannot be had: try the next one."""


class _Transient(Exception):
    """Worth another attempt (network, 5xx, damaged media)."""


class _YdlLogger:
    """yt-dlp's messages go to our debug log: its errors come back as exceptions anyway."""

    def debug(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    info = warning = error = debug


class YouTubeRecoverer:
    """Recovers tracks from YouTube; ``recover`` may be called from several threads at once
    (each thread gets its own yt-dlp instances)."""

    def __init__(self, endpoints: Endpoints, youtube_map: Mapping[int, dict], *, search_results: int = 5,
                 section_start: str | float = "middle", section_seconds: float = 30.0,
                 cookies: str | None = None, ffmpeg: str | None = None,
                 recipe: Mapping[int, RecipeRow] | None = None, options: Mapping[str, Any] | None = None,
                 cookies_from_browser: str | None = None) -> None:
        if search_results < 1:
            raise ValueError(f"search_results must be at least 1, got {search_results}")
        if section_seconds <= 0:
            raise ValueError(f"section_seconds must be positive, got {section_seconds}")
        self.endpoints = endpoints
        self.youtube_map = youtube_map
        self.recipe = recipe or {}  # track id -> the clip another build chose (deezer_tags.recipe)
        self.search_results = search_results
        self.section_start = _section_rule(section_start)
        self.section_seconds = float(section_seconds)
        self.ffmpeg = ffmpeg or ffmpeg_exe()
        if cookies is not None:
            _check_cookies(cookies)
        self.cookies = cookies
        # What the user tunes when YouTube pushes back (extractor_args, proxy, sleeps, rates).
        self.options = check_youtube_options(options or {})
        self.cookies_from_browser = _browser(cookies_from_browser) if cookies_from_browser else None
        # yt-dlp's cache, the ffmpeg link and per-thread cookie copies: nothing outside this folder.
        self._tmp = make_private_folder()
        self._ffmpeg_location = ffmpeg_dir(self.ffmpeg, self._tmp / "bin")
        self._local = threading.local()
        self._instances: list[yt_dlp.YoutubeDL] = []
        self._instances_lock = threading.Lock()
        self._relay = MediaRelay()  # ffmpeg reads the media through it: checked bytes only
        self._finalizer = weakref.finalize(self, _cleanup, self._instances, self._relay, self._tmp)

    def close(self) -> None:
        self._finalizer()

    def __enter__(self) -> YouTubeRecoverer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one track -----------------------------------------------------------------------

    def recover(self, track_id: int, metadata: dict | None, dest: Path) -> YouTubeOutcome:
        """Find the track's recording on YouTube and store a section of it at ``dest``.
        Raises YouTubeBlocked; every other problem is an outcome."""
        dest = Path(dest)

        def section(media_url: str, headers: Mapping[str, str] | None, info: dict, run: _Run) -> StoredAudio:
            start = self._start(info.get("duration"), run.wanted.track.duration)
            start, landing = self._on_index_point(media_url, headers, start, run)
            audio = self._fetch(media_url, headers, start, info.get("duration"), dest, run,
                                section_bytes=self._section_bytes(info, landing))
            run.evidence["section_start"] = round(start, 3)
            return audio

        return self._recover(track_id, metadata, section, dest, "resolve")

    def listen(self, track_id: int, metadata: dict | None) -> YouTubeOutcome:
        """What ``recover`` would choose for the track, found exactly as ``recover`` finds it
        (the same sources, judge and format; no recipe), with the chosen video's whole audio
        stream decoded instead of a section stored: ``audio`` is a ``Heard``. The calibration
        compares it with the track's preview (deezer_tags.calibration)."""
        return self._recover(track_id, metadata, self._hear, None, "listen")

    def _recover(self, track_id: int, metadata: dict | None, fetch: Callable[..., Any],
                 dest: Path | None, purpose: str) -> YouTubeOutcome:
        """``fetch`` takes the chosen video; ``purpose`` ("resolve" or "listen") picks the format rule."""
        track_id = int(track_id)
        entry = self.youtube_map.get(track_id)
        wanted = Wanted.of(metadata, entry)
        run = _Run(wanted, self.section_start)
        if dest is not None:
            followed = self._follow_recipe(track_id, run, dest)
            if followed is not None:
                return followed
        if wanted is None:
            return run.outcome("none", "no Deezer metadata and no id map entry: nothing to search for")
        for source in SOURCES:
            try:
                candidates = self._candidates(source, entry, run)
            except _Transient as error:
                return run.outcome("failed", f"the {source.replace('_', ' ')} failed: {error}")
            for video_id, candidate in candidates:
                audio = self._try(video_id, candidate, run, fetch, purpose=purpose)
                if audio:
                    run.evidence["found_by"] = source
                    return run.outcome("ok", audio=audio, video_id=video_id)
            if run.transient:  # a later source might choose another video than a healthy run
                return run.outcome("failed", run.transient[-1])
        return run.outcome("none", f"no acceptable video among {len(run.candidates)} candidates")

    def _follow_recipe(self, track_id: int, run: _Run, dest: Path) -> YouTubeOutcome | None:
        """The recipe's video at the recipe's section; None (and the evidence says why) when
        the track has no YouTube row or its video fails the checks: the normal recovery follows."""
        row = self.recipe.get(track_id)
        if row is None or row.audio_source != YOUTUBE or row.youtube_video_id is None:
            return None
        candidate = run.add("recipe", row.youtube_video_id)

        def recipe_section(media_url: str, headers: Mapping[str, str] | None, info: dict, run: _Run) -> StoredAudio:
            audio = self._fetch(media_url, headers, row.section_start, info.get("duration"), dest, run,
                                section_bytes=self._section_bytes(info))
            run.evidence["section_start"] = round(row.section_start, 3)
            return audio

        audio = self._try(row.youtube_video_id, candidate, run, recipe_section, recipe=row)
        if audio:
            run.evidence.update(found_by=row.youtube_found_by, recipe="followed")
            return run.outcome("ok", audio=audio, video_id=row.youtube_video_id)
        if run.transient:  # worth another build, not another video
            return run.outcome("failed", run.transient[-1])
        run.evidence["recipe"] = f"fell back: {candidate['reason']}"
        return None

    def _candidates(self, source: str, entry: Mapping[str, Any] | None, run: _Run) -> list[tuple[str, dict]]:
        """The candidates ``source`` offers, best first (none when it has nothing to ask)."""
        wanted = run.wanted
        music = self.endpoints.youtube_music_search_url != "off"
        if source == "id_map":
            if entry is None:
                return []
            video_id, refusal = map_video_id(entry, self.endpoints)
            candidate = run.add("id_map", video_id)
            if refusal:
                candidate["reason"] = refusal
                return []
            return [(video_id, candidate)]
        if source == "isrc" and not (music and wanted.isrc):
            return []
        if source == "music_search" and not (music and wanted.track.artists):
            return []  # without Deezer's metadata the video search alone asks for the query
        query = wanted.isrc if source == "isrc" else wanted.query
        run.evidence["queries"][source] = query
        if source == "search":
            run.evidence["query"] = query
        template = self.endpoints.youtube_search_url if source == "search" else self.endpoints.youtube_music_search_url
        return self._shortlist(self._search(template, query), run, source)

    def _shortlist(self, entries: list[dict], run: _Run, source: str) -> list[tuple[str, dict]]:
        """Search results worth resolving, best first, judged on what the search page says."""
        ranked = []
        for rank, entry in enumerate(entries):
            video_id = entry.get("id")
            if not _VIDEO_ID.fullmatch(str(video_id)):
                video_id = video_id_of(str(entry.get("url")))
            if video_id is not None and video_id in run.seen:
                continue  # judged already, from an earlier source
            candidate = run.add(source, video_id, entry.get("title"), entry.get("duration"))
            if video_id is None:
                candidate["reason"] = "the search result is not a video"
                continue
            verdict, seen = run.judge(candidate, entry)
            if undecided(verdict, seen):
                ranked.append((-verdict.score, abs(verdict.duration_delta or 0.0), rank, video_id, candidate))
        return [(video_id, candidate) for *_, video_id, candidate in sorted(ranked)]

    def _try(self, video_id: str, candidate: dict, run: _Run, fetch: Callable[..., Any],
             recipe: RecipeRow | None = None, purpose: str = "resolve") -> Any:
        """Resolve, check and fetch one candidate, with bounded retries on transient errors;
        what ``fetch`` (media URL, headers, info, run) returned, or None (the candidate's
        verdict says why). A recipe's video is not judged again: it must last as long as it did."""
        problem = ""
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(BACKOFF * 2 ** (attempt - 1))
            try:
                info = self._resolve(video_id)
                if recipe is None:
                    verdict, _ = run.judge(candidate, info)
                    if verdict.refusal:
                        return None
                else:
                    _check_recipe_video(recipe, info, candidate)
                info = self._choose_format(info, purpose)
                media_url = self._media_url(info)
                audio = fetch(media_url, info.get("http_headers"), info, run)
            except _Refused as refusal:
                candidate.update(verdict="refused", reason=str(refusal))
                return None
            except _Transient as error:
                problem = str(error)
                continue
            candidate.update(verdict="accepted", reason=None)
            return audio
        candidate.update(verdict="failed", reason=f"{problem} ({ATTEMPTS} attempts)")
        run.transient.append(f"video {video_id}: {problem} ({ATTEMPTS} attempts)")
        return None

    # -- yt-dlp --------------------------------------------------------------------------

    def _ydl(self, purpose: str) -> yt_dlp.YoutubeDL:
        """This thread's yt-dlp for ``purpose`` ("resolve", "listen" or "search"): instances are not thread-safe."""
        ydl = getattr(self._local, purpose, None)
        if ydl is None:
            options: dict[str, Any] = {
                "format": LISTEN_FORMAT if purpose == "listen" else FORMAT,
                "quiet": True, "no_warnings": True, "noprogress": True,
                "logger": _YdlLogger(), "cachedir": str(self._tmp / "cache"),
                "socket_timeout": SOCKET_TIMEOUT, "noplaylist": True, "skip_download": True,
                "ffmpeg_location": str(self._ffmpeg_location),
            }
            options.update(self.options)
            if self.cookies_from_browser:
                options["cookiesfrombrowser"] = self.cookies_from_browser
            if purpose == "search":
                options.update(extract_flat="in_playlist", playlistend=self.search_results)
            if self.cookies:
                # A copy per thread: yt-dlp writes its cookie jar back on close.
                copy = self._tmp / f"cookies-{threading.get_ident()}-{purpose}.txt"
                shutil.copyfile(self.cookies, copy)
                options["cookiefile"] = str(copy)
            ydl = yt_dlp.YoutubeDL(options)
            setattr(self._local, purpose, ydl)
            with self._instances_lock:
                self._instances.append(ydl)
        return ydl

    def _extract(self, purpose: str, url: str, *, process: bool = True) -> dict:
        return self._run_ydl(lambda ydl: ydl.extract_info(url, download=False, process=process), purpose)

    def _run_ydl(self, call: Callable[[yt_dlp.YoutubeDL], Any], purpose: str) -> dict:
        try:
            info = call(self._ydl(purpose))
        except DownloadError as error:
            message = _clean(str(error))
            kind = classify_error(message)
            if kind == "blocked":
                raise YouTubeBlocked(message) from None
            raise (_Refused if kind == "gone" else _Transient)(message) from None
        if not isinstance(info, dict):
            raise _Transient("yt-dlp returned nothing")
        return info

    def _resolve(self, video_id: str) -> dict:
        """The watch page's title, duration and formats, no format chosen yet: a candidate
        is judged before anything of its media is requested."""
        url = self.endpoints.youtube_watch_url.replace("{video_id}", video_id)
        return self._extract("resolve", url, process=False)

    def _choose_format(self, info: dict, purpose: str = "resolve") -> dict:
        """The info with FORMAT chosen. A page that only points elsewhere (the generic
        extractor's JSON-LD contentUrl) is followed only to a media host."""
        if info.get("_type") in ("url", "url_transparent"):
            target, _ = unsmuggle_url(str(info.get("url")))
            if not self.endpoints.is_media_url(target):
                raise _Refused(f"the watch page points at {urlsplit(target).hostname!r}, not a configured media host")
        return self._run_ydl(lambda ydl: ydl.process_ie_result(info, download=False), purpose)

    def _search(self, template: str, query: str) -> list[dict]:
        url = (f"ytsearch{self.search_results}:{query}" if template == "ytsearch"
               else template.replace("{query}", quote_plus(query)))
        problem = ""
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(BACKOFF * 2 ** (attempt - 1))
            try:
                info = self._extract("search", url)
            except (_Transient, _Refused) as error:  # a search page that is not there: a setup problem
                problem = str(error)
                continue
            return [e for e in list(info.get("entries") or [])[: self.search_results] if isinstance(e, dict)]
        raise _Transient(f"{problem} ({ATTEMPTS} attempts)")

    def _media_url(self, info: dict) -> str:
        if info.get("is_live") or info.get("live_status") in ("is_live", "is_upcoming"):
            raise _Refused("a live stream, not a recording")
        url = info.get("url")
        if isinstance(url, str):
            url, _ = unsmuggle_url(url)  # the generic extractor's notes to itself, after a "#"
        if not isinstance(url, str) or info.get("protocol") not in ("http", "https"):
            raise _Refused(f"no audio as a plain HTTP file (protocol {info.get('protocol')})")
        if not self.endpoints.is_media_url(url):
            raise _Refused(f"the media URL's host {urlsplit(url).hostname!r} is not a configured media host")
        return url

    # -- the section ---------------------------------------------------------------------

    def _start(self, video_duration: float | None, track_duration: float | None) -> float:
        duration = video_duration or track_duration
        if self.section_start == "start":
            return 0.0
        if self.section_start == "middle":
            return max(0.0, duration / 2 - self.section_seconds / 2) if duration else 0.0
        start = float(self.section_start)
        return min(start, max(0.0, duration - self.section_seconds)) if duration else start

    def _on_index_point(self, media_url: str, headers: Mapping[str, str] | None, start: float,
                        run: _Run) -> tuple[float, float]:
        """The "middle" section's start moved back to just after the file's index point
        before it, when the file's head lists them (YouTube's DASH formats), and the seconds
        ffmpeg will read before the start. A head that could not be read is a transient
        failure, not a reason to cut elsewhere: the start must not depend on the network."""
        if self.section_start != "middle":
            return start, SEEK_LANDING
        with self._relay.relaying(media_url, headers) as (local_url, relayed):
            try:
                answer = requests.get(local_url, headers={"Range": f"bytes=0-{HEAD_BYTES - 1}"},
                                      timeout=(10, FFMPEG_TIMEOUT))
            except requests.RequestException as error:
                raise _Transient(f"the media's head: {relayed.failure or type(error).__name__}") from None
            finally:
                run.bytes_fetched += relayed.bytes_fetched
        if answer.status_code not in (200, 206) or relayed.failure:
            said = f"the media's head: {relayed.failure or f'HTTP {answer.status_code}'}"
            if answer.status_code == 429 or classify_error(said) == "blocked":
                raise YouTubeBlocked(said)
            raise _Transient(said)
        points = [p for p in seek_points(answer.content) if p + AFTER_INDEX_POINT <= start]
        if not points:
            return start, SEEK_LANDING
        return round(points[-1] + AFTER_INDEX_POINT, 3), 0.0

    def _section_bytes(self, info: dict, landing: float = SEEK_LANDING) -> int | None:
        """The bytes ffmpeg reads of the chosen format from its seek on, from the format's
        size and duration (or its bitrate): the relay asks the media host for about that."""
        filesize, duration = info.get("filesize"), info.get("duration")
        if isinstance(filesize, (int, float)) and isinstance(duration, (int, float)) and filesize > 0 and duration > 0:
            rate = filesize / duration
        else:
            kbps = info.get("abr") or info.get("tbr")
            if not isinstance(kbps, (int, float)) or kbps <= 0:
                return None
            rate = kbps * 1000 / 8
        return round(rate * (self.section_seconds + landing))

    def _fetch(self, media_url: str, headers: Mapping[str, str] | None, start: float,
               duration: float | None, dest: Path, run: _Run, *, section_bytes: int | None = None) -> StoredAudio:
        """ffmpeg cuts the section into a temp file next to ``dest``; checked, it replaces ``dest``.

        ffmpeg reads the media through the relay (see ``relay``), which hands it only whole
        answers, each byte read once, in ranges sized to the section: a cut-off or slow
        answer once shifted clips by a frame with nothing in ffmpeg's log."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        os.close(handle)
        tmp = Path(tmp_name)
        try:
            stats = self._through_relay(
                media_url, headers, run, section_bytes=section_bytes,
                read=lambda local_url: fetch_section(local_url, tmp, start=start, seconds=self.section_seconds,
                                                     exe=self.ffmpeg, timeout=FFMPEG_TIMEOUT))
            if stats.decode_errors:
                raise _Transient(f"the media arrived damaged ({stats.decode_errors} decode errors)")
            data = tmp.read_bytes()
            length = min(self.section_seconds, duration - start) if duration else self.section_seconds
            try:
                info = checked_clip(data, min_seconds=length - CLIP_SLACK,
                                    max_seconds=self.section_seconds + CLIP_SLACK)
            except InvalidAudio as problem:
                raise _Transient(f"the section is not a valid clip: {problem}") from None
            os.replace(tmp, dest)
            return StoredAudio(dest, hashlib.sha256(data).hexdigest(), round(info.duration, 3), run.bytes_fetched)
        finally:
            tmp.unlink(missing_ok=True)

    def _hear(self, media_url: str, headers: Mapping[str, str] | None, info: dict, run: _Run) -> Heard:
        """The chosen format's whole audio stream, read through the relay once and decoded
        by ffmpeg to mono samples (acoustic.RATE): enough to find any 30 s preview in it."""
        samples = self._through_relay(media_url, headers, run, read=lambda local_url: acoustic.decode(
            local_url, exe=self.ffmpeg, timeout=FFMPEG_TIMEOUT))
        return Heard(samples, run.bytes_fetched, str(info.get("format_id")))

    def _through_relay(self, media_url: str, headers: Mapping[str, str] | None, run: _Run,
                       read: Callable[[str], Any], *, section_bytes: int | None = None) -> Any:
        """``read(local URL)``: ffmpeg reading the media through the relay. A 429 before or
        during the read raises YouTubeBlocked; any other failure of ffmpeg or of the relay is
        transient. The bytes the relay fetched are counted either way."""
        with self._relay.relaying(media_url, headers, section_bytes=section_bytes) as (local_url, relayed):
            try:
                result = read(local_url)
            except (FfmpegFailed, acoustic.DecodeFailed) as error:
                for said in (str(error), relayed.failure or ""):
                    if classify_error(said) == "blocked":
                        raise YouTubeBlocked(said) from None
                raise _Transient(f"ffmpeg: {relayed.failure or error}") from None
            finally:
                run.bytes_fetched += relayed.bytes_fetched
        if relayed.failure:
            if classify_error(relayed.failure) == "blocked":  # 429 in the middle of the read
                raise YouTubeBlocked(f"the media host: {relayed.failure}")
            raise _Transient(f"the media host: {relayed.failure}")
        return result


@dataclass(frozen=True)
class Heard:
    """A video's whole audio stream, decoded for the calibration (never stored)."""

    samples: Any          # numpy float32, mono, acoustic.RATE
    bytes_fetched: int    # media bytes this track's recovery read
    format_id: str


class _Run:
    """The evidence gathered while recovering one track."""

    def __init__(self, wanted: Wanted | None, section_rule: str | float) -> None:
        self.wanted = wanted
        self.candidates: list[dict] = []
        self.seen: set[str] = set()
        self.transient: list[str] = []
        self.bytes_fetched = 0
        track = wanted.track if wanted else None
        self.evidence: dict[str, Any] = {
            "expected": wanted.as_dict() if wanted else None,
            "duration_checked": bool(track and track.duration),
            "duration_tolerance": round(track.tolerance(), 1) if track and track.duration else None,
            "rules": rules(),
            "query": None,           # the video search's, when it was asked
            "queries": {},           # every search asked, by source
            "found_by": None,        # the source of the accepted candidate
            "section_rule": section_rule,
            "section_start": None,
            "candidates": self.candidates,
        }

    def add(self, source: str, video_id: str | None, title: object = None, duration: object = None) -> dict:
        if video_id:
            self.seen.add(video_id)
        candidate = {"source": source, "video_id": video_id, "title": _text(title), "duration": _number(duration),
                     "channel": None, "title_score": None, "duration_delta": None, "checks": None,
                     "verdict": "refused", "reason": None}
        self.candidates.append(candidate)
        return candidate

    def judge(self, candidate: dict, info: Mapping[str, Any]) -> tuple[Verdict, Candidate]:
        """Judge a search entry or a watch page's info; the candidate's record is updated."""
        assert self.wanted is not None
        seen = Candidate.from_info(info)
        verdict = judge(self.wanted.track, seen)
        candidate.update(title=seen.title, duration=seen.duration, channel=seen.channel, title_score=verdict.score,
                         duration_delta=verdict.duration_delta, checks=verdict.checks,
                         verdict="refused" if verdict.refusal else "acceptable", reason=verdict.refusal)
        return verdict, seen

    def outcome(self, status: str, error: str | None = None, *, audio: StoredAudio | None = None,
                video_id: str | None = None) -> YouTubeOutcome:
        if video_id is None:  # the best refused one, for whoever audits the evidence
            scored = [c for c in self.candidates if c["video_id"] and c["title_score"] is not None]
            video_id = max(scored, key=lambda c: c["title_score"])["video_id"] if scored else None
        return YouTubeOutcome(status, video_id, self.evidence, error, audio)


def check_youtube_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The user's yt-dlp options, or a UserError naming the first one the engine owns."""
    if not isinstance(options, Mapping):
        raise UserError(f"youtube_options must be a dict of yt-dlp options, not a {type(options).__name__}; "
                        'pass e.g. {"proxy": "socks5://127.0.0.1:1080"}')
    for key in options:
        if key in ENGINE_OWNED_OPTIONS:
            raise UserError(f"the yt-dlp option {key!r} cannot be set through youtube_options: "
                            f"{ENGINE_OWNED_OPTIONS[key]}; leave it out")
    return dict(options)


def _browser(spec: str) -> tuple[str, str | None, None, None]:
    """yt-dlp's cookiesfrombrowser from "BROWSER" or "BROWSER:PROFILE"."""
    browser, _, profile = spec.partition(":")
    if browser.lower() not in SUPPORTED_BROWSERS:
        raise UserError(f"youtube_cookies_from_browser={spec!r} names no browser yt-dlp reads; "
                        f"use one of {', '.join(sorted(SUPPORTED_BROWSERS))} (optionally BROWSER:PROFILE)")
    return (browser.lower(), profile or None, None, None)


def _check_recipe_video(recipe: RecipeRow, info: Mapping[str, Any], candidate: dict) -> None:
    """A recipe's video must last as long as it did when the recipe was made."""
    duration = _number(info.get("duration"))
    candidate.update(title=_text(info.get("title")), duration=duration,
                     channel=_text(info.get("channel") or info.get("uploader")))
    if recipe.video_duration is not None and (duration is None or abs(duration - recipe.video_duration) > DURATION_SLACK):
        shown = "unknown" if duration is None else f"{duration:.0f} s"
        raise _Refused(f"the video lasts {shown}, the recipe's {recipe.video_duration:.0f} s: not the same upload")


def _check_cookies(path: str) -> None:
    """Refuse a cookies file yt-dlp could not read now, not in the middle of the build."""
    try:
        YoutubeDLCookieJar(path).load()
    except (OSError, LoadError, ValueError) as error:  # ValueError: not text
        reason = error.strerror if isinstance(error, OSError) and error.strerror else "not a cookies file"
        raise UserError(
            f"cannot use {path} as the YouTube cookies file ({reason}); export one in Netscape format "
            "from a browser signed in to YouTube, or leave youtube_cookies unset"
        ) from None


def _section_rule(value: str | float) -> str | float:
    if value in ("middle", "start"):
        return value
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"section_start is 'middle', 'start' or a number of seconds, not {value!r}") from None
    if seconds < 0:
        raise ValueError(f"section_start must not be negative, got {seconds}")
    return seconds


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _clean(message: str) -> str:
    """yt-dlp's message without its 'ERROR: ' prefix and its cause chain."""
    message = message.removeprefix("ERROR: ")
    return message.split(" (caused by", 1)[0].strip()


def _cleanup(instances: list[yt_dlp.YoutubeDL], relay: MediaRelay, tmp: Path) -> None:
    relay.close()
    for ydl in instances:
        with suppress(Exception):  # closing is best effort
            ydl.close()
    shutil.rmtree(tmp, ignore_errors=True)
