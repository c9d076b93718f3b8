"""Slack's Socket Mode side: apps.connections.open tickets and the WebSocket the app connects to.

The WebSocket is served by the ``websockets`` library on a port of its own (real Slack's
``wss-primary.slack.com`` is another host than ``slack.com`` too), started on the first
apps.connections.open. Tests push envelopes with ``send`` and read the acks back.
"""

from __future__ import annotations

import contextlib
import copy
import http
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from uuid import uuid4

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

SOCKET_ENVELOPE_TYPES = frozenset({"slash_commands", "events_api", "interactive"})
TICKET_TTL = 60.0  # seconds a ticket from apps.connections.open stays good for
_MAX_MESSAGE = 16 * 1024 * 1024

# (envelope sent, payload the app acked it with) -> a transcript line, or nothing
AckListener = Callable[[Mapping[str, Any] | None, Mapping[str, Any]], None]


class SocketMode:
    """Tickets, live connections, envelopes sent and acks received; waits on the stand-in's lock."""

    def __init__(self, lock: threading.RLock, app_id: str, on_ack: AckListener) -> None:
        self.app_id = app_id
        self._on_ack = on_ack
        self._cond = threading.Condition(lock)
        self._tickets: dict[str, float] = {}
        self._links: list[ServerConnection] = []
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self.forget()

    def forget(self) -> None:
        """Drop the record of envelopes and acks (the stand-in's reset)."""
        self._sent: dict[str, dict[str, Any]] = {}
        self._acks: dict[str, dict[str, Any]] = {}
        self._received: list[Any] = []

    # ------------------------------------------------------------------ server

    @property
    def root(self) -> str:
        """``http://127.0.0.1:port`` of the WebSocket server, started on first use."""
        with self._cond:
            if self._server is None:
                self._server = serve(
                    self._serve_link,
                    "127.0.0.1",
                    0,
                    process_request=self._check_ticket,
                    compression=None,  # Slack's clients do not negotiate permessage-deflate
                    ping_interval=None,  # the app pings Slack, not the other way round
                    close_timeout=2,
                    max_size=_MAX_MESSAGE,
                )
                self._thread = threading.Thread(
                    target=self._server.serve_forever, name="slack-standin-socket", daemon=True
                )
                self._thread.start()
            port = self._server.socket.getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.close(1001, "server shutting down")
        with self._cond:
            server, thread, self._server, self._thread = self._server, self._thread, None, None
        if server is not None:
            server.shutdown()
        if thread is not None:
            thread.join(timeout=5)

    def connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        """apps.connections.open: a one-time ticket in a ws:// URL."""
        ticket = secrets.token_hex(16)
        self._tickets[ticket] = time.monotonic()
        host = self.root.split("://", 1)[1]
        return {"url": f"ws://{host}/link/?ticket={ticket}&app_id={self.app_id}"}

    def _check_ticket(self, connection: ServerConnection, request: Request) -> Response | None:
        if "websocket" not in request.headers.get("Upgrade", "").lower():
            return connection.respond(http.HTTPStatus.UPGRADE_REQUIRED, "websocket_upgrade_required\n")
        parts = urlsplit(request.path)
        ticket = dict(parse_qsl(parts.query)).get("ticket", "")
        with self._cond:
            issued = self._tickets.pop(ticket, None)  # a ticket opens one connection
        if parts.path.rstrip("/") != "/link" or issued is None or time.monotonic() - issued > TICKET_TTL:
            return connection.respond(http.HTTPStatus.UNAUTHORIZED, "invalid_ticket\n")
        return None

    def _serve_link(self, link: ServerConnection) -> None:
        with self._cond:
            count = len(self._links) + 1
        try:
            link.send(json.dumps(self._hello(count)))
        except ConnectionClosed:
            return
        with self._cond:
            # Open (for socket_connected and socket_send) only once hello is on its way.
            self._links.append(link)
            self._cond.notify_all()
        try:
            for message in link:
                if isinstance(message, bytes):
                    link.close(1003, "binary frames are not supported")
                    break
                self._receive(message)
        except ConnectionClosed:
            pass
        finally:
            with self._cond:
                self._links.remove(link)
                self._cond.notify_all()

    def _hello(self, count: int) -> dict[str, Any]:
        return {
            "type": "hello",
            "num_connections": count,
            "debug_info": {"host": "standin", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        }

    def _receive(self, raw: str) -> None:
        try:
            message: Any = json.loads(raw)
        except ValueError:
            message = raw
        with self._cond:
            self._received.append(message)
            if isinstance(message, dict) and isinstance(message.get("envelope_id"), str):
                envelope_id = message["envelope_id"]
                payload = message.get("payload")
                acked = dict(payload) if isinstance(payload, Mapping) else {}
                self._acks.setdefault(envelope_id, acked)
                self._on_ack(self._sent.get(envelope_id), acked)
            self._cond.notify_all()

    # ------------------------------------------------------------------ what tests use

    def connected(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._links:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    @property
    def count(self) -> int:
        with self._cond:
            return len(self._links)

    def send(
        self, envelope_type: str, payload: Mapping[str, Any], retry_attempt: int, retry_reason: str
    ) -> str:
        if envelope_type not in SOCKET_ENVELOPE_TYPES:
            raise ValueError(f"envelope_type must be one of {sorted(SOCKET_ENVELOPE_TYPES)}")
        envelope_id = str(uuid4())
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "payload": copy.deepcopy(dict(payload)),
            "type": envelope_type,
            # Slack takes a response payload for commands and interactivity, never for events.
            "accepts_response_payload": envelope_type != "events_api",
        }
        if envelope_type == "events_api":
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason
        with self._cond:
            if not self._links:
                raise RuntimeError("no open Socket Mode connection; wait with socket_connected() first")
            link = self._links[-1]
            self._sent[envelope_id] = envelope
        try:
            link.send(json.dumps(envelope))
        except ConnectionClosed:
            raise RuntimeError("the Socket Mode connection closed while sending") from None
        return envelope_id

    def ack(self, envelope_id: str, timeout: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while envelope_id not in self._acks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            return copy.deepcopy(self._acks[envelope_id])

    @property
    def messages(self) -> list[Any]:
        with self._cond:
            return copy.deepcopy(self._received)

    def disconnect(self, reason: str) -> None:
        """Slack's ``disconnect`` message to every open connection; the client should reconnect."""
        with self._cond:
            links = list(self._links)
        for link in links:
            with contextlib.suppress(ConnectionClosed):
                link.send(
                    json.dumps({"type": "disconnect", "reason": reason, "debug_info": {"host": "standin"}})
                )

    def close(self, code: int, reason: str) -> None:
        """Close every open connection from the server side (a WebSocket close frame)."""
        with self._cond:
            links = list(self._links)
        for link in links:
            link.close(code, reason)
