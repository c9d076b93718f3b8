"""``/api/<method>``: how a Web API call is read, refused or answered, and recorded.

Each call goes through the same steps, in the order Slack applies them: read the arguments
(form, JSON or multipart), an injected fault if one is queued, the token, Slack's contract for
the method (``contract.check_call``: the method exists, scopes, required arguments), then the
method's handler (an ``api_*`` module function of the workspace and the arguments). A refusal
of the contract (not an injected fault) is also kept in ``Workspace.refusals``.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from bot.devtools.standin import spec
from bot.devtools.standin.contract import CONTRACT_ERRORS, Refusal, check_call
from bot.devtools.standin.errors import ApiError
from bot.devtools.standin.httpd import Exchange
from bot.devtools.standin.params import decode_json_params, parse_multipart
from bot.devtools.standin.ratelimits import RateLimits
from bot.devtools.standin.workspace import Workspace

Handler = Callable[[Workspace, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class RecordedCall:
    """One Web API call as the stand-in saw it, with the outcome it answered."""

    method: str
    params: dict[str, Any]
    token: str | None
    status: int
    ok: bool
    at: float
    error: str | None = None
    response: dict[str, Any] = field(default_factory=dict)


@dataclass
class Fault:
    method: str
    status: int
    error: str | None
    retry_after: int | None
    remaining: int
    skip: int = 0  # let this many matching calls through first


def _default_error(status: int) -> str:
    return {429: "ratelimited", 500: "fatal_error", 502: "bad_gateway", 503: "service_unavailable"}.get(
        status, "request_failed"
    )


def _parse_params(exchange: Exchange) -> dict[str, Any]:
    params: dict[str, Any] = dict(parse_qsl(exchange.query, keep_blank_values=True))
    ctype = exchange.headers.get("Content-Type", "")
    body = exchange.body
    if body:
        if "json" in ctype:
            try:
                decoded = json.loads(body)
            except ValueError:
                raise ApiError("invalid_json") from None
            if not isinstance(decoded, dict):
                raise ApiError("json_not_object")
            params.update(decoded)
        elif "multipart/form-data" in ctype:
            params.update(parse_multipart(body, ctype))
        else:
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return decode_json_params(params)


class WebApi:
    """The Web API endpoint of one stand-in: its methods, tokens, faults and the calls it saw."""

    def __init__(
        self,
        ws: Workspace,
        methods: Mapping[str, Handler],
        *,
        bot_token: str,
        app_token: str,
        scopes: tuple[str, ...] | None = None,
    ) -> None:
        self.ws = ws
        # The bot token's scopes: what manifest.yml asks for, unless a test takes some away.
        self.scopes = frozenset(spec.manifest_scopes() if scopes is None else scopes)
        self.methods = dict(methods)
        self.bot_token = bot_token
        self.app_token = app_token
        self.rate_limits: RateLimits | None = None  # Slack's tiers, when a bench or test asks
        self.forget()

    def forget(self) -> None:
        """Drop recorded calls, queued faults and latencies (the stand-in's reset)."""
        self.calls: list[RecordedCall] = []
        self.faults: list[Fault] = []
        self.latency: dict[str, float] = {}

    def take_fault(self, method: str) -> Fault | None:
        for fault in self.faults:
            if fault.method in (method, "*"):
                if fault.skip > 0:
                    fault.skip -= 1
                    return None
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _check_token(self, method: str, token: str | None) -> None:
        if not token:
            raise ApiError("not_authed")
        # apps.connections.open takes only the app-level token, everything else only the bot token.
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if token != expected:
            known = token in (self.bot_token, self.app_token)
            raise ApiError("not_allowed_token_type" if known else "invalid_auth")

    def _answer(self, method: str, exchange: Exchange, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        params: dict[str, Any] = {}
        token: str | None = None
        status = 200
        injected = False
        try:
            params = _parse_params(exchange)
            auth = exchange.headers.get("Authorization", "")
            token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else params.pop("token", None)
            params.pop("token", None)
            fault = self.take_fault(method)
            if fault is not None:
                injected = True
                status = fault.status
                if fault.retry_after is not None:
                    headers["Retry-After"] = str(fault.retry_after)
                raise ApiError(fault.error or _default_error(status))
            self._check_token(method, token)
            if self.rate_limits is not None:
                retry_after = self.rate_limits.check(method, params)
                if retry_after is not None:
                    status, headers["Retry-After"] = 429, str(retry_after)
                    raise ApiError("ratelimited")
            check_call(self.ws, method, params, self.scopes)
            handler = self.methods.get(method)
            if handler is None:
                raise ApiError("unknown_method", req_method=method)
            payload: dict[str, Any] = {"ok": True, **handler(self.ws, params)}
        except ApiError as exc:
            payload = {"ok": False, "error": exc.error, **exc.extra}
            if not injected and exc.error in CONTRACT_ERRORS:
                messages = (exc.extra.get("response_metadata") or {}).get("messages") or []
                self.ws.refusals.append(Refusal("web_api", method, exc.error, list(messages)))
        except Exception as exc:
            # A bug in the stand-in must show up as a clear failure, not a dropped connection.
            status, payload = 500, {"ok": False, "error": "standin_internal_error", "detail": repr(exc)}
        self.calls.append(
            RecordedCall(
                method=method,
                params=params,
                token=token,
                status=status,
                ok=bool(payload["ok"]) and status == 200,
                at=time.monotonic(),
                error=payload.get("error"),
                response=copy.deepcopy(payload),
            )
        )
        return status, payload

    def handle(self, exchange: Exchange) -> None:
        method = exchange.path[len("/api/") :]
        # A slow Slack (set with `slow()`), outside the lock so other calls go on.
        pause = self.latency.get(method, 0.0)
        if pause:
            time.sleep(pause)
        headers: dict[str, str] = {}
        with self.ws.lock:
            status, payload = self._answer(method, exchange, headers)
        headers["X-OAuth-Scopes"] = ",".join(sorted(self.scopes))
        exchange.reply(status, payload, headers)
