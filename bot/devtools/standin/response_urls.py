"""``/respond/<token>``: the response_urls Slack puts in commands and clicks, and what is posted to them.

Posts are held to Slack's rules: a URL works five times within 30 minutes; the body is a
message (text or blocks, up to 50 blocks, validated like chat.postMessage) with an optional
``response_type`` of ``in_channel`` or ``ephemeral``, or a ``delete_original``. A refusal is
answered as Slack does (an HTTP error with the reason) and kept in ``Workspace.refusals``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from bot.devtools.standin.contract import Refusal
from bot.devtools.standin.httpd import Exchange
from bot.devtools.standin.params import as_bool, decode_json_params
from bot.devtools.standin.render import render_message
from bot.devtools.standin.validation import message_errors
from bot.devtools.standin.workspace import Workspace

MAX_USES = 5  # Slack allows five posts to one response_url
TTL = 30 * 60  # ... within 30 minutes
RESPONSE_TYPES = frozenset({"in_channel", "ephemeral"})


def payload_errors(payload: dict[str, Any]) -> tuple[str, list[str]]:
    """("", []) for a body Slack takes at a response_url (or as a slash command's answer)."""
    kind = payload.get("response_type")
    if kind is not None and kind not in RESPONSE_TYPES:
        return "invalid_response_type", [f"response_type must be in_channel or ephemeral, not {kind!r}"]
    if as_bool(payload.get("delete_original")):
        return "", []
    return message_errors(payload, need_fallback=False)


@dataclass(frozen=True)
class RecordedResponse:
    """One POST to a response_url handed out by ``new_response_url``."""

    token: str
    payload: dict[str, Any]
    at: float
    user_id: str | None = None
    channel_id: str | None = None


class ResponseUrls:
    """Answers posts to response_urls and keeps them, in order."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.received: list[RecordedResponse] = []

    def handle(self, exchange: Exchange) -> None:
        token = exchange.path[len("/respond/") :]
        if exchange.method != "POST":
            exchange.reply(404, {"ok": False, "error": "not_found"})
            return
        with self.ws.lock:
            entry = self.ws.response_urls.get(token)
            status, error, details, payload = self._check(entry, exchange.body)
            if error:
                self.ws.refusals.append(Refusal("response_url", "response_url", error, details))
                exchange.reply(status, {"ok": False, "error": error, "messages": details})
                return
            assert entry is not None  # _check refused an unknown token
            entry["uses"] += 1
            user_id, channel_id = entry["user_id"], entry["channel_id"]
            self.received.append(RecordedResponse(token, payload, time.monotonic(), user_id, channel_id))
            self._transcribe(payload, user_id, channel_id)
        exchange.reply(200, {"ok": True})

    def _check(self, entry: dict[str, Any] | None, body: bytes) -> tuple[int, str, list[str], dict[str, Any]]:
        """(HTTP status, error, details, payload): error "" when Slack would take the post."""
        if entry is None or self.ws.now() - entry["issued"] > TTL:
            return 404, "expired_url", [], {}
        if entry["uses"] >= MAX_USES:
            return 404, "used_url", [], {}
        try:
            payload = json.loads(body or b"{}")
            if not isinstance(payload, dict):
                raise ValueError
        except ValueError:
            return 400, "invalid_payload", [], {}
        payload = decode_json_params(payload)
        error, details = payload_errors(payload)
        return (400 if error else 200), error, details, payload

    def _transcribe(self, payload: dict[str, Any], user_id: str | None, channel_id: str | None) -> None:
        ws = self.ws
        who = ws.who(user_id)
        if as_bool(payload.get("delete_original")):
            ws.transcript.append(f"original message deleted for {who}")
            return
        shown = render_message(payload, ws.names)
        if payload.get("response_type") == "in_channel":
            ws.transcript.append(f"{ws.where(channel_id) if channel_id else 'in channel'}: {shown}")
        elif as_bool(payload.get("replace_original")):
            ws.transcript.append(f"message replaced for {who}: {shown}")
        else:
            ws.transcript.append(f"ephemeral to {who}: {shown}")


def handle_upload(ws: Workspace, exchange: Exchange) -> None:
    """``/upload/<file_id>``: where files.getUploadURLExternal sends the app's bytes."""
    file_id = exchange.path[len("/upload/") :]
    with ws.lock:
        upload = ws.uploads.get(file_id) if exchange.method == "POST" else None
        if upload is None:
            exchange.reply(404, {"ok": False, "error": "file_not_found"})
            return
        upload["data"] = exchange.body
    # Slack's upload endpoint answers in plain text, not JSON.
    exchange.reply(200, f"OK - {len(exchange.body)}")
