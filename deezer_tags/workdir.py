"""Where every file of a build lives: the work dir's layout, in one place.

The work dir outlives a build: the manifest (what every track got), the clips, the reports,
the lock. By default it is ``deezer_tags/`` under the datasets cache dir (not the name
``datasets`` gives its own Arrow cache of the script, ``deezer_contextual_tags/``); a build
may be given another with ``work_dir=``. Nothing here imports ``datasets`` or yt-dlp, so
``status`` and ``report`` start fast.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

WORK_DIR_NAME = "deezer_tags"
MANIFEST_NAME = "manifest.sqlite"
REPORT_NAME = "build_report.json"
SPLITS_NAME = "splits.csv"
FAILED_NAME = "failed_tracks.csv"
CALIBRATION_NAME = "calibration.csv"
LOCK_NAME = "build.lock"
AUDIO_DIR = "audio"
REPORT_DIR = "report"
# A clip's file name by its source: one file per source, so that a preview arriving for a
# track that has a YouTube clip never overwrites the file the manifest still points at.
AUDIO_SUFFIX = {"deezer_preview": ".mp3", "youtube": ".youtube.mp3"}
# Temp files a killed build leaves that cannot be resumed (an ffmpeg output, an import cut
# short). A preview's `.part` is not one of them: its download resumes.
ORPHANS = (".*.youtube.mp3.*", ".*.import")


def default_cache_root() -> Path:
    """The datasets cache dir `load_dataset` uses when given no cache_dir: the rule of
    datasets/config.py (HF_DATASETS_CACHE, else $HF_HOME/datasets, else
    $XDG_CACHE_HOME/huggingface/datasets), without importing datasets."""
    hf_home = os.path.expanduser(
        os.getenv("HF_HOME", os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "huggingface")))
    return Path(os.getenv("HF_DATASETS_CACHE", os.path.join(hf_home, "datasets"))).expanduser()


@dataclass(frozen=True)
class WorkDir:
    root: Path

    @classmethod
    def of(cls, cache_dir: str | os.PathLike | None = None, work_dir: str | os.PathLike | None = None) -> WorkDir:
        """The build's ``work_dir`` if it had one, else ``deezer_tags/`` under the cache dir
        (the datasets default when None)."""
        if work_dir:
            return cls(Path(work_dir).expanduser())
        return cls((Path(cache_dir).expanduser() if cache_dir else default_cache_root()) / WORK_DIR_NAME)

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST_NAME

    @property
    def report(self) -> Path:
        return self.root / REPORT_NAME

    @property
    def splits(self) -> Path:
        return self.root / SPLITS_NAME

    @property
    def failed(self) -> Path:
        return self.root / FAILED_NAME

    @property
    def calibration(self) -> Path:
        return self.root / CALIBRATION_NAME

    @property
    def lock(self) -> Path:
        return self.root / LOCK_NAME

    @property
    def audio_dir(self) -> Path:
        return self.root / AUDIO_DIR

    @property
    def report_dir(self) -> Path:
        return self.root / REPORT_DIR

    def audio_path(self, track_id: int, source: str) -> Path:
        """Where a track's clip from ``source`` lives (``int`` first: ids never shape a path)."""
        return self.audio_dir / f"{int(track_id)}{AUDIO_SUFFIX[source]}"

    def relative(self, path: str | os.PathLike) -> str:
        return str(Path(path).relative_to(self.root))

    def remove_orphans(self) -> None:
        """Delete the temp files a killed build left that cannot be resumed (see ORPHANS).
        Only one build holds the work dir, so no live build owns these."""
        for pattern in ORPHANS:
            for orphan in self.audio_dir.glob(pattern):
                orphan.unlink(missing_ok=True)


def write_atomically(path: Path, text: str) -> None:
    """``text`` into ``path`` through a temp name: the file is whole or as it was."""
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # a disk that filled up mid-write leaves no half file


def csv_text(rows: Sequence[Sequence[object]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()
