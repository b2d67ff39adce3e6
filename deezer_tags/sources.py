"""Every external endpoint in one place, and the digests of the published files.

Precedence, lowest to highest: the production defaults below, then the
``DEEZER_TAGS_*`` environment variables, then explicit builder-config kwargs.
Tests, mirrors and proxies all go through this one code path; only URLs differ.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields, replace
from typing import Mapping
from urllib.parse import urlsplit

SPLITS_COMMIT = "a94aad918b8cbca6ee674e673a8b2cbb1949d456"
YOUTUBE_MAP_COMMIT = "0941ed22784c3d389cac2b96d2c139d945c68fdd"

@dataclass(frozen=True)
class SourceFile:
    """A published file a build downloads: what it is, and its sha256 (see the repository's
    data/public/README.md). A mirror must serve the same bytes; a deliberate change of source
    overrides the digest with ``checksums=``."""

    title: str
    sha256: str
    split_file: str | None = None  # its name under splits_url, for the paper's split files


# The source files, by the short name the engine uses for them: one table.
SOURCE_FILES = {
    "annotation": SourceFile("the tag matrix (Zenodo Context_tags_dataset.csv)",
                             "f80250953d1f86a9f14fb337b896cb2fd85b4126d394f70e11b9f72c4476d848"),
    "train": SourceFile("the paper's train split file",
                        "921ee2aa569daa71dd08f0dd99e89561c829dd595462a25b3aab071e789232c6", "train_ground_truth.csv"),
    "validation": SourceFile("the paper's validation split file",
                             "a223998a783e58fc23cfa1e576d00d6c45960269455ba61e00ff4b8c1be9c06a",
                             "validation_ground_truth.csv"),
    "test": SourceFile("the paper's test split file",
                       "861c10ce8db507dfcec9f7da17dfc8db5e8244ec447be74eaa7100f6b86d8f32", "test_ground_truth.csv"),
    "folds": SourceFile("the paper's folds file (artist ids)",
                        "9890f93a25df3043313459f97042e6bac6babfd6cbe5f5b1bb9848994d36e9c3", "ground_truth_folds.csv"),
    "youtube_map": SourceFile("the YouTube id map (id_to_url.json)",
                              "d1b91c4ef9acc1c2751fce56787502fab86fba38e52522372fdd7336dd1bd8ce"),
}
PINNED_SHA256 = {key: source.sha256 for key, source in SOURCE_FILES.items()}


@dataclass(frozen=True)
class Endpoints:
    """Where each input comes from. Host lists match a host or any subdomain of it."""

    zenodo_url: str = "https://zenodo.org/records/3648287/files/Context_tags_dataset.csv?download=1"
    splits_url: str = (
        "https://raw.githubusercontent.com/KarimMibrahim/context_classification_cnn/"
        f"{SPLITS_COMMIT}/GroundTruth/"
    )
    youtube_map_url: str = (
        "https://raw.githubusercontent.com/SeungHeonDoh/deezer_contextual_tag/"
        f"{YOUTUBE_MAP_COMMIT}/dataset/id_to_url.json"
    )
    api_url: str = "https://api.deezer.com"
    preview_hosts: tuple[str, ...] = ("dzcdn.net",)
    youtube_hosts: tuple[str, ...] = (
        "youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com", "youtu.be",
    )
    # Video ids taken from the id map are formatted into this; the map's own URL is never fetched.
    youtube_watch_url: str = "https://www.youtube.com/watch?v={video_id}"
    media_hosts: tuple[str, ...] = ("googlevideo.com", "youtube.com")
    # Where searches go: "ytsearch" is yt-dlp's own YouTube search; anything else is a
    # URL template with {query} (URL-encoded) whose page yt-dlp reads as a playlist.
    youtube_search_url: str = "ytsearch"
    # YouTube Music's song search (yt-dlp's youtube:music:search_url extractor), asked first
    # for the track's ISRC, then for "artist title": its songs are the labels' own uploads
    # of the master Deezer streams. "off" skips it.
    youtube_music_search_url: str = "https://music.youtube.com/search?q={query}#songs"
    # Deezer localizes names (artists, genres) by the caller's IP unless asked in a language:
    # a build run from Korea got "프린스" for Prince. Sent as Accept-Language on every call.
    api_language: str = "en"

    def source_url(self, key: str) -> str:
        """Where the source file ``key`` (of SOURCE_FILES) is downloaded from."""
        if key == "annotation":
            return self.zenodo_url
        if key == "youtube_map":
            return self.youtube_map_url
        base = self.splits_url if self.splits_url.endswith("/") else self.splits_url + "/"
        return base + SOURCE_FILES[key].split_file

    def is_preview_url(self, url: str) -> bool:
        return _host_allowed(url, self.preview_hosts)

    def is_youtube_url(self, url: str) -> bool:
        return _host_allowed(url, self.youtube_hosts)

    def is_media_url(self, url: str) -> bool:
        return _host_allowed(url, self.media_hosts)


ENV_PREFIX = "DEEZER_TAGS_"
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")
_HOST_LIST_FIELDS = {"preview_hosts", "youtube_hosts", "media_hosts"}
ENDPOINT_FIELDS = tuple(f.name for f in fields(Endpoints))


def resolve_endpoints(overrides: Mapping[str, object] | None = None,
                      environ: Mapping[str, str] | None = None) -> Endpoints:
    """Defaults, then ``DEEZER_TAGS_<FIELD>`` variables, then non-None `overrides`."""
    environ = os.environ if environ is None else environ
    chosen: dict[str, object] = {}
    for name in ENDPOINT_FIELDS:
        value = environ.get(ENV_PREFIX + name.upper())
        if value:
            chosen[name] = value
    for name, value in (overrides or {}).items():
        if name not in ENDPOINT_FIELDS:
            raise TypeError(f"unknown endpoint {name!r}; known: {', '.join(ENDPOINT_FIELDS)}")
        if value is not None:
            chosen[name] = value
    for name in _HOST_LIST_FIELDS & chosen.keys():
        chosen[name] = _host_list(chosen[name])
    endpoints = replace(Endpoints(), **chosen)
    for name in ENDPOINT_FIELDS:
        value = getattr(endpoints, name)
        if name in _HOST_LIST_FIELDS or (name == "youtube_search_url" and value == "ytsearch") \
                or (name == "youtube_music_search_url" and value == "off"):
            continue
        if name == "api_language":
            if not _LANGUAGE.fullmatch(value):
                raise ValueError(
                    f"api_language = {value!r} is not a language tag like en or pt-BR; "
                    f"fix the {ENV_PREFIX}API_LANGUAGE variable or the api_language= config argument"
                )
            continue
        if urlsplit(value).scheme not in ("http", "https"):
            raise ValueError(
                f"{name} = {value!r} is not an http(s) URL; "
                f"fix the {ENV_PREFIX}{name.upper()} variable or the {name}= config argument"
            )
    return endpoints


def _host_list(value: object) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)  # type: ignore[arg-type]
    return tuple(h.strip().lower() for h in items if h.strip())


def _host_allowed(url: object, hosts: tuple[str, ...]) -> bool:
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    return any(host == h or host.endswith("." + h) for h in hosts)


@dataclass(frozen=True)
class Quota:
    """The Deezer API quota: at most `calls` requests in any `window` seconds."""

    calls: int = 50
    window: float = 5.0

    @property
    def rate(self) -> float:
        return self.calls / self.window


def resolve_quota(calls: int | None = None, window: float | None = None,
                  environ: Mapping[str, str] | None = None) -> Quota:
    """``DEEZER_TAGS_QUOTA="50/5"`` (calls/seconds) overrides the default; kwargs override both."""
    environ = os.environ if environ is None else environ
    quota = Quota()
    spec = environ.get(ENV_PREFIX + "QUOTA")
    if spec:
        try:
            env_calls, env_window = spec.split("/")
            quota = Quota(int(env_calls), float(env_window))
        except ValueError:
            raise ValueError(
                f"{ENV_PREFIX}QUOTA={spec!r} is not CALLS/SECONDS; set it like 50/5"
            ) from None
    quota = Quota(calls if calls is not None else quota.calls,
                  window if window is not None else quota.window)
    if quota.calls < 1 or quota.window <= 0:
        raise ValueError(f"the Deezer quota must be at least 1 call per positive window, got {quota}")
    return quota
