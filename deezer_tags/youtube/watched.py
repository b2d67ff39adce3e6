"""What each watch page said, by video, for the rest of the build.

Several tracks can name one video: the id map gives 10,306 videos for its 12,640 tracks (a
single and its album, a best-of, one query asked twice), and a search can return a video an
earlier track resolved. The judge's verdict on a video depends on the track and on what the
page says (title, channel, duration, YouTube Music's fields), and the page says the same for
every track. So a video resolved once is judged for the next track on what its page said, and
resolved again only if that judgement accepts it: a fetch needs a fresh page, as the media URLs
a page gives expire. A refusal costs no request, and the verdict is the one the page would give.

What is kept is the page as the judge reads it (a ``Candidate``), a few hundred bytes a video;
nothing is kept across runs (a resumed build asks again, once per video).
"""

from __future__ import annotations

import threading

from deezer_tags.matching import Candidate


class WatchedVideos:
    """video id -> its watch page as the judge reads it; shared by every worker of a build."""

    def __init__(self) -> None:
        self._pages: dict[str, Candidate] = {}
        self._lock = threading.Lock()

    def remember(self, video_id: str, page: Candidate) -> None:
        with self._lock:
            self._pages[video_id] = page

    def recall(self, video_id: str) -> Candidate | None:
        with self._lock:
            return self._pages.get(video_id)
