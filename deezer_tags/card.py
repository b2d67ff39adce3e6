"""The dataset card of one copy: what `export` writes beside the Parquet files and `push`
uploads to the Hub.

It is the project's card (its text and YAML), with the YAML's ``configs`` and
``dataset_info`` rewritten for exactly the configs this copy holds (their split files and
their real sizes, read off the Parquet files), and a section "This copy" that says how,
when and from what the copy was built (the build's provenance), with its coverage table
and plot. Without ``configs``, ``load_dataset(DIR)`` would not know the config names, and
a split name it does not know by heart (``unassigned``) would be dropped.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from deezer_tags.splits import SPLITS

_SHARD = re.compile(r"^(?P<split>[a-z_]+)-\d{5}-of-\d{5}\.parquet$")
THIS_COPY = "## This copy"


def project_card() -> Path:
    """The card installed beside the loading script (the repository's README)."""
    import importlib.util

    return Path(importlib.util.find_spec("deezer_contextual_tags").origin).with_name("README.md")


def configs_in(root: Path) -> dict[str, dict[str, list[Path]]]:
    """config -> split -> its Parquet shards, for every config folder under ``root``."""
    found: dict[str, dict[str, list[Path]]] = {}
    for shard in sorted(root.glob("*/*.parquet")):
        match = _SHARD.match(shard.name)
        if match:
            found.setdefault(shard.parent.name, {}).setdefault(match["split"], []).append(shard)
    return {config: dict(sorted(splits.items(), key=lambda s: _split_order(s[0])))
            for config, splits in sorted(found.items())}


def _split_order(split: str) -> int:
    return SPLITS.index(split) if split in SPLITS else len(SPLITS)


def parquet_layout(root: Path) -> dict[str, tuple]:
    """config -> (features, {split: (examples, bytes)}), read off the Parquet files under ``root``."""
    import datasets
    import pyarrow.parquet as pq

    layout = {}
    for name, splits in configs_in(root).items():
        features = datasets.Features.from_arrow_schema(pq.read_schema(next(iter(splits.values()))[0]))
        layout[name] = (features, {split: (sum(pq.read_metadata(s).num_rows for s in shards),
                                           sum(s.stat().st_size for s in shards))
                                   for split, shards in splits.items()})
    return layout


def dataset_layout(name: str, dataset) -> dict[str, tuple]:
    """The same for a DatasetDict about to be pushed (sizes of its Arrow data)."""
    first = next(iter(dataset.values()))
    return {name: (first.features, {split: (len(d), d.data.nbytes) for split, d in dataset.items()})}


def write_card(root: Path, work_dir: Path, cache_root: Path, *, card: Path | None = None) -> Path:
    """Write ``root/README.md`` (and ``root/coverage.png``) for the configs under ``root``."""
    text = card_text(parquet_layout(root), root, work_dir, cache_root, card=card)
    (root / "README.md").write_text(text, encoding="utf-8")
    return root / "README.md"


def card_text(layout: dict[str, tuple], root: Path, work_dir: Path, cache_root: Path, *,
              card: Path | None = None) -> str:
    """The copy's card for the configs of ``layout``; its coverage plot goes into ``root``."""
    import datasets
    from datasets.info import DatasetInfosDict
    from huggingface_hub import DatasetCard

    base = DatasetCard.load(card or project_card())
    data = base.data
    data["configs"] = [
        {"config_name": name, **({"default": True} if name == _default(layout) else {}),
         "data_files": [{"split": split, "path": f"{name}/{split}-*"} for split in splits]}
        for name, (_, splits) in layout.items()
    ]
    infos = DatasetInfosDict()
    for name, (features, splits) in layout.items():
        split_dict = datasets.SplitDict(dataset_name="deezer_contextual_tags")
        for split, (examples, size) in splits.items():
            split_dict.add(datasets.SplitInfo(name=split, num_examples=examples, num_bytes=size,
                                              dataset_name="deezer_contextual_tags"))
        infos[name] = datasets.DatasetInfo(features=features, splits=split_dict, config_name=name,
                                           dataset_name="deezer_contextual_tags")
    data.pop("dataset_info", None)
    infos.to_dataset_card_data(data)
    _portable_features(data, layout)
    body = _with_this_copy(base.text, _this_copy(layout, root, work_dir, cache_root))
    return f"---\n{data.to_yaml()}\n---\n{body}"


def _portable_features(data, layout: dict[str, tuple]) -> None:
    """The card's features in the form both datasets lines read intact (4+ would write `list:`,
    which 3.6 reads without the labels' fixed length): see deezer_tags/features.py."""
    from deezer_tags.features import portable_yaml

    infos = data["dataset_info"] if isinstance(data["dataset_info"], list) else [data["dataset_info"]]
    for info in infos:
        info["features"] = portable_yaml(layout[info.get("config_name") or next(iter(layout))][0])


def _default(configs: dict) -> str:
    return "full" if "full" in configs else next(iter(configs))


def _this_copy(layout: dict[str, tuple], root: Path, work_dir: Path, cache_root: Path) -> list[str]:
    """The section that says how this copy was made; its coverage plot is copied beside the card."""
    from deezer_tags.report import calibration_markdown, coverage_markdown, provenance_markdown, write_report

    sizes = ", ".join(f"`{name}` ({', '.join(f'{s} {n:,}' for s, (n, _) in splits.items())})"
                      for name, (_, splits) in layout.items())
    out = [THIS_COPY, "", f"This copy holds {sizes}: the examples of one build, as Parquet with the audio "
           "embedded. What follows is that build's own record.", ""]
    if not (work_dir / "manifest.sqlite").exists():
        return out + [f"The build's manifest was not found in {work_dir}, so its provenance is not stated here.", ""]
    with tempfile.TemporaryDirectory(prefix="deezer-tags-card-") as tmp:
        report = write_report(work_dir, cache_root, Path(tmp))
        shutil.copyfile(Path(tmp) / "coverage.png", root / "coverage.png")
    if report.provenance:
        out += provenance_markdown(report.provenance)
    out += ["### Coverage", "", *coverage_markdown(report)]
    if report.calibration:
        out += ["### How right are the YouTube clips?", "", *calibration_markdown(report, beside=False)]
    return out


def _with_this_copy(text: str, section: list[str]) -> str:
    """The card's text with "This copy" after its title (an earlier one replaced)."""
    lines = text.strip("\n").splitlines()
    if THIS_COPY in lines:  # a card made from a copy's card
        start = lines.index(THIS_COPY)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        del lines[start:end]
    title = next((i for i, line in enumerate(lines) if line.startswith("# ")), -1)
    return "\n".join([*lines[:title + 1], "", *section, *lines[title + 1:]]) + "\n"
