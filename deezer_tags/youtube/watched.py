"""What each watch page said, by video, for the rest of the build.

Several tracks can name one video: the id map gives 10,306 videos for its 12,640 tracks (a
single and its album, a best-of, one query asked twice), and a search can return a video an
earlier track resolved. The judge's verdict on a video depends on the track and on what the
page says (title, channel, duration, YouTube Music's fields), and the page says the same for
every track. So a video resolved once is judged for the next track on what its page said, and
resolved again only if that judgement accepts it: a fetch needs a fresh page, as the media URLs
a page gives expire. A refusal costs no request, and the verdict is the one the page would give.

Only the fields the judge reads are kept (``Candidate.from_info``'s), a few hundred bytes a
video; nothing is kept across runs (a resumed build asks again, once per video).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

# The info fields Candidate.from_info reads.
JUDGED_FIELDS = ("title", "duration", "channel", "uploader", "track", "artists", "artist", "creator", "album")


class WatchedVideos:
    """video id -> the judged fields of its watch page; shared by every worker of a build."""

    def __init__(self) -> None:
        self._pages: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def remember(self, video_id: str, info: Mapping[str, Any]) -> None:
        page = {field: info[field] for field in JUDGED_FIELDS if info.get(field) is not None}
        with self._lock:
            self._pages[video_id] = page

    def recall(self, video_id: str) -> dict[str, Any] | None:
        with self._lock:
            page = self._pages.get(video_id)
        return dict(page) if page is not None else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._pages)
