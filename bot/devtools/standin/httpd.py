"""The stand-in's HTTP side: a threading server on 127.0.0.1 that hands each request to a route.

Routes are path prefixes (``/api/``, ``/respond/``, ``/upload/``, …) mapped to functions of an
``Exchange``: the request read in full, and ``reply`` to answer it. Other modules of the
stand-in (the OAuth/OpenID side, for example) add theirs with ``HttpServer.route``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Exchange:
    """One HTTP request to the stand-in and the means to answer it."""

    method: str  # GET, POST
    path: str  # without the query string
    query: str
    headers: Mapping[str, str]
    body: bytes
    _handler: BaseHTTPRequestHandler = field(repr=False)
    replied: bool = False

    def reply(
        self,
        status: int,
        payload: Any,
        headers: Mapping[str, str] | None = None,
        *,
        content_type: str | None = None,
    ) -> None:
        """Answer with JSON (a dict or list), or text/bytes with ``content_type``."""
        if isinstance(payload, bytes):
            data, kind = payload, content_type or "application/octet-stream"
        elif isinstance(payload, str):
            data, kind = payload.encode(), content_type or "text/plain; charset=utf-8"
        else:
            data, kind = json.dumps(payload).encode(), content_type or "application/json; charset=utf-8"
        req = self._handler
        req.send_response(status)
        req.send_header("Content-Type", kind)
        req.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            req.send_header(key, value)
        req.end_headers()
        req.wfile.write(data)
        self.replied = True


Route = Callable[[Exchange], None]


class _ClientGone(Exception):
    """The client hung up before its request's body had all arrived (a killed process)."""


def _read_exactly(req: BaseHTTPRequestHandler, size: int) -> bytes:
    data = req.rfile.read(size)
    if len(data) < size:
        raise _ClientGone
    return data


def _read_body(req: BaseHTTPRequestHandler) -> bytes:
    if req.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            line = req.rfile.readline()
            if not line:
                raise _ClientGone
            size = int(line.strip() or b"0", 16)
            if size == 0:
                req.rfile.readline()
                return b"".join(chunks)
            chunks.append(_read_exactly(req, size))
            req.rfile.readline()
    length = int(req.headers.get("Content-Length") or 0)
    return _read_exactly(req, length) if length else b""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: HttpServer

    def verify_request(self, request: Any, client_address: Any) -> bool:  # once per connection
        self.owner.connections_accepted += 1
        return True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm a client that keeps the
    # connection alive would wait for its delayed ACK (~40 ms) before the body: Slack does not.
    disable_nagle_algorithm = True
    server: _Server

    def do_POST(self) -> None:  # http.server's naming
        self.server.owner.dispatch(self)

    def do_GET(self) -> None:  # http.server's naming
        self.server.owner.dispatch(self)

    def log_message(self, format: str, *args: Any) -> None:  # signature from the base class
        pass  # keep test output clean


class HttpServer:
    """Listens on a free port of 127.0.0.1 in a daemon thread and routes by path prefix."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.root = ""
        # Seconds a kept-alive connection may sit idle before the server closes it, as Slack's
        # front ends do (None: never; set before start).
        self.idle_timeout: float | None = None
        self.connections_accepted = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def route(self, prefix: str, handler: Route) -> None:
        """Send requests whose path starts with ``prefix`` to ``handler`` (longest prefix wins)."""
        self.routes[prefix] = handler

    def start(self) -> str:
        if self._server is None:
            handler = type("_IdleClosingHandler", (_Handler,), {"timeout": self.idle_timeout})
            server = _Server(("127.0.0.1", 0), handler)
            server.owner = self
            self._server = server
            self.root = f"http://127.0.0.1:{server.server_address[1]}"
            self._thread = threading.Thread(target=server.serve_forever, name="slack-standin", daemon=True)
            self._thread.start()
        return self.root

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def dispatch(self, req: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(req.path)
        try:
            body = _read_body(req)
        except _ClientGone:
            # Slack never acts on a request whose body did not all arrive: no call, no answer.
            req.close_connection = True
            return
        exchange = Exchange(
            method=req.command,
            path=parts.path,
            query=parts.query,
            headers=req.headers,  # type: ignore[arg-type]  # an email.message.Message reads like a mapping
            body=body,
            _handler=req,
        )
        matches = [p for p in self.routes if parts.path.startswith(p)]
        if not matches:
            exchange.reply(404, {"ok": False, "error": "not_found"})
            return
        self.routes[max(matches, key=len)](exchange)
