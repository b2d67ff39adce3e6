"""Write tests/data/lines/<datasets version>/: a two-row `full` copy exported by the installed
datasets line (deezer_tags.export + deezer_tags.card, as `deezer-tags export` writes them), with
1 s stereo MP3 clips at 44.1 kHz. Run it once under each line (3.6 and 5.x); the tests read
every folder there under whichever line runs them.

    python scripts/make_lines_fixture.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    import datasets

    from deezer_tags import TAGS
    from deezer_tags.card import write_card
    from deezer_tags.export import export_parquet
    from deezer_tags.features import audio_features

    out = ROOT / "tests" / "data" / "lines" / datasets.__version__
    shutil.rmtree(out, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        clips = []
        for i in range(2):
            t = np.arange(44100) / 44100
            stereo = np.stack([0.3 * np.sin(2 * np.pi * 440 * (i + 1) * t), 0.2 * np.sin(2 * np.pi * 1000 * t)])
            path = Path(tmp) / f"{i}.mp3"
            sf.write(str(path), stereo.T.astype(np.float32), 44100, format="MP3")
            clips.append(str(path))
        features = datasets.Features(audio_features())
        columns = {name: [None, None] for name in features}
        columns.update(track_id=[1, 2], labels=[[1] + [0] * 14, [0] * 14 + [1]], tags=[[0], [len(TAGS) - 1]],
                       audio=clips, audio_source=["deezer_preview", "youtube"])
        dataset = datasets.DatasetDict({"train": datasets.Dataset.from_dict(columns, features=features)})
        export_parquet(dataset, out, "full")
        base = Path(tmp) / "card.md"
        base.write_text("---\nlicense: cc-by-4.0\n---\n# Deezer Contextual Tags (test copy)\n", encoding="utf-8")
        write_card(out, Path(tmp) / "no-build", Path(tmp), card=base)
    print(out)


if __name__ == "__main__":
    main()
