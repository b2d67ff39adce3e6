"""The training copy: every clip already at a model's rate and channels, stored so that a
training loop reads it without decoding.

`deezer-tags export --training [--rate 16000] [--channels 1] [--form pcm|flac] --out DIR`
writes `DIR/<config>-<rate>hz-<channels>ch[-flac]/<split>-*.parquet` beside (or without) the
default copy, and the card in `DIR/README.md` declares every config there, so
`load_dataset(DIR, "full-16000hz-1ch")` returns it on any datasets line.

Forms (chosen by measurement, see the README's "A copy for training"):

- `pcm` (default): `audio_pcm`, the samples as little-endian int16 bytes in a binary column
  (channels one after the other: `np.frombuffer(b, "<i2").reshape(channels, -1)`), with
  `sampling_rate` and `num_channels` as columns and in the schema's `deezer_tags` metadata.
  Reading is a view and a scale: no codec, no torch, the same on every line. 16 kHz mono:
  960 KB a 30 s clip. (A list<int16> column is no better in Parquet, which has no 16-bit
  type: pyarrow stores it dictionary-encoded, 2 bytes a sample but 19-134 clips/s to decode,
  or plain as INT32, 4 bytes a sample, and reads at 130-200 clips a CPU-second either way;
  bytes are 2 bytes a sample and read at 2,500.) Read `audio_pcm` as Arrow or as Python
  bytes: `with_format("numpy")` and `with_format("torch")` turn it into numpy bytes, which
  drop trailing zero bytes; format the other columns only
  (`with_format("torch", columns=["labels"], output_all_columns=True)`).
- `flac`: an `Audio` column of FLAC bytes at the model's rate and channels: about 0.6 of the
  size, decoded by the line's codec (soundfile on 3.x, torchcodec on 4+) as it is read.

The clips are decoded from the build's MP3s by soundfile (libsndfile), downmixed by the mean
of the channels, and resampled by soxr (its HQ recipe), in worker processes.
"""

from __future__ import annotations

import io
import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

FORMS = ("pcm", "flac")
DEFAULT_RATE = 16000
DEFAULT_CHANNELS = 1
PCM_COLUMN = "audio_pcm"
METADATA_KEY = b"deezer_tags"
# Rows per Parquet row group: about 96 MB of 16 kHz mono PCM, one group per read.
ROW_GROUP = 100
SCALE = 32768.0  # int16 -> float32 in [-1, 1)


def config_name(config: str, rate: int, channels: int, form: str = "pcm") -> str:
    return f"{config}-{rate}hz-{channels}ch" + ("" if form == "pcm" else f"-{form}")


def check_target(rate: int, channels: int, form: str) -> None:
    from deezer_tags.errors import UserError

    if not 1000 <= rate <= 192000:
        raise UserError(f"--rate {rate} is not a sampling rate in Hz; pass e.g. --rate 16000")
    if channels not in (1, 2):
        raise UserError(f"--channels {channels}: the clips have 2 channels, so pass 1 (their mean) or 2")
    if form not in FORMS:
        raise UserError(f"--form {form}: pass one of {', '.join(FORMS)}")


def convert(source, rate: int, channels: int) -> np.ndarray:
    """A clip (path, file object or bytes) as int16 (channels, samples) at `rate`."""
    import soundfile as sf
    import soxr

    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    samples, source_rate = sf.read(source, dtype="float32", always_2d=True)  # (samples, channels)
    if channels == 1:
        samples = samples.mean(axis=1, keepdims=True)
    elif samples.shape[1] == 1:
        samples = np.repeat(samples, channels, axis=1)
    if source_rate != rate:
        samples = soxr.resample(samples, source_rate, rate, quality="HQ")
    return np.clip(np.round(samples.T * 32767.0), -32768, 32767).astype(np.int16)


def _convert_row(job):
    (path, data), rate, channels, form = job
    pcm = convert(data if data is not None else path, rate, channels)
    if form == "pcm":
        return pcm.astype("<i2", copy=False).tobytes()
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, pcm.T, rate, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


def training_features(source_features, rate: int, channels: int, form: str):
    """The default copy's features with the clip replaced by the training form."""
    import datasets

    from deezer_tags.features import audio_feature

    features = {}
    for name, feature in source_features.items():
        if name != "audio":
            features[name] = feature
        elif form == "flac":
            features["audio"] = audio_feature(rate, channels, build=True)
        else:
            features[PCM_COLUMN] = datasets.Value("binary")
            features["sampling_rate"] = datasets.Value("int32")
            features["num_channels"] = datasets.Value("int8")
    return datasets.Features(features)


def export_training(dataset, out_dir: Path, config: str, *, rate: int = DEFAULT_RATE,
                    channels: int = DEFAULT_CHANNELS, form: str = "pcm", num_proc: int | None = None,
                    max_shard_bytes: int = 500 << 20) -> list[Path]:
    """Write each split of `dataset` (a built audio config) as the training copy, in the Hub's
    layout under `out_dir/<config>-<rate>hz-<channels>ch[-flac]/`. Returns the files written."""
    import datasets

    check_target(rate, channels, form)
    if "audio" not in dataset[next(iter(dataset))].features:
        from deezer_tags.errors import UserError

        raise UserError(f"the `{config}` config has no audio to make a training copy of; build `full` or `previews`")
    target = out_dir / config_name(config, rate, channels, form)
    target.mkdir(parents=True, exist_ok=True)
    num_proc = num_proc or os.cpu_count() or 1
    bytes_per_clip = rate * channels * 2 * 30 * (0.65 if form == "flac" else 1.0)
    written = []
    with ProcessPoolExecutor(max_workers=num_proc) as pool:
        for split, data in dataset.items():
            raw = data.cast_column("audio", datasets.Audio(decode=False))
            features = training_features(data.features, rate, channels, form)
            shards = max(1, int(len(raw) * bytes_per_clip / max_shard_bytes) + 1)
            paths = [target / f"{split}-{i:05d}-of-{shards:05d}.parquet" for i in range(shards)]
            for i, path in enumerate(paths):
                _write_shard(raw.shard(num_shards=shards, index=i, contiguous=True), features, path,
                             pool, rate, channels, form)
            for stale in target.glob(f"{split}-*-of-*.parquet"):
                if stale not in paths:
                    stale.unlink()
            written += paths
    return written


def _write_shard(raw, features, path: Path, pool, rate: int, channels: int, form: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets.table import table_cast

    from deezer_tags.features import portable_schema

    schema = portable_schema(features)
    schema = schema.with_metadata({**schema.metadata, METADATA_KEY: json.dumps(
        {"sampling_rate": rate, "num_channels": channels, "form": form,
         "layout": "little-endian int16 bytes, channels one after the other" if form == "pcm" else "FLAC bytes"}
    ).encode()})
    # The samples neither dictionary-encoded nor compressed (neither shrinks PCM; both slow its reading).
    others = [name for name in features if name != PCM_COLUMN]
    options = {"use_dictionary": others, "compression": {name: "snappy" for name in others} | {PCM_COLUMN: "none"}} \
        if form == "pcm" else {}
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with pq.ParquetWriter(tmp, schema=schema, **options) as writer:
            for start in range(0, len(raw), ROW_GROUP):
                rows = raw[start:start + ROW_GROUP]
                jobs = [((a["path"], a["bytes"]), rate, channels, form) for a in rows["audio"]]
                converted = list(pool.map(_convert_row, jobs, chunksize=4))
                columns = {name: rows[name] for name in rows if name != "audio"}
                if form == "pcm":
                    columns[PCM_COLUMN] = converted
                    columns["sampling_rate"] = [rate] * len(converted)
                    columns["num_channels"] = [channels] * len(converted)
                else:
                    columns["audio"] = [{"bytes": b, "path": None} for b in converted]
                table = pa.Table.from_pydict({name: columns[name] for name in features},
                                             schema=features.arrow_schema)
                writer.write_table(table_cast(table, schema), row_group_size=ROW_GROUP)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# --- reading -----------------------------------------------------------------------------

def pcm_batch(column, length: int | None = None, channels: int = DEFAULT_CHANNELS) -> np.ndarray:
    """Rows of `audio_pcm` (an Arrow binary array or chunked array, or a list of bytes or of
    int16 arrays) as float32 (rows, channels, length) in [-1, 1): each clip cut or zero-padded
    to `length` samples per channel (default: the longest). Arrow input is read in place."""
    import pyarrow as pa

    clips = []
    if isinstance(column, (pa.Array, pa.ChunkedArray)):
        for chunk in column.chunks if isinstance(column, pa.ChunkedArray) else [column]:
            _, offsets, data = chunk.buffers()
            offsets = np.frombuffer(offsets, dtype=np.int64 if pa.types.is_large_binary(chunk.type) else np.int32,
                                    count=len(chunk) + 1, offset=chunk.offset * (8 if pa.types.is_large_binary(
                                        chunk.type) else 4))
            data = np.frombuffer(data, dtype=np.uint8)
            clips += [data[offsets[i]:offsets[i + 1]].view("<i2") for i in range(len(chunk))]
    else:
        clips = [np.frombuffer(c, dtype="<i2") if isinstance(c, (bytes, bytearray, memoryview)) else np.asarray(c)
                 for c in column]
    per_channel = [len(c) // channels for c in clips]
    length = length or max(per_channel, default=0)
    out = np.zeros((len(clips), channels, length), dtype=np.float32)
    for i, (clip, n) in enumerate(zip(clips, per_channel)):
        m = min(n, length)
        np.multiply(clip[:n * channels].reshape(channels, n)[:, :m], 1.0 / SCALE, out=out[i, :, :m], casting="unsafe")
    return out


def multi_hot(labels) -> np.ndarray:
    """The `labels` column (15 × int8 per row) as float32 (rows, 15) targets."""
    return np.asarray(labels, dtype=np.float32).reshape(len(labels), -1)
