"""`deezer-tags build` when something outside it goes wrong: no network, the Deezer quota
spent by someone else, YouTube's bot check, a full or read-only disk, a second build on the
same cache, a broken source file. Each time the user reads one sentence saying what happened
and what to do, the exit code is not 0, nothing fetched is lost, and the same command resumes.

Disks are real: a small tmpfs (we run as root), or where mounting is not permitted a child
whose file size limit (RLIMIT_FSIZE) makes its writes fail with EFBIG.
"""

from __future__ import annotations

import hashlib
import os
import re
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import pytest
import soundfile

from deezer_tags.cli import main
from deezer_tags.previews import OVERLAP
from deezer_tags.testing import LocalWeb, Scenario
from deezer_tags.testing.urls import engine_config

from conftest import FAST_QUOTA, api_track_ids

PREFIX = "deezer-tags: "
RERUN = "then run the same command again"


# --- helpers ------------------------------------------------------------------------------

def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def web_env(web: LocalWeb, quota: str | None = None) -> dict[str, str]:
    return {**web.env(), "DEEZER_TAGS_QUOTA": quota or f"{web.quota}/{web.window}"}


def nowhere_env(port: int) -> dict[str, str]:
    """Every endpoint on a closed port: no network at all."""
    return {f"DEEZER_TAGS_{key.upper()}": value for key, value in engine_config(f"http://127.0.0.1:{port}").items()}


def run_main(capsys, monkeypatch, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """`deezer-tags build ARGS` in this process, with `env` set; (exit code, stdout, stderr)."""
    with monkeypatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        code = main(["build", *args])
    out, err = capsys.readouterr()
    return code, out, err


def run_child(env: dict[str, str], *args: str, file_size_limit: int | None = None,
              timeout: float = 120) -> subprocess.CompletedProcess:
    """`deezer-tags build ARGS` in a child process (its own GIL, or its own file size limit)."""
    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    return subprocess.run([sys.executable, "-m", "deezer_tags", "build", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout,
                          preexec_fn=limit_file_size if file_size_limit else None)


def last_line(stderr: str) -> str:
    """The sentence: the last line of stderr (progress bars come before it), the only one from
    deezer-tags, and no traceback."""
    assert "Traceback" not in stderr, stderr[-3000:]
    ours = [line for line in stderr.splitlines() if line.startswith(PREFIX)]
    assert len(ours) == 1, stderr[-3000:]
    assert stderr.strip().splitlines()[-1] == ours[0], stderr[-3000:]
    return ours[0]


def manifest_path(cache: Path) -> Path:
    return cache / "deezer_tags" / "manifest.sqlite"


def sql(cache: Path, query: str) -> list[tuple]:
    db = sqlite3.connect(f"file:{manifest_path(cache)}?mode=ro", uri=True)
    try:
        return db.execute(query).fetchall()
    finally:
        db.close()


def status_counts(cache: Path, column: str) -> dict[str, int]:
    return dict(sql(cache, f"SELECT {column}, COUNT(*) FROM tracks GROUP BY 1"))


def assert_manifest_intact(cache: Path) -> None:
    assert sql(cache, "PRAGMA integrity_check") == [("ok",)]


def assert_only_whole_clips(cache: Path) -> None:
    """Every clip the manifest points at is there with its sha256, and every clip file in the
    cache decodes to a whole 30 s preview: no half-written file passes for audio."""
    work = cache / "deezer_tags"
    for path, sha in sql(cache, "SELECT audio_path, audio_sha256 FROM tracks WHERE audio_path IS NOT NULL"):
        assert not Path(path).name.startswith("."), path
        assert hashlib.sha256((work / path).read_bytes()).hexdigest() == sha, path
    for clip in (work / "audio").glob("[0-9]*.mp3"):
        assert soundfile.info(str(clip)).duration > 29, f"{clip} is cut short"


def preview_requests(web: LocalWeb) -> list[tuple[int, str | None]]:
    """(track, Range header) of each preview GET the local web served, in order."""
    key_to_track = {web.scenario.preview_key(t): t for t in web.scenario.tracks}
    return [(key_to_track[m.group(1)], r.client_range) for r in web.requests if r.method == "GET"
            and (m := re.match(r"^/cdn/stream/c-([0-9a-f]{32})-5\.mp3$", r.path))]


def preview_track_ids(web: LocalWeb) -> list[int]:
    return [track for track, _ in preview_requests(web)]


def partial_previews(cache: Path) -> dict[int, int]:
    """Bytes of each preview download cut short (`.<id>.mp3.part`), by track."""
    return {int(part.name.split(".")[1]): part.stat().st_size
            for part in (cache / "deezer_tags" / "audio").glob(".*.mp3.part")}


def can_mount() -> str | None:
    """None if this process may mount a tmpfs, else why not."""
    probe = Path(f"/tmp/deezer-tags-mount-probe-{os.getpid()}")
    probe.mkdir(exist_ok=True)
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            return f"`mount -t tmpfs` is not permitted here: {done.stderr.strip()}"
        subprocess.run(["umount", str(probe)], check=True)
        return None
    except FileNotFoundError:
        return "there is no `mount` command"
    finally:
        probe.rmdir()


MOUNT_REFUSED = can_mount()


@contextmanager
def tmpfs(directory: Path, size: str):
    """A tmpfs of `size` mounted on `directory` for the block; always unmounted."""
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)], check=True)
    try:
        yield directory
    finally:
        if subprocess.run(["umount", str(directory)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(directory)], check=True)  # a file still open: detach


def fill(directory: Path, leave: int = 0) -> Path:
    """Take all free space of `directory`'s disk but `leave` bytes, in a ballast file."""
    ballast = directory / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            try:
                os.write(fd, b"\0" * 65536)  # the last one writes what fits, the next fails
            except OSError:
                break
        os.ftruncate(fd, max(0, os.fstat(fd).st_size - leave))
    finally:
        os.close(fd)
    return ballast


# --- 1. no network ------------------------------------------------------------------------

def test_no_network_stops_at_the_source_files_and_keeps_the_earlier_tracks(tmp_path, capsys, monkeypatch):
    with LocalWeb(Scenario.from_public_data(), **FAST_QUOTA) as web:
        code, _, err = run_main(capsys, monkeypatch, web_env(web), "--config", "metadata", "--max-tracks", "5",
                                "--cache-dir", str(tmp_path))
        assert code == 0, err
    sources = sorted(p.name for p in (tmp_path / "downloads").iterdir())
    first_five = {t for (t,) in sql(tmp_path, "SELECT track_id FROM tracks")}

    port = closed_port()
    code, _, err = run_main(capsys, monkeypatch, nowhere_env(port), "--config", "metadata", "--max-tracks", "10",
                            "--cache-dir", str(tmp_path))
    assert code == 2
    assert last_line(err) == (f"{PREFIX}cannot reach 127.0.0.1:{port}: check the network connection, "
                              f"{RERUN}; 5 tracks fetched so far are kept")
    assert sorted(p.name for p in (tmp_path / "downloads").iterdir()) == sources
    assert status_counts(tmp_path, "meta_status") == {"ok": 5}

    with LocalWeb(Scenario.from_public_data(), **FAST_QUOTA) as web:
        code, out, err = run_main(capsys, monkeypatch, web_env(web), "--config", "metadata", "--max-tracks", "10",
                                  "--cache-dir", str(tmp_path))
        assert code == 0, err
        assert len(api_track_ids(web)) == 5 and not first_five & set(api_track_ids(web))
    assert "ok 10" in out


def test_no_network_on_a_fresh_cache_is_one_sentence(tmp_path, capsys, monkeypatch):
    port = closed_port()
    code, _, err = run_main(capsys, monkeypatch, nowhere_env(port), "--config", "previews", "--max-tracks", "3",
                            "--cache-dir", str(tmp_path))
    assert code == 2
    assert last_line(err) == f"{PREFIX}cannot reach 127.0.0.1:{port}: check the network connection, {RERUN}"


@pytest.mark.parametrize("what, make, expected", [
    ("--track-ids", lambda d: d / "missing.txt", r"cannot read the track_ids file .*missing\.txt: No such file"),
    ("--track-ids", lambda d: _write(d / "ids.txt", "3135556\nnot-an-id\n"),
     r"track_ids holds 'not-an-id', which is not a positive integer track id"),
    ("--recipe", lambda d: d / "missing.csv", r"recipe .*missing\.csv"),
    ("--recipe", lambda d: _write(d / "recipe.csv", "what,ever\n1,2\n"), r"recipe .*recipe\.csv"),
    ("--youtube-cookies", lambda d: _write(d / "cookies.txt", "\x00\x01 not cookies"),
     r"cannot use .*cookies\.txt as the YouTube cookies file"),
    ("--youtube-budget", lambda d: "fast", r"youtube_budget='fast' is not VIDEOS/SECONDS"),
])
def test_a_users_own_input_is_checked_before_the_first_request(tmp_path, capsys, monkeypatch, what, make, expected):
    """Without a network: the sentence is about the user's input, not the unreachable host."""
    value = make(tmp_path)
    code, _, err = run_main(capsys, monkeypatch, nowhere_env(closed_port()), "--config", "full", "--max-tracks", "3",
                            "--cache-dir", str(tmp_path / "cache"), what, str(value))
    assert code == 2
    line = last_line(err)
    assert re.search(expected, line), line
    assert "cannot reach" not in line


def test_a_split_file_of_ones_own_is_checked_before_the_first_request(tmp_path):
    """The split file is a config kwarg only (load_dataset(..., split_file=...))."""
    import deezer_tags
    from deezer_tags.errors import BadTrackSelectionError

    bad = _write(tmp_path / "mine.csv", "track,part\n3135556,train\n")
    env = nowhere_env(closed_port())
    with pytest.raises(BadTrackSelectionError, match=r"split_file .*mine\.csv needs a header with track_id and split"):
        with pytest.MonkeyPatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            deezer_tags.load_dataset("metadata", cache_dir=str(tmp_path / "cache"), max_tracks=3,
                                     split_file=str(bad))


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_an_unreachable_deezer_api_stops_the_build_instead_of_retrying_every_track(tmp_path, capsys, monkeypatch):
    with LocalWeb(Scenario.from_public_data(), **FAST_QUOTA) as web:
        code, _, err = run_main(capsys, monkeypatch, web_env(web), "--config", "metadata", "--max-tracks", "10",
                                "--cache-dir", str(tmp_path))
        assert code == 0, err

        # The files still come from the local web (cached); the API is on a closed port.
        port = closed_port()
        no_api = {**web_env(web), "DEEZER_TAGS_API_URL": f"http://127.0.0.1:{port}/deezer",
                  "DEEZER_TAGS_UNREACHABLE_AFTER": "1"}
        started = time.monotonic()
        code, _, err = run_main(capsys, monkeypatch, no_api, "--config", "metadata", "--max-tracks", "200",
                                "--workers", "4", "--cache-dir", str(tmp_path))
        took = time.monotonic() - started
        assert code == 2
        assert last_line(err) == (f"{PREFIX}cannot reach 127.0.0.1:{port}: check the network connection, "
                                  f"{RERUN}; 10 tracks fetched so far are kept")
        # Retried to the end, 190 tracks x 6 attempts would take about 190 / 4 x 10 s.
        assert took < 20
        assert status_counts(tmp_path, "meta_status") == {"ok": 10, "pending": 190}
        assert sql(tmp_path, "SELECT SUM(attempts) FROM tracks") == [(10,)]
        assert_manifest_intact(tmp_path)

        web.clear_log()
        code, out, err = run_main(capsys, monkeypatch, web_env(web), "--config", "metadata", "--max-tracks", "200",
                                  "--cache-dir", str(tmp_path))
        assert code == 0, err
        called = api_track_ids(web)
    assert "ok 200" in out
    assert len(set(called)) == 190 and len(called) - 190 <= web.quota_rejections


# --- 2. the Deezer quota, spent for longer than the client waits ----------------------------

def test_a_quota_spent_for_long_stops_the_build_then_it_resumes(tmp_path):
    # The server allows 5 calls per 0.5 s; the client is told 100, as if another program
    # on the IP were calling too. Every arrival counts, so the quota stays spent. In a child
    # process: a client in the server's process shares its GIL, and arrivals would jitter.
    with LocalWeb(Scenario.from_public_data(), quota=5, window=0.5) as web:
        overdrawn = {**web_env(web, "100/0.5"), "DEEZER_TAGS_QUOTA_PATIENCE": "2"}
        started = time.monotonic()
        result = run_child(overdrawn, "--config", "metadata", "--max-tracks", "20", "--workers", "4",
                           "--cache-dir", str(tmp_path))
        took = time.monotonic() - started
        asked = web.count("/deezer/track/")
        assert result.returncode == 2
        sentence = re.fullmatch(
            re.escape(f"{PREFIX}the Deezer API has answered 'quota exceeded' for over 2 s: another program on "
                      "this IP may be using it, stop it or wait a while, ") + re.escape(RERUN)
            + r"; (\d+) tracks fetched so far are kept", last_line(result.stderr))
        assert sentence, last_line(result.stderr)
        kept = int(sentence.group(1))
        assert status_counts(tmp_path, "meta_status") == {"ok": kept, "pending": 20 - kept}
        assert took < 30 and asked < 200, "the client kept knocking after it gave up"
        assert_manifest_intact(tmp_path)

        time.sleep(web.window)  # the server's window rolls past the knocking
        web.clear_log()
        result = run_child(web_env(web), "--config", "metadata", "--max-tracks", "20", "--workers", "4",
                           "--cache-dir", str(tmp_path))
        assert result.returncode == 0, result.stderr[-3000:]
        called = api_track_ids(web)
    assert "ok 20" in result.stdout
    assert len(set(called)) == 20 - kept


# --- 3. YouTube's bot check ---------------------------------------------------------------

def test_a_bot_check_that_outlasts_the_patience_stops_the_build_with_the_fix_and_it_resumes(
        tmp_path, capsys, monkeypatch):
    """YouTube's bot check pauses YouTube work (2 windows, then 4, 8, ...); past youtube_patience
    of bot checks with nothing answered between, the build stops with the cookies hint, keeping
    what it has, and the same command resumes once YouTube answers again."""
    scenario = Scenario.from_public_data(no_preview_fraction=0.3, seed=1)
    tracks = 5  # 2 of them without a preview
    args = ("--config", "full", "--max-tracks", str(tracks), "--cache-dir", str(tmp_path),
            "--youtube-budget", "100/0.05", "--youtube-patience", "0.0003")  # ~1 s of bot checks
    with LocalWeb(scenario, youtube_blocked=True, **FAST_QUOTA) as web:
        code, out, err = run_main(capsys, monkeypatch, web_env(web), *args)
        assert code == 2
        assert last_line(err) == (
            f"{PREFIX}YouTube has answered every request with its bot check for 0.0 h: pass a cookies file from "
            "a browser signed in to YouTube (--youtube-cookies FILE, or --youtube-cookies-from-browser), or lower "
            f"--youtube-budget, {RERUN}; {tracks} tracks fetched so far are kept")
        assert err.count("YouTube's bot check") >= 2  # each pause is said, and that it resumes by itself
        assert web.count("/media/") == 0
        without_preview = sql(tmp_path, "SELECT COUNT(*) FROM tracks WHERE preview_status = 'none'")[0][0]
        with_preview = sql(tmp_path, "SELECT COUNT(*) FROM tracks WHERE preview_status = 'ok'")[0][0]
        assert without_preview > 0 and with_preview + without_preview == tracks
        assert sql(tmp_path, "SELECT COUNT(*) FROM tracks WHERE youtube_status != 'pending' "
                             "AND preview_status = 'none'") == [(0,)]

        web.youtube_blocked = False
        code, out, err = run_main(capsys, monkeypatch, web_env(web), *args)
        assert code == 0, err[-3000:]
        assert sql(tmp_path, "SELECT COUNT(*) FROM tracks WHERE youtube_status = 'pending' "
                             "AND preview_status = 'none'") == [(0,)]
        assert f"Audio: deezer_preview {with_preview}, youtube " in out
    assert_only_whole_clips(tmp_path)


# --- 4. a full disk -----------------------------------------------------------------------

PREVIEW_TRACKS = 8


@pytest.mark.parametrize("disk", ["tmpfs", "file size limit"])
def test_a_full_disk_stops_the_build_keeps_the_manifest_whole_and_the_same_command_resumes(
        tmp_path, capsys, monkeypatch, disk):
    if disk == "tmpfs" and MOUNT_REFUSED:
        pytest.skip(MOUNT_REFUSED)
    cache = tmp_path / "cache"
    previews = ("--config", "previews", "--max-tracks", str(PREVIEW_TRACKS), "--cache-dir", str(cache))
    with LocalWeb(Scenario.from_public_data(), **FAST_QUOTA) as web, \
            (tmpfs(cache, "16m") if disk == "tmpfs" else nullcontext()):
        # Sources and metadata first (the previews' signed URLs are in the manifest then).
        code, _, err = run_main(capsys, monkeypatch, web_env(web), "--config", "metadata", "--max-tracks",
                                str(PREVIEW_TRACKS), "--cache-dir", str(cache))
        assert code == 0, err[-3000:]
        # In a child, whose exit waits for the downloads still running when the build stopped.
        if disk == "tmpfs":
            ballast = fill(cache, leave=1_200_000)  # two and a half previews
            full = run_child(web_env(web), *previews)
        else:
            ballast = None
            full = run_child(web_env(web), *previews, file_size_limit=300_000)  # a preview is ~480 KB
        assert full.returncode == 2
        assert last_line(full.stderr) == (f"{PREFIX}the disk holding {cache} is full: free space or pass "
                                          f"--cache-dir on a larger disk, {RERUN}")
        if ballast is not None:
            ballast.unlink()  # space freed (SQLite cannot even read a WAL database on a full disk)
        assert_manifest_intact(cache)
        assert_only_whole_clips(cache)
        assert sql(cache, "SELECT COUNT(*) FROM tracks WHERE audio_error LIKE '%space%' "
                          "OR audio_error LIKE '%too large%' OR preview_status = 'failed'") == [(0,)]
        kept = {t for (t,) in sql(cache, "SELECT track_id FROM tracks WHERE preview_status = 'ok'")}
        partial = partial_previews(cache)
        assert partial, "the disk filled up before any preview download began"

        web.clear_log()
        code, out, err = run_main(capsys, monkeypatch, web_env(web), *previews)
        assert code == 0, err[-3000:]
        fetched = preview_requests(web)
        assert status_counts(cache, "preview_status") == {"ok": PREVIEW_TRACKS}
        assert_only_whole_clips(cache)
        assert_manifest_intact(cache)
    assert not kept & {track for track, _ in fetched}, "a preview stored before the disk filled up was fetched again"
    first_request = {track: where for track, where in reversed(fetched)}
    for track, size in partial.items():  # a download cut short goes on from where it stopped (checked)
        assert first_request[track] == (f"bytes={max(0, size - OVERLAP)}-" if size else None), track
    assert f"Audio: deezer_preview {PREVIEW_TRACKS}, youtube 0; without audio: none" in out


@pytest.mark.skipif(bool(MOUNT_REFUSED), reason=str(MOUNT_REFUSED))
def test_a_full_disk_while_datasets_writes_arrow_is_the_same_sentence(tmp_path):
    # Only datasets' own output dir is on the small disk: the engine's work goes through,
    # datasets' Arrow writer meets ENOSPC (wrapped in DatasetGenerationError).
    cache = tmp_path / "cache"
    arrow_dir = cache / "deezer_contextual_tags"
    args = ("--config", "metadata", "--max-tracks", "5", "--cache-dir", str(cache))
    with LocalWeb(Scenario.from_public_data(), **FAST_QUOTA) as web, tmpfs(arrow_dir, "256k"):
        ballast = fill(arrow_dir, leave=4096)  # room for the lock files, not for the Arrow data
        result = run_child(web_env(web), *args)
        assert result.returncode == 2
        assert last_line(result.stderr) == (f"{PREFIX}the disk holding {cache} is full: free space or pass "
                                            f"--cache-dir on a larger disk, {RERUN}")
        assert status_counts(cache, "meta_status") == {"ok": 5}
        assert not list(arrow_dir.glob("**/*.arrow")), "a half-written Arrow file was left"

        ballast.unlink()
        web.clear_log()
        result = run_child(web_env(web), *args)
        assert result.returncode == 0, result.stderr[-3000:]
        assert api_track_ids(web) == []
    assert "ok 5" in result.stdout


@pytest.mark.skipif(bool(MOUNT_REFUSED), reason=str(MOUNT_REFUSED))
def test_a_full_disk_while_ffmpeg_cuts_a_youtube_clip_is_the_same_sentence(tmp_path, capsys, monkeypatch):
    # ffmpeg, a subprocess, says "No space left on device" in words only.
    scenario = Scenario.from_public_data(no_preview_fraction=0.3, seed=1)
    cache = tmp_path / "cache"
    args = ("--config", "full", "--max-tracks", "5", "--cache-dir", str(cache))  # 2 of them without a preview
    with LocalWeb(scenario, **FAST_QUOTA) as web, tmpfs(cache, "24m"):
        # All but the YouTube clips (no time for YouTube in this run). Another command (other
        # workers): datasets checks for the room a cached build of the same command took before it starts.
        code, _, err = run_main(capsys, monkeypatch, web_env(web), *args, "--workers", "8", "--youtube-hours", "1e-9")
        assert code == 0, err[-3000:]
        youtube_tracks = {t for (t,) in sql(cache, "SELECT track_id FROM tracks WHERE preview_status = 'none'")}
        assert len(youtube_tracks) == 2

        ballast = fill(cache, leave=200_000)  # less than a 30 s clip
        full = run_child(web_env(web), *args)
        assert web.count("/media/") > 0, "ffmpeg never started"
        assert full.returncode == 2
        assert last_line(full.stderr) == (f"{PREFIX}the disk holding {cache} is full: free space or pass "
                                          f"--cache-dir on a larger disk, {RERUN}")
        ballast.unlink()
        assert_manifest_intact(cache)
        assert sql(cache, "SELECT COUNT(*) FROM tracks WHERE youtube_status = 'failed' "
                          "OR audio_error LIKE '%space%'") == [(0,)], "a track was marked failed for the disk"
        waiting = {t for (t,) in sql(cache, "SELECT track_id FROM tracks WHERE youtube_status = 'pending' "
                                            "AND preview_status = 'none'")}
        assert waiting, "no YouTube track was left for the next run"
        assert_only_whole_clips(cache)

        code, out, err = run_main(capsys, monkeypatch, web_env(web), *args)
        assert code == 0, err[-3000:]
        outcomes = dict(sql(cache, "SELECT track_id, youtube_status FROM tracks WHERE preview_status = 'none'"))
        assert set(outcomes) == youtube_tracks and "ok" in {outcomes[t] for t in waiting}
        assert set(outcomes.values()) <= {"ok", "none"}  # none: no video on "YouTube" matches the track
        clips = sum(1 for status in outcomes.values() if status == "ok")
        assert f"Audio: deezer_preview 3, youtube {clips};" in out
        assert_only_whole_clips(cache)


# --- 5. a read-only cache dir -------------------------------------------------------------

NOBODY = 65534


def as_nobody() -> None:
    os.setgid(NOBODY)
    os.setgroups([])
    os.setuid(NOBODY)


def nobody_refused() -> str | None:
    """None if user 65534 can run this Python and import the package, else why not."""
    try:
        done = subprocess.run([sys.executable, "-c", "import deezer_tags.cli"], preexec_fn=as_nobody,
                              capture_output=True, text=True, timeout=60)
    except OSError as error:
        return f"user {NOBODY} cannot run {sys.executable}: {error}"
    if done.returncode != 0:
        return f"user {NOBODY} cannot import deezer_tags: {done.stderr.strip().splitlines()[-1:]}"
    return None


@pytest.mark.parametrize("how", ["read-only mount", "unprivileged user"])
def test_a_cache_dir_the_build_cannot_write_is_named_with_the_fix(tmp_path, capsys, monkeypatch, how):
    # As root, chmod does not stop a write: the dir is a tmpfs remounted read-only, or the
    # build runs as an unprivileged user on root's 0755 dir.
    refused = MOUNT_REFUSED if how == "read-only mount" else nobody_refused()
    if refused:
        pytest.skip(refused)
    cache = tmp_path / "cache"
    args = ("--config", "metadata", "--cache-dir", str(cache))
    with LocalWeb(Scenario.from_public_data(), **FAST_QUOTA) as web, \
            (tmpfs(cache, "32m") if how == "read-only mount" else nullcontext()):
        code, _, err = run_main(capsys, monkeypatch, web_env(web), *args, "--max-tracks", "5")
        assert code == 0, err[-3000:]
        with _unwritable(cache, how, tmp_path) as run_denied:
            result = run_denied(web_env(web), *args, "--max-tracks", "8")
        reason = "read-only file system" if how == "read-only mount" else "permission denied"
        assert result.returncode == 2
        assert last_line(result.stderr) == (f"{PREFIX}cannot write to {cache} ({reason}): make it writable "
                                            f"or pass --cache-dir with a writable dir, {RERUN}")
        assert_manifest_intact(cache)
        assert status_counts(cache, "meta_status") == {"ok": 5}
        web.clear_log()
        code, out, err = run_main(capsys, monkeypatch, web_env(web), *args, "--max-tracks", "8")
        assert code == 0, err[-3000:]
        assert len(api_track_ids(web)) == 3
    assert "ok 8" in out


@contextmanager
def _unwritable(cache: Path, how: str, tmp_path: Path):
    """`cache` made unwritable for the block; yields how to run the build against it."""
    if how == "read-only mount":
        subprocess.run(["mount", "-o", "remount,ro", str(cache)], check=True)
        try:
            yield run_child
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(cache)], check=True)
        return
    # The unprivileged user needs a way in (pytest's tmp dirs are 0700) and a HF_HOME of its own.
    home = tmp_path / "nobody-home"
    home.mkdir()
    os.chown(home, NOBODY, NOBODY)
    for folder in (tmp_path, *tmp_path.parents):
        if folder != Path("/"):
            folder.chmod(folder.stat().st_mode | 0o111)

    def run_as_nobody(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "deezer_tags", "build", *args], preexec_fn=as_nobody,
                              env={**os.environ, **env, "HF_HOME": str(home), "HOME": str(home)},
                              capture_output=True, text=True, timeout=120)

    yield run_as_nobody


# --- 6. two builds on one cache -----------------------------------------------------------

def test_two_builds_on_one_cache_wait_or_refuse_and_the_manifest_stays_whole(tmp_path, capsys, monkeypatch):
    cache = tmp_path / "cache"
    with LocalWeb(Scenario.from_public_data(), quota=50, window=0.5) as web:
        env = {**os.environ, **web_env(web)}
        command = [sys.executable, "-m", "deezer_tags", "build", "--max-tracks", "150", "--cache-dir", str(cache)]
        # The same command twice at once: datasets' own lock makes the second one wait.
        twins = [subprocess.Popen(command + ["--config", "metadata"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
        _wait_for_manifest(cache, *twins)
        web.latency = {"/deezer/": (2.0, 2.0)}  # the running build holds the cache until we let it go
        # Another config meanwhile (here): the engine's lock on the work dir refuses it.
        code, _, err = run_main(capsys, monkeypatch, web_env(web), "--config", "previews", "--max-tracks", "5",
                                "--cache-dir", str(cache))
        web.latency = (0.0, 0.0)
        results = [twin.communicate(timeout=120) for twin in twins]
        assert [twin.returncode for twin in twins] == [0, 0], [err[-2000:] for _, err in results]
        assert code == 2
        assert last_line(err) == (f"{PREFIX}another build is using {cache / 'deezer_tags'}: wait for it "
                                  f"to finish, {RERUN} (or build into another cache dir)")
        called = api_track_ids(web)
        rejected = web.quota_rejections
        assert all("ok 150" in out for out, _ in results)
        assert_manifest_intact(cache)
        assert status_counts(cache, "meta_status") == {"ok": 150}
        assert len(set(called)) == 150 and len(called) - 150 <= rejected, "both builds called Deezer for a track"

        web.clear_log()  # the refused command, again: it finds the metadata there
        code, out, err = run_main(capsys, monkeypatch, web_env(web), "--config", "previews", "--max-tracks", "5",
                                  "--cache-dir", str(cache))
        assert code == 0, err[-3000:]
        assert api_track_ids(web) == [] and len(preview_track_ids(web)) == 5


def _wait_for_manifest(cache: Path, *children: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while not sql_ready(cache):
        assert all(child.poll() is None for child in children), "a build ended before the other started"
        assert time.monotonic() < deadline
        time.sleep(0.05)


def sql_ready(cache: Path) -> bool:
    try:
        return bool(sql(cache, "SELECT COUNT(*) FROM tracks")[0][0])
    except sqlite3.OperationalError:
        return False


# --- 7. a broken source file --------------------------------------------------------------

def test_a_checksum_mismatch_is_one_sentence_with_the_cli_fix(tmp_path, capsys, monkeypatch):
    scenario = Scenario.from_public_data()
    scenario.files["test"] = scenario.files["test"][:-100]
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        code, _, err = run_main(capsys, monkeypatch, web_env(web), "--config", "metadata", "--max-tracks", "3",
                                "--cache-dir", str(tmp_path))
        base = web.base_url
    assert code == 2
    sentence = last_line(err)
    assert sentence.startswith(f"{PREFIX}the paper's test split file from {base}/github/")
    assert "deezer-tags build --force-redownload" in sentence
    assert len(re.findall(r"[.!?](\s|$)", sentence)) == 0, "more than one sentence"
    assert not manifest_path(tmp_path).exists(), "the build went on with a broken file"


def test_a_refused_yt_dlp_option_stops_the_build_before_any_download(tmp_path):
    """Told before the sources are fetched: with every endpoint on a closed port, a check
    made later would have said the network is unreachable instead."""
    result = run_child(nowhere_env(closed_port()), "--cache-dir", str(tmp_path),
                       "--yt-dlp-option", 'outtmpl="%(id)s.mp3"', "--yt-dlp-option", "sleep_interval_requests=1")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr == (PREFIX + "the yt-dlp option 'outtmpl' cannot be set through youtube_options: "
                             "the engine names and places every file itself; leave it out\n")
