"""How fast a training loop gets clips: clips per second on one core, into a model-ready
float32 numpy array (batch, channels, samples) at the model's rate, on the installed
datasets line. Prints JSON.

    python benchmarks/reading.py --cache-dir DEMO_CACHE   # exports both copies into a temp dir first
    python benchmarks/reading.py --copy DIR               # DIR holds `full` and `full-16000hz-1ch`

Readers measured (each in a process pinned to one core, the page cache warm: a first pass
is not counted):
- default_copy: the `full` export (44.1 kHz stereo MP3 in an Audio column), cast to
  the model's rate and channels and decoded by datasets (3.x: soundfile + librosa's resampler;
  4+: torchcodec), one example at a time, as `ds[i]["audio"]` gives it;
- training_pcm: the training copy, `audio_pcm` rows (int16) taken a batch at a time as Arrow
  and scaled into the batch (deezer_tags.training.pcm_batch);
- training_pcm_rows: the same copy a row at a time as Python bytes (`ds[i]`, what a map-style
  DataLoader does), scaled into the batch;
- training_pcm_streaming: the same Parquet files streamed (`streaming=True`), batches as Arrow;
- training_flac: the `--form flac` training copy, if present, decoded by datasets.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RATE, CHANNELS, SECONDS, BATCH = 16000, 1, 30, 32


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--copy", help="a folder with the default export and the training copy")
    source.add_argument("--cache-dir", help="a built cache (e.g. the demo's): export both copies first")
    parser.add_argument("--split", default="train")
    parser.add_argument("--min-seconds", type=float, default=3.0, help="time each reader at least this long")
    parser.add_argument("--flac", action="store_true", help="with --cache-dir: also export and read the FLAC form")
    args = parser.parse_args()

    import datasets

    result = {"datasets": datasets.__version__, "python": platform.python_version(),
              "cores_used": 1, "loadavg_before": os.getloadavg(), "rate": RATE, "channels": CHANNELS,
              "seconds_per_clip": SECONDS}
    with tempfile.TemporaryDirectory(prefix="reading-bench-") as tmp:
        copy = Path(args.copy) if args.copy else Path(tmp) / "copy"
        if args.cache_dir:
            result["export"] = export_copies(Path(args.cache_dir), copy, flac=args.flac)
        readers = ["default_copy", "training_pcm", "training_pcm_rows", "training_pcm_streaming"]
        if (copy / f"full-{RATE}hz-{CHANNELS}ch-flac").is_dir():
            readers.append("training_flac")
        ctx = multiprocessing.get_context("spawn")  # each reader in a fresh process, one core
        result["readers"] = {}
        for reader in readers:
            with ctx.Pool(1) as pool:
                result["readers"][reader] = pool.apply(measure, (reader, str(copy), args.split, args.min_seconds,
                                                                 str(Path(tmp) / "hf")))
    result["loadavg_after"] = os.getloadavg()
    print(json.dumps(result, indent=2))
    return 0


def export_copies(cache_dir: Path, out: Path, *, flac: bool) -> dict:
    from deezer_tags.export import export_parquet, load_built
    from deezer_tags.training import export_training

    dataset, _ = load_built(cache_dir, "full")
    clips = sum(len(s) for s in dataset.values())
    timings = {"clips": clips, "num_proc": os.cpu_count()}
    started = time.perf_counter()
    export_parquet(dataset, out, "full")
    timings["default_seconds"] = round(time.perf_counter() - started, 2)
    for form in ("pcm", "flac") if flac else ("pcm",):
        started = time.perf_counter()
        paths = export_training(dataset, out, "full", rate=RATE, channels=CHANNELS, form=form)
        seconds = time.perf_counter() - started
        size = sum(p.stat().st_size for p in paths)
        timings[form] = {"seconds": round(seconds, 2), "clips_per_second": round(clips / seconds, 1),
                         "bytes_per_clip": round(size / clips), "projected_bytes_46329_clips": round(size / clips * 46329)}
    return timings


def measure(reader: str, copy: str, split: str, min_seconds: float, hf_cache: str) -> dict:
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    os.environ["OMP_NUM_THREADS"] = "1"
    import datasets
    import numpy as np

    from deezer_tags.features import audio_feature, decoded_array
    from deezer_tags.training import pcm_batch

    datasets.disable_progress_bars()
    length = RATE * SECONDS
    config = {"default_copy": "full", "training_flac": f"full-{RATE}hz-{CHANNELS}ch-flac"}.get(
        reader, f"full-{RATE}hz-{CHANNELS}ch")
    files = sorted(str(p) for p in Path(copy, config).glob(f"{split}-*.parquet"))
    if reader == "training_pcm_streaming":
        return measure_streaming(files, split, min_seconds, length)
    ds = datasets.load_dataset("parquet", data_files={split: files}, split=split, cache_dir=hf_cache)
    n = len(ds)

    if reader in ("default_copy", "training_flac"):
        if reader == "default_copy":
            ds = ds.cast_column("audio", audio_feature(RATE, CHANNELS))

        def batch(start):
            out = np.zeros((BATCH, CHANNELS, length), dtype=np.float32)
            for j in range(BATCH):
                array, rate = decoded_array(ds[(start + j) % n]["audio"], channels=CHANNELS)
                assert rate == RATE
                out[j, :, :min(length, array.shape[1])] = array[:, :length]
            return out
    elif reader == "training_pcm":
        arrow = ds.with_format("arrow")

        def batch(start):
            stop = min(start % n + BATCH, n)
            return pcm_batch(arrow[start % n:stop]["audio_pcm"], length, CHANNELS)
    else:  # training_pcm_rows
        rows = ds.select_columns(["audio_pcm", "labels"])

        def batch(start):
            return pcm_batch([rows[(start + j) % n]["audio_pcm"] for j in range(BATCH)], length, CHANNELS)

    first = batch(0)  # warm: page cache, imports, decoder set-up
    assert first.dtype == np.float32 and first.shape[1:] == (CHANNELS, length)
    clips, started, cpu_started = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - started < min_seconds or clips < n:
        clips += len(batch(clips))
    return _rates(config, clips, time.perf_counter() - started, time.process_time() - cpu_started)


def _rates(config: str, clips: int, seconds: float, cpu_seconds: float) -> dict:
    """Clips a second of wall time on the one core the reader is pinned to, and clips a
    CPU-second of the reader (the steadier figure when other processes share the core)."""
    return {"config": config, "clips": clips, "seconds": round(seconds, 3),
            "clips_per_second_per_core": round(clips / seconds, 1),
            "clips_per_cpu_second": round(clips / cpu_seconds, 1) if cpu_seconds else None}


def measure_streaming(files: list[str], split: str, min_seconds: float, length: int) -> dict:
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    import datasets

    from deezer_tags.training import pcm_batch

    if hasattr(datasets.config, "SLEEP_TIME_ON_THREADS_SHUTDOWN"):
        datasets.config.SLEEP_TIME_ON_THREADS_SHUTDOWN = 0  # 4+ sleeps 5 s after each pass (apache/arrow#45214)
    ds = datasets.load_dataset("parquet", data_files={split: files}, split=split, streaming=True)
    ds = ds.select_columns(["audio_pcm", "labels"]).with_format("arrow")
    for table in ds.iter(batch_size=BATCH):  # warm
        pcm_batch(table["audio_pcm"], length, CHANNELS)
        break
    clips, started, cpu_started = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - started < min_seconds:
        for table in ds.iter(batch_size=BATCH):
            clips += len(pcm_batch(table["audio_pcm"], length, CHANNELS))
    return _rates(f"full-{RATE}hz-{CHANNELS}ch (streamed Parquet)", clips, time.perf_counter() - started,
                  time.process_time() - cpu_started)


if __name__ == "__main__":
    raise SystemExit(main())
