"""Slack's contract for a Web API call, checked before its method runs, and the refusals it yields.

Order, as Slack applies it: the method exists (``unknown_method``), the token's scopes cover it
(``missing_scope``, with ``needed`` and ``provided``), the required arguments are there
(``invalid_arguments``). The method's handler then checks the content (blocks, views, triggers,
channels). Every refusal of the contract, wherever it happens (Web API, response_url, the app's
own HTTP answers), is kept as a ``Refusal`` so tests can demand there were none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.devtools.standin import spec
from bot.devtools.standin.errors import ApiError, invalid_args
from bot.devtools.standin.workspace import Workspace

# Errors that mean "the app broke Slack's contract", as opposed to the state of the workspace
# (a deactivated user, a message deleted meanwhile, a revoked token: ``invalid_auth``) that the
# app must handle as Slack's answer.
CONTRACT_ERRORS = frozenset(
    {
        "unknown_method",
        "missing_scope",
        "invalid_arguments",
        "invalid_blocks",
        "invalid_metadata_format",
        "invalid_trigger_id",
        "expired_trigger_id",
        "exchanged_trigger_id",
        "not_in_channel",
        "msg_too_long",
        "no_text",
        "invalid_json",
        "json_not_object",
        "invalid_cursor",
        "limit_required",
        "invalid_channel",
        "method_deprecated",
        "not_allowed_token_type",  # the wrong kind of token for the method: the app's mistake
        # An org-level token (Enterprise Grid) that names no workspace, or one not granted.
        "missing_argument",
        "team_access_not_granted",
        "not_authed",
        "too_many_users",
        "invalid_payload",
        "invalid_response_type",
        "expired_url",
        "used_url",
        "invalid_app_answer",
    }
)


@dataclass(frozen=True)
class Refusal:
    """One refusal of Slack's contract: where (``web_api``, ``response_url``, ``app_answer``), what."""

    source: str
    what: str  # the method, or the kind of request the app answered
    error: str
    details: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        more = "; ".join(self.details[:5])
        return f"{self.source} {self.what}: {self.error}" + (f" ({more})" if more else "")


def _kind(ws: Workspace, channel: Any) -> str | None:
    cid = str(channel or "")
    info = ws.channels.get(cid)
    if info is not None:
        return str(info["kind"])
    if cid[:1] in ("U", "W", "D"):
        return "im"
    return "channel" if cid[:1] == "C" else None


def scopes_needed(ws: Workspace, method: str, params: Mapping[str, Any]) -> list[str]:
    """The scopes of which the call needs one (none: [])."""
    by_kind = spec.SCOPE_BY_KIND.get(method)
    if by_kind is not None:
        if method == "conversations.open" and not params.get("channel"):
            users = params.get("users")
            many = len(users if isinstance(users, list) else str(users or "").split(",")) > 1
            return [by_kind["mpim" if many else "im"]]
        kind = _kind(ws, params.get("channel"))
        if kind in by_kind:
            return [by_kind[kind]]
    return list(spec.methods()[method]["scopes"])


def check_call(ws: Workspace, method: str, params: Mapping[str, Any], granted: frozenset[str]) -> None:
    """Refuse the call as Slack would before its method runs (raises ApiError)."""
    known = spec.methods().get(method)
    if known is None:
        raise ApiError("unknown_method", req_method=method)
    if method == "apps.connections.open":
        return  # app-level token: its connections:write scope is not a bot scope
    needed = scopes_needed(ws, method, params)
    if needed and not granted.intersection(needed):
        raise ApiError("missing_scope", needed=",".join(needed), provided=",".join(sorted(granted)))
    missing = [name for name in known["required"] if params.get(name) in (None, "", [])]
    if missing:
        raise invalid_args(*(f"missing required field: {name}" for name in missing))
