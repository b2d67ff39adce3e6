"""Injected faults, decided so that a run can be replayed.

Each decision hashes (seed, fault, resource path, n-th request of that path): the k-th
request for a given resource always meets the same fate, however threads interleave.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

# What each kind of endpoint can suffer, in the order the faults are tried. The API and
# the CDN may answer 200 with the wrong body (a proxy's error page, a broken stored file):
# that happens to CDNs. YouTube's pages and media come over HTTPS from Google: a complete
# 200/206 body arrives as sent, so their faults are the transport's (resets, stalls, short
# bodies), the server's (5xx) and googlevideo's refusals (403 expired, 429 throttled).
API_FAULTS = ("reset", "server_error", "not_json", "quota_exceeded")
CDN_FAULTS = ("reset", "server_error", "expire_early", "html_as_audio", "truncated", "slow_body", "corrupt_audio")
MEDIA_FAULTS = ("reset", "server_error", "expire_early", "throttled", "truncated", "slow_body")
PAGE_FAULTS = ("reset", "server_error", "truncated", "slow_body")
FILE_FAULTS = ("reset", "server_error", "truncated", "slow_body")

RATES = ("reset", "server_error", "truncated", "slow_body", "html_as_audio", "corrupt_audio", "expire_early", "not_json",
         "quota_exceeded", "throttled")

# Faults that spoil a good response's body; they leave error responses alone.
BODY_FAULTS = frozenset({"truncated", "slow_body", "corrupt_audio"})


def unit(*key: object) -> float:
    """A number in [0, 1) that depends on ``key`` only (not on the process or the clock)."""
    digest = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True)
class Faults:
    """Rates in [0, 1] at which each fault hits a request.

    reset: the connection is closed abruptly, no response; server_error: 500/502/503 with an
    HTML body; truncated: the body stops short of its Content-Length; slow_body: the first
    16 KB dribble out over a second; html_as_audio: an HTML error page sent as 200 audio/mpeg;
    corrupt_audio: 200 with a third of the bytes overwritten; expire_early: the CDN answers
    403 to a valid signed URL, and a media URL dies (403 from then on: the watch page must
    be resolved again); throttled: the media host answers 429; not_json: the API answers
    200 with an HTML body; quota_exceeded: the API answers its quota error (code 4) to a
    client that kept to the quota, as when another client shares its address.
    Served files (Zenodo, GitHub) are spared unless ``include_files``.
    """

    reset: float = 0.0
    server_error: float = 0.0
    truncated: float = 0.0
    slow_body: float = 0.0
    html_as_audio: float = 0.0
    corrupt_audio: float = 0.0
    expire_early: float = 0.0
    not_json: float = 0.0
    quota_exceeded: float = 0.0
    throttled: float = 0.0
    seed: int = 0
    include_files: bool = False

    def __post_init__(self) -> None:
        for name in RATES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"Faults.{name} is a rate in [0, 1], not {value}")

    def pick(self, candidates: tuple[str, ...], path: str, nth: int) -> str | None:
        """The fault the ``nth`` request (from 0) of ``path`` meets, or None."""
        for name in candidates:
            rate = getattr(self, name)
            if rate and unit(self.seed, name, path, nth) < rate:
                return name
        return None
