"""The HTTP server base for what we serve on 127.0.0.1: the media relay and the local web."""

from __future__ import annotations

import socketserver
from http.server import ThreadingHTTPServer


class LoopbackServer(ThreadingHTTPServer):
    """A threading HTTP server that binds without a DNS lookup; its threads never hold up exit."""

    daemon_threads = True

    def server_bind(self) -> None:
        # HTTPServer.server_bind asks DNS for the host's name (slow offline); not needed.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]
