"""What the builder declares, the card and dataset_infos.json say the same."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest
from datasets.info import DatasetInfosDict
from huggingface_hub import DatasetCard

from deezer_tags import TAGS
from deezer_tags.features import RUNS_SCRIPTS

from conftest import SCRIPT

ROOT = Path(SCRIPT).parent
CONFIGS = ("full", "previews", "metadata")


@pytest.mark.parametrize("name", CONFIGS)
def test_declared_features_match_dataset_infos_and_the_card(name, tmp_path):
    if RUNS_SCRIPTS:
        declared = datasets.load_dataset_builder(SCRIPT, name, trust_remote_code=True).info.features
    else:  # 4+ runs no scripts: the builder class itself
        from deezer_contextual_tags import DeezerContextualTags

        declared = DeezerContextualTags(config_name=name, cache_dir=str(tmp_path)).info.features
    infos_json = json.loads((ROOT / "dataset_infos.json").read_text())
    from_card = DatasetInfosDict.from_directory(str(ROOT))
    assert datasets.Features.from_dict(infos_json[name]["features"]) == declared
    assert from_card[name].features == declared
    assert declared["tags"].feature.names == list(TAGS)
    assert ("audio" in declared) == (name != "metadata")


def test_metadata_split_sizes_are_the_papers():
    infos_json = json.loads((ROOT / "dataset_infos.json").read_text())
    sizes = {s["name"]: s["num_examples"] for s in infos_json["metadata"]["splits"].values()}
    assert sizes == {"train": 32771, "validation": 3642, "test": 12169, "unassigned": 1347}


def test_the_card_loads_with_the_fields_the_hub_reads():
    card = DatasetCard.load(ROOT / "README.md")
    data = card.data.to_dict()
    assert data["pretty_name"] == "Deezer Contextual Tags"
    assert data["license"] and data["task_categories"] == ["audio-classification"]
    assert {c["config_name"] for c in data["dataset_info"]} == set(CONFIGS)
    assert "## Quick start" in card.text and "```bibtex" in card.text


def test_the_licence_is_stated_the_same_in_the_card_the_script_and_the_package():
    import configparser

    import deezer_contextual_tags

    data = DatasetCard.load(ROOT / "README.md").data.to_dict()
    assert data["license"] == "other"
    script = deezer_contextual_tags._LICENSE
    assert data["license_name"] in script and data["license_link"] in script
    package = configparser.ConfigParser()
    package.read(ROOT / "setup.cfg")
    assert data["license_link"] in package["metadata"]["license"]
    assert data["license_link"] in (ROOT / "README.md").read_text().split("## Licence", 1)[1]
