"""Any clone passes: nothing the suite or the benchmarks read lies outside the checkout."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What would reach outside: the sibling folder the public files come from, or a path above the checkout.
OUTSIDE = re.compile(r"\.\./shared|shared/data|parents\[\d+\]\.parent")
CODE = (".py", ".cfg", ".toml", ".sh", "run")


def tracked() -> list[str]:
    return subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()


def test_no_code_names_a_path_outside_the_checkout():
    found = [f"{name}:{n}" for name in tracked() if name.endswith(CODE)
             for n, line in enumerate((ROOT / name).read_text(encoding="utf-8", errors="replace").splitlines(), 1)
             if OUTSIDE.search(line) and name != "tests/test_any_clone.py"]
    assert found == []


def test_a_copy_in_an_empty_folder_reads_the_real_data_and_serves_it(tmp_path):
    """The repository's files alone, in a folder with nothing beside or above it: the tests that
    read the published files pass there (the splits, the served files' digests, the recorded
    Deezer response)."""
    clone = tmp_path / "clone"
    for name in tracked():
        if (ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    assert not any((parent / "shared").exists() for parent in clone.parents)
    env = {key: value for key, value in os.environ.items() if not key.startswith("DEEZER_TAGS_")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", "tests/test_splits.py",
         "tests/stand_in/test_local_web.py", "-k", "artist or served_files or public_data or recorded_shape"],
        cwd=clone, env={**env, "PYTHONPATH": str(clone)}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.search(r"\b(1[0-9]|[2-9][0-9]) passed", done.stdout), done.stdout[-500:]
