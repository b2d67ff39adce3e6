"""Per-thread HTTP sessions: pooled keep-alive connections without sharing a
Session's mutable state between threads."""

from __future__ import annotations

import threading

import requests
from requests.adapters import HTTPAdapter


class ThreadSessions:
    def __init__(self, pool_size: int, *, pool_connections: int = 1, user_agent: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self._pool_size = pool_size
        self._pool_connections = pool_connections
        self._headers = {**({"User-Agent": user_agent} if user_agent else {}), **(headers or {})}
        self._local = threading.local()

    def get(self) -> requests.Session:
        """This thread's session, made on first use. Retries are ours, not urllib3's."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            adapter = HTTPAdapter(pool_connections=self._pool_connections, pool_maxsize=self._pool_size,
                                  max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers.update(self._headers)
        return session
