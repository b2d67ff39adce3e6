"""examples/train_pytorch.py runs: the training copy into a PyTorch DataLoader (map-style with
workers, and streaming the Parquet files), split between two ranks, batches of the model's
shape. Needs torch: the main interpreter of the 3.6 line may lack it (the test then says so);
CI runs it in its 5.x venv, which has the CPU build of torch."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import datasets

torch = pytest.importorskip("torch", reason="torch is not installed in this interpreter; CI runs this test "
                                            "in its datasets 5.x venv (torch 2.13.0, CPU)")

from deezer_tags import TAGS  # noqa: E402
from deezer_tags.card import write_card  # noqa: E402
from deezer_tags.features import audio_features  # noqa: E402
from deezer_tags.training import export_training  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train_pytorch.py"
CLIPS = 8


def load_example():
    spec = importlib.util.spec_from_file_location("train_pytorch", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_pytorch"] = module  # DataLoader workers unpickle its Collate by module name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _no_shutdown_sleep(monkeypatch):
    """datasets 4+ sleeps 5 s at the end of each pass over shuffled streamed Parquet (its
    config.SLEEP_TIME_ON_THREADS_SHUTDOWN, for apache/arrow#45214): nothing on an epoch of real
    data, most of this test's time on 8 clips."""
    if hasattr(datasets.config, "SLEEP_TIME_ON_THREADS_SHUTDOWN"):
        monkeypatch.setattr(datasets.config, "SLEEP_TIME_ON_THREADS_SHUTDOWN", 0)


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    """A training copy (16 kHz mono) of 8 clips of 2 s, with its card."""
    root = tmp_path_factory.mktemp("train-example")
    features = datasets.Features(audio_features())
    columns = {name: [None] * CLIPS for name in features}
    rng = np.random.default_rng(0)
    columns["track_id"] = list(range(1, CLIPS + 1))
    columns["labels"] = [[int(j == i % len(TAGS)) for j in range(len(TAGS))] for i in range(CLIPS)]
    columns["tags"] = [[i % len(TAGS)] for i in range(CLIPS)]
    columns["audio"] = []
    for i in range(CLIPS):
        path = root / f"{i}.mp3"
        noise = (0.1 * rng.standard_normal((2 * 44100, 2))).astype(np.float32)
        if i == 0:
            noise[44100:] = 0.0  # a clip that ends in silence: its bytes end in zeros
        sf.write(str(path), noise, 44100, format="MP3")
        columns["audio"].append(str(path))
    built = datasets.DatasetDict({"train": datasets.Dataset.from_dict(columns, features=features)})
    out = root / "copy"
    export_training(built, out, "full", num_proc=1)
    write_card(out, root / "no-build", root)
    return out


@pytest.mark.parametrize("streaming", [False, True], ids=["map-style", "streaming"])
def test_the_example_trains_a_few_batches(copy, tmp_path, streaming):
    example = load_example()
    loader = example.make_loader(str(copy), batch_size=4, workers=2, streaming=streaming, seconds=1.5,
                                 cache_dir=str(tmp_path / "hf"))
    seen = example.train(loader, steps=3)
    assert [s["audio"] for s in seen] == [(4, 1, 24000)] * 3  # 8 clips: two batches an epoch
    assert [s["targets"] for s in seen] == [(4, len(TAGS))] * 3
    assert all(np.isfinite(s["loss"]) for s in seen)
    audio, targets = next(iter(loader))
    assert audio.dtype == torch.float32 and targets.dtype == torch.float32
    assert set(targets.sum(dim=1).tolist()) == {1.0}  # one tag each, as built
    assert 0 < audio.abs().max() <= 1.0


def test_the_samples_survive_the_torch_format(copy, tmp_path):
    """datasets' torch (and numpy) formatting would drop a binary value's trailing zero bytes:
    the example formats the labels only, and every clip keeps its 2 s."""
    ds = datasets.load_dataset(str(copy), "full-16000hz-1ch", split="train", cache_dir=str(tmp_path / "hf"))
    formatted = ds.with_format("torch", columns=["labels"], output_all_columns=True)
    assert all(len(row["audio_pcm"]) == 2 * 2 * 16000 for row in formatted)
    assert formatted[0]["audio_pcm"].endswith(b"\0\0\0\0")  # the silent clip, whole
    assert isinstance(formatted[0]["labels"], torch.Tensor)


@pytest.mark.parametrize("streaming", [False, True], ids=["map-style", "streaming"])
def test_two_ranks_read_disjoint_halves(copy, tmp_path, streaming):
    example = load_example()
    shares = []
    for rank in range(2):
        loader = example.make_loader(str(copy), batch_size=CLIPS, workers=0, streaming=streaming, rank=rank,
                                     world_size=2, seconds=2, cache_dir=str(tmp_path / "hf"))
        shares.append([tuple(t.tolist()) for _, targets in loader for t in targets])
    assert [len(s) for s in shares] == [CLIPS // 2, CLIPS // 2]
    assert sorted(shares[0] + shares[1]) == sorted(tuple(float(j == i % len(TAGS)) for j in range(len(TAGS)))
                                                  for i in range(CLIPS))


def test_the_example_runs_as_a_script(copy, tmp_path):
    import subprocess

    result = subprocess.run([sys.executable, str(EXAMPLE), "--data", str(copy), "--steps", "2", "--batch-size", "4",
                             "--seconds", "1", "--workers", "1", "--cache-dir", str(tmp_path / "hf")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 steps, 8 clips" in result.stdout and "(4, 1, 16000) -> (4, 15)" in result.stdout
