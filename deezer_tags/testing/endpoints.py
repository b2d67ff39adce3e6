"""What each service answers: the replies of the local web, before transport.

Zenodo and GitHub serve the scenario's files; the Deezer API describes tracks and hands
out signed preview URLs; the CDN checks them and serves previews; YouTube serves watch
pages, search results and media. The server decides quota, faults, latency and Range;
this module only knows what a healthy (or deliberately broken) answer contains.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from . import deezer_api, media, youtube
from .audio import ByteCache, preview_mp3
from .faults import unit
from .scenario import Scenario, VideoSpec
from .signing import MediaSigner, PreviewSigner
from .urls import API_PREFIX, CDN_PREFIX, FILE_PATHS, MEDIA_PREFIX, MUSIC_SEARCH_PATH, SEARCH_PATH, TRACK_PREFIX, WATCH_PATH

AUDIO = "audio/mpeg"
TEXT = "text/plain; charset=utf-8"
HTML = "text/html; charset=utf-8"

_PREVIEW_NAME = re.compile(r"^c-([0-9a-f]{32})-5\.mp3$")
_MEDIA_NAME = re.compile(r"^videoplayback/id/([A-Za-z0-9_-]{11})/itag/(\d{1,3})$")
_MANIFEST_NAME = re.compile(r"^api/manifest/dash/id/([A-Za-z0-9_-]{11})$")
SEARCH_RESULTS = 10  # results per search page unless the query asks for n


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    content_type: str
    ranged: bool = False  # files and audio answer Range requests
    reason: str = ""      # the status line's reason phrase; "" for the standard one


def text(status: int, message: str) -> Reply:
    return Reply(status, message.encode() + b"\n", TEXT)


def error_page(status: int, title: str) -> bytes:
    return (f"<!DOCTYPE html>\n<html><head><title>{status} {title}</title></head>"
            f"<body><h1>{title}</h1></body></html>\n").encode()


def bot_check() -> Reply:
    """YouTube's bot check, "Sign in to confirm you're not a bot", with HTTP 429: yt-dlp
    reports "HTTP Error 429: Sign in to confirm you're not a bot"."""
    return Reply(429, youtube.blocked_page(), HTML, reason=youtube.BOT_CHECK_REASON)


def try_again_later() -> Reply:
    """A session over its videos for the hour. YouTube's player answers it inside a 200
    page, which yt-dlp's generic extractor cannot read; so the status line carries it:
    403 (refused to this client, for now), not 404 (gone: "Video unavailable"), 429 (the bot
    check, for the whole address) or 5xx (worth an immediate retry). yt-dlp reports
    "HTTP Error 403: This content isn't available, try again later"."""
    return Reply(403, youtube.try_again_later_page(), HTML, reason=youtube.TRY_AGAIN_LATER_REASON)


def kind_of(path: str) -> str:
    """Which service a path belongs to: api, cdn, media, file, watch, search, music_search or other."""
    if path.startswith(API_PREFIX):
        return "api"
    if path.startswith(CDN_PREFIX):
        return "cdn"
    if path.startswith(MEDIA_PREFIX):
        return "media"
    if path in FILE_PATHS:
        return "file"
    if path == WATCH_PATH:
        return "watch"
    if path == SEARCH_PATH:
        return "search"
    if path == MUSIC_SEARCH_PATH:
        return "music_search"
    return "other"


def fault_reply(fault: str | None, seed: int, path: str, nth: int) -> Reply | None:
    """The answer that replaces the real one under ``fault``, if it does."""
    if fault == "server_error":
        status = (500, 502, 503)[int(3 * unit(seed, "status", path, nth))]
        return Reply(status, error_page(status, "Server Error"), HTML)
    if fault == "not_json":
        return Reply(200, error_page(503, "Service Unavailable"), deezer_api.CONTENT_TYPE)
    if fault == "html_as_audio":
        return Reply(200, error_page(404, "Not Found"), AUDIO)
    if fault == "quota_exceeded":
        return Reply(200, deezer_api.QUOTA_EXCEEDED, deezer_api.CONTENT_TYPE)
    if fault == "expire_early":
        return text(403, "token expired")
    if fault == "throttled":
        return text(429, "Too Many Requests")
    return None


def corrupt(reply: Reply, rng: random.Random) -> Reply:
    """The reply with its middle third overwritten by random bytes (same length)."""
    body = bytearray(reply.body)
    third = len(body) // 3
    body[third:2 * third] = rng.randbytes(third)
    return Reply(reply.status, bytes(body), reply.content_type, reply.ranged, reply.reason)


class Endpoints:
    def __init__(self, scenario: Scenario, signer: PreviewSigner, audio: ByteCache,
                 media_signer: MediaSigner | None = None, *, isrc_needs_space: bool = True) -> None:
        self.scenario = scenario
        self.isrc_needs_space = isrc_needs_space  # see _music_search
        self._signer = signer
        self._audio = audio
        self.media_signer = media_signer or MediaSigner(21_600.0)

    def reply(self, kind: str, path: str, query: str, *, admitted: bool, base: str,
              youtube_blocked: bool = False, language: str = "") -> Reply:
        """The answer to a request that got past faults; ``admitted``: within the API quota;
        ``youtube_blocked``: YouTube takes us for a bot (429 on watch and search pages);
        ``language``: the request's Accept-Language (the API answers in English for "en")."""
        if youtube_blocked and kind in ("watch", "search", "music_search"):
            return bot_check()
        if kind == "api":
            return self._api(path, admitted, base, english=language.strip().lower()[:2] == "en")
        if kind == "cdn":
            return self._cdn(path, query)
        if kind == "media":
            return self._media(path, query, base)
        if kind == "file":
            return Reply(200, self.scenario.files[FILE_PATHS[path]], TEXT, ranged=True)
        if kind == "watch":
            return self._watch(query, base)
        if kind == "search":
            return self._search(query, base)
        if kind == "music_search":
            return self._music_search(query, base)
        return text(404, "Not Found")

    def _api(self, path: str, admitted: bool, base: str, english: bool) -> Reply:
        if not admitted:
            return Reply(200, deezer_api.QUOTA_EXCEEDED, deezer_api.CONTENT_TYPE)
        ident = path[len(TRACK_PREFIX):] if path.startswith(TRACK_PREFIX) else ""
        if ident.isascii() and ident.isdigit() and int(ident) in self.scenario.api_overrides:
            return Reply(200, self.scenario.api_overrides[int(ident)], deezer_api.CONTENT_TYPE)
        track = self.scenario.answers(int(ident)) if ident.isascii() and ident.isdigit() else None
        if track is None:
            return Reply(200, deezer_api.NO_DATA, deezer_api.CONTENT_TYPE)
        now = time.time()
        preview = ""
        if track.preview != "none":
            preview = base + self._signer.sign(self.scenario.preview_key(track.id), now)
        return Reply(200, deezer_api.track_body(track, preview, int(now), english=english), deezer_api.CONTENT_TYPE)

    def _cdn(self, path: str, query: str) -> Reply:
        match = _PREVIEW_NAME.match(path[len(CDN_PREFIX):])
        if not match:
            return text(404, "Not Found")
        refusal = self._signer.refusal(path, query, time.time())
        if refusal:
            return text(403, refusal)
        tid = self.scenario.track_for_preview_key(match[1])
        if tid in self.scenario.preview_overrides:
            return Reply(200, self.scenario.preview_overrides[tid], AUDIO, ranged=True)
        if tid is None or self.scenario.tracks[tid].preview != "ok":
            return text(404, "Not Found")  # a dead preview: the API links it, the CDN lost it
        excerpt = self.scenario.preview_excerpt(tid)  # an excerpt of the track's recording
        body = self._audio.get(("preview", tid, *excerpt), lambda: preview_mp3(tid, *excerpt))
        return Reply(200, body, AUDIO, ranged=True)

    def _media(self, path: str, query: str, base: str) -> Reply:
        """googlevideo: a signed ``videoplayback`` URL of one format, or the DASH manifest."""
        name = path[len(MEDIA_PREFIX):]
        listed = _MANIFEST_NAME.match(name)
        if listed:
            video = self.scenario.video(listed[1])
            if video is None:
                return text(404, "Not Found")
            return Reply(200, self.manifest(video, base), media.MANIFEST_TYPE)
        match = _MEDIA_NAME.match(name)
        video = self.scenario.video(match[1]) if match else None
        fmt = media.format_of(video.video_id, int(match[2]), self.scenario.seed) if video and match else None
        if video is None or fmt is None:
            return text(404, "Not Found")
        refusal = self.media_signer.refusal(path, query, time.time())
        if refusal:
            return text(403, refusal)
        if video.video_id in self.scenario.media_overrides:  # a test's bytes, for every format
            return Reply(200, self.scenario.media_overrides[video.video_id], AUDIO, ranged=True)
        muxed = self.media_file(video, fmt)
        return Reply(200, muxed.data, muxed.mime_type, ranged=True)

    def media_file(self, video: VideoSpec, fmt: media.Format):
        """A video's file of ``fmt``: the recording it carries, from its start, for its duration."""
        key = self.scenario.video_recording(video)
        return self._audio.get(("media", video.video_id, key, video.duration, fmt.itag),
                               lambda: media.media_file(video.video_id, video.duration, fmt, key))

    def media_url(self, video: VideoSpec, itag: int, base: str) -> str:
        """A fresh signed URL of a video's format, as its manifest lists it."""
        path = media.MEDIA_PATH.format(video_id=video.video_id, itag=itag)
        return base + self.media_signer.sign(path, time.time())

    def manifest(self, video: VideoSpec, base: str) -> bytes:
        files = {}
        for fmt in media.formats_of(video.video_id, self.scenario.seed):
            files[fmt.itag] = (fmt, self.media_file(video, fmt), self.media_url(video, fmt.itag, base))
        return media.manifest(files, video.duration)

    def _watch(self, query: str, base: str) -> Reply:
        vid = (parse_qs(query).get("v") or [""])[0]
        video = self.scenario.video(vid)
        if video is None:
            return Reply(404, youtube.not_found_page(vid), HTML)
        return Reply(200, youtube.watch_page(video, base), HTML)

    def _search(self, query: str, base: str) -> Reply:
        params = parse_qs(query)
        terms = (params.get("search_query") or [""])[0]
        wanted = (params.get("n") or [""])[0]
        n = int(wanted) if wanted.isdigit() else SEARCH_RESULTS
        results = youtube.search(list(self.scenario.videos.values()), terms, n)
        return Reply(200, youtube.search_page(results, terms, base), youtube.RSS)

    def _music_search(self, query: str, base: str) -> Reply:
        """YouTube Music's song search: an ISRC finds its art track, words search the art
        tracks' titles and artists.

        An ISRC is found written with a space after its country code ("US FZ2275105", any
        case). Written as one word ("USFZ2275105") it is found too, unless
        ``isrc_needs_space``: then, as on YouTube Music (yt-dlp issue #15389, open), the
        answer is "Did you mean: US FZ2275105" and no songs."""
        terms = (parse_qs(query).get("q") or [""])[0].strip()
        spaced = youtube.SPACED_ISRC.fullmatch(terms)
        if spaced:  # an ISRC query finds its song or nothing (its country code is no word to match)
            by_isrc = self.scenario.art_track_by_isrc((spaced[1] + spaced[2]).upper())
            return Reply(200, youtube.search_page([by_isrc] if by_isrc else [], terms, base), youtube.RSS)
        one_word = youtube.ISRC.fullmatch(terms.upper())
        if one_word and self.isrc_needs_space:
            suggestion = f"{terms[:2].upper()} {terms[2:].upper()}"
            return Reply(200, youtube.search_page([], terms, base, suggestion=suggestion), youtube.RSS)
        by_isrc = self.scenario.art_track_by_isrc(terms.upper()) if one_word else None
        results = [by_isrc] if by_isrc else youtube.search(self.scenario.art_tracks(), terms, SEARCH_RESULTS)
        return Reply(200, youtube.search_page(results, terms, base), youtube.RSS)
