"""The recovery of one track from YouTube: candidates from four sources, judged, the first
acceptable one fetched, and the evidence of every step.

For one track, candidates come from these sources, in this order (``found_by`` says which
found the clip):
1. ``isrc``: YouTube Music's song search for the track's ISRC, asked as "CC XXXYYNNNNN"
   (its country code apart): YouTube Music answers the one-word form with "Did you mean"
   and no songs (yt-dlp issue #15389). Its songs are the labels' own uploads ("Artist -
   Topic") of the master Deezer streams.
2. ``id_map``: the published id map's video, checked like any search result, because the
   map is the first hit of a scraped search and hundreds of its entries are other
   recordings or not music. Its recorded title is judged first: a video whose title the
   judge refuses is never resolved.
3. ``music_search``: YouTube Music's song search for "artist title".
4. ``search``: YouTube's video search for "artist title".
Every candidate looked at goes into the evidence, with every check of the judge
(``deezer_tags.matching``) and the reason it was taken or refused. A search result is
resolved only when what the search page says could pass the judge. A search that fails
after its retries makes the track "failed" (retried by the next build) rather than let a
later source choose: the same world always gives the same clip.

Every page request (a search, a watch page) passes the build's ``budget.Pace`` and runs on a
session lent by the ``ytdlp.SessionPool``; media reads do not count (``section``).
"""

from __future__ import annotations

import logging
import re
import shutil
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote_plus, urlsplit

from yt_dlp.utils import unsmuggle_url

from deezer_tags.ffmpeg import ffmpeg_dir, ffmpeg_exe
from deezer_tags.manifest import YOUTUBE
from deezer_tags.matching import Candidate, Track, Verdict, could_pass, judge, rules
from deezer_tags.private_tmp import make_private_folder
from deezer_tags.recipe import DURATION_SLACK, RecipeRow
from deezer_tags.sources import Endpoints
from deezer_tags.youtube.budget import Pace
from deezer_tags.youtube.errors import Refused, SessionLimited, Transient, YouTubeBlocked
from deezer_tags.youtube.idmap import VIDEO_ID, map_video_id, video_id_of
from deezer_tags.youtube.section import (
    FORMAT, LISTEN_FORMAT, Fetcher, Media, MediaReader, RecipeSection, Section, WholeStream, section_rule,
)
from deezer_tags.youtube.watched import WatchedVideos
from deezer_tags.youtube.ytdlp import (
    SOCKET_TIMEOUT, Session, SessionPool, _Logger, browser_spec, check_cookies, check_youtube_options,
    session_options,
)

log = logging.getLogger("deezer_tags.youtube")
T = TypeVar("T")

# Candidate sources, in the order they are asked (see the module docstring).
SOURCES = ("isrc", "id_map", "music_search", "search")
ATTEMPTS = 3             # per candidate (and per search) on transient errors
# A search result the judge could not decide from the search page alone (no channel, no
# duration) costs a watch page to decide: of those, only the best of each search is resolved.
# YouTube's own search pages give the channel and the duration, so there it rarely matters;
# every result the search page shows acceptable is resolved, best first.
UNDECIDED_PER_SEARCH = 1
BACKOFF = 0.5            # seconds before the 2nd attempt, doubled after
SESSION_WINDOW = 3600.0  # a session's limit window when the build gives no budget
_ISRC = re.compile(r"[A-Z]{2}[A-Z0-9]{3}\d{7}")


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

    @property
    def isrc_query(self) -> str | None:
        """The ISRC as YouTube Music finds it: "US FZ2275105", not "USFZ2275105" (yt-dlp #15389)."""
        return f"{self.isrc[:2]} {self.isrc[2:]}" if self.isrc else None

    def as_dict(self) -> dict:
        track = self.track
        return {"title": track.title, "title_version": track.title_version or None,
                "artists": list(track.artists), "duration": track.duration, "isrc": self.isrc}


@dataclass(frozen=True)
class YouTubeOutcome:
    """What became of one track. Each candidate in ``evidence["candidates"]`` has a verdict:
    "accepted" (fetched), "refused" (with the reason), "failed" (transient errors, every
    attempt) or "acceptable" (passed on the search page, not needed: a better one was taken)."""

    status: str                 # "ok" | "none" (no acceptable candidate: final) | "failed" (transient)
    video_id: str | None        # the chosen video (or the best refused one)
    evidence: dict              # JSON-serialisable: the query, the checks, every candidate
    error: str | None
    audio: Any                  # StoredAudio (recover), section.Heard (listen), or None


class Run:
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

    def judge(self, candidate: dict, info: Mapping[str, Any] | Candidate) -> tuple[Verdict, Candidate]:
        """Judge a search entry, a watch page's info or a recorded title (or what one of them
        said, read already); the candidate's record is updated."""
        assert self.wanted is not None
        seen = info if isinstance(info, Candidate) else Candidate.from_info(info)
        verdict = judge(self.wanted.track, seen)
        candidate.update(title=seen.title, duration=seen.duration, channel=seen.channel, title_score=verdict.score,
                         duration_delta=verdict.duration_delta, checks=verdict.checks,
                         verdict="refused" if verdict.refusal else "acceptable", reason=verdict.refusal)
        return verdict, seen

    def outcome(self, status: str, error: str | None = None, *, audio: Any = None,
                video_id: str | None = None) -> YouTubeOutcome:
        if video_id is None:  # the best refused one, for whoever audits the evidence
            scored = [c for c in self.candidates if c["video_id"] and c["title_score"] is not None]
            video_id = max(scored, key=lambda c: c["title_score"])["video_id"] if scored else None
        return YouTubeOutcome(status, video_id, self.evidence, error, audio)


class YouTubeRecoverer:
    """Recovers tracks from YouTube; ``recover`` and ``listen`` may be called from several
    threads at once (each page request borrows one of ``sessions`` YouTube sessions).

    ``pace`` is the build's budget (``budget.Pace``); without one, nothing is paced and a bot
    check or a session's limit raises YouTubeBlocked at once."""

    def __init__(self, endpoints: Endpoints, youtube_map: Mapping[int, dict], *, search_results: int = 5,
                 section_start: str | float = "middle", section_seconds: float = 30.0,
                 cookies: str | None = None, ffmpeg: str | None = None,
                 recipe: Mapping[int, RecipeRow] | None = None, options: Mapping[str, Any] | None = None,
                 cookies_from_browser: str | None = None, pace: Pace | None = None, sessions: int = 8) -> None:
        if search_results < 1:
            raise ValueError(f"search_results must be at least 1, got {search_results}")
        if section_seconds <= 0:
            raise ValueError(f"section_seconds must be positive, got {section_seconds}")
        self.endpoints = endpoints
        self.youtube_map = youtube_map
        self.recipe = recipe or {}  # track id -> the clip another build chose (deezer_tags.recipe)
        self.search_results = search_results
        self.section_start = section_rule(section_start)
        self.ffmpeg = ffmpeg or ffmpeg_exe()
        if cookies is not None:
            check_cookies(cookies)
        # What the user tunes when YouTube pushes back (extractor_args, proxy, sleeps, rates).
        user_options = check_youtube_options(options or {})
        user_format = user_options.pop("format", None)
        self._clip_format = user_format or FORMAT
        self._listen_format = user_format or LISTEN_FORMAT
        browser = browser_spec(cookies_from_browser) if cookies_from_browser else None
        self.pace = pace or Pace(None)
        # yt-dlp's cache, the ffmpeg link and the sessions' cookie copies: nothing outside this folder.
        self._tmp = make_private_folder()
        base = {
            "quiet": True, "no_warnings": True, "noprogress": True, "logger": _Logger(),
            "cachedir": str(self._tmp / "cache"), "socket_timeout": SOCKET_TIMEOUT, "noplaylist": True,
            "skip_download": True, "ffmpeg_location": str(ffmpeg_dir(self.ffmpeg, self._tmp / "bin")),
            **user_options,
        }
        window = self.pace.budget.window if self.pace.budget else SESSION_WINDOW
        self.sessions = SessionPool(
            lambda number: session_options(base, private_dir=self._tmp, cookies=cookies,
                                           cookies_from_browser=browser, number=number),
            self._clip_format, size=sessions, window=window)
        self.reader = MediaReader(self.ffmpeg, float(section_seconds))
        self.watched = WatchedVideos()  # what each resolved watch page said, for the tracks after
        self._finalizer = weakref.finalize(self, _cleanup, self.sessions, self.reader, self._tmp)

    def close(self) -> None:
        self._finalizer()

    def __enter__(self) -> YouTubeRecoverer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one track -------------------------------------------------------------------------------

    def recover(self, track_id: int, metadata: dict | None, dest: Path) -> YouTubeOutcome:
        """Find the track's recording on YouTube and store a section of it at ``dest``.
        Raises YouTubeBlocked (without a pace), YouTubeStopped, YouTubeBotCheckError; every
        other problem is an outcome."""
        dest = Path(dest)
        wanted = Wanted.of(metadata, self.youtube_map.get(int(track_id)))
        run = Run(wanted, self.section_start)
        followed = self._follow_recipe(int(track_id), run, dest)
        if followed is not None:
            return followed
        duration = wanted.track.duration if wanted else None
        return self._recover(int(track_id), run, Section(self.reader, self.section_start, dest, duration,
                                                         format=self._clip_format))

    def listen(self, track_id: int, metadata: dict | None) -> YouTubeOutcome:
        """What ``recover`` would choose for the track, found exactly as ``recover`` finds it
        (the same sources, judge and format; no recipe), with the chosen video's whole audio
        stream decoded instead of a section stored: ``audio`` is a ``section.Heard``. The
        calibration compares it with the track's preview (deezer_tags.calibration)."""
        wanted = Wanted.of(metadata, self.youtube_map.get(int(track_id)))
        return self._recover(int(track_id), Run(wanted, self.section_start),
                             WholeStream(self.reader, format=self._listen_format))

    def _recover(self, track_id: int, run: Run, fetcher: Fetcher) -> YouTubeOutcome:
        if run.wanted is None:
            return run.outcome("none", "no Deezer metadata and no id map entry: nothing to search for")
        entry = self.youtube_map.get(track_id)
        for source in SOURCES:
            try:
                candidates = self._candidates(source, entry, run)
            except Transient as error:
                return run.outcome("failed", f"the {source.replace('_', ' ')} failed: {error}")
            for video_id, candidate in candidates:
                audio = self._try(video_id, candidate, run, fetcher)
                if audio:
                    run.evidence["found_by"] = source
                    return run.outcome("ok", audio=audio, video_id=video_id)
            if run.transient:  # a later source might choose another video than a healthy run
                return run.outcome("failed", run.transient[-1])
        return run.outcome("none", f"no acceptable video among {len(run.candidates)} candidates")

    def _follow_recipe(self, track_id: int, run: Run, dest: Path) -> YouTubeOutcome | None:
        """The recipe's video at the recipe's section; None (and the evidence says why) when
        the track has no YouTube row or its video fails the checks: the normal recovery follows."""
        row = self.recipe.get(track_id)
        if row is None or row.audio_source != YOUTUBE or row.youtube_video_id is None:
            return None
        candidate = run.add("recipe", row.youtube_video_id)
        fetcher = RecipeSection(self.reader, row.section_start, dest, format=self._clip_format)
        audio = self._try(row.youtube_video_id, candidate, run, fetcher, recipe=row)
        if audio:
            run.evidence.update(found_by=row.youtube_found_by, recipe="followed")
            return run.outcome("ok", audio=audio, video_id=row.youtube_video_id)
        if run.transient:  # worth another build, not another video
            return run.outcome("failed", run.transient[-1])
        run.evidence["recipe"] = f"fell back: {candidate['reason']}"
        return None

    # -- candidates ------------------------------------------------------------------------------

    def _candidates(self, source: str, entry: Mapping[str, Any] | None, run: Run) -> list[tuple[str, dict]]:
        """The candidates ``source`` offers, best first (none when it has nothing to ask)."""
        wanted = run.wanted
        music = self.endpoints.youtube_music_search_url != "off"
        if source == "id_map":
            return self._from_map(entry, run)
        if source == "isrc" and not (music and wanted.isrc):
            return []
        if source == "music_search" and not (music and wanted.track.artists):
            return []  # without Deezer's metadata the video search alone asks for the query
        query = wanted.isrc_query if source == "isrc" else wanted.query
        run.evidence["queries"][source] = query
        if source == "search":
            run.evidence["query"] = query
        template = self.endpoints.youtube_search_url if source == "search" else self.endpoints.youtube_music_search_url
        return self._shortlist(self._search(template, query), run, source)

    def _from_map(self, entry: Mapping[str, Any] | None, run: Run) -> list[tuple[str, dict]]:
        """The id map's video, unless its URL is unusable or its recorded title (what the
        earlier crawl saw) is one the judge refuses whatever the watch page adds."""
        if entry is None:
            return []
        video_id, refusal = map_video_id(entry, self.endpoints)
        candidate = run.add("id_map", video_id)
        if refusal:
            candidate["reason"] = refusal
            return []
        recorded = entry.get("title")
        if isinstance(recorded, str) and recorded.strip():
            verdict, seen = run.judge(candidate, {"title": recorded})
            if not could_pass(run.wanted.track, seen):
                candidate["reason"] = f"the id map's recorded title: {verdict.refusal}"
                return []
        return [(video_id, candidate)]

    def _shortlist(self, entries: list[dict], run: Run, source: str) -> list[tuple[str, dict]]:
        """Search results worth resolving, best first, judged on what the search page says:
        each acceptable one, and the best UNDECIDED_PER_SEARCH of those only a watch page can decide."""
        ranked = []
        for rank, entry in enumerate(entries):
            video_id = entry.get("id")
            if not VIDEO_ID.fullmatch(str(video_id)):
                video_id = video_id_of(str(entry.get("url")))
            if video_id is not None and video_id in run.seen:
                continue  # judged already, from an earlier source
            candidate = run.add(source, video_id, entry.get("title"), entry.get("duration"))
            if video_id is None:
                candidate["reason"] = "the search result is not a video"
                continue
            verdict, seen = run.judge(candidate, entry)
            if could_pass(run.wanted.track, seen):
                ranked.append((-verdict.score, abs(verdict.duration_delta or 0.0), rank, video_id, candidate,
                               verdict.code is None))
        shortlist, doubtful = [], 0
        for *_, video_id, candidate, acceptable in sorted(ranked):
            if not acceptable:
                doubtful += 1
                if doubtful > UNDECIDED_PER_SEARCH:
                    candidate["reason"] = (f"{candidate['reason']}; left unresolved: a better-ranked result the "
                                           "search page could not decide was resolved already")
                    continue
            shortlist.append((video_id, candidate))
        return shortlist

    def _try(self, video_id: str, candidate: dict, run: Run, fetcher: Fetcher,
             recipe: RecipeRow | None = None) -> Any:
        """Resolve, check and fetch one candidate, with bounded retries on transient errors;
        what ``fetcher`` returned, or None (the candidate's verdict says why). A recipe's video
        is not judged again: it must last as long as it did. A video whose watch page an
        earlier track resolved is judged on what that page said first, and not asked for again
        when the judge refuses it (``watched``)."""
        if recipe is None and self._refused_as_watched(video_id, candidate, run):
            return None
        problem = ""
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(BACKOFF * 2 ** (attempt - 1))
            try:
                media = self._page("video", lambda session: self._resolve(
                    session, video_id, candidate, run, fetcher.format, recipe))
                if media is None:
                    return None  # the judge refused it: the candidate says why
                audio = fetcher.fetch(media, run)
            except Refused as refusal:
                candidate.update(verdict="refused", reason=str(refusal))
                return None
            except Transient as error:
                problem = str(error)
                continue
            candidate.update(verdict="accepted", reason=None)
            return audio
        candidate.update(verdict="failed", reason=f"{problem} ({ATTEMPTS} attempts)")
        run.transient.append(f"video {video_id}: {problem} ({ATTEMPTS} attempts)")
        return None

    def _refused_as_watched(self, video_id: str, candidate: dict, run: Run) -> bool:
        """The judge's refusal of what the video's watch page said when an earlier track
        resolved it: the verdict the page would give again, at no request."""
        page = self.watched.recall(video_id)
        if page is None:
            return False
        verdict, _ = run.judge(candidate, page)
        if verdict.code is None:
            return False
        candidate["reason"] = f"{verdict.refusal} (what its watch page said for an earlier track: not asked again)"
        return True

    def _resolve(self, session: Session, video_id: str, candidate: dict, run: Run, format_spec: str,
                 recipe: RecipeRow | None) -> Media | None:
        """The watch page, judged (or checked against the recipe) before anything of its media
        is requested, then the format chosen; None when the judge refuses it."""
        candidate["resolved"] = candidate.get("resolved", 0) + 1  # budget spent on it, for the audit
        info = session.resolve(self.endpoints.youtube_watch_url.replace("{video_id}", video_id))
        page = Candidate.from_info(info)
        self.watched.remember(video_id, page)
        if recipe is None:
            verdict, _ = run.judge(candidate, page)
            if verdict.code:
                return None
        else:
            _check_recipe_video(recipe, info, candidate)
        if info.get("_type") in ("url", "url_transparent"):
            # A page that only points elsewhere (the generic extractor's JSON-LD contentUrl)
            # is followed only to a media host.
            target, _ = unsmuggle_url(str(info.get("url")))
            if not self.endpoints.is_media_url(target):
                raise Refused(f"the watch page points at {urlsplit(target).hostname!r}, not a configured media host")
        return Media.of(session.choose_format(info, format_spec), self.endpoints)

    def _search(self, template: str, query: str) -> list[dict]:
        url = (f"ytsearch{self.search_results}:{query}" if template == "ytsearch"
               else template.replace("{query}", quote_plus(query)))
        problem = ""
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(BACKOFF * 2 ** (attempt - 1))
            try:
                return self._page("search", lambda session: session.search(url, self.search_results))
            except (Transient, Refused) as error:  # a search page that is not there: a setup problem
                problem = str(error)
        raise Transient(f"{problem} ({ATTEMPTS} attempts)")

    # -- YouTube's pages: paced, on a session ---------------------------------------------------

    def _page(self, kind: str, request: Callable[[Session], T]) -> T:
        """``request`` on a lent session, within the budget: a session told "try again later"
        is set aside and the request goes to another; a bot check waits out its pause
        (``Pace.bot_check``) and the request is made again."""
        while True:
            try:
                with self.pace.spend(kind), self.sessions.lease() as session:
                    try:
                        result = request(session)
                    except SessionLimited:
                        self.sessions.set_aside(session)
                        raise
                    except YouTubeBlocked:
                        raise
                    except Exception:  # answered all the same (a gone video, a 5xx): it counts
                        if kind == "video":
                            self.sessions.resolved_video(session)
                        raise
                    if kind == "video":
                        self.sessions.resolved_video(session)
                    return result
            except SessionLimited as limited:
                if self.pace.budget is None:
                    raise YouTubeBlocked(str(limited)) from None
                self.pace.slow_down()
            except YouTubeBlocked as blocked:
                self.pace.bot_check(blocked)


def _check_recipe_video(recipe: RecipeRow, info: Mapping[str, Any], candidate: dict) -> None:
    """A recipe's video must last as long as it did when the recipe was made."""
    duration = _number(info.get("duration"))
    candidate.update(title=_text(info.get("title")), duration=duration,
                     channel=_text(info.get("channel") or info.get("uploader")))
    if recipe.video_duration is not None and (duration is None or abs(duration - recipe.video_duration) > DURATION_SLACK):
        shown = "unknown" if duration is None else f"{duration:.0f} s"
        raise Refused(f"the video lasts {shown}, the recipe's {recipe.video_duration:.0f} s: not the same upload")


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _cleanup(sessions: SessionPool, reader: MediaReader, tmp: Path) -> None:
    reader.close()
    sessions.close()
    shutil.rmtree(tmp, ignore_errors=True)
