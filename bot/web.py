"""The HTTP face of infochat: a small ASGI app served by uvicorn.

- `POST /slack/events`: commands, interactivity, options and events, handed to Bolt
- `GET /healthz`: the process is alive
- `GET /readyz`: the database answers
- `GET /metrics`: Prometheus metrics (requests, ack latency, outbox, Slack API errors)
- `/admin…`: the HR dashboard, a Starlette app (bot.dashboard), checked after
  the Slack path so acks pay nothing for it, and built on its first request so
  a process nobody opens the dashboard on never loads Starlette and Jinja
  (~4 MB; docs/performance.md, Memory)

Bolt's dispatch is synchronous; it runs on a small thread pool so a slow
database call in one ack (`/infochat find`, type-ahead options) never stalls
the event loop for the others. Dispatching inline on the loop costs less CPU
per DB-free ack (the hop hands the GIL between threads, dearer when they sit on
different cores), but the hop is what keeps /healthz and every other ack
answering while one ack waits 10-30 ms on the database (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import binascii
import contextvars
import gc
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, unquote

from slack_bolt.context import BoltContext
from slack_bolt.request import BoltRequest
from slack_bolt.request.internals import build_context

from bot import logs, metrics
from bot.app import InfochatApp

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

# Slack's payloads are far smaller; anything bigger is not from Slack.
MAX_BODY_BYTES = 1_000_000
SLACK_PATH = "/slack/events"


class InfochatASGI:
    def __init__(
        self,
        infochat: InfochatApp,
        *,
        run_scheduler: bool = False,
        freeze_gc: bool = False,
    ) -> None:
        self.infochat = infochat
        self.run_scheduler = run_scheduler
        self.freeze_gc = freeze_gc
        # INFOCHAT_HTTP_THREADS: the acks are Python under one GIL; more threads only contend.
        threads = infochat.ctx.settings.http_threads
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="infochat-http")
        self.registry = metrics.registry_for(infochat.ctx.db)
        self._dashboard: Any = None  # bot.dashboard.Dashboard, built on first use

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == "/healthz" and method in ("GET", "HEAD"):
            await _respond(send, 200, {"status": "ok"})
        elif path == "/readyz" and method in ("GET", "HEAD"):
            ready = await self._run(self.infochat.ctx.db.ping)
            await _respond(
                send, 200 if ready else 503, {"status": "ready" if ready else "database unreachable"}
            )
        elif path == "/metrics" and method == "GET":
            payload = await self._run(metrics.render, self.registry)
            await _send(send, 200, payload, [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")])
        elif path == SLACK_PATH:
            if method != "POST":
                await _respond(send, 405, {"error": "use POST"})
                return
            await self._slack(scope, receive, send)
        elif path == "/admin" or path.startswith("/admin/"):
            if self._dashboard is None:
                from bot.dashboard import Dashboard

                self._dashboard = Dashboard(self.infochat.ctx)
            await self._dashboard(scope, receive, send)
        else:
            await _respond(send, 404, {"error": "not found"})

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        # copy_context carries the request id into the worker thread's log lines.
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(self.pool, context.run, fn, *args)

    async def _slack(self, scope: Scope, receive: Receive, send: Send) -> None:
        logs.request_id.set(uuid.uuid4().hex[:12])
        body = await _read_body(receive, MAX_BODY_BYTES)
        if body is None:
            await _respond(send, 413, {"error": "request body too large"})
            return
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            await _respond(send, 400, {"error": "body is not UTF-8"})
            return
        headers: dict[str, list[str]] = {}
        for raw_name, raw_value in scope["headers"]:
            headers.setdefault(raw_name.decode("latin-1").lower(), []).append(raw_value.decode("latin-1"))
        timestamp = headers.get("x-slack-request-timestamp", [""])[0]
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) < 12):
            # Slack sends Unix seconds; anything else cannot be signed by Slack, and
            # slack_sdk's verifier would raise on it instead of refusing it.
            await _respond(send, 401, {"error": "invalid request"})
            return
        started = time.perf_counter()
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        try:
            request = slack_request(text, query, headers)
        except Exception:  # Bolt raises on bodies it cannot parse at all
            log.warning("unparseable Slack request body", extra={"path": SLACK_PATH})
            await _respond(send, 400, {"error": "malformed body"})
            return
        response = await self._run(self.infochat.bolt.dispatch, request)
        kind = metrics.request_kind(request.body)
        metrics.ACK_SECONDS.labels(kind).observe(time.perf_counter() - started)
        metrics.REQUESTS.labels(kind, str(response.status)).inc()
        out_headers = [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, values in response.headers.items()
            for value in values
            if name.lower() != "content-length"
        ]
        payload = response.body.encode("utf-8") if isinstance(response.body, str) else response.body
        await _send(send, response.status, payload, out_headers)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.run_scheduler:
                    self.infochat.start_scheduler()
                    await asyncio.get_running_loop().run_in_executor(self.pool, self.infochat.warm_up)
                if self.freeze_gc:
                    _freeze_startup_objects()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                # In-flight HTTP requests have finished by now (uvicorn waits for
                # them); finish the slow work they started, then release the pool.
                await asyncio.get_running_loop().run_in_executor(None, self.infochat.shutdown)
                self.pool.shutdown(wait=True)
                await send({"type": "lifespan.shutdown.complete"})
                return


def _freeze_startup_objects() -> None:
    """Move everything alive after start-up (modules, Bolt, SQLAlchemy, warm caches)
    out of the cyclic GC's sight: they live as long as the process, and each Bolt
    dispatch allocates a few hundred objects, so full collections would otherwise
    keep re-walking them (measured in docs/performance.md: more acks per second,
    a shorter p99)."""
    gc.collect()
    gc.freeze()


def slack_request(text: str, query: dict[str, list[str]], headers: dict[str, list[str]]) -> BoltRequest:
    """Bolt's request for an HTTP request from Slack, as `BoltRequest(body=text, …)` builds it, but
    a form body read by `parse_form` instead of urllib's `parse_qsl` (Python code per %-escape:
    0.47 ms for a modal submission's 17 KB, where most characters of the JSON are escaped)."""
    if text.startswith("{") or not text:
        return BoltRequest(body=text, query=query, headers=headers)
    request = BoltRequest(body="", query=query, headers=headers)
    if request.content_type == "application/json":
        return BoltRequest(body=text, query=query, headers=headers)
    request.raw_body = text
    fields = parse_form(text)
    if "payload" in text:  # as Bolt's parse_body: interactivity sends its JSON in `payload`
        payload = fields.get("payload")
        request.body = json.loads(payload) if payload is not None else {}
    else:
        request.body = fields
    request.context = build_context(BoltContext({}), request.body)
    return request


def parse_form(text: str) -> dict[str, str]:
    """`dict(urllib.parse.parse_qsl(text, keep_blank_values=True))`, the same result, faster for
    long percent-encoded values: an ASCII value whose escapes are all well-formed is decoded by
    binascii's quoted-printable decoder in C (`%` read as `=`); anything else by urllib."""
    fields: dict[str, str] = {}
    for field in text.split("&"):
        if not field:
            continue
        name, _, value = field.partition("=")
        fields[_unquote(name.replace("+", " "))] = _unquote(value.replace("+", " "))
    return fields


_NOT_AN_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _unquote(text: str) -> str:
    if "%" not in text:
        return text
    if "=" in text or not text.isascii() or _NOT_AN_ESCAPE.search(text):
        return unquote(text)  # what quoted-printable would read differently
    return binascii.a2b_qp(text.replace("%", "=")).decode("utf-8", "replace")


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(send: Send, status: int, body: dict[str, Any]) -> None:
    await _send(send, status, json.dumps(body).encode(), [(b"content-type", b"application/json")])


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
