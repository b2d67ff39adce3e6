"""What differs between the datasets lines (3.6 and 4+/5.x), on whichever line runs this file.
CI runs it on both: the README's command on the line a fresh install picks, and .ci/run again
in a venv of the other line.

- the features of the installed line (44.1 kHz stereo Audio, fixed-length labels, ClassLabel tags);
- building writes a clip's path without importing torch (4+'s Audio imports it for every value);
- a small build through the CLI's path on this line (the loading script on 3.x, the builder
  class on 4+), exported as the default copy and as the training copy, read back intact;
- copies exported by each line (tests/data/lines/<version>/, made by
  scripts/make_lines_fixture.py under 3.6.0 and 5.2.0) load intact on this line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import datasets

from deezer_tags import TAGS
from deezer_tags.features import (HAS_MONO, HAS_NUM_CHANNELS, audio_feature, audio_features, decoded_array,
                                  decoder_problem)

LINES = Path(__file__).parent / "data" / "lines"
DECODER_PROBLEM = decoder_problem()
DECODES = DECODER_PROBLEM is None
NO_DECODER = f"{DECODER_PROBLEM} (CI runs this in its 5.x venv, which can decode)"


def assert_features_intact(features: datasets.Features) -> None:
    assert features["labels"].length == len(TAGS)
    assert features["labels"].feature == datasets.Value("int8")
    assert isinstance(features["tags"].feature, datasets.ClassLabel)
    assert features["tags"].feature.names == list(TAGS)
    audio = features["audio"]
    assert isinstance(audio, datasets.Audio) and audio.sampling_rate == 44100
    if HAS_MONO:
        assert audio.mono is False
    elif HAS_NUM_CHANNELS:
        assert audio.num_channels == 2


def test_the_features_of_this_line():
    assert_features_intact(datasets.Features(audio_features()))
    model = audio_feature(16000, 1)
    assert model.sampling_rate == 16000
    assert (model.mono is True) if HAS_MONO else (not HAS_NUM_CHANNELS or model.num_channels == 1)


def test_building_writes_a_clip_without_importing_torch(tmp_path):
    """Run in a child whose torch and torchcodec cannot be imported: the builder's Audio
    writes the path as 3.x's does (4+'s own Audio would raise ImportError)."""
    code = (
        "import sys, json; sys.modules['torch'] = None; sys.modules['torchcodec'] = None\n"
        "import datasets\n"
        "from deezer_tags.features import audio_features\n"
        "features = datasets.Features(audio_features())\n"
        "encoded = features.encode_example({**{k: None for k in features}, 'track_id': 1, 'labels': [0] * 15,\n"
        "                                   'tags': [], 'audio': sys.argv[1]})\n"
        "print(json.dumps(encoded['audio']))\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "1.mp3")], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.splitlines()[-1]) == {"bytes": None, "path": str(tmp_path / "1.mp3")}


@pytest.mark.parametrize("written_by", sorted(p.name for p in LINES.iterdir()))
def test_a_copy_exported_by_either_line_loads_intact(written_by, tmp_path):
    copy = datasets.load_dataset(str(LINES / written_by), "full", cache_dir=str(tmp_path / "hf"))
    assert_features_intact(copy["train"].features)
    assert copy["train"]["labels"] == [[1] + [0] * 14, [0] * 14 + [1]]
    assert copy["train"].features["tags"].feature.int2str(copy["train"]["tags"][1]) == [TAGS[-1]]
    raw = copy["train"].cast_column("audio", datasets.Audio(decode=False))
    assert all(len(a["bytes"]) > 1000 for a in raw["audio"])  # the clips themselves, embedded
    if not DECODES:
        pytest.skip(NO_DECODER)
    stereo, rate = decoded_array(copy["train"][0]["audio"])
    assert rate == 44100 and stereo.shape[0] == 2 and stereo.shape[1] == pytest.approx(44100, abs=1200)
    assert not np.allclose(stereo[0], stereo[1], atol=0.05)  # two channels, not a downmix


@pytest.fixture(scope="module")
def small_build(tmp_path_factory):
    """40 tracks of the demo's scenario, built as the CLI builds on this line."""
    from deezer_tags.cli import load
    from deezer_tags.testing.demo import demo_web

    cache = tmp_path_factory.mktemp("lines-build")
    with demo_web() as web:
        dataset = load("full", str(cache), **web.config_kwargs(), checksums=web.checksums(),
                       quota_calls=500, quota_window=0.5, max_tracks=40, calibration_tracks=0)
    return cache, dataset


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEZER_TAGS_")}
    return subprocess.run([sys.executable, "-m", "deezer_tags", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def test_a_build_on_this_line_exports_both_copies_and_reads_them_back(small_build, tmp_path):
    cache, built = small_build
    assert_features_intact(built["train"].features)
    out = tmp_path / "copy"
    for extra in ([], ["--training"]):
        result = run_cli("export", "--cache-dir", str(cache), "--config", "full", "--out", str(out), *extra)
        assert result.returncode == 0, result.stderr[-3000:]
    sizes = {k: len(v) for k, v in built.items()}

    default = datasets.load_dataset(str(out), "full", cache_dir=str(tmp_path / "hf"))
    assert {k: len(v) for k, v in default.items()} == sizes
    assert_features_intact(default["train"].features)
    training = datasets.load_dataset(str(out), "full-16000hz-1ch", cache_dir=str(tmp_path / "hf"))
    assert {k: len(v) for k, v in training.items()} == sizes
    row = training["train"][0]
    assert row["sampling_rate"] == 16000 and row["num_channels"] == 1
    assert len(row["audio_pcm"]) == pytest.approx(2 * 16000 * 30, rel=0.05)  # int16 bytes
    assert training["train"].features["labels"].length == len(TAGS)
    if not DECODES:
        pytest.skip(NO_DECODER)
    stereo, rate = decoded_array(default["train"][0]["audio"])
    assert rate == 44100 and stereo.shape[0] == 2
