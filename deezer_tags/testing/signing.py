"""Signed, expiring preview URLs, like the Deezer CDN's Akamai tokens.

A URL reads ``/cdn/stream/c-{key}-5.mp3?hdnea=exp={unix}~acl=/stream/c-{key}-5.mp3*~hmac={hex}``:
HMAC-SHA256 over ``exp=...~acl=...`` with a secret the server draws at start, so URLs from
another server (or an earlier run) are refused. ``exp`` is whole seconds like the real
ones; the server also keeps each URL's exact expiry so a sub-second ``preview_ttl`` (tests)
is honoured to the millisecond.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import secrets
from urllib.parse import unquote

from .urls import CDN_PREFIX

_CDN_ROOT = CDN_PREFIX[: -len("/stream/")]  # "/cdn": the CDN host's root on the local web


class PreviewSigner:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._secret = os.urandom(32)
        self._expiry: dict[str, float] = {}  # hmac -> exact expiry (unix seconds)

    def sign(self, key: str, now: float) -> str:
        """The path and query of a fresh URL for the preview named ``key``."""
        acl_path = f"/stream/c-{key}-5.mp3"
        token = f"exp={math.ceil(now + self.ttl)}~acl={acl_path}*"
        mac = hmac.new(self._secret, token.encode(), hashlib.sha256).hexdigest()
        self._expiry[mac] = now + self.ttl
        return f"{_CDN_ROOT}{acl_path}?hdnea={token}~hmac={mac}"

    def refusal(self, path: str, query: str, now: float) -> str | None:
        """Why the CDN refuses this request (a short text), or None when the URL is valid."""
        query = unquote(query)
        if not query.startswith("hdnea=") or "~hmac=" not in query:
            return "missing token"
        token, _, mac = query[len("hdnea="):].rpartition("~hmac=")
        expected = hmac.new(self._secret, token.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac, expected):
            return "bad token signature"
        fields = dict(part.split("=", 1) for part in token.split("~") if "=" in part)
        acl = fields.get("acl", "")
        if not (acl.endswith("*") and path[len(_CDN_ROOT):].startswith(acl[:-1])):
            return "token does not cover this path"
        if now >= min(float(fields.get("exp", 0)), self._expiry.get(mac, math.inf)):
            return "token expired"
        return None


class MediaSigner:
    """Signed, expiring media URLs, like googlevideo's ``videoplayback`` URLs.

    A URL reads ``/media/videoplayback/id/{video}/itag/{itag}?expire={unix}&ei={session}&sig={hex}``.
    Real ones carry ``expire`` (issued + 21,600 s: six hours) and a signature over their
    parameters; past ``expire`` googlevideo answers 403, and the client must resolve the
    watch page again for a new URL. ``expire_now`` kills one URL early, as when YouTube
    revokes a session's URLs in the middle of a download: from then on it answers 403.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._secret = os.urandom(32)
        self._expiry: dict[str, float] = {}  # sig -> exact expiry (unix seconds)

    def sign(self, path: str, now: float) -> str:
        """``path`` with a fresh ``expire``, ``ei`` and ``sig`` query: every watch page hands
        out a URL of its own (``ei`` names the session), so a dead one is never handed again."""
        expire, ei = math.ceil(now + self.ttl), secrets.token_urlsafe(12)
        sig = self._sig(path, expire, ei)
        self._expiry[sig] = now + self.ttl
        return f"{path}?expire={expire}&ei={ei}&sig={sig}"

    def _sig(self, path: str, expire: object, ei: str) -> str:
        return hmac.new(self._secret, f"{path}?expire={expire}&ei={ei}".encode(), hashlib.sha256).hexdigest()[:40]

    def refusal(self, path: str, query: str, now: float) -> str | None:
        """Why googlevideo refuses this URL (a short text), or None when it is valid."""
        fields = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
        expire, sig = fields.get("expire", ""), fields.get("sig", "")
        expected = self._sig(path, expire, fields.get("ei", ""))
        if not (expire.isdigit() and hmac.compare_digest(sig, expected)):
            return "bad signature"
        if now >= min(float(expire), self._expiry.get(sig, math.inf)):
            return "expired"
        return None

    def expire_now(self, query: str, now: float) -> None:
        sig = dict(part.split("=", 1) for part in query.split("&") if "=" in part).get("sig", "")
        if sig in self._expiry:
            self._expiry[sig] = min(self._expiry[sig], now)
