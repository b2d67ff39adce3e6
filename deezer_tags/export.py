"""`deezer-tags export` and `deezer-tags push`: the built dataset as Parquet, the Hub's way.

Both read the Arrow cache that the build left in the datasets cache dir, as
`load_dataset` does when it serves a finished build: they never start a build
(an export of a dataset not built yet says so). The cache is found by its
layout, `<cache_dir>/deezer_contextual_tags/<config>[-<suffix>]/<version>/<hash>/`,
because `load_dataset` would look for it under a config id that hashes every
config kwarg of the build (the endpoints, `workers`, ...), which export cannot
know; when a config was built more than once (a trial build, then the full one),
the newest finished build is taken and named on the screen.

Audio is embedded: in datasets 3.6 `Dataset.to_parquet` (io/parquet.py,
`ParquetDatasetWriter._write`) writes the Arrow table as it is, so an Audio column
keeps the absolute paths of the clips in the work dir and no bytes. Here each
batch goes through `datasets.table.embed_table_storage` (what `push_to_hub` does
to its shards, arrow_dataset.py `_push_parquet_shards_to_hub`), which reads each
file into the `bytes` field and keeps only its base name in `path`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from deezer_tags.errors import UserError
from deezer_tags.splits import SPLITS

DATASET_NAME = "deezer_contextual_tags"  # the loading script's name: its Arrow cache dir and file prefix


def find_built(cache_root: Path, config: str) -> Path:
    """The newest finished Arrow cache of `config` under `cache_root`: built through the
    loading script (3.x: `<config>[-<suffix>]/<version>/<script hash>/`) or by the builder
    class itself (any line: `<config>[-<suffix>]/<version>/`, no hash level)."""
    pattern = re.compile(rf"^{re.escape(config)}(-.+)?$")
    root = cache_root / DATASET_NAME
    found = []
    for levels in ("*/*/*/dataset_info.json", "*/*/dataset_info.json"):
        for info in root.glob(levels):
            parts = info.parent.relative_to(root).parts  # (config dir, version[, hash])
            if (pattern.match(parts[0]) and not any(p.endswith(".incomplete") for p in parts)
                    and any(info.parent.glob(f"{DATASET_NAME}-*.arrow"))):
                found.append(info.parent)
    if not found:
        raise UserError(
            f"the `{config}` config has not been built in {cache_root}; "
            f"run `deezer-tags build --config {config} --cache-dir {cache_root}` first"
        )
    return max(found, key=lambda d: (d / "dataset_info.json").stat().st_mtime)


def load_built(cache_root: Path, config: str):
    """The finished build of `config` as a DatasetDict (memory-mapped Arrow, as load_dataset serves it),
    and the directory it was read from."""
    import datasets
    from datasets.arrow_reader import ArrowReader

    directory = find_built(cache_root, config)
    info = datasets.DatasetInfo.from_directory(str(directory))
    splits = sorted(info.splits, key=lambda s: SPLITS.index(s) if s in SPLITS else len(SPLITS))
    reader = ArrowReader(str(directory), info)
    dataset = datasets.DatasetDict({
        split: datasets.Dataset(**reader.read(name=DATASET_NAME, instructions=split,
                                              split_infos=info.splits.values()))
        for split in splits
    })
    return dataset, directory


def export_parquet(dataset, out_dir: Path, config: str, max_shard_size: int | None = None) -> list[Path]:
    """Write each split as `<out_dir>/<config>/<split>-<i>-of-<n>.parquet` (the Hub's layout),
    with the audio bytes embedded. Returns the files written."""
    import datasets
    from datasets.utils.py_utils import convert_file_size_to_int

    max_shard_size = max_shard_size or convert_file_size_to_int(datasets.config.MAX_SHARD_SIZE)
    target = out_dir / config
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for split, data in dataset.items():
        shards = max(1, int(_estimated_bytes(data) / max_shard_size) + 1)
        paths = [target / f"{split}-{i:05d}-of-{shards:05d}.parquet" for i in range(shards)]
        for i, path in enumerate(paths):
            _write_shard(data.shard(num_shards=shards, index=i, contiguous=True), path)
        # Shards of an earlier export of this split with another shard count would be read too.
        for stale in target.glob(f"{split}-*-of-*.parquet"):
            if stale not in paths:
                stale.unlink()
        written += paths
    return written


def _write_shard(data, path: Path) -> None:
    import datasets
    import pyarrow.parquet as pq
    from datasets.table import embed_table_storage, table_cast

    from deezer_tags.features import AUDIO_ROW_GROUP, portable_schema

    # The features (Audio, ClassLabel, the labels' length) as metadata, in the form both
    # datasets lines read back intact (deezer_tags/features.py).
    schema = portable_schema(data.features)
    # Row groups as the Hub's were: 100 rows for audio, else datasets' default.
    audio = any(isinstance(f, datasets.Audio) for f in data.features.values())
    batch = AUDIO_ROW_GROUP if audio else datasets.config.DEFAULT_MAX_BATCH_SIZE
    arrow = data.with_format("arrow")
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with pq.ParquetWriter(tmp, schema=schema) as writer:
            for start in range(0, len(data), batch):
                table = embed_table_storage(table_cast(arrow[start:start + batch], schema))
                writer.write_table(table, row_group_size=batch)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _estimated_bytes(data) -> int:
    """The split's size once the clips are embedded: the table plus the audio files."""
    import datasets

    size = data.data.nbytes
    for name, feature in data.features.items():
        if isinstance(feature, datasets.Audio):
            for value in data.data.column(name).to_pylist():
                if value and value.get("bytes") is None and value.get("path"):
                    try:
                        size += os.path.getsize(value["path"])
                    except OSError:
                        raise UserError(
                            f"the clip {value['path']} that the built dataset points at is gone; "
                            "restore the work dir's audio/ folder, or build into a fresh --cache-dir"
                        ) from None
    return size


def check_card(card: Path, config: str) -> None:
    """The card replaces the README that push_to_hub writes, so it must declare the config
    (`configs:` in its YAML header), or the Hub would stop listing what was just pushed."""
    from huggingface_hub import DatasetCard

    if not card.is_file():
        raise UserError(f"the dataset card {card} does not exist; pass the card to upload with --card PATH")
    declared = [c.get("config_name") for c in (DatasetCard.load(card).data.get("configs") or [])]
    if config not in declared:
        raise UserError(
            f"the dataset card {card} declares no `{config}` config (it has: {', '.join(declared) or 'none'}), "
            f"and uploading it would hide the pushed data on the Hub; add `{config}` to its `configs:` "
            f"(data_files {config}/<split>-*) or pass another card with --card PATH"
        )


def push(dataset, repo_id: str, config: str, private: bool, card_files: list[Path], token: str) -> None:
    """push_to_hub (Parquet shards under <config>/, audio embedded by datasets), then the
    card: its first file is uploaded as README.md, the others (its plot) by their names."""
    from huggingface_hub import HfApi

    dataset.push_to_hub(repo_id, config_name=config, private=private, token=token)
    api = HfApi(token=token)
    for i, path in enumerate(card_files):
        api.upload_file(path_or_fileobj=str(path), path_in_repo="README.md" if i == 0 else path.name,
                        repo_id=repo_id, repo_type="dataset", commit_message="Upload the dataset card")
