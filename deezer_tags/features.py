"""The dataset's features on whichever `datasets` line is installed, and a form of them that
both lines read back intact.

What differs between the lines (checked with datasets 3.6.0 and 5.2.0):

- `Audio(mono=False)` keeps the clip's two channels on 3.x; `mono` is gone from 4.0 on and
  `num_channels` came in 4.4 (4.0-4.3 can say neither: the clip is decoded as stored).
- On 4+ `Audio.encode_example` imports torch and torchcodec before looking at its value, so
  building an audio config would need them even though a clip is written as its path. The
  builder's Audio here (`BuildAudio`) writes a path or bytes without them; decoding is
  untouched (4+: torchcodec; 3.x: soundfile + librosa).
- 4+ writes a list feature as `List` (JSON) / `list:` (the card's YAML), which 3.6 does not
  know: reading such a copy 3.6 loses the labels' fixed length (15). 3.6 writes `Sequence` /
  `sequence:`, which 4+ still reads (as `List`). `PORTABLE`: exports write the 3.6 form, with
  `mono: false` and `num_channels: 2` side by side (each line ignores the key it lacks).
- On 4+, `example["audio"]` is a torchcodec `AudioDecoder`, and its `["array"]` is the mean
  of the channels whatever `num_channels` says; `get_all_samples().data` has them all.
  `decoded_array` gives (channels, samples) float32 on both lines.
- Downmixing differs: 3.x's `mono=True` is the mean of the channels; 4.4+'s `num_channels=1`
  is FFmpeg's (L+R)/sqrt(2), 3 dB louder (measured: 146 dB SNR against that, 7.7 against the mean).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import datasets

from deezer_tags import TAGS

DATASETS_VERSION = tuple(int(p) for p in datasets.__version__.split(".")[:2])
_AUDIO_FIELDS = {f.name for f in dataclasses.fields(datasets.Audio)}
HAS_MONO = "mono" in _AUDIO_FIELDS                  # 3.x
HAS_NUM_CHANNELS = "num_channels" in _AUDIO_FIELDS  # 4.4+
RUNS_SCRIPTS = DATASETS_VERSION < (4, 0)            # load_dataset("....py") works on 3.x only

SAMPLING_RATE = 44100  # the clips as built: Deezer's previews and the YouTube clips normalised to them
CHANNELS = 2
# Rows per Parquet row group for audio (3.6's and the Hub's choice: one row costs its group).
AUDIO_ROW_GROUP = 100


class BuildAudio(datasets.Audio):
    """`datasets.Audio` that encodes a path or bytes without importing torch (4+ imports it
    for every value). Serialised as plain `Audio`: what is read back is the installed line's."""

    def encode_example(self, value):
        if isinstance(value, str):
            return {"bytes": None, "path": value}
        if isinstance(value, (bytes, bytearray)):
            return {"bytes": bytes(value), "path": None}
        if isinstance(value, dict) and "array" not in value and (value.get("path") or value.get("bytes")):
            return {"bytes": value.get("bytes"), "path": value.get("path")}
        return super().encode_example(value)

    def __eq__(self, other):  # equal to the plain Audio it is written as
        if isinstance(other, datasets.Audio):
            return dataclasses.astuple(self) == dataclasses.astuple(other)
        return NotImplemented

    __hash__ = None


def audio_feature(sampling_rate: int | None = SAMPLING_RATE, channels: int | None = CHANNELS, *,
                  decode: bool = True, build: bool = False) -> datasets.Audio:
    """An Audio feature that decodes to `sampling_rate` and `channels` on the installed line
    (`channels=None`: as stored). `build=True`: the builder's, which encodes without torch."""
    kwargs: dict[str, Any] = {"sampling_rate": sampling_rate, "decode": decode}
    if channels is not None:
        if HAS_MONO:
            if channels not in (1, 2):
                raise ValueError(f"datasets {datasets.__version__} decodes 1 or 2 channels, not {channels}")
            kwargs["mono"] = channels == 1
        elif HAS_NUM_CHANNELS:
            kwargs["num_channels"] = channels
        # 4.0-4.3: neither; the clip is decoded with the channels it has.
    cls = BuildAudio if build and not HAS_MONO else datasets.Audio
    return cls(**kwargs)


def fixed_list(feature, length: int):
    """A list of exactly `length` items (a fixed-size Arrow list) on both lines."""
    if hasattr(datasets, "List"):
        return datasets.List(feature, length=length)
    return datasets.Sequence(feature, length=length)


def var_list(feature):
    if hasattr(datasets, "List"):
        return datasets.List(feature)
    return datasets.Sequence(feature)


def metadata_features() -> dict:
    return {
        "track_id": datasets.Value("int64"),
        "tags": var_list(datasets.ClassLabel(names=list(TAGS))),
        "labels": fixed_list(datasets.Value("int8"), len(TAGS)),
        "title": datasets.Value("string"),
        "title_short": datasets.Value("string"),
        "title_version": datasets.Value("string"),
        "artist_id": datasets.Value("int64"),
        "artist_name": datasets.Value("string"),
        "album_id": datasets.Value("int64"),
        "album_title": datasets.Value("string"),
        "duration": datasets.Value("int32"),
        "isrc": datasets.Value("string"),
        "release_date": datasets.Value("string"),
        "bpm": datasets.Value("float32"),
        "gain": datasets.Value("float32"),
        "readable": datasets.Value("bool"),
        "has_preview": datasets.Value("bool"),
        "metadata_status": datasets.Value("string"),
    }


def audio_features(*, build: bool = True) -> dict:
    """The audio configs' features: the metadata, the clip (30 s MP3, 44.1 kHz stereo) and
    where it came from."""
    return {
        **metadata_features(),
        "audio": audio_feature(build=build),
        "audio_source": datasets.Value("string"),
        "audio_sha256": datasets.Value("string"),
        "audio_duration": datasets.Value("float32"),
        "youtube_video_id": datasets.Value("string"),
        "youtube_title": datasets.Value("string"),
        "youtube_match_score": datasets.Value("float32"),
        "youtube_found_by": datasets.Value("string"),
    }


# --- the portable form: what an export writes, so that either line reads it intact ---------

def portable_dict(features: datasets.Features) -> dict:
    """The features as JSON that 3.6 and 4+ both read back the same: `Sequence` for lists
    (with their fixed length), and an Audio's channels said both ways."""
    return {name: _portable(value) for name, value in features.to_dict().items()}


def _portable(obj):
    if isinstance(obj, list):
        return [_portable(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    out = {k: _portable(v) for k, v in obj.items()}
    kind = out.get("_type")
    if kind in ("List", "Sequence"):
        out["_type"] = "Sequence"
        if out.get("length", -1) == -1:
            out.pop("length", None)
    elif kind == "Audio":
        channels = out.get("num_channels")
        if channels is None and "mono" in out:
            channels = 1 if out["mono"] else 2
        if channels is not None:
            out["num_channels"] = channels
            out["mono"] = channels == 1
        if out.get("stream_index") is None:
            out.pop("stream_index", None)  # 4+ only; 3.6 would not mind it, but it says nothing
    return out


def portable_schema(features: datasets.Features):
    """The Arrow schema of `features`, its `huggingface` metadata in the portable form."""
    schema = features.arrow_schema
    metadata = dict(schema.metadata or {})
    metadata[b"huggingface"] = json.dumps({"info": {"features": portable_dict(features)}}).encode()
    return schema.with_metadata(metadata)


def portable_yaml(features: datasets.Features) -> list:
    """The features as a dataset card's YAML list (`dataset_info.features`), in the form both
    lines read: `sequence:` with `length`, class labels by name, audio with both channel keys."""
    return [{"name": name, **_yaml_type(value)} for name, value in portable_dict(features).items()]


def _yaml_type(obj: dict) -> dict:
    kind = obj.get("_type")
    if kind == "Value":
        return {"dtype": obj["dtype"]}
    if kind == "ClassLabel":
        return {"dtype": {"class_label": {"names": {str(i): n for i, n in enumerate(obj["names"])}}}}
    if kind == "Sequence":
        inner = _yaml_type(obj["feature"])
        item = inner["dtype"] if set(inner) == {"dtype"} else inner
        out = {"sequence": item}
        if obj.get("length", -1) != -1:
            out["length"] = obj["length"]
        return out
    if kind in ("Audio", "Image", "Video"):
        params = {k: v for k, v in obj.items() if k not in ("_type", "id") and v is not None}
        return {"dtype": {kind.lower(): params} if params else kind.lower()}
    if kind is None:  # a dict of sub-features
        return {"struct": [{"name": k, **_yaml_type(v)} for k, v in obj.items()]}
    raise TypeError(f"no portable YAML for a {kind} feature")


FFMPEG_PACKAGES = ("libavcodec59 libavformat59 libavdevice59 libavfilter8 libswscale6 libswresample4 "
                   "libavutil57")


def decoder_problem() -> str | None:
    """None when the installed line can decode the audio column, else what to do, in one sentence."""
    try:
        if HAS_MONO:
            import librosa  # noqa: F401 - 3.x's Audio.decode_example imports both
            import soundfile  # noqa: F401
        else:
            import torchcodec.decoders  # noqa: F401 - loads FFmpeg's shared libraries
    except ImportError as error:
        return (f"decoding audio with datasets {datasets.__version__} needs {error.name or error}: "
                "pip install -e \".[audio]\" (on 4+ it brings torch and torchcodec: install your torch first)")
    except OSError as error:  # torchcodec is there, FFmpeg's libraries (or a matching torch) are not
        return (f"torchcodec cannot load its libraries ({str(error).splitlines()[-1][:160]}): install FFmpeg's "
                f"shared libraries (Debian: apt-get install --no-install-recommends {FFMPEG_PACKAGES}) and a "
                "torchcodec release made for the installed torch")
    return None


def decoded_array(value, channels: int | None = None):
    """A decoded Audio value as float32 numpy (channels, samples) on both lines: 3.x gives a
    dict with `array` ((samples,) when mono), 4+ a torchcodec AudioDecoder."""
    import numpy as np

    if isinstance(value, dict):
        array = np.asarray(value["array"], dtype=np.float32)
        rate = value["sampling_rate"]
    else:
        samples = value.get_all_samples()
        array = samples.data.numpy().astype(np.float32, copy=False)
        rate = samples.sample_rate
    if array.ndim == 1:
        array = array[None, :]
    if channels == 1 and array.shape[0] > 1:
        array = array.mean(axis=0, keepdims=True)
    return array, rate
