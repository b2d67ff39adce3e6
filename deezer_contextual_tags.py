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

from deezer_tags.build import WORK_DIR_NAME
from deezer_tags.build import Build
from deezer_tags.build import audio_example
from deezer_tags.build import metadata_example
from deezer_tags.build import parse_sources
from deezer_tags.build import read_source_text
from deezer_tags.build import select_tracks
from deezer_tags.build import sha256_of
from deezer_tags.build import source_urls
from deezer_tags.build import verify_sources
from deezer_tags.deezer import RetryPolicy
from deezer_tags.features import audio_features
from deezer_tags.features import metadata_features
from deezer_tags.importer import import_existing
from deezer_tags.manifest import MANIFEST_NAME
from deezer_tags.manifest import Manifest
from deezer_tags.calibration import check_size as check_calibration_size
from deezer_tags.provenance import build_settings
from deezer_tags.recipe import read_recipe
from deezer_tags.sources import ENDPOINT_FIELDS
from deezer_tags.sources import resolve_endpoints
from deezer_tags.sources import resolve_quota
from deezer_tags.splits import group_by_split
from deezer_tags.youtube import YouTubeRecoverer
from deezer_tags.youtube import check_youtube_options
from deezer_tags.youtube import parse_youtube_map

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
_LICENSE = "cc-by-4.0"

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
    workers: int = 16
    preview_workers: int = 8
    youtube_workers: int = 6
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
    # "How right are the YouTube clips?"): None, 1 % of them (at least 200); 0, off.
    calibration_tracks: Optional[int] = None
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
        # Remembered so that _split_generators can honour verification_mode="no_checks".
        self._verification_mode = verification_mode
        # A cache dir holding an earlier build gives self.info the features read from disk: plain
        # Audio, whose encoding imports torch on datasets 4+. Write with the builder's own.
        self.info.features = self._info().features
        super()._download_and_prepare(dl_manager, verification_mode, **kwargs)

    def _split_generators(self, dl_manager):
        config = self.config
        # A malformed recipe or a refused yt-dlp option is told before anything is downloaded.
        recipe = read_recipe(config.recipe) if config.recipe and config.youtube else None
        check_youtube_options(config.youtube_options or {})
        calibration_tracks = check_calibration_size(config.calibration_tracks)
        if getattr(dl_manager, "is_streaming", False):
            # streaming=True: the sources must be on disk all the same (checksums, parsing)
            # and the audio fetched under the quota now (signed URLs expire), so the build
            # runs as usual; only the Arrow cache is skipped.
            dl_manager = datasets.DownloadManager(
                dataset_name=self.dataset_name,
                download_config=datasets.DownloadConfig(
                    cache_dir=os.path.join(self._cache_dir_root, "downloads"), token=self.token),
            )
        endpoints = resolve_endpoints({name: getattr(config, name) for name in ENDPOINT_FIELDS})
        wanted = ("annotation", "train", "validation", "test", "folds")  # folds: artist ids
        wanted += ("youtube_map",) if config.youtube else ()
        urls = source_urls(endpoints, wanted)
        build = Build(
            work_dir=_work_dir(config.work_dir, self._cache_dir_root),
            endpoints=endpoints,
            quota=resolve_quota(config.quota_calls, config.quota_window),
            workers=config.workers,
            preview_workers=config.preview_workers,
            youtube_workers=config.youtube_workers,
            calibration_tracks=calibration_tracks,
            retry=RetryPolicy.resolve(config.quota_patience, config.unreachable_after),
            storage_root=pathlib.Path(self._cache_dir_root),
        )
        paths = build.download_sources(dl_manager.download, urls)
        checks = getattr(self, "_verification_mode", None) != datasets.VerificationMode.NO_CHECKS  # unset: streaming
        if checks:
            digests = verify_sources(paths, urls, config.checksums)
        else:
            digests = {key: sha256_of(path) for key, path in paths.items()}
        build.settings = build_settings(
            config=config.name, sources_sha256=digests, split_scheme=config.split_scheme,
            split_file_sha256=sha256_of(config.split_file) if config.split_file else None,
            section_start=config.section_start, quota=build.quota, api_language=endpoints.api_language,
            youtube=config.youtube, recipe_sha256=sha256_of(config.recipe) if recipe else None,
            calibration_tracks=calibration_tracks)
        sources = parse_sources(paths)
        selected = select_tracks(sources.matrix, config.track_ids, config.max_tracks)
        published = checks and not config.checksums
        paper = config.split_scheme == "paper" and not config.split_file
        if config.audio or len(selected) != len(sources.matrix.labels) or not published or not paper:
            # Audio configs leave out tracks without audio; trial builds, other source files
            # and other splits have other sizes: the card's sizes are the full metadata's.
            self.info.splits = None

        youtube = None
        if config.youtube:
            youtube = YouTubeRecoverer(
                endpoints, parse_youtube_map(read_source_text(paths["youtube_map"])),
                cookies=config.youtube_cookies, section_start=config.section_start,
                recipe=recipe, options=config.youtube_options,
                cookies_from_browser=config.youtube_cookies_from_browser,
            )
        try:
            with build.locked():
                if config.data_dir and config.audio:
                    import_existing(build.work_dir, config.data_dir, selected)
                build.acquire(selected, audio=config.audio, youtube=youtube)
        finally:
            if youtube is not None:
                youtube.close()
        split_of = build.split_assignment(config.split_scheme, sources, selected,
                                          folds_path=paths["folds"], split_file=config.split_file)
        build.report_splits(split_of, audio=config.audio, youtube=config.youtube)
        if config.audio:
            selected = build.with_audio(selected, youtube=config.youtube)

        return [
            datasets.SplitGenerator(
                name=split,
                gen_kwargs={
                    "tracks": [(t, sources.matrix.labels[t]) for t in ids],
                    "work_dir": str(build.work_dir),
                },
            )
            for split, ids in group_by_split(selected, split_of).items()
            if ids  # a split may have no track (with audio): datasets cannot load an empty one
        ]

    def _generate_examples(self, tracks, work_dir):
        with Manifest(pathlib.Path(work_dir) / MANIFEST_NAME, readonly=True) as manifest:
            rows = {row.track_id: row for row in manifest.rows(t for t, _ in tracks)}
        for track_id, labels in tracks:
            row = rows.get(track_id)
            if not self.config.audio:
                yield track_id, metadata_example(track_id, labels, row)
                continue
            example = audio_example(track_id, labels, row, pathlib.Path(work_dir), youtube=self.config.youtube)
            if example is not None:
                yield track_id, example


def _work_dir(configured, cache_dir_root):
    if configured:
        return pathlib.Path(os.path.expanduser(configured))
    return pathlib.Path(cache_dir_root) / WORK_DIR_NAME
