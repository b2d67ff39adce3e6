"""The public data files the tests and benchmarks read: kept in the repository's data/public/
(gzip-compressed, with their provenance, licence notes and sha256 in its README), so that any
clone runs them with nothing beside it. Each file is checked against its digest as it is read."""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
from pathlib import Path

PUBLIC_DATA_ENV = "DEEZER_TAGS_PUBLIC_DATA"

# The sha256 of each file, uncompressed (data/public/README.md).
SHA256 = {
    "seed-repo/annotation.csv": "f80250953d1f86a9f14fb337b896cb2fd85b4126d394f70e11b9f72c4476d848",
    "seed-repo/id_to_url.json": "d1b91c4ef9acc1c2751fce56787502fab86fba38e52522372fdd7336dd1bd8ce",
    "seed-repo/error_id_to_urls.json": "1de7883a2e756eaab0dac5fbf800ab58e8e8e0a1afe91ed4d03c49de79cf7fbb",
    "paper-splits/train_ground_truth.csv": "921ee2aa569daa71dd08f0dd99e89561c829dd595462a25b3aab071e789232c6",
    "paper-splits/validation_ground_truth.csv": "a223998a783e58fc23cfa1e576d00d6c45960269455ba61e00ff4b8c1be9c06a",
    "paper-splits/test_ground_truth.csv": "861c10ce8db507dfcec9f7da17dfc8db5e8244ec447be74eaa7100f6b86d8f32",
    "paper-splits/ground_truth_folds.csv": "9890f93a25df3043313459f97042e6bac6babfd6cbe5f5b1bb9848994d36e9c3",
    "deezer-api-recorded/TestAlbum.test_get_tracks.yaml": "5757afb9c4b6bf3a163b0ee96713fc4958d90b16e875e2f270bc5054eb706e7b",
    "deezer-api-recorded/TestAsyncClient.test_request_not_found.yaml":
        "0c9b3697c165724993448040cb883f8f931119518c9694c594752ba8516a2116",
    "deezer-api-recorded/TestClient.test_get_track.yaml": "fec23fb968946e36bc4822b0f4b81981e5bca4220c2e5bb8c0c9d633329de408",
    "deezer-api-recorded/TestClient.test_no_track_raise.yaml":
        "8325fa36071fdaacb457af05e21a0507c97c0ba3c90c0c2adead746a1f7054d6",
    "deezer-api-recorded/TestTrack.test_track_attributes.yaml":
        "378848a8f8a8aae40dff7c38607d1aced54ac69f46fcce39ab0f954ea8d4af87",
}
_IN_REPOSITORY = Path(__file__).resolve().parents[2] / "data" / "public"


class PublicDataError(FileNotFoundError):
    pass


def public_data_dir() -> Path:
    """``$DEEZER_TAGS_PUBLIC_DATA``, else the repository's data/public/."""
    if env := os.environ.get(PUBLIC_DATA_ENV):
        path = Path(env)
        if not path.is_dir():
            raise PublicDataError(f"{PUBLIC_DATA_ENV}={env} is not a directory; point it at the repository's "
                                  "data/public folder, or unset it")
        return path
    if not _IN_REPOSITORY.is_dir():
        raise PublicDataError(f"no data/public folder at {_IN_REPOSITORY}: the tests and benchmarks run from a "
                              f"clone of the repository (or set {PUBLIC_DATA_ENV})")
    return _IN_REPOSITORY


@functools.lru_cache(maxsize=None)
def read_public(name: str) -> bytes:
    """The file ``name`` (e.g. "seed-repo/annotation.csv"), uncompressed and checked."""
    root = public_data_dir()
    plain, packed = root / name, root / f"{name}.gz"
    data = plain.read_bytes() if plain.is_file() else gzip.decompress(packed.read_bytes())
    expected = SHA256.get(name)
    if expected and hashlib.sha256(data).hexdigest() != expected:
        raise PublicDataError(f"{name} in {root} does not have its sha256 {expected}; restore it from the repository")
    return data


def public_text(name: str) -> str:
    return read_public(name).decode("utf-8-sig")
