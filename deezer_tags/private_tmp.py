"""Per-process temp folders that a later process cleans up when their owner was killed.

The YouTube recoverer keeps yt-dlp's cache, the ffmpeg link and per-thread cookie copies in
a folder of the system's temp dir, removed when it closes. A SIGKILL leaves the folder (and
any cookie copy) behind, so its name carries the owner's pid, and the next recoverer removes
the folders whose owner is gone.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

PREFIX = "deezer_tags-youtube-"
_OWNED = re.compile(re.escape(PREFIX) + r"(\d+)-")


def make_private_folder() -> Path:
    """A new folder only this user can read, named after this process; first removes the
    folders of processes that died without removing theirs."""
    for folder in orphaned_folders():
        shutil.rmtree(folder, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))


def folders_of(pids: set[int]) -> list[Path]:
    """The private folders that processes ``pids`` own (or owned)."""
    return [f for f in _owned_folders() if owner(f) in pids]


def orphaned_folders() -> list[Path]:
    """Private folders whose owner process is no longer running."""
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return []
    return [f for f in _owned_folders() if not _running(owner(f))]


def _owned_folders() -> list[Path]:
    return [f for f in Path(tempfile.gettempdir()).glob(f"{PREFIX}*") if _OWNED.match(f.name)]


def owner(folder: Path) -> int:
    return int(_OWNED.match(folder.name)[1])


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
