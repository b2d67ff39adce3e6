"""Train a tagger on the training copy with PyTorch: the recipe in a few lines.

The training copy (`deezer-tags export --training --out DIR`, 16 kHz mono by default) holds
each clip as int16 samples (little-endian bytes), so a DataLoader worker only views and
scales them: no codec, no torchcodec, the same on datasets 3.6 and 5.x.

    # from the exported folder on disk, map-style (memory-mapped Arrow), 2 workers
    python examples/train_pytorch.py --data DIR --steps 100
    # streaming the Parquet files from disk, or from the Hub by repo id
    python examples/train_pytorch.py --data DIR --streaming
    python examples/train_pytorch.py --data user/deezer-contextual-tags --streaming
    # several GPUs: one process per GPU, each reads its own share of the clips
    torchrun --nproc-per-node 4 examples/train_pytorch.py --data DIR

`split_dataset_by_node` gives rank r of w its share (map-style: a contiguous 1/w of the
rows; streaming: 1/w of the Parquet shards when their number divides by w, else every w-th
example). The model is a toy (a strided 1-D convolution on the waveform); swap in yours.
"""

from __future__ import annotations

import argparse
import os
import time

import datasets
import numpy as np
import torch
from datasets.distributed import split_dataset_by_node

TAGS = ("car", "chill", "club", "dance", "gym", "happy", "night", "party", "relax", "running", "sad", "sleep",
        "summer", "work", "workout")


class Collate:
    """A list of examples -> (audio float32 (batch, channels, samples) in [-1, 1), targets
    float32 (batch, 15) multi-hot). Each clip is cut to `samples` (at a random offset when
    `random_crop`, else from its start) or zero-padded to it."""

    def __init__(self, samples: int, channels: int = 1, random_crop: bool = True):
        self.samples, self.channels, self.random_crop = samples, channels, random_crop

    def __call__(self, examples: list[dict]) -> tuple[torch.Tensor, torch.Tensor]:
        audio = torch.zeros(len(examples), self.channels, self.samples)
        for i, example in enumerate(examples):
            # little-endian int16 bytes, channels one after the other (deezer_tags/training.py)
            clip = np.frombuffer(example["audio_pcm"], dtype="<i2").reshape(self.channels, -1)
            n = clip.shape[1]
            start = int(torch.randint(0, n - self.samples + 1, ())) if self.random_crop and n > self.samples else 0
            piece = clip[:, start:start + self.samples]
            audio[i, :, :piece.shape[1]] = torch.from_numpy(piece.astype(np.float32) / 32768.0)
        targets = torch.stack([torch.as_tensor(e["labels"]) for e in examples]).to(torch.float32)
        return audio, targets


def make_loader(data: str, config: str = "full-16000hz-1ch", split: str = "train", *, batch_size: int = 16,
                workers: int = 2, streaming: bool = False, rank: int = 0, world_size: int = 1,
                seconds: float = 10.0, seed: int = 0, cache_dir: str | None = None) -> torch.utils.data.DataLoader:
    """A DataLoader over the training copy at `data` (an exported folder or a Hub repo id)."""
    dataset = datasets.load_dataset(data, config, split=split, streaming=streaming, cache_dir=cache_dir)
    rate = int(_first(dataset, "sampling_rate"))  # the copy's rate and channels, as it says
    channels = int(_first(dataset, "num_channels"))
    dataset = dataset.select_columns(["audio_pcm", "labels"])
    if streaming:
        dataset = dataset.shuffle(seed=seed, buffer_size=256)
    else:
        dataset = dataset.shuffle(seed=seed)
    dataset = split_dataset_by_node(dataset, rank=rank, world_size=world_size)
    # labels as tensors; audio_pcm left as the bytes it is (datasets' numpy and torch formatting
    # turn a binary value into numpy bytes, which drops its trailing zero bytes). A streamed
    # dataset stays as Python values (its with_format takes no columns): the collate makes tensors.
    if not streaming:
        dataset = dataset.with_format("torch", columns=["labels"], output_all_columns=True)
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, num_workers=workers, collate_fn=Collate(int(seconds * rate), channels),
        persistent_workers=workers > 0, drop_last=False)


def _first(dataset, column: str):
    if isinstance(dataset, datasets.IterableDataset):
        return next(iter(dataset.select_columns([column])))[column]
    return dataset[0][column]


class TinyTagger(torch.nn.Module):
    def __init__(self, channels: int = 1, tags: int = len(TAGS)):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv1d(channels, 32, kernel_size=400, stride=160), torch.nn.ReLU(),
            torch.nn.Conv1d(32, 64, kernel_size=3, stride=2), torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool1d(1), torch.nn.Flatten())
        self.head = torch.nn.Linear(64, tags)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(audio))


def train(loader, steps: int, device: str = "cpu") -> list[dict]:
    """A few steps of multi-label training; returns what each step saw."""
    first_audio, _ = next(iter(loader))
    model = TinyTagger(channels=first_audio.shape[1]).to(device)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        model = torch.nn.parallel.DistributedDataParallel(model)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    seen = []
    step = 0
    while step < steps:
        for audio, targets in loader:
            audio, targets = audio.to(device), targets.to(device)
            loss = loss_fn(model(audio), targets)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            seen.append({"audio": tuple(audio.shape), "targets": tuple(targets.shape), "loss": loss.item()})
            step += 1
            if step >= steps:
                break
    return seen


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the exported folder, or a Hub dataset repo id")
    parser.add_argument("--config", default="full-16000hz-1ch")
    parser.add_argument("--split", default="train")
    parser.add_argument("--streaming", action="store_true", help="stream the Parquet files instead of "
                                                                 "converting them to a local Arrow cache")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of each clip per example")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--cache-dir")
    args = parser.parse_args(argv)

    rank, world_size = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    device = "cpu"
    if world_size > 1:  # started by torchrun: one process per GPU
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
        if torch.cuda.is_available():
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
            torch.cuda.set_device(device)
    loader = make_loader(args.data, args.config, args.split, batch_size=args.batch_size, workers=args.workers,
                         streaming=args.streaming, rank=rank, world_size=world_size, seconds=args.seconds,
                         cache_dir=args.cache_dir)
    started = time.perf_counter()
    seen = train(loader, args.steps, device)
    seconds = time.perf_counter() - started
    clips = sum(s["audio"][0] for s in seen)
    print(f"rank {rank}/{world_size}: {len(seen)} steps, {clips} clips in {seconds:.1f} s "
          f"({clips / seconds:.0f} clips/s), batches {seen[0]['audio']} -> {seen[0]['targets']}, "
          f"loss {seen[0]['loss']:.3f} -> {seen[-1]['loss']:.3f}")
    if world_size > 1:
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
