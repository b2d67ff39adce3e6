"""Regenerate docs/coverage.png, the coverage plot the README's quick start shows: it is
the one `deezer-tags demo` writes, from a fresh demo build.

    python scripts/make_docs_plot.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="deezer-tags-docs-") as cache:
        subprocess.run([sys.executable, "-m", "deezer_tags", "demo", "--cache-dir", cache], check=True,
                       stdout=subprocess.DEVNULL)
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(Path(cache) / "report" / "coverage.png", DOCS / "coverage.png")
    print(DOCS / "coverage.png")


if __name__ == "__main__":
    main()
