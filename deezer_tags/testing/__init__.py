"""The local web: a real HTTP server on 127.0.0.1 that stands in for Zenodo, GitHub raw,
the Deezer API and preview CDN, and YouTube, so tests and benchmarks run offline.

    with LocalWeb(Scenario.from_shared_data(no_preview_fraction=0.25)) as web:
        os.environ.update(web.env())
        ...
"""

from .faults import Faults
from .requestlog import Served
from .scenario import Scenario, TrackSpec, VideoSpec, shared_data_dir
from .server import LocalWeb
from .youtube_limits import YouTubeLimits

__all__ = ["Faults", "LocalWeb", "Scenario", "Served", "TrackSpec", "VideoSpec", "YouTubeLimits", "shared_data_dir"]
