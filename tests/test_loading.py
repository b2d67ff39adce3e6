"""Loading as users do: num_proc, a model's sampling rate, streaming."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import datasets
import numpy as np
import pytest

from deezer_tags.testing import LocalWeb, Scenario

from conftest import FAST_QUOTA, SCRIPT, build
from deezer_tags.features import audio_feature, decoded_array, decoder_problem

TRACKS = 40


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario.from_public_data(no_preview_fraction=0.2, previewless_in_map=True, seed=4)


# In a child process: datasets forks its workers, and a fork of a process that also
# serves the local web from threads can hang.
_NUM_PROC_CHILD = """
import json, sys, datasets
from deezer_tags.direct import load  # the loading script sys.argv[1] on 3.x, its builder class on 4+
kwargs = dict(max_tracks=int(sys.argv[3]))
if sys.argv[4] != "1":
    kwargs["num_proc"] = int(sys.argv[4])
d = load("full", sys.argv[2], **kwargs)
print(json.dumps({s: {"files": [f["filename"] for f in ds.cache_files],
                      "rows": ds.cast_column("audio", datasets.Audio(decode=False))
                                .select_columns(["track_id", "audio_sha256"]).to_list()}
                  for s, ds in d.items()}))
"""


def _build_in_child(web: LocalWeb, cache_dir, num_proc: int) -> dict:
    env = {**os.environ, **web.env(), "DEEZER_TAGS_QUOTA": f"{web.quota}/{web.window}"}
    done = subprocess.run([sys.executable, "-c", _NUM_PROC_CHILD, SCRIPT, str(cache_dir), str(TRACKS), str(num_proc)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def arrow_build(scenario, tmp_path_factory) -> datasets.DatasetDict:
    """One ordinary `full` build (no num_proc, not streamed): the others are checked against it."""
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        return build(web, tmp_path_factory.mktemp("arrow"), "full", max_tracks=TRACKS)


def test_num_proc_writes_shards_with_the_same_rows(scenario, arrow_build, tmp_path):
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        two = _build_in_child(web, tmp_path / "two", 2)
    one = {split: ds.select_columns(["track_id", "audio_sha256"]).to_list() for split, ds in arrow_build.items()}
    assert one.keys() == two.keys()
    for split in one:
        assert sorted(map(str, one[split])) == sorted(map(str, two[split]["rows"]))
    # The train split is large enough to be cut in two: datasets names the shards so.
    assert any("-00001-of-00002.arrow" in f for f in two["train"]["files"]), two["train"]["files"]


def test_a_model_rate_and_mono_by_cast_column(arrow_build):
    if decoder_problem():
        pytest.skip(f"{decoder_problem()} (CI runs this in its 5.x venv, which can decode)")
    train = arrow_build["train"].cast_column("audio", audio_feature(16000, 1))  # mono=True, or num_channels=1 on 4+
    array, rate = decoded_array(train[0]["audio"])
    assert rate == 16000
    assert array.shape[0] == 1 and 25 * 16000 <= array.shape[1] <= 31 * 16000
    assert np.abs(array).max() > 0.01, "silence: the clip did not decode"


def undecoded(streamed):
    """A streamed split whose clips are not decoded. On 4+ an iterable dataset decodes every
    column before remove_columns applies, and datasets' Audio(decode=False) encodes again,
    importing torch: the builder's Audio (deezer_tags/features.py) does neither."""
    return streamed.cast_column("audio", audio_feature(decode=False, build=True))


def test_streaming_runs_the_build_then_reads_the_same_examples(scenario, arrow_build, tmp_path):
    with LocalWeb(scenario, **FAST_QUOTA) as web:
        streamed = build(web, tmp_path / "streamed", "full", max_tracks=TRACKS, streaming=True)
        assert isinstance(streamed, datasets.IterableDatasetDict)
        assert web.count("/deezer/track/") == TRACKS  # the build ran before the first example
        first = next(iter(streamed["train"] if decoder_problem() is None else undecoded(streamed["train"])))
        if decoder_problem() is None:
            array, rate = decoded_array(first["audio"])
            assert array.shape[0] == 2 and rate == 44100
    for split in arrow_build:
        assert [r["track_id"] for r in undecoded(streamed[split])] == arrow_build[split]["track_id"]
        assert [r["audio_sha256"] for r in undecoded(streamed[split])] == \
            arrow_build[split]["audio_sha256"]
