"""Write dataset_infos.json and the card's `dataset_info` YAML from what the builder declares.

Features are declared once, in the loading script; this copies them (and the
metadata config's split sizes, the paper's published ones) into the two files
the Hub and `datasets` read. tests/test_dataset_infos.py fails when they drift.
Run from the repo root: `python scripts/write_dataset_infos.py`.
"""

from __future__ import annotations

from pathlib import Path

import datasets
from datasets.info import DatasetInfosDict

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = str(ROOT / "deezer_contextual_tags.py")
# The paper's split (see the README); audio configs leave out tracks without audio,
# so only the metadata config has sizes known before a build.
METADATA_SPLITS = {"train": 32771, "validation": 3642, "test": 12169, "unassigned": 1347}


def declared_infos() -> DatasetInfosDict:
    infos = DatasetInfosDict()
    for name in ("full", "previews", "metadata"):
        builder = datasets.load_dataset_builder(SCRIPT, name, trust_remote_code=True)
        splits = None
        if name == "metadata":
            splits = datasets.SplitDict(dataset_name="deezer_contextual_tags")
            for split, size in METADATA_SPLITS.items():
                splits.add(datasets.SplitInfo(name=split, num_examples=size, dataset_name="deezer_contextual_tags"))
        infos[name] = datasets.DatasetInfo(
            description=builder.info.description, citation=builder.info.citation,
            homepage=builder.info.homepage, license=builder.info.license,
            features=builder.info.features, splits=splits, config_name=name,
            dataset_name="deezer_contextual_tags", version=builder.info.version,
        )
    return infos


def portable(infos: DatasetInfosDict) -> None:
    """dataset_infos.json and the card's features in the form both datasets lines read intact
    (deezer_tags.features: the Audio's channels said both ways, lists with their length)."""
    import json

    from deezer_tags.features import portable_dict, portable_yaml

    path = ROOT / "dataset_infos.json"
    written = json.loads(path.read_text(encoding="utf-8"))
    for name, info in infos.items():
        written[name]["features"] = portable_dict(info.features)
    path.write_text(json.dumps(written, indent=4) + "\n", encoding="utf-8")

    def features(data: dict) -> None:
        for entry in data["dataset_info"]:
            entry["features"] = portable_yaml(infos[entry["config_name"]].features)
    _rewrite_front_matter(features)


def compact_front_matter(card: Path = ROOT / "README.md") -> None:
    """The card's YAML with each leaf mapping or list on one line (a feature, a split's files):
    the same data the Hub and `datasets` read, in a fifth of the lines."""
    _rewrite_front_matter(lambda data: None, card)


def _rewrite_front_matter(change, card: Path = ROOT / "README.md") -> None:
    import yaml

    _, front, body = card.read_text(encoding="utf-8").split("---\n", 2)
    data = yaml.safe_load(front)
    change(data)
    front = yaml.safe_dump(data, default_flow_style=None, sort_keys=False, allow_unicode=True, width=120)
    card.write_text(f"---\n{front}---\n{body}", encoding="utf-8")


def main() -> None:
    infos = declared_infos()
    (ROOT / "dataset_infos.json").touch()  # write_to_directory updates it only if it exists
    infos.write_to_directory(str(ROOT), pretty_print=True)  # (overwrite=True trips on a plain dict in datasets 3.6)
    portable(infos)
    print(f"wrote {ROOT / 'dataset_infos.json'} and the dataset_info of {ROOT / 'README.md'}")


if __name__ == "__main__":
    main()
