"""The YouTube fallback: a 30 s clip of the same recording, for tracks Deezer has no preview of.

One room per concern:
- ``idmap``: the published id map and the video ids it may give;
- ``ytdlp``: yt-dlp's options, the user's cookies, YouTube sessions and their pool;
- ``budget``: the pace every page request keeps, and what a refusal or a bot check does to it;
- ``section``: which 30 s of a video, read how (the relay and ffmpeg), and the fetchers;
- ``recoverer``: one track's sources, in order, judged, with the evidence;
- ``watched``: what each resolved watch page said, so that no track asks for a refused video again;
- ``errors``: what YouTube can answer, sorted by what happens next.
"""

from deezer_tags.youtube.budget import DEFAULT_BUDGET, Budget, Pace, PaceState, parse_budget, resolve_budget
from deezer_tags.youtube.errors import (
    Refused, SessionLimited, Transient, YouTubeBlocked, YouTubeStopped, YouTubeTimeUp, classify_error,
)
from deezer_tags.youtube.idmap import map_video_id, parse_youtube_map, video_id_of
from deezer_tags.youtube.recoverer import ATTEMPTS, SOURCES, YouTubeOutcome, YouTubeRecoverer
from deezer_tags.youtube.section import Heard
from deezer_tags.youtube.ytdlp import ENGINE_OWNED_OPTIONS, check_youtube_options

__all__ = [
    "ATTEMPTS", "DEFAULT_BUDGET", "ENGINE_OWNED_OPTIONS", "SOURCES", "Budget", "Heard", "Pace", "PaceState",
    "Refused", "SessionLimited", "Transient", "YouTubeBlocked", "YouTubeOutcome", "YouTubeRecoverer",
    "YouTubeStopped", "YouTubeTimeUp", "check_youtube_options", "classify_error", "map_video_id",
    "parse_budget", "parse_youtube_map", "resolve_budget", "video_id_of",
]
