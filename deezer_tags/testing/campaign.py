"""Fault and kill campaigns: build in a child process against the local web, kill it at
chosen moments, and audit what the build left against a fault-free reference.

Used by `benchmarks/reliability.py` (all 49,929 tracks) and by the test suite (a few
hundred), so both assert the same properties:

- every clip in the dataset decodes, has a plausible length, and is byte-identical
  (sha256) to the fault-free build's clip for that track: nothing silently wrong;
- tracks without audio are recorded with a reason;
- no temp file is left once a build has finished;
- after a kill, the resumed build redoes little of what was finished before it.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

import soundfile

from deezer_tags.audio import InvalidAudio, inspect_mp3
from deezer_tags.private_tmp import folders_of, owner
from deezer_tags.testing.server import LocalWeb

WORK_DIR = "deezer_tags"
# Every fault at once, at these rates per request (see Faults for what each does).
CAMPAIGN_FAULTS = dict(reset=0.02, server_error=0.02, truncated=0.01, html_as_audio=0.01, corrupt_audio=0.01,
                       expire_early=0.05, slow_body=0.01, not_json=0.01, quota_exceeded=0.005)
# Builds the config in this process's environment (the local web's endpoints) and writes
# what the dataset says of each track, without decoding audio, to a JSON file.
_CHILD = """
import json, sys, datasets
from deezer_tags.direct import load  # the loading script sys.argv[1] on 3.x, its builder class on 4+
name, cache_dir, tracks, out, kwargs = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], json.loads(sys.argv[6])
d = load(name, cache_dir, max_tracks=tracks, **kwargs)
rows = {}
for split, ds in d.items():
    ds = ds.cast_column("audio", datasets.Audio(decode=False)) if "audio" in ds.column_names else ds
    columns = [c for c in ("track_id", "audio", "audio_source", "audio_sha256") if c in ds.column_names]
    for row in ds.select_columns(columns).to_list():
        row["split"] = split
        row["audio"] = (row.get("audio") or {}).get("path")
        rows[row["track_id"]] = row
json.dump(rows, open(out, "w"))
"""
# A clip the build accepted is 30 s (a preview, or a section of a longer video).
CLIP_SECONDS = (25.0, 31.0)
_TEMP_SUFFIXES = (".part", ".tmp", ".import")


def child_env(web: LocalWeb) -> dict[str, str]:
    return {**os.environ, **web.env(), "DEEZER_TAGS_QUOTA": f"{web.quota}/{web.window}"}


def start_build(web: LocalWeb, cache_dir: Path, tracks: int, rows_out: Path, config: str = "full",
                kwargs: dict | None = None) -> subprocess.Popen:
    """The build in a child process (``kwargs``: more config kwargs, as JSON). Its progress
    bars go to a file beside ``rows_out``: a pipe nobody reads while waiting for a kill
    moment fills up and blocks the build."""
    import deezer_contextual_tags

    with open(_log_of(rows_out), "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-c", _CHILD, deezer_contextual_tags.__file__, config, str(cache_dir), str(tracks),
             str(rows_out), json.dumps(kwargs or {})],
            env=child_env(web), stdout=subprocess.DEVNULL, stderr=log,
        )


def build(web: LocalWeb, cache_dir: Path, tracks: int, config: str = "full", kwargs: dict | None = None) -> dict[int, dict]:
    """Build to the end in a child process; the dataset's rows by track id."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        child = start_build(web, cache_dir, tracks, out, config, kwargs)
        _check_finished(child.wait(), out)
        return {int(k): v for k, v in json.loads(out.read_text()).items()}


def _log_of(rows_out: Path) -> Path:
    return rows_out.with_suffix(".log")


def _check_finished(returncode: int, rows_out: Path) -> None:
    if returncode != 0:
        tail = _log_of(rows_out).read_text(errors="replace")[-2000:]
        raise RuntimeError(f"the build failed ({returncode}): {tail}")


def finished_clips(cache_dir: Path) -> int:
    """Tracks whose clip the manifest has committed (0 while there is no manifest yet)."""
    path = cache_dir / WORK_DIR / "manifest.sqlite"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            return db.execute("SELECT COUNT(*) FROM tracks WHERE audio_source IS NOT NULL").fetchone()[0]
    except sqlite3.OperationalError:  # being created
        return 0


def manifest_sha256(manifest: Path) -> dict[int, str]:
    """track id -> sha256 of its clip, from a finished build's manifest."""
    with sqlite3.connect(f"file:{manifest}?mode=ro", uri=True) as db:
        return {t: s for t, s in db.execute("SELECT track_id, audio_sha256 FROM tracks WHERE audio_source IS NOT NULL")}


# -- the audit -------------------------------------------------------------------------------


@dataclass
class Audit:
    examples: int = 0
    with_audio: int = 0
    identical_to_reference: int = 0
    silently_wrong: list[str] = field(default_factory=list)  # must stay empty
    without_audio: Counter = field(default_factory=Counter)  # reason -> tracks
    reference_had_audio_but_not_here: int = 0
    decoded: int = 0  # clips fully decoded by libsndfile (all, or a seeded sample)
    temp_files_left: list[str] = field(default_factory=list)

    def figures(self) -> dict:
        return {
            "examples": self.examples,
            "with_audio": self.with_audio,
            "identical_to_fault_free": self.identical_to_reference,
            "silently_wrong": len(self.silently_wrong),
            "silently_wrong_examples": self.silently_wrong[:10],
            "without_audio_by_reason": dict(self.without_audio.most_common()),
            "fault_free_had_audio_but_not_here": self.reference_had_audio_but_not_here,
            "fully_decoded": self.decoded,
            "temp_files_left": len(self.temp_files_left),
        }


def audit(cache_dir: Path, rows: dict[int, dict], reference: dict[int, str], *, decode_sample: int | None = None,
          seed: int = 0) -> Audit:
    """Check every clip the dataset names: the file exists inside the work dir, its sha256
    is the one the dataset states and the fault-free build's, its MPEG frames are whole
    and add up to a clip's length; libsndfile decodes all of them, or ``decode_sample``
    of them chosen with ``seed``. Tracks without audio are counted by the manifest's reason."""
    work_dir = (cache_dir / WORK_DIR).resolve()
    result = Audit(examples=len(rows))
    with_audio = sorted(t for t, r in rows.items() if r.get("audio"))
    to_decode = set(with_audio if decode_sample is None or decode_sample >= len(with_audio)
                    else random.Random(seed).sample(with_audio, decode_sample))
    for track_id in with_audio:
        row = rows[track_id]
        result.with_audio += 1
        problem = _clip_problem(Path(row["audio"]), work_dir, row.get("audio_sha256"), reference.get(track_id),
                                decode=track_id in to_decode)
        if problem:
            result.silently_wrong.append(f"{track_id}: {problem} ({_provenance(work_dir / 'manifest.sqlite', track_id)})")
            continue
        result.identical_to_reference += 1
        result.decoded += track_id in to_decode
    # The build's tracks are the manifest's: the dataset leaves out those without audio.
    built = _manifest_tracks(work_dir / "manifest.sqlite")
    result.without_audio = _reasons_without_audio(work_dir / "manifest.sqlite", built - set(with_audio))
    result.reference_had_audio_but_not_here = len(set(reference) & built - set(with_audio))
    result.temp_files_left = [str(p) for p in (work_dir / "audio").rglob("*") if p.name.endswith(_TEMP_SUFFIXES)]
    return result


def _clip_problem(path: Path, work_dir: Path, stated: str | None, reference: str | None, *, decode: bool) -> str | None:
    path = path.resolve()
    if work_dir not in path.parents:
        return f"its audio path {path} is outside the work dir"
    try:
        data = path.read_bytes()
    except OSError as error:
        return f"its audio file cannot be read ({error.strerror})"
    digest = hashlib.sha256(data).hexdigest()
    if digest != stated:
        return "the file's sha256 is not the one the dataset states"
    if reference is None:
        return "the fault-free build has no audio for this track"
    if digest != reference:
        return "the clip differs from the fault-free build's"
    try:
        seconds = inspect_mp3(data).duration
    except InvalidAudio as problem:
        return f"not a whole MP3: {problem}"
    if not CLIP_SECONDS[0] <= seconds <= CLIP_SECONDS[1]:
        return f"{seconds:.1f} s long"
    if decode:
        try:
            samples, rate = soundfile.read(path, dtype="int16")
        except (soundfile.LibsndfileError, RuntimeError) as error:
            return f"libsndfile cannot decode it: {error}"
        if not CLIP_SECONDS[0] <= len(samples) / rate <= CLIP_SECONDS[1]:
            return f"decodes to {len(samples) / rate:.1f} s"
    return None


def _provenance(manifest: Path, track_id: int) -> str:
    """Where the manifest says a clip came from, to diagnose one the audit refuses."""
    with sqlite3.connect(f"file:{manifest}?mode=ro", uri=True) as db:
        source, video, evidence = db.execute(
            "SELECT audio_source, youtube_video_id, match_evidence FROM tracks WHERE track_id = ?", (track_id,)).fetchone()
    if source != "youtube":
        return str(source)
    start = json.loads(evidence).get("section_start") if evidence else None
    return f"youtube video {video} from {start} s"


def _manifest_tracks(manifest: Path) -> set[int]:
    with sqlite3.connect(f"file:{manifest}?mode=ro", uri=True) as db:
        return {t for (t,) in db.execute("SELECT track_id FROM tracks")}


def _reasons_without_audio(manifest: Path, track_ids: set[int]) -> Counter:
    reasons: Counter = Counter()
    with sqlite3.connect(f"file:{manifest}?mode=ro", uri=True) as db:
        for track_id, meta, preview, youtube, error in db.execute(
                "SELECT track_id, meta_status, preview_status, youtube_status, audio_error FROM tracks"):
            if track_id in track_ids:
                reasons[_reason(meta, preview, youtube, error)] += 1
    return reasons


def _reason(meta: str, preview: str, youtube: str, error: str | None) -> str:
    if meta == "no_data" and youtube == "none":
        return "gone from Deezer, no YouTube match"
    if "failed" in (meta, preview, youtube):
        return f"failed (retried next build): {_first_words(error)}"
    if youtube == "none":
        return "no preview, no YouTube match"
    return f"{meta}/{preview}/{youtube}"


def _first_words(error: str | None, words: int = 6) -> str:
    return " ".join((error or "no error recorded").split()[:words])


# -- the kill campaign -----------------------------------------------------------------------


@dataclass
class KillRecord:
    at_clips: int            # finished clips in the manifest when the kill was sent
    requests_before: int     # requests of every run up to the kill: the work done before it
    bytes_before: int
    requests_of_killed_run: int
    redone_requests: int     # GETs of the next run that repeat a finished one of any earlier run
    redone_bytes: int
    redone_by_service: dict = field(default_factory=dict)
    # Of those, the ones for a video several tracks had as a candidate: each track fetches it
    # in an uninterrupted build too, so such a repeat may be another track's first fetch.
    shared_video_requests: int = 0
    shared_video_bytes: int = 0
    # The killed builder's private temp folder (yt-dlp cache, cookie copies) is still there
    # once the campaign has ended: the later builds did not clean it up.
    private_folder_left: bool = False

    def figures(self) -> dict:
        return {
            "killed_at_clips": self.at_clips,
            "requests_of_killed_run": self.requests_of_killed_run,
            "requests_before_the_kill": self.requests_before,
            "redone_requests": self.redone_requests,
            "redone_requests_fraction": round(self.redone_requests / max(self.requests_before, 1), 4),
            "redone_bytes_fraction": round(self.redone_bytes / max(self.bytes_before, 1), 4),
            "redone_requests_by_path": self.redone_by_service,
            "of_which_videos_shared_by_tracks": self.shared_video_requests,
            "redone_requests_fraction_without_shared_videos":
                round((self.redone_requests - self.shared_video_requests) / max(self.requests_before, 1), 4),
            "redone_bytes_fraction_without_shared_videos":
                round((self.redone_bytes - self.shared_video_bytes) / max(self.bytes_before, 1), 4),
            "private_temp_folder_left": self.private_folder_left,
        }


def kill_campaign(web: LocalWeb, cache_dir: Path, tracks: int, *, kills: int, seed: int, expected_clips: int,
                  timeout: float = 7200.0, kwargs: dict | None = None) -> tuple[dict[int, dict], list[KillRecord]]:
    """Build, SIGKILL the build at ``kills`` moments (seeded: when the manifest holds a random
    fraction of ``expected_clips``, plus a random delay of up to 1 s), resume each time,
    and let the last run finish. Returns the final rows and one record per kill."""
    rng = random.Random(seed)
    targets = sorted(int(rng.uniform(0.02, 0.95) * expected_clips) for _ in range(kills))
    finished: set[str] = set()  # resources fetched whole by earlier runs
    records: list[KillRecord] = []
    done_requests = done_bytes = 0
    previous: list = []
    redone_by_record: list[list] = []
    killed_pids: list[int] = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        for run in range(kills + 1):
            start = len(web.requests)
            child = start_build(web, cache_dir, tracks, out, kwargs=kwargs)
            deadline = time.monotonic() + timeout
            target = targets[run] if run < kills else None
            while target is not None and finished_clips(cache_dir) < target:
                if child.poll() is not None:
                    raise RuntimeError(f"the build ended before kill {run + 1} ({child.returncode})")
                if time.monotonic() > deadline:
                    raise RuntimeError("the build made too little progress")
                time.sleep(0.1)
            if target is not None:
                time.sleep(rng.uniform(0.0, 1.0))
                at = finished_clips(cache_dir)
                child.send_signal(signal.SIGKILL)
                killed_pids.append(child.pid)
            returncode = child.wait(timeout=None if target is not None else timeout)
            if target is None:
                _check_finished(returncode, out)
            this_run = web.requests[start:]
            if previous:
                redone = [r for r in this_run if r.method == "GET" and _resource(r) in finished]
                records[-1].redone_requests = len(redone)
                records[-1].redone_bytes = sum(r.bytes_sent for r in redone)
                records[-1].redone_by_service = dict(Counter("/".join(r.path.split("/")[:2]) for r in redone))
                redone_by_record.append(redone)
            finished |= {_resource(r) for r in this_run if _whole(r)}
            done_requests += len(this_run)
            done_bytes += sum(r.bytes_sent for r in this_run)
            if target is not None:
                records.append(KillRecord(at, done_requests, done_bytes, len(this_run), 0, 0))
            previous = this_run
        rows = {int(k): v for k, v in json.loads(out.read_text()).items()}
    left = {owner(f) for f in folders_of(set(killed_pids))}
    for record, pid in zip(records, killed_pids):
        record.private_folder_left = pid in left
    shared = _videos_shared_by_tracks(cache_dir / WORK_DIR / "manifest.sqlite")
    for record, redone in zip(records, redone_by_record):
        of_shared = [r for r in redone if _video_of(r) in shared]
        record.shared_video_requests = len(of_shared)
        record.shared_video_bytes = sum(r.bytes_sent for r in of_shared)
    return rows, records


def _videos_shared_by_tracks(manifest: Path) -> set[str]:
    """Videos that more than one track's YouTube evidence lists as a candidate."""
    listed: Counter = Counter()
    with sqlite3.connect(f"file:{manifest}?mode=ro", uri=True) as db:
        for (evidence,) in db.execute("SELECT match_evidence FROM tracks WHERE match_evidence IS NOT NULL"):
            candidates = json.loads(evidence).get("candidates") or []
            listed.update({c["video_id"] for c in candidates if c.get("video_id")})
    return {video for video, tracks in listed.items() if tracks > 1}


def _video_of(served) -> str | None:
    """The video a media request or a watch page is for; None for any other request."""
    if served.path.startswith("/media/"):  # .../id/{video}/itag/{itag}, or a manifest's .../id/{video}
        parts = served.path.split("/")
        return parts[parts.index("id") + 1] if "id" in parts[:-1] else None
    return (parse_qs(served.query).get("v") or [None])[0]


def _resource(served) -> str:
    # Preview and media URLs carry a fresh signature per API call or watch page; the path
    # names the file.
    # Watch and search pages are named by their query.
    return served.path if served.path.startswith(("/cdn/", "/media/", "/deezer/")) else f"{served.path}?{served.query}"


def _whole(served) -> bool:
    """A request answered in full (not a fault, not a quota answer's retry target)."""
    return served.method == "GET" and served.status in (200, 206) and served.fault is None
