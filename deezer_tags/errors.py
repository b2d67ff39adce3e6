"""Errors a user can act on. Each message says what happened and what to do, in one sentence."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Iterator

# A write failed because of the disk the cache is on, not because of the data.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})
NOT_WRITABLE_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})
_RERUN = "then run the same command again"


class UserError(Exception):
    """Base for errors the CLI prints as one sentence instead of a traceback."""


class ChecksumMismatchError(UserError):
    pass


class MalformedSourceError(UserError):
    pass


class BuildLockedError(UserError):
    pass


class BadTrackSelectionError(UserError):
    pass


class BuildStoppedError(UserError):
    """The build stopped on a condition outside it (network, quota); what it fetched is kept.

    Raised first without `kept` (where the condition is seen), then again with the count
    by the build, which knows the manifest."""

    def __init__(self, what: str, fix: str, kept: int | None = None) -> None:
        self.what, self.fix, self.kept = what, fix, kept
        kept_text = f"; {kept:,} tracks fetched so far are kept" if kept else ""
        super().__init__(f"{what}: {fix}, {_RERUN}{kept_text}")

    def with_kept(self, kept: int | None) -> "BuildStoppedError":
        return type(self)(self.what, self.fix, kept)

    def __reduce__(self):  # picklable with its fields, not its message
        return type(self), (self.what, self.fix, self.kept)


class NetworkUnreachableError(BuildStoppedError):
    @classmethod
    def of(cls, host: str) -> "NetworkUnreachableError":
        return cls(f"cannot reach {host}", "check the network connection")


class QuotaExhaustedError(BuildStoppedError):
    @classmethod
    def after(cls, seconds: float) -> "QuotaExhaustedError":
        return cls(f"the Deezer API has answered 'quota exceeded' for over {seconds:.0f} s",
                   "another program on this IP may be using it, stop it or wait a while")


class DiskFullError(UserError):
    def __init__(self, directory: Path, in_cache: bool = True) -> None:
        self.directory, self.in_cache = directory, in_cache
        # --cache-dir moves the build's files, not a temp dir's or another tool's.
        elsewhere = " or pass --cache-dir on a larger disk" if in_cache else ""
        super().__init__(f"the disk holding {directory} is full: free space{elsewhere}, {_RERUN}")

    def __reduce__(self):
        return type(self), (self.directory, self.in_cache)


class NotWritableError(UserError):
    def __init__(self, directory: Path, reason: str) -> None:
        self.directory, self.reason = directory, reason
        super().__init__(f"cannot write to {directory} ({reason}): make it writable or pass --cache-dir "
                         f"with a writable dir, {_RERUN}")

    def __reduce__(self):
        return type(self), (self.directory, self.reason)


def storage_error(error: BaseException, root: str | os.PathLike) -> UserError | None:
    """The sentence for an OSError that a disk caused: full or too small a file size limit
    (anywhere), read-only or not ours (the cache dir `root`); None for any other error."""
    if not isinstance(error, OSError):
        return None
    root = Path(root).expanduser().absolute()
    failed = _failed_path(error)
    in_cache = failed is None or failed == root or root in failed.parents
    where = root if in_cache else failed.parent
    if error.errno in DISK_FULL_ERRNOS or str(error).startswith("Not enough disk space"):
        # The last one is datasets' own check before it writes (an OSError with no errno).
        return DiskFullError(where, in_cache)
    if error.errno in NOT_WRITABLE_ERRNOS and in_cache:
        # Outside the cache dir EACCES may as well be a read: the error says it best itself.
        reason = "read-only file system" if error.errno == errno.EROFS else "permission denied"
        return NotWritableError(where, reason)
    return None


def user_error_in(error: BaseException, root: str | os.PathLike | None) -> UserError | None:
    """The UserError behind `error`, if any: `datasets` wraps what example generation and
    Arrow writing raise (DatasetGenerationError), so the cause chain is searched; with a
    `root` (the cache dir being built), an OSError of its disk becomes its sentence."""
    for link in cause_chain(error):
        if isinstance(link, UserError):
            return link
    if root is None:
        return None
    for link in cause_chain(error):
        found = storage_error(link, root)
        if found is not None:
            return found
    return None


def cause_chain(error: BaseException) -> Iterator[BaseException]:
    """`error`, then what caused it (or was being handled when it was raised), and so on."""
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__


def _failed_path(error: OSError) -> Path | None:
    """The file (or dir) the failed call was about, when the error names one."""
    if not error.filename:
        return None
    return Path(os.fsdecode(error.filename)).expanduser().absolute()


class YouTubeBotCheckError(BuildStoppedError):
    """YouTube's bot check lasted longer than youtube_patience: the run stops, resumable."""

    @classmethod
    def after(cls, hours: float) -> "YouTubeBotCheckError":
        return cls(f"YouTube has answered every request with its bot check for {hours:.1f} h",
                   "pass a cookies file from a browser signed in to YouTube (--youtube-cookies FILE, or "
                   "--youtube-cookies-from-browser), or lower --youtube-budget")
