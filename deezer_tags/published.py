"""The published files a build downloads (sources.SOURCE_FILES): their URLs, their digests
checked, their text parsed."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from deezer_tags.errors import ChecksumMismatchError, MalformedSourceError
from deezer_tags.matrix import TagMatrix, parse_split_file, parse_tag_matrix
from deezer_tags.sources import PINNED_SHA256, SOURCE_FILES, Endpoints
from deezer_tags.splits import paper_assignment


def source_urls(endpoints: Endpoints, keys: Sequence[str]) -> dict[str, str]:
    """The URL of each wanted source file."""
    return {key: endpoints.source_url(key) for key in keys}


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sources(paths: Mapping[str, str], urls: Mapping[str, str],
                   overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each downloaded file must have its pinned sha256 (or the one `overrides` gives);
    returns the digests, by key."""
    expected_of = {**PINNED_SHA256, **(overrides or {})}
    digests = {}
    for key, path in paths.items():
        expected = expected_of[key]
        actual = digests[key] = sha256_of(path)
        if actual != expected:
            raise ChecksumMismatchError(
                f"{SOURCE_FILES[key].title} from {urls[key]} has sha256 {actual}, expected {expected}: "
                "if the server sent a broken file, build again with download_mode='force_redownload' "
                "(deezer-tags build --force-redownload); "
                "if you chose other files on purpose, pass verification_mode='no_checks' to load_dataset "
                f"(or checksums={{'{key}': '<sha256>'}} in the config)"
            )
    return digests


@dataclass(frozen=True)
class Sources:
    matrix: TagMatrix
    split_of: dict[int, str]  # the paper's assignment; absent = unassigned


def parse_sources(paths: Mapping[str, str]) -> Sources:
    matrix = parse_tag_matrix(read_source_text(paths["annotation"]), "the tag matrix")
    split_ids = {
        split: parse_split_file(read_source_text(paths[split]), SOURCE_FILES[split].title, matrix)
        for split in ("train", "validation", "test")
    }
    return Sources(matrix=matrix, split_of=paper_assignment(split_ids))


def read_source_text(path: str | os.PathLike) -> str:
    """A downloaded source file as text (UTF-8, with or without a byte-order mark)."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            return handle.read()
    except UnicodeDecodeError as error:
        raise MalformedSourceError(
            f"the source file {os.fspath(path)} is not UTF-8 text (byte {error.start} is {error.object[error.start]:#04x}); "
            "download it again with download_mode='force_redownload', or, if you chose it on purpose, save it as UTF-8"
        ) from None
