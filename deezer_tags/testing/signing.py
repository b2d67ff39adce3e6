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
