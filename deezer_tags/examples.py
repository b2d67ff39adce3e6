"""One example of each config, from a manifest row: what `_generate_examples` yields."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from deezer_tags.buildreport import has_audio
from deezer_tags.manifest import OK, YOUTUBE, TrackRow, chosen_candidate, found_by

# Deezer fields copied as they are into every example (see deezer.keep_fields).
METADATA_FIELDS = (
    "title", "title_short", "title_version", "artist_id", "artist_name", "album_id", "album_title",
    "duration", "isrc", "release_date", "bpm", "gain", "readable",
)


def metadata_example(track_id: int, labels: Sequence[int], row: TrackRow | None) -> dict:
    """One example of the `metadata` config: tags, labels, and Deezer's fields (None when absent)."""
    meta = (row.metadata if row is not None and row.meta_status == OK else None) or {}
    return {
        "track_id": track_id,
        "tags": [i for i, value in enumerate(labels) if value],
        "labels": list(labels),
        **{name: meta.get(name) for name in METADATA_FIELDS},
        "has_preview": bool(meta.get("preview")) if meta else None,
        "metadata_status": row.meta_status if row is not None else "pending",
    }


def audio_example(track_id: int, labels: Sequence[int], row: TrackRow | None, work_dir: Path, *,
                  youtube: bool) -> dict | None:
    """One example of an audio config, or None when the track has no clip for it."""
    if row is None or not has_audio(row, youtube):
        return None
    chosen = chosen_candidate(row) if row.audio_source == YOUTUBE else {}
    return {
        **metadata_example(track_id, labels, row),
        "audio": str(work_dir / row.audio_path),
        "audio_source": row.audio_source,
        "audio_sha256": row.audio_sha256,
        "audio_duration": row.audio_duration,
        "youtube_video_id": row.youtube_video_id if row.audio_source == YOUTUBE else None,
        "youtube_title": chosen.get("title"),
        "youtube_match_score": chosen.get("title_score"),
        "youtube_found_by": found_by(row) if row.audio_source == YOUTUBE else None,
    }
