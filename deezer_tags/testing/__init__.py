"""The local web: a real HTTP server on 127.0.0.1 that stands in for Zenodo, GitHub raw,
the Deezer API and preview CDN, and YouTube, so tests and benchmarks run offline.

    with LocalWeb(Scenario.from_public_data(no_preview_fraction=0.25)) as web:
        os.environ.update(web.env())
        ...
"""

from .faults import Faults
from .requestlog import Served
from .public_data import public_data_dir, public_text, read_public
from .scenario import Scenario, TrackSpec, VideoSpec
from .server import LocalWeb
from .youtube_limits import YouTubeLimits

__all__ = ["Faults", "LocalWeb", "Scenario", "Served", "TrackSpec", "VideoSpec", "YouTubeLimits",
           "public_data_dir", "public_text", "read_public"]
