"""Deezer Contextual Tags (Ibrahim et al., ICASSP 2020) as a `datasets` loading script.

49,929 Deezer tracks with 15 binary context tags. The annotations come from
Zenodo record 3648287 and the splits from the authors' repository; everything
else is fetched from the services by the engine, the installed `deezer_tags`
package. This file only wires configs to it.
"""

import os
import pathlib
from dataclasses import dataclass
from typing import Optional

import datasets

from deezer_tags import defaults
from deezer_tags.build import Build
from deezer_tags.examples import audio_example
from deezer_tags.examples import metadata_example
from deezer_tags.features import audio_features
from deezer_tags.features import metadata_features
from deezer_tags.manifest import Manifest
from deezer_tags.workdir import WorkDir

_CITATION = """\
@inproceedings{ibrahim2020audio,
  title     = {Audio-Based Auto-Tagging with Contextual Tags for Music},
  author    = {Ibrahim, Karim M. and Royo-Letelier, Jimena and Epure, Elena V. and Peeters, Geoffroy and Richard, Ga{\\"e}l},
  booktitle = {Proceedings of the IEEE International Conference on Acoustics, Speech and Signal Processing (ICASSP)},
  year      = {2020},
  address   = {Barcelona, Spain},
  note      = {Data: doi:10.5281/zenodo.3648287}
}
"""

_DESCRIPTION = """\
49,929 Deezer tracks annotated with 15 binary context tags (car, chill, club, dance,
gym, happy, night, party, relax, running, sad, sleep, summer, work, workout), with
their Deezer metadata, split as in the ICASSP 2020 paper.
"""

_HOMEPAGE = "https://zenodo.org/records/3648287"
# The annotations' licence is their authors', as stated on the Zenodo record (the card's
# license: other, license_name and license_link say the same); this code is MIT (setup.cfg).
_LICENSE = "annotations-as-published-on-zenodo-3648287 (https://zenodo.org/records/3648287)"

# The features for the installed datasets line (deezer_tags/features.py): on 3.x the clip is
# Audio(sampling_rate=44100, mono=False), decoded by soundfile; on 4.4+ Audio(num_channels=2),
# decoded by torchcodec, and written at build time without importing torch.
# cast_column("audio", audio_feature(16000, 1)) gives a model's rate and channels on either line.
_METADATA_FEATURES = metadata_features()
_AUDIO_FEATURES = audio_features()


@dataclass
class DeezerContextualTagsConfig(datasets.BuilderConfig):
    """Configs take the endpoints (see deezer_tags.sources), a track subset, and tuning knobs."""

    # Endpoints; None means the DEEZER_TAGS_* variable, else the real service.
    zenodo_url: Optional[str] = None
    splits_url: Optional[str] = None
    youtube_map_url: Optional[str] = None
    api_url: Optional[str] = None
    preview_hosts: Optional[str] = None
    youtube_hosts: Optional[str] = None
    youtube_watch_url: Optional[str] = None
    media_hosts: Optional[str] = None
    youtube_search_url: Optional[str] = None
    youtube_music_search_url: Optional[str] = None
    api_language: Optional[str] = None
    # A trial build: a list of ids (or a file of ids) and/or the first N of them.
    track_ids: Optional[object] = None
    max_tracks: Optional[int] = None
    # sha256 per source file, for deliberately different files (e.g. {"annotation": "..."}).
    checksums: Optional[dict] = None
    # The Deezer quota (default 50 calls per 5 s, or DEEZER_TAGS_QUOTA="calls/seconds").
    quota_calls: Optional[int] = None
    quota_window: Optional[float] = None
    workers: int = defaults.API_WORKERS
    preview_workers: int = defaults.PREVIEW_WORKERS
    youtube_workers: int = defaults.YOUTUBE_WORKERS
    # Seconds before the build stops when the Deezer quota stays spent (default 600) or the
    # API cannot be connected to (default 30); also DEEZER_TAGS_QUOTA_PATIENCE and
    # DEEZER_TAGS_UNREACHABLE_AFTER. A stopped build resumes where it stopped.
    quota_patience: Optional[float] = None
    unreachable_after: Optional[float] = None
    # Where the manifest lives; default: deezer_tags/ under the datasets cache dir.
    work_dir: Optional[str] = None
    # What the config fetches (set by the named configs below).
    audio: bool = False
    youtube: bool = False
    # YouTube: a cookies file (Netscape format) when YouTube asks to sign in, and where
    # the 30 s section starts: "middle" (of the video), "start", or seconds.
    youtube_cookies: Optional[str] = None
    section_start: Optional[object] = "middle"
    # yt-dlp as YouTube needs it this week: options merged into yt-dlp's (extractor_args,
    # proxy, sleep_interval_requests, ratelimit, ...; those the engine owns are refused),
    # and cookies read from a browser ("firefox", "chrome:Profile 1") beside a cookies file.
    youtube_options: Optional[dict] = None
    youtube_cookies_from_browser: Optional[str] = None
    # The YouTube path's precision, measured on tracks that have a preview (see the README's
    # "How right are the YouTube clips?"): None, 1 % of them; 0, off.
    calibration_tracks: Optional[int] = None
    # YouTube's budget, "VIDEOS/SECONDS" for the whole build (default 250/3600, a guest's;
    # also DEEZER_TAGS_YOUTUBE_BUDGET); the hours of continuous bot checks after which the
    # run stops, resumable (default 12); this run's cap on YouTube work, in hours (default:
    # until every YouTube track is settled; the rest is left for the next run).
    youtube_budget: Optional[str] = None
    youtube_patience: Optional[float] = None
    youtube_hours: Optional[float] = None
    # Splits: "paper" (the authors' published split) or "artist" (the paper's test set,
    # train / validation re-split so that no artist is in two splits); or split_file, a
    # CSV of track_id,split of your own.
    split_scheme: str = "paper"
    split_file: Optional[str] = None
    # A recipe (`deezer-tags export --recipe`): build the same YouTube clips as another build.
    recipe: Optional[str] = None


class DeezerContextualTags(datasets.GeneratorBasedBuilder):
    BUILDER_CONFIG_CLASS = DeezerContextualTagsConfig
    BUILDER_CONFIGS = [
        DeezerContextualTagsConfig(
            name="full",
            version=datasets.Version("1.0.0"),
            description="Audio for every track that has any: the Deezer preview, else a 30 s YouTube clip.",
            audio=True,
            youtube=True,
        ),
        DeezerContextualTagsConfig(
            name="previews",
            version=datasets.Version("1.0.0"),
            description="Only tracks whose Deezer preview could be had, with that preview.",
            audio=True,
        ),
        DeezerContextualTagsConfig(
            name="metadata",
            version=datasets.Version("1.0.0"),
            description="Tags, splits and Deezer metadata for all 49,929 tracks; no audio.",
        ),
    ]
    DEFAULT_CONFIG_NAME = "full"

    def _info(self):
        return datasets.DatasetInfo(
            description=_DESCRIPTION,
            features=datasets.Features(_AUDIO_FEATURES if self.config.audio else _METADATA_FEATURES),
            homepage=_HOMEPAGE,
            license=_LICENSE,
            citation=_CITATION,
        )

    def _download_and_prepare(self, dl_manager, verification_mode, **kwargs):
        # datasets hands verification_mode only to this hook (not to _split_generators or the
        # download manager): remembered so that "no_checks" also skips the sources' checksums.
        self._verification_mode = verification_mode
        # A cache dir holding an earlier build gives self.info the features read from disk: plain
        # Audio, whose encoding imports torch on datasets 4+. Write with the builder's own.
        self.info.features = self._info().features
        super()._download_and_prepare(dl_manager, verification_mode, **kwargs)

    def _split_generators(self, dl_manager):
        # Every user input is checked before the first request.
        build = Build.from_config(self.config, self._cache_dir_root)  # datasets keeps the cache root nowhere public
        download = dl_manager.download
        if getattr(dl_manager, "is_streaming", False):
            # streaming=True: the sources must be on disk all the same (checksums, parsing)
            # and the audio fetched under the quota now (signed URLs expire), so the build
            # runs as usual; only the Arrow cache is skipped.
            download = datasets.DownloadManager(
                dataset_name=self.dataset_name,
                download_config=datasets.DownloadConfig(
                    cache_dir=os.path.join(self._cache_dir_root, "downloads"), token=self.token),
            ).download
        verify = getattr(self, "_verification_mode", None) != datasets.VerificationMode.NO_CHECKS
        built = build.run(download, verify=verify)
        if not built.card_sizes:
            # Audio configs leave out tracks without audio; trial builds, other source files
            # and other splits have other sizes: the card's sizes are the full metadata's.
            self.info.splits = None
        return [
            datasets.SplitGenerator(name=split, gen_kwargs={"tracks": tracks, "work_dir": str(built.work_dir)})
            for split, tracks in built.splits.items()  # a split without tracks is left out: datasets cannot load one
        ]

    def _generate_examples(self, tracks, work_dir):
        with Manifest(WorkDir(pathlib.Path(work_dir)).manifest, readonly=True) as manifest:
            rows = {row.track_id: row for row in manifest.rows(t for t, _ in tracks)}
        for track_id, labels in tracks:
            row = rows.get(track_id)
            if not self.config.audio:
                yield track_id, metadata_example(track_id, labels, row)
                continue
            example = audio_example(track_id, labels, row, pathlib.Path(work_dir), youtube=self.config.youtube)
            if example is not None:
                yield track_id, example

