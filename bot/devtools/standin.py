"""A local stand-in for Slack's Web API, for tests and demos.

The app's own ``slack_sdk.WebClient`` talks to it through ``base_url``; every call is
recorded, faults (429, 5xx, ``ok: false``) can be injected, and ``transcript()`` shows
what people would see in Slack as plain text.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import itertools
import json
import re
import secrets
import socket
import struct
import threading
import time
import zoneinfo
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from uuid import uuid4

__all__ = ["RecordedCall", "RecordedResponse", "SlackStandIn", "render_blocks"]

TEAM_NAME = "Infochat Test"
TEAM_DOMAIN = "infochat-test"
APP_ID = "A0INFOCHAT"
SLACKBOT_ID = "USLACKBOT"

# Parameters that Slack accepts as JSON-encoded strings in form bodies.
_JSON_PARAMS = frozenset({"blocks", "attachments", "view", "files", "metadata", "unfurls"})


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


@dataclass(frozen=True)
class RecordedResponse:
    """One POST to a response_url handed out by ``new_response_url``."""

    token: str
    payload: dict[str, Any]
    at: float
    user_id: str | None = None
    channel_id: str | None = None


class _ApiError(Exception):
    """Ends a Web API handler with ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def _invalid_args(*messages: str) -> _ApiError:
    return _ApiError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {m}" for m in messages]})


@dataclass
class _Fault:
    method: str
    status: int
    error: str | None
    retry_after: int | None
    remaining: int
    skip: int = 0  # let this many matching calls through first


# --------------------------------------------------------------------------- rendering


_MENTION = re.compile(r"<([^<>]*)>")


def _mrkdwn(text: str, names: Mapping[str, str] | None = None) -> str:
    """Show mrkdwn as a reader sees it: mentions and links resolved, entities unescaped."""

    def repl(m: re.Match[str]) -> str:
        inner = m.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            uid = target[1:]
            return "@" + ((names or {}).get(uid) or label or uid)
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!subteam^"):
            return label or "@" + target[len("!subteam^") :]
        if target.startswith("!date^"):
            return label
        if target.startswith("!"):
            return "@" + target[1:]
        return label or target

    return _MENTION.sub(repl, text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text(obj: Any, names: Mapping[str, str] | None = None) -> str:
    if isinstance(obj, str):
        return obj
    if not isinstance(obj, Mapping):
        return ""
    raw = str(obj.get("text") or "")
    return _mrkdwn(raw, names) if obj.get("type") == "mrkdwn" else raw


def _option_label(opt: Any) -> str:
    return _text(opt.get("text")) if isinstance(opt, Mapping) else ""


def _render_element(el: Mapping[str, Any], names: Mapping[str, str] | None) -> str:
    kind = el.get("type", "")
    if kind == "button":
        return f"[{_text(el.get('text'))}]"
    if kind in ("mrkdwn", "plain_text"):
        return _text(el, names)
    if kind == "image":
        return f"[image: {el.get('alt_text', '')}]"
    if kind in ("checkboxes", "radio_buttons"):
        chosen = [_option_label(o) for o in (el.get("initial_options") or [el.get("initial_option")]) if o]
        on, off = ("[x]", "[ ]") if kind == "checkboxes" else ("(o)", "( )")
        opts = [_option_label(o) for o in el.get("options") or []]
        return "  ".join(f"{on if o in chosen else off} {o}" for o in opts)
    if kind == "overflow":
        return "[... " + " | ".join(_option_label(o) for o in el.get("options") or []) + "]"
    if kind in ("datepicker", "timepicker", "datetimepicker"):
        shown = el.get("initial_date") or el.get("initial_time") or _text(el.get("placeholder")) or kind
        return f"[{shown}]"
    if kind.endswith("_input"):
        shown = el.get("initial_value") or _text(el.get("placeholder"))
        return f"[{shown} _]" if shown else "[_]"
    if kind.endswith("select"):
        picked = el.get("initial_option") or None
        shown = _option_label(picked) if picked else ""
        if not shown and el.get("initial_options"):
            shown = ", ".join(_option_label(o) for o in el["initial_options"])
        if not shown and (el.get("initial_user") or el.get("initial_users")):
            uids = el.get("initial_users") or [el["initial_user"]]
            shown = ", ".join("@" + (names or {}).get(u, u) for u in uids)
        return f"[{shown or _text(el.get('placeholder')) or 'Select'} v]"
    return f"[{kind}]"


def _render_rich(el: Any, names: Mapping[str, str] | None) -> str:
    if not isinstance(el, Mapping):
        return ""
    kind = el.get("type")
    if kind == "text":
        return str(el.get("text", ""))
    if kind == "link":
        return str(el.get("text") or el.get("url", ""))
    if kind == "user":
        return "@" + (names or {}).get(el.get("user_id", ""), el.get("user_id", ""))
    if kind == "channel":
        return "#" + str(el.get("channel_id", ""))
    if kind == "emoji":
        return f":{el.get('name', '')}:"
    if kind == "broadcast":
        return "@" + str(el.get("range", ""))
    parts = [_render_rich(child, names) for child in el.get("elements") or []]
    if kind == "rich_text_list":
        return "\n".join("- " + p for p in parts)
    return ("\n" if kind == "rich_text" else "").join(parts)


def render_blocks(blocks: Sequence[Mapping[str, Any]] | None, names: Mapping[str, str] | None = None) -> str:
    """Render Block Kit blocks as plain text lines; ``names`` maps user ids to names for mentions."""
    lines: list[str] = []
    for block in blocks or []:
        kind = block.get("type")
        if kind == "section":
            text = _text(block.get("text"), names)
            fields = " | ".join(_text(f, names) for f in block.get("fields") or [])
            acc = block.get("accessory")
            tail = _render_element(acc, names) if isinstance(acc, Mapping) else ""
            body = "\n".join(p for p in (text, fields) if p)
            lines.append(f"{body}  {tail}".strip() if tail else body)
        elif kind == "header":
            lines.append(f"# {_text(block.get('text'), names)}")
        elif kind == "context" or kind == "actions":
            lines.append(" ".join(_render_element(e, names) for e in block.get("elements") or []))
        elif kind == "input":
            label = _text(block.get("label"))
            optional = " (optional)" if block.get("optional") else ""
            el = block.get("element")
            shown = _render_element(el, names) if isinstance(el, Mapping) else ""
            lines.append(f"{label}{optional}: {shown}")
        elif kind == "divider":
            lines.append("---")
        elif kind == "image":
            lines.append(f"[image: {block.get('alt_text', '')}]")
        elif kind == "rich_text":
            lines.append(_render_rich(block, names))
        elif kind == "markdown":
            lines.append(str(block.get("text", "")))
        elif kind:
            lines.append(f"[{kind}]")
    return "\n".join(lines)


def _render_message(params: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """What a message shows: its blocks if any (text is then only the notification fallback)."""
    blocks = params.get("blocks")
    shown = (
        render_blocks(blocks, names)
        if isinstance(blocks, list) and blocks
        else _mrkdwn(str(params.get("text") or ""), names)
    )
    for att in params.get("attachments") or []:
        if isinstance(att, Mapping):
            extra = (
                render_blocks(att.get("blocks"), names)
                if att.get("blocks")
                else _mrkdwn(str(att.get("text") or att.get("fallback") or ""), names)
            )
            shown = f"{shown}\n{extra}" if shown else extra
    return shown


# --------------------------------------------------------------------------- validation

_BLOCK_TYPES = frozenset(
    {
        "section",
        "header",
        "context",
        "actions",
        "input",
        "divider",
        "image",
        "rich_text",
        "video",
        "file",
        "call",
        "markdown",
    }
)


def _check_text(obj: Any, ptr: str, errors: list[str], *, limit: int, plain_only: bool = False) -> None:
    if not isinstance(obj, Mapping) or obj.get("type") not in ("plain_text", "mrkdwn"):
        errors.append(f"must provide an object [json-pointer:{ptr}]")
        return
    if plain_only and obj.get("type") != "plain_text":
        errors.append(f"must be a plain_text object [json-pointer:{ptr}/type]")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        errors.append(f"must be more than 0 characters [json-pointer:{ptr}/text]")
    elif len(text) > limit:
        errors.append(f"must be less than {limit + 1} characters [json-pointer:{ptr}/text]")


def _check_element(el: Any, ptr: str, errors: list[str]) -> None:
    if not isinstance(el, Mapping) or not isinstance(el.get("type"), str):
        errors.append(f"must provide an object [json-pointer:{ptr}]")
        return
    if len(str(el.get("action_id", ""))) > 255:
        errors.append(f"must be less than 256 characters [json-pointer:{ptr}/action_id]")
    if el["type"] == "button":
        _check_text(el.get("text"), f"{ptr}/text", errors, limit=75, plain_only=True)
        if len(str(el.get("value", ""))) > 2000:
            errors.append(f"must be less than 2001 characters [json-pointer:{ptr}/value]")
    if "placeholder" in el:
        _check_text(el["placeholder"], f"{ptr}/placeholder", errors, limit=150, plain_only=True)
    options = el.get("options")
    if isinstance(options, list):
        if len(options) > 100:
            errors.append(f"must be less than 101 items [json-pointer:{ptr}/options]")
        select = el["type"].endswith("select") or el["type"] == "overflow"
        for j, opt in enumerate(options):
            if not isinstance(opt, Mapping):
                errors.append(f"must provide an object [json-pointer:{ptr}/options/{j}]")
                continue
            _check_text(opt.get("text"), f"{ptr}/options/{j}/text", errors, limit=75, plain_only=select)
            if len(str(opt.get("value", ""))) > 150:
                errors.append(f"must be less than 151 characters [json-pointer:{ptr}/options/{j}/value]")


def _check_blocks(blocks: Any, *, max_blocks: int) -> list[str]:
    """The Block Kit limits Slack enforces that apps most often trip over."""
    if not isinstance(blocks, list):
        return ["must provide an array [json-pointer:/blocks]"]
    errors: list[str] = []
    if len(blocks) > max_blocks:
        errors.append(f"no more than {max_blocks} items allowed [json-pointer:/blocks]")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        ptr = f"/blocks/{i}"
        if not isinstance(block, Mapping) or block.get("type") not in _BLOCK_TYPES:
            errors.append(f"unsupported type [json-pointer:{ptr}/type]")
            continue
        bid = block.get("block_id")
        if bid is not None:
            if len(str(bid)) > 255:
                errors.append(f"must be less than 256 characters [json-pointer:{ptr}/block_id]")
            if bid in block_ids:
                errors.append(f"duplicate block_id [json-pointer:{ptr}/block_id]")
            block_ids.add(bid)
        kind = block["type"]
        elements: list[tuple[str, Any]] = []
        if kind == "section":
            if "text" not in block and "fields" not in block:
                errors.append(f"must provide text or fields [json-pointer:{ptr}]")
            if "text" in block:
                _check_text(block["text"], f"{ptr}/text", errors, limit=3000)
            fields = block.get("fields") or []
            if len(fields) > 10:
                errors.append(f"no more than 10 items allowed [json-pointer:{ptr}/fields]")
            for j, f in enumerate(fields):
                _check_text(f, f"{ptr}/fields/{j}", errors, limit=2000)
            if "accessory" in block:
                elements.append((f"{ptr}/accessory", block["accessory"]))
        elif kind == "header":
            _check_text(block.get("text"), f"{ptr}/text", errors, limit=150, plain_only=True)
        elif kind in ("actions", "context"):
            items = block.get("elements")
            limit = 25 if kind == "actions" else 10
            if not isinstance(items, list) or not items:
                errors.append(f"must provide a non-empty array [json-pointer:{ptr}/elements]")
                items = []
            elif len(items) > limit:
                errors.append(f"no more than {limit} items allowed [json-pointer:{ptr}/elements]")
            for j, el in enumerate(items):
                if kind == "actions":
                    elements.append((f"{ptr}/elements/{j}", el))
                elif isinstance(el, Mapping) and el.get("type") in ("plain_text", "mrkdwn"):
                    _check_text(el, f"{ptr}/elements/{j}", errors, limit=3000)
        elif kind == "input":
            _check_text(block.get("label"), f"{ptr}/label", errors, limit=2000, plain_only=True)
            if "element" not in block:
                errors.append(f"must provide an element [json-pointer:{ptr}/element]")
            else:
                elements.append((f"{ptr}/element", block["element"]))
        action_ids: set[str] = set()
        for el_ptr, el in elements:
            _check_element(el, el_ptr, errors)
            aid = el.get("action_id") if isinstance(el, Mapping) else None
            if aid is not None:
                if aid in action_ids:
                    errors.append(f"duplicate action_id [json-pointer:{el_ptr}/action_id]")
                action_ids.add(aid)
    return errors


def _check_view(view: Any, *, kind: str) -> list[str]:
    if not isinstance(view, Mapping):
        return ["must provide an object [json-pointer:/view]"]
    if view.get("type") != kind:
        return [f"must be '{kind}' [json-pointer:/view/type]"]
    errors = _check_blocks(view.get("blocks"), max_blocks=100)
    if kind == "modal":
        _check_text(view.get("title"), "/view/title", errors, limit=24, plain_only=True)
        for key in ("submit", "close"):
            if view.get(key) is not None:
                _check_text(view[key], f"/view/{key}", errors, limit=24, plain_only=True)
        # Slack refuses a modal with inputs but no submit button.
        if view.get("submit") is None and any(
            isinstance(b, Mapping) and b.get("type") == "input" for b in view.get("blocks") or []
        ):
            errors.append("must provide submit if input blocks are present [json-pointer:/view/submit]")
    if len(str(view.get("private_metadata") or "")) > 3000:
        errors.append("must be less than 3001 characters [json-pointer:/view/private_metadata]")
    if len(str(view.get("callback_id") or "")) > 255:
        errors.append("must be less than 256 characters [json-pointer:/view/callback_id]")
    return errors


# --------------------------------------------------------------------------- parsing


def _as_bool(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1")) or value == 1


def _as_int(value: Any, default: int, name: str) -> int:
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _invalid_args(f"invalid integer for {name}") from None


def _decode_json_params(params: dict[str, Any]) -> dict[str, Any]:
    for key in _JSON_PARAMS & params.keys():
        value = params[key]
        if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            try:
                params[key] = json.loads(value)
            except ValueError:
                raise _ApiError(
                    "invalid_json", response_metadata={"messages": [f"[ERROR] invalid JSON in {key}"]}
                ) from None
    return params


def _parse_multipart(body: bytes, content_type: str) -> dict[str, Any]:
    msg = BytesParser(policy=policy.default).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    out: dict[str, Any] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            payload = part.get_payload(decode=True) or b""
            out[str(name)] = payload if part.get_filename() else payload.decode("utf-8", "replace")
    return out


def _cursor(kind: str, key: str) -> str:
    return base64.b64encode(f"{kind}:{key}".encode()).decode()


def _uncursor(kind: str, cursor: str) -> str:
    try:
        decoded = base64.b64decode(cursor.encode(), validate=True).decode()
    except ValueError:
        raise _ApiError("invalid_cursor") from None
    prefix, _, key = decoded.partition(":")
    if prefix != kind or not key:
        raise _ApiError("invalid_cursor")
    return key


def _stable_id(prefix: str, key: str) -> str:
    # Deterministic ids keep the same user set on the same conversation across runs.
    return prefix + hashlib.sha1(key.encode()).hexdigest()[:10].upper()


class _Names(Mapping[str, str]):
    """Live user id -> display name view, so rendering never copies 50k users."""

    def __init__(self, users: dict[str, dict[str, Any]]) -> None:
        self._users = users

    def __getitem__(self, key: str) -> str:
        user = self._users[key]
        return str(user.get("real_name") or user.get("name") or key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._users)

    def __len__(self) -> int:
        return len(self._users)


# --------------------------------------------------------------------------- server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    standin: SlackStandIn


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:  # http.server's naming
        self.server.standin._handle(self)

    def do_GET(self) -> None:  # http.server's naming
        self.server.standin._handle(self)

    def log_message(self, format: str, *args: Any) -> None:  # signature from the base class
        pass  # keep test output clean


# RFC 6455 opcodes and the GUID that proves the server read the handshake.
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_OP_CONT, _OP_TEXT, _OP_BINARY, _OP_CLOSE, _OP_PING, _OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_MAX_FRAME = 16 * 1024 * 1024
SOCKET_ENVELOPE_TYPES = frozenset({"slash_commands", "events_api", "interactive"})


class _SocketLink:
    """The server end of one Socket Mode WebSocket (a minimal RFC 6455 implementation)."""

    def __init__(self, conn: socket.socket, rfile: Any, ticket: str) -> None:
        self.conn = conn
        self.rfile = rfile
        self.ticket = ticket
        self.opened_at = time.monotonic()
        self.open = True
        self.pings = 0
        self._send_lock = threading.Lock()

    def send(self, opcode: int, data: bytes = b"") -> bool:
        """Send one unmasked, unfragmented frame; False once the connection is gone."""
        size = len(data)
        if size <= 125:
            header = struct.pack("!BB", 0x80 | opcode, size)
        elif size <= 0xFFFF:
            header = struct.pack("!BBH", 0x80 | opcode, 126, size)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 127, size)
        with self._send_lock:
            if not self.open and opcode != _OP_CLOSE:
                return False
            try:
                # One write per frame: slack_sdk's reader copes badly with a header split from its data.
                self.conn.sendall(header + data)
            except OSError:
                self.open = False
                return False
        return True

    def send_json(self, message: Mapping[str, Any]) -> bool:
        return self.send(_OP_TEXT, json.dumps(message).encode())

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame (once) and stop both directions so the reader thread ends."""
        if self.open:
            self.send(_OP_CLOSE, struct.pack("!H", code) + reason.encode()[:123])
        self.open = False
        with self._send_lock, contextlib.suppress(OSError):
            self.conn.shutdown(socket.SHUT_RDWR)

    def _read(self, size: int) -> bytes:
        data = self.rfile.read(size) if size else b""
        if len(data) < size:
            raise EOFError
        return data

    def read_frame(self) -> tuple[bool, int, bytes]:
        """(fin, opcode, unmasked payload); EOFError when the peer is gone, ValueError on a bad frame."""
        b1, b2 = self._read(2)
        size = b2 & 0x7F
        if size == 126:
            (size,) = struct.unpack("!H", self._read(2))
        elif size == 127:
            (size,) = struct.unpack("!Q", self._read(8))
        if not b2 & 0x80:
            raise ValueError("client frames must be masked")
        if size > _MAX_FRAME:
            raise ValueError("frame too large")
        mask = self._read(4)
        payload = self._read(size)
        if size:
            keystream = (mask * (size // 4 + 1))[:size]
            payload = (int.from_bytes(payload, "big") ^ int.from_bytes(keystream, "big")).to_bytes(
                size, "big"
            )
        return bool(b1 & 0x80), b1 & 0x0F, payload


class SlackStandIn:
    """A local HTTP double of Slack's Web API (see the module docstring)."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-standin",
        app_token: str = "xapp-standin",
        team_id: str = "T0INFOCHAT",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        builtin_users: bool = True,
        trigger_ttl: float | None = 3.0,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.trigger_ttl = trigger_ttl
        self.url = ""
        self.root = ""
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._users: dict[str, dict[str, Any]] = {}
        self._names = _Names(self._users)
        self._usergroups: dict[str, list[str]] = {}
        self._ids = itertools.count(1)
        self._last_ts_us = 0
        # Socket Mode: tickets handed out by apps.connections.open, live links, and a
        # condition (on the one lock) that socket_ack / socket_connected wait on.
        self._socket_cond = threading.Condition(self._lock)
        self._socket_tickets: dict[str, float] = {}
        self._socket_links: list[_SocketLink] = []
        self._reset_state()
        self._init_workspace()
        if builtin_users:
            # Slack lists the app's bot user and Slackbot too; Slackbot famously has is_bot false.
            self.add_user(bot_user_id, name="infochat", real_name="infochat", is_bot=True)
            self.add_user(SLACKBOT_ID, name="slackbot", real_name="Slackbot")
        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "api.test": lambda p: {"args": p},
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.open": self._conversations_open,
            "conversations.info": self._conversations_info,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "views.open": lambda p: self._views_open(p, push=False),
            "views.push": lambda p: self._views_open(p, push=True),
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "users.info": self._users_info,
            "users.list": self._users_list,
            "users.lookupByEmail": self._users_lookup_by_email,
            "users.profile.get": self._users_profile_get,
            "usergroups.users.list": self._usergroups_users_list,
            "team.info": self._team_info,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            "files.upload": self._files_upload_legacy,
            "apps.connections.open": self._apps_connections_open,
        }

    def _reset_state(self) -> None:
        self._calls: list[RecordedCall] = []
        self._responses: list[RecordedResponse] = []
        self._faults: list[_Fault] = []
        self._latency: dict[str, float] = {}
        self._transcript: list[str] = []
        self._socket_sent: dict[str, dict[str, Any]] = {}
        self._socket_acks: dict[str, dict[str, Any]] = {}
        self._socket_received: list[Any] = []

    def _init_workspace(self) -> None:
        # Conversations, messages, views and files outlive reset(): apps keep ids they were given.
        self._channels: dict[str, dict[str, Any]] = {}
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._views: dict[str, dict[str, Any]] = {}
        self._view_users: dict[str, str | None] = {}
        self._homes: dict[str, dict[str, Any]] = {}
        self._triggers: dict[str, tuple[str | None, float, bool]] = {}
        self._response_urls: dict[str, dict[str, Any]] = {}
        self._uploads: dict[str, dict[str, Any]] = {}
        self._files: dict[str, tuple[str, bytes, str | None]] = {}

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SlackStandIn:
        """Listen on a free port of 127.0.0.1 in a daemon thread."""
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), _Handler)
        server.standin = self
        self._server = server
        self.root = f"http://127.0.0.1:{server.server_address[1]}"
        self.url = f"{self.root}/api/"
        self._thread = threading.Thread(target=server.serve_forever, name="slack-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        with self._lock:
            links = list(self._socket_links)
        for link in links:
            link.close(1001, "server shutting down")
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> SlackStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ directory

    def add_user(
        self,
        user_id: str,
        *,
        name: str,
        real_name: str | None = None,
        title: str = "",
        tz: str = "Europe/London",
        email: str | None = None,
        deleted: bool = False,
        is_bot: bool = False,
        is_restricted: bool = False,
        is_ultra_restricted: bool = False,
    ) -> dict[str, Any]:
        """Add (or replace) a workspace member; returns the user object Slack would serve."""
        real = real_name or name
        first, _, last = real.partition(" ")
        try:
            now = datetime.now(zoneinfo.ZoneInfo(tz))
            offset = int(now.utcoffset().total_seconds()) if now.utcoffset() else 0
            tz_label = now.tzname() or tz
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            offset, tz_label = 0, tz
        avatar = hashlib.md5(user_id.encode()).hexdigest()[:12]  # an avatar hash, not security relevant
        profile: dict[str, Any] = {
            "title": title,
            "phone": "",
            "skype": "",
            "real_name": real,
            "real_name_normalized": real,
            "display_name": name,
            "display_name_normalized": name,
            "fields": None,
            "status_text": "",
            "status_emoji": "",
            "status_expiration": 0,
            "avatar_hash": avatar,
            "first_name": first,
            "last_name": last,
            "image_24": f"https://avatars.example.com/{avatar}_24.png",
            "image_72": f"https://avatars.example.com/{avatar}_72.png",
            "image_192": f"https://avatars.example.com/{avatar}_192.png",
            "team": self.team_id,
        }
        if email is not None and not is_bot:
            profile["email"] = email
        if is_bot:
            profile["bot_id"] = self.bot_id if user_id == self.bot_user_id else _stable_id("B", user_id)
            profile["always_active"] = True
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": deleted,
            "color": avatar[:6],
            "real_name": real,
            "tz": tz,
            "tz_label": tz_label,
            "tz_offset": offset,
            "profile": profile,
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": is_restricted,
            "is_ultra_restricted": is_ultra_restricted,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": int(time.time()),
            "is_email_confirmed": email is not None,
            "who_can_share_contact_card": "EVERYONE",
        }
        with self._lock:
            self._users[user_id] = user
        return copy.deepcopy(user)

    def add_usergroup(self, usergroup_id: str, user_ids: list[str]) -> None:
        with self._lock:
            self._usergroups[usergroup_id] = list(user_ids)

    def get_user(self, user_id: str) -> dict[str, Any] | None:
        with self._lock:
            user = self._users.get(user_id)
            return copy.deepcopy(user) if user else None

    # ------------------------------------------------------------------ test controls

    def slow(self, method: str, seconds: float) -> None:
        """Answer every call to `method` only after `seconds` (0 makes it fast again)."""
        self._latency[method] = seconds

    def fail(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
        after: int = 0,
    ) -> None:
        """Queue an injected fault for ``method`` ("*" = any); one fault per matching call, in order.

        ``after`` lets that many matching calls succeed first ("a 429 on the third call": after=2).
        """
        if status == 200 and not error:
            raise ValueError(
                "a 200 fault needs an error, e.g. fail('chat.postMessage', error='user_disabled')"
            )
        if status == 429 and retry_after is None:
            retry_after = 1  # Slack always says how long to back off
        with self._lock:
            self._faults.append(_Fault(method, status, error, retry_after, times, after))

    def new_response_url(self, *, user_id: str | None = None, channel_id: str | None = None) -> str:
        """A response_url under this server; ``user_id`` / ``channel_id`` label it in the transcript."""
        token = secrets.token_hex(12)
        with self._lock:
            self._response_urls[token] = {"user_id": user_id, "channel_id": channel_id, "uses": 0}
        return f"{self.root}/respond/{token}"

    def new_trigger_id(self, user_id: str | None = None) -> str:
        """A trigger_id as Slack puts in interactive payloads, tied to ``user_id`` for the transcript."""
        trigger = (
            f"{next(self._ids)}{secrets.randbelow(10**9)}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"
        )
        with self._lock:
            self._triggers[trigger] = (user_id, time.monotonic(), False)
        return trigger

    @property
    def calls(self) -> list[RecordedCall]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str, *, include_failed: bool = False) -> list[RecordedCall]:
        return [c for c in self.calls if c.method == method and (c.ok or include_failed)]

    @property
    def responses(self) -> list[RecordedResponse]:
        with self._lock:
            return list(self._responses)

    @property
    def uploaded_files(self) -> dict[str, tuple[str, bytes, str | None]]:
        """file_id -> (filename, bytes, channel_id) for each completed upload."""
        with self._lock:
            return dict(self._files)

    def view(self, view_id: str) -> dict[str, Any] | None:
        """The current version of a view opened, pushed, updated or published here."""
        with self._lock:
            found = self._views.get(view_id)
            return copy.deepcopy(found) if found else None

    def view_user(self, view_id: str) -> str | None:
        with self._lock:
            return self._view_users.get(view_id)

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._homes.get(user_id)
            return copy.deepcopy(found) if found else None

    def find_message(self, ts: str) -> tuple[str, dict[str, Any]] | None:
        """(channel_id, message) of a message this stand-in holds, by its ts."""
        with self._lock:
            for channel, messages in self._messages.items():
                for msg in messages:
                    if msg["ts"] == ts:
                        return channel, copy.deepcopy(msg)
        return None

    def dm_channel(self, user_id: str) -> str:
        """The DM channel id ``conversations.open`` gives for ``user_id``."""
        return _stable_id("D", user_id)

    def messages_in(self, channel: str) -> list[dict[str, Any]]:
        """Messages currently in a channel (or a user's DM), oldest first."""
        with self._lock:
            if channel in self._users:
                channel = self.dm_channel(channel)
            return copy.deepcopy(self._messages.get(channel, []))

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Poll ``predicate`` until it is true; on timeout fail with what the stand-in saw."""
        deadline = time.monotonic() + timeout
        last_exc: Exception | None = None
        while True:
            try:
                if predicate():
                    return
                last_exc = None
            except Exception as exc:  # a predicate that indexes an empty list just isn't true yet
                last_exc = exc
            if time.monotonic() >= deadline:
                break
            time.sleep(0.02)
        name = getattr(predicate, "__qualname__", repr(predicate))
        lines = [f"condition {name} not met within {timeout}s"]
        if last_exc is not None:
            lines.append(f"last evaluation raised {last_exc!r}")
        lines.append("recent calls:")
        lines += [
            f"  {c.method} -> {'ok' if c.ok else c.error or c.status} {_summary(c.params)}"
            for c in self.calls[-15:]
        ] or ["  (none)"]
        lines.append("transcript tail:")
        lines += [f"  {t}" for t in self.transcript()[-10:]] or ["  (empty)"]
        raise AssertionError("\n".join(lines))

    def reset(self) -> None:
        """Forget calls, responses, faults and the transcript; users, conversations and views stay."""
        with self._lock:
            self._reset_state()

    def transcript(self) -> list[str]:
        """What people saw, in order, as readable text (one entry per message/view/response)."""
        with self._lock:
            return list(self._transcript)

    # ------------------------------------------------------------------ Socket Mode

    def socket_connected(self, timeout: float = 5.0) -> bool:
        """Wait until an app holds an open Socket Mode connection (handshake done, hello sent)."""
        deadline = time.monotonic() + timeout
        with self._socket_cond:
            while not self._open_links():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._socket_cond.wait(remaining)
            return True

    @property
    def socket_connections(self) -> int:
        """How many Socket Mode connections are open now."""
        with self._lock:
            return len(self._open_links())

    def socket_send(
        self,
        envelope_type: str,
        payload: Mapping[str, Any],
        *,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> str:
        """Push an envelope to the newest open connection, as Slack does; returns its envelope_id.

        ``payload`` is what Slack would have POSTed over HTTP: the slash command's form fields
        as a dict, the ``event_callback`` body, or the interactive ``payload`` object.
        """
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
        with self._lock:
            links = self._open_links()
            if not links:
                raise RuntimeError("no open Socket Mode connection; wait with socket_connected() first")
            link = links[-1]
            self._socket_sent[envelope_id] = envelope
        if not link.send_json(envelope):
            raise RuntimeError("the Socket Mode connection closed while sending")
        return envelope_id

    def socket_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any] | None:
        """The payload the app acknowledged ``envelope_id`` with ({} for a bare ack); None on timeout."""
        deadline = time.monotonic() + timeout
        with self._socket_cond:
            while envelope_id not in self._socket_acks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._socket_cond.wait(remaining)
            return copy.deepcopy(self._socket_acks[envelope_id])

    @property
    def socket_messages(self) -> list[Any]:
        """Every message the app sent over Socket Mode (acks included), oldest first."""
        with self._lock:
            return copy.deepcopy(self._socket_received)

    def socket_disconnect(self, reason: str = "refresh_requested") -> None:
        """Send Slack's ``disconnect`` message to every open connection; the client should reconnect."""
        with self._lock:
            links = self._open_links()
        for link in links:
            link.send_json({"type": "disconnect", "reason": reason, "debug_info": {"host": "standin"}})

    def socket_close(self, code: int = 1001, reason: str = "going away") -> None:
        """Close every open connection from the server side (a WebSocket close frame)."""
        with self._lock:
            links = self._open_links()
        for link in links:
            link.close(code, reason)

    def _open_links(self) -> list[_SocketLink]:
        return [link for link in self._socket_links if link.open]

    def _apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        ticket = secrets.token_hex(16)
        self._socket_tickets[ticket] = time.monotonic()
        host = self.root.split("://", 1)[1]
        return {"url": f"ws://{host}/link/?ticket={ticket}&app_id={APP_ID}"}

    def _handle_socket(self, req: _Handler, query: str) -> None:
        """GET /link/?ticket=…: the WebSocket handshake, then frames until either side closes."""
        key = req.headers.get("Sec-WebSocket-Key", "")
        if "websocket" not in req.headers.get("Upgrade", "").lower() or not key:
            self._send(req, 426, {"ok": False, "error": "websocket_upgrade_required"})
            return
        ticket = dict(parse_qsl(query)).get("ticket", "")
        with self._lock:
            issued = self._socket_tickets.pop(ticket, None)  # a ticket opens one connection
        if issued is None or time.monotonic() - issued > 60:
            self._send(req, 401, {"ok": False, "error": "invalid_ticket"})
            return
        accept = base64.b64encode(hashlib.sha1((key.strip() + _WS_GUID).encode()).digest()).decode()
        req.send_response(101, "Switching Protocols")
        req.send_header("Upgrade", "websocket")
        req.send_header("Connection", "Upgrade")
        req.send_header("Sec-WebSocket-Accept", accept)
        req.end_headers()
        req.wfile.flush()
        req.close_connection = True  # after the WebSocket ends, this HTTP connection is done too
        link = _SocketLink(req.connection, req.rfile, ticket)
        with self._socket_cond:
            self._socket_links.append(link)
            count = len(self._open_links())
        link.send_json(
            {
                "type": "hello",
                "num_connections": count,
                "debug_info": {"host": "standin", "build_number": 1, "approximate_connection_time": 18060},
                "connection_info": {"app_id": APP_ID},
            }
        )
        with self._socket_cond:
            self._socket_cond.notify_all()
        try:
            self._socket_loop(link)
        finally:
            link.open = False
            with self._socket_cond:
                self._socket_links.remove(link)
                self._socket_cond.notify_all()

    def _socket_loop(self, link: _SocketLink) -> None:
        fragments: list[bytes] = []
        while True:
            try:
                fin, opcode, data = link.read_frame()
            except (EOFError, OSError):
                return
            except ValueError:
                link.close(1002, "protocol error")
                return
            if opcode == _OP_PING:
                link.pings += 1
                link.send(_OP_PONG, data)  # slack_sdk checks the echoed "session:time" payload
            elif opcode == _OP_PONG:
                continue
            elif opcode == _OP_CLOSE:
                # Echo the peer's status code, as RFC 6455 asks, then hang up.
                link.close(struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1000)
                return
            elif opcode in (_OP_TEXT, _OP_CONT):
                fragments.append(data)
                if fin:
                    self._socket_message(b"".join(fragments))
                    fragments = []
            else:
                link.close(1003, "binary frames are not supported")
                return

    def _socket_message(self, raw: bytes) -> None:
        try:
            message: Any = json.loads(raw)
        except ValueError:
            message = raw.decode("utf-8", "replace")
        with self._socket_cond:
            self._socket_received.append(message)
            if isinstance(message, dict) and isinstance(message.get("envelope_id"), str):
                envelope_id = message["envelope_id"]
                payload = message.get("payload")
                acked = dict(payload) if isinstance(payload, Mapping) else {}
                self._socket_acks.setdefault(envelope_id, acked)
                self._transcribe_socket_ack(self._socket_sent.get(envelope_id), acked)
            self._socket_cond.notify_all()

    def _transcribe_socket_ack(self, envelope: Mapping[str, Any] | None, acked: Mapping[str, Any]) -> None:
        # A slash command's ack payload is what the invoking user sees, as an ephemeral message.
        if (
            not envelope
            or envelope["type"] != "slash_commands"
            or not (acked.get("text") or acked.get("blocks"))
        ):
            return
        who = self._who(envelope["payload"].get("user_id"))
        if acked.get("response_type") == "in_channel":
            channel = str(envelope["payload"].get("channel_id") or "")
            self._transcript.append(
                f"{self._where(channel) if channel else 'in channel'}: {_render_message(acked, self._names)}"
            )
        else:
            self._transcript.append(f"ephemeral to {who}: {_render_message(acked, self._names)}")

    # ------------------------------------------------------------------ HTTP plumbing

    def _handle(self, req: _Handler) -> None:
        parts = urlsplit(req.path)
        body = self._read_body(req)
        path = parts.path
        if path.startswith("/api/"):
            self._handle_api(req, path[len("/api/") :], parts.query, body)
        elif path.startswith("/respond/") and req.command == "POST":
            self._handle_response_url(req, path[len("/respond/") :], body)
        elif path.startswith("/upload/") and req.command == "POST":
            self._handle_upload(req, path[len("/upload/") :], body)
        elif path.rstrip("/") == "/link" and req.command == "GET":
            self._handle_socket(req, parts.query)
        else:
            self._send(req, 404, {"ok": False, "error": "not_found"})

    @staticmethod
    def _read_body(req: _Handler) -> bytes:
        if req.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(req.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    req.rfile.readline()
                    return b"".join(chunks)
                chunks.append(req.rfile.read(size))
                req.rfile.readline()
        length = int(req.headers.get("Content-Length") or 0)
        return req.rfile.read(length) if length else b""

    @staticmethod
    def _send(
        req: _Handler,
        status: int,
        payload: Any,
        headers: Mapping[str, str] | None = None,
        *,
        text: bool = False,
    ) -> None:
        data = payload.encode() if text else json.dumps(payload).encode()
        req.send_response(status)
        req.send_header(
            "Content-Type", "text/plain; charset=utf-8" if text else "application/json; charset=utf-8"
        )
        req.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            req.send_header(key, value)
        req.end_headers()
        req.wfile.write(data)

    def _parse_params(self, req: _Handler, query: str, body: bytes) -> dict[str, Any]:
        params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
        ctype = req.headers.get("Content-Type", "")
        if body:
            if "json" in ctype:
                try:
                    decoded = json.loads(body)
                except ValueError:
                    raise _ApiError("invalid_json") from None
                if not isinstance(decoded, dict):
                    raise _ApiError("json_not_object")
                params.update(decoded)
            elif "multipart/form-data" in ctype:
                params.update(_parse_multipart(body, ctype))
            else:
                params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        return _decode_json_params(params)

    def _take_fault(self, method: str) -> _Fault | None:
        for fault in self._faults:
            if fault.method in (method, "*"):
                if fault.skip > 0:
                    fault.skip -= 1
                    return None
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _handle_api(self, req: _Handler, method: str, query: str, body: bytes) -> None:
        status, headers = 200, {}
        token: str | None = None
        params: dict[str, Any] = {}
        # A slow Slack (set with `slow()`), outside the lock so other calls go on.
        pause = self._latency.get(method, 0.0)
        if pause:
            time.sleep(pause)
        with self._lock:
            try:
                params = self._parse_params(req, query, body)
                auth = req.headers.get("Authorization", "")
                token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else params.pop("token", None)
                params.pop("token", None)
                fault = self._take_fault(method)
                if fault is not None:
                    status = fault.status
                    if fault.retry_after is not None:
                        headers["Retry-After"] = str(fault.retry_after)
                    raise _ApiError(fault.error or _default_error(status))
                if not token:
                    raise _ApiError("not_authed")
                # apps.connections.open takes only the app-level token, everything else only the bot token.
                expected = self.app_token if method == "apps.connections.open" else self.bot_token
                if token != expected:
                    known = token in (self.bot_token, self.app_token)
                    raise _ApiError("not_allowed_token_type" if known else "invalid_auth")
                handler = self._methods.get(method)
                if handler is None:
                    raise _ApiError("unknown_method", req_method=method)
                payload: dict[str, Any] = {"ok": True, **handler(params)}
            except _ApiError as exc:
                payload = {"ok": False, "error": exc.error, **exc.extra}
            except Exception as exc:
                # A bug in the stand-in must show up as a clear failure, not a dropped connection.
                status, payload = 500, {"ok": False, "error": "standin_internal_error", "detail": repr(exc)}
            self._calls.append(
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
        headers["X-OAuth-Scopes"] = (
            "chat:write,commands,im:write,mpim:write,users:read,users:read.email,usergroups:read,files:write"
        )
        self._send(req, status, payload, headers)

    def _handle_response_url(self, req: _Handler, token: str, body: bytes) -> None:
        with self._lock:
            entry = self._response_urls.get(token)
            if entry is None:
                self._send(req, 404, {"ok": False, "error": "expired_url"})
                return
            if entry["uses"] >= 5:  # Slack allows five uses of one response_url
                self._send(req, 404, {"ok": False, "error": "used_url"})
                return
            try:
                payload = json.loads(body or b"{}")
                if not isinstance(payload, dict):
                    raise ValueError
            except ValueError:
                self._send(req, 400, {"ok": False, "error": "invalid_payload"})
                return
            payload = _decode_json_params(payload)
            entry["uses"] += 1
            user_id, channel_id = entry["user_id"], entry["channel_id"]
            self._responses.append(RecordedResponse(token, payload, time.monotonic(), user_id, channel_id))
            who = self._who(user_id)
            if _as_bool(payload.get("delete_original")):
                self._transcript.append(f"original message deleted for {who}")
            else:
                shown = _render_message(payload, self._names)
                if payload.get("response_type") == "in_channel":
                    self._transcript.append(
                        f"{self._where(channel_id) if channel_id else 'in channel'}: {shown}"
                    )
                elif _as_bool(payload.get("replace_original")):
                    self._transcript.append(f"message replaced for {who}: {shown}")
                else:
                    self._transcript.append(f"ephemeral to {who}: {shown}")
        self._send(req, 200, {"ok": True})

    def _handle_upload(self, req: _Handler, file_id: str, body: bytes) -> None:
        with self._lock:
            upload = self._uploads.get(file_id)
            if upload is None:
                self._send(req, 404, {"ok": False, "error": "file_not_found"})
                return
            upload["data"] = body
        # Slack's upload endpoint answers in plain text, not JSON.
        self._send(req, 200, f"OK - {len(body)}", text=True)

    # ------------------------------------------------------------------ helpers

    def _next_ts(self) -> str:
        us = max(int(time.time() * 1_000_000), self._last_ts_us + 100)
        self._last_ts_us = us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def _who(self, user_id: str | None) -> str:
        if not user_id:
            return "someone"
        return self._names.get(user_id, user_id)

    def _where(self, channel: str) -> str:
        info = self._channels.get(channel)
        if info and info["kind"] == "im":
            return f"DM to {self._who(info['user'])}"
        if info and info["kind"] == "mpim":
            others = [u for u in info["members"] if u != self.bot_user_id]
            return "group DM " + ", ".join(self._who(u) for u in others)
        return f"in {channel}" if channel.startswith("#") else f"in #{channel}"

    def _user_or_error(self, user_id: Any, error: str = "user_not_found") -> dict[str, Any]:
        user = self._users.get(str(user_id or ""))
        if user is None:
            raise _ApiError(error)
        return user

    def _open_im(self, user_id: str) -> tuple[str, bool]:
        cid = self.dm_channel(user_id)
        existed = cid in self._channels
        if not existed:
            self._channels[cid] = {
                "kind": "im",
                "user": user_id,
                "members": [self.bot_user_id, user_id],
                "created": int(time.time()),
            }
        return cid, existed

    def _resolve_channel(self, channel: Any, *, posting: bool) -> str:
        """Map a channel argument to a conversation id the way Slack does, with its errors."""
        cid = str(channel or "")
        if not cid:
            raise _ApiError("channel_not_found")
        if cid[0] in "UW" and cid not in self._channels:
            if not posting or cid not in self._users:
                raise _ApiError("channel_not_found")
            cid, _ = self._open_im(cid)
        info = self._channels.get(cid)
        if cid[0] in "DG" and info is None:
            raise _ApiError("channel_not_found")
        if posting and info and info["kind"] == "im":
            user = self._users.get(info["user"])
            if user and user["deleted"]:
                raise _ApiError("user_disabled")
            if user and (user["is_bot"] or user["id"] == self.bot_user_id):
                raise _ApiError("cannot_dm_bot")
        return cid

    def _check_message_content(self, params: Mapping[str, Any]) -> None:
        blocks, attachments, text = params.get("blocks"), params.get("attachments"), params.get("text")
        if not text and not blocks and not attachments:
            raise _ApiError("no_text")
        if isinstance(text, str) and len(text) > 40000:
            raise _ApiError("msg_too_long")
        if blocks not in (None, "", []):
            errors = _check_blocks(blocks, max_blocks=50)
            if errors:
                raise _ApiError(
                    "invalid_blocks",
                    errors=errors,
                    response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
                )

    def _message(self, params: Mapping[str, Any], ts: str) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "user": self.bot_user_id,
            "type": "message",
            "ts": ts,
            "bot_id": self.bot_id,
            "app_id": APP_ID,
            "text": str(params.get("text") or ""),
            "team": self.team_id,
            "bot_profile": {
                "id": self.bot_id,
                "app_id": APP_ID,
                "name": "infochat",
                "deleted": False,
                "team_id": self.team_id,
            },
        }
        for key in ("blocks", "attachments", "metadata"):
            if params.get(key):
                msg[key] = copy.deepcopy(params[key])
        if params.get("thread_ts"):
            msg["thread_ts"] = str(params["thread_ts"])
        return msg

    def _find(self, channel: str, ts: Any) -> dict[str, Any]:
        for msg in self._messages.get(channel, []):
            if msg["ts"] == str(ts):
                return msg
        raise _ApiError("message_not_found")

    # ------------------------------------------------------------------ Web API methods

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": TEAM_NAME,
            "user": "infochat",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        cid = self._resolve_channel(params.get("channel"), posting=True)
        self._check_message_content(params)
        thread_ts = params.get("thread_ts")
        if thread_ts:
            self._find(cid, thread_ts)
        ts = self._next_ts()
        msg = self._message(params, ts)
        self._messages.setdefault(cid, []).append(msg)
        where = self._where(cid) + (" (in thread)" if thread_ts else "")
        self._transcript.append(f"{where}: {_render_message(params, self._names)}")
        return {"channel": cid, "ts": ts, "message": copy.deepcopy(msg)}

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel") or "")
        user = self._users.get(str(params.get("user") or ""))
        if channel[:1] in ("U", "W"):
            # A user id as channel means the app's DM with that user.
            if channel not in self._users:
                raise _ApiError("channel_not_found")
            cid, _ = self._open_im(channel)
        else:
            cid = self._resolve_channel(channel, posting=False)
        if user is None:
            raise _ApiError("user_not_in_channel")
        if user["deleted"]:
            raise _ApiError("user_disabled")
        info = self._channels.get(cid)
        if info and user["id"] not in info["members"]:
            raise _ApiError("user_not_in_channel")
        self._check_message_content(params)
        self._transcript.append(
            f"ephemeral to {self._who(user['id'])}: {_render_message(params, self._names)}"
        )
        return {"message_ts": self._next_ts()}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        cid = self._resolve_channel(params.get("channel"), posting=False)
        msg = self._find(cid, params.get("ts"))
        self._check_message_content({**msg, **params})
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in params:
                msg[key] = copy.deepcopy(params[key])
        msg["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        self._transcript.append(f"message updated, {self._where(cid)}: {_render_message(msg, self._names)}")
        return {"channel": cid, "ts": msg["ts"], "text": msg.get("text", ""), "message": copy.deepcopy(msg)}

    def _chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        cid = self._resolve_channel(params.get("channel"), posting=False)
        msg = self._find(cid, params.get("ts"))
        self._messages[cid].remove(msg)
        self._transcript.append(f"message deleted, {self._where(cid)}")
        return {"channel": cid, "ts": msg["ts"]}

    def _chat_get_permalink(self, params: dict[str, Any]) -> dict[str, Any]:
        cid = self._resolve_channel(params.get("channel"), posting=False)
        ts = str(params.get("message_ts") or "")
        if not ts:
            raise _ApiError("message_not_found")
        return {
            "channel": cid,
            "permalink": f"https://{TEAM_DOMAIN}.slack.com/archives/{cid}/p{ts.replace('.', '')}",
        }

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("channel"):
            cid = self._resolve_channel(params["channel"], posting=False)
            return {
                "channel": self._channel_object(cid) if _as_bool(params.get("return_im")) else {"id": cid}
            }
        raw = params.get("users")
        users = raw if isinstance(raw, list) else [u.strip() for u in str(raw or "").split(",") if u.strip()]
        if not users:
            raise _ApiError("users_list_not_supplied")
        users = sorted(set(users) - {self.bot_user_id}) or [self.bot_user_id]
        if len(users) > 8:
            raise _ApiError("too_many_users")
        for uid in users:
            if self._user_or_error(uid)["deleted"]:
                raise _ApiError("user_disabled")
        if len(users) == 1:
            cid, existed = self._open_im(users[0])
        else:
            cid = _stable_id("G", ",".join(users))
            existed = cid in self._channels
            if not existed:
                self._channels[cid] = {
                    "kind": "mpim",
                    "members": [self.bot_user_id, *users],
                    "created": int(time.time()),
                }
        out: dict[str, Any] = {
            "channel": self._channel_object(cid)
            if _as_bool(params.get("return_im")) or len(users) > 1
            else {"id": cid}
        }
        if existed:
            out.update(no_op=True, already_open=True)
        return out

    def _channel_object(self, cid: str) -> dict[str, Any]:
        info = self._channels.get(cid)
        if info and info["kind"] == "im":
            user = self._users.get(info["user"], {})
            return {
                "id": cid,
                "created": info["created"],
                "is_im": True,
                "is_org_shared": False,
                "user": info["user"],
                "is_user_deleted": bool(user.get("deleted")),
                "priority": 0,
            }
        if info and info["kind"] == "mpim":
            names = [self._users[u]["name"] for u in info["members"] if u in self._users]
            return {
                "id": cid,
                "name": "mpdm-" + "--".join(names) + "-1",
                "created": info["created"],
                "creator": self.bot_user_id,
                "is_channel": False,
                "is_group": False,
                "is_im": False,
                "is_mpim": True,
                "is_private": True,
                "is_archived": False,
                "is_open": True,
                "num_members": len(info["members"]),
            }
        name = cid.lstrip("#").lower()
        return {
            "id": cid,
            "name": name,
            "is_channel": True,
            "is_group": False,
            "is_im": False,
            "is_mpim": False,
            "is_private": False,
            "is_archived": False,
            "is_member": True,
            "created": 1700000000,
        }

    def _conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"channel": self._channel_object(self._resolve_channel(params.get("channel"), posting=False))}

    def _page(
        self, kind: str, items: list[dict[str, Any]], params: Mapping[str, Any], key: str
    ) -> tuple[list[dict[str, Any]], str]:
        start = 0
        if params.get("cursor"):
            wanted = _uncursor(kind, str(params["cursor"]))
            start = next((i for i, it in enumerate(items) if str(it[key]) == wanted), -1)
            if start < 0:
                raise _ApiError("invalid_cursor")
        limit = _as_int(params.get("limit"), 0, "limit")
        end = len(items) if limit <= 0 else start + min(limit, 1000)
        page = items[start:end]
        return page, _cursor(kind, str(items[end][key])) if end < len(items) else ""

    def _history(
        self, messages: list[dict[str, Any]], params: Mapping[str, Any], *, newest_first: bool
    ) -> dict[str, Any]:
        inclusive = _as_bool(params.get("inclusive"))

        def in_range(ts: float) -> bool:
            oldest, latest = float(params.get("oldest") or 0), float(params.get("latest") or 0)
            lo = ts >= oldest if inclusive else ts > oldest
            hi = latest == 0 or (ts <= latest if inclusive else ts < latest)
            return lo and hi

        try:
            chosen = [m for m in messages if in_range(float(m["ts"]))]
        except ValueError:
            raise _ApiError("invalid_ts_oldest") from None
        if newest_first:
            chosen.reverse()
        if not params.get("limit"):
            params = {**params, "limit": 100}
        page, next_cursor = self._page("ts", chosen, params, "ts")
        return {
            "messages": copy.deepcopy(page),
            "has_more": bool(next_cursor),
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        cid = self._resolve_channel(params.get("channel"), posting=False)
        top = [m for m in self._messages.get(cid, []) if m.get("thread_ts", m["ts"]) == m["ts"]]
        return {**self._history(top, params, newest_first=True), "pin_count": 0}

    def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        cid = self._resolve_channel(params.get("channel"), posting=False)
        parent = self._find(cid, params.get("ts"))
        thread = [m for m in self._messages.get(cid, []) if m is parent or m.get("thread_ts") == parent["ts"]]
        return self._history(thread, params, newest_first=False)

    def _store_view(
        self, view: Mapping[str, Any], *, view_id: str | None = None, previous: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        vid = view_id or "V" + secrets.token_hex(5).upper()
        blocks = copy.deepcopy(list(view.get("blocks") or []))
        for block in blocks:
            # Slack fills in block_id/action_id the app left out; state.values is keyed by them.
            block.setdefault("block_id", secrets.token_urlsafe(3))
            for el in _interactive_elements(block):
                el.setdefault("action_id", secrets.token_urlsafe(3))
        stored: dict[str, Any] = {
            "id": vid,
            "team_id": self.team_id,
            "type": view.get("type"),
            "blocks": blocks,
            "private_metadata": view.get("private_metadata") or "",
            "callback_id": view.get("callback_id") or "",
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "title": view.get("title"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": previous["id"] if previous else None,
            "root_view_id": previous["root_view_id"] if previous else vid,
            "app_id": APP_ID,
            "external_id": view.get("external_id") or "",
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        self._views[vid] = stored
        return stored

    def _view_param(self, params: Mapping[str, Any], kind: str) -> dict[str, Any]:
        view = params.get("view")
        if not isinstance(view, dict):
            raise _invalid_args("missing required field: view")
        errors = _check_view(view, kind=kind)
        if errors:
            raise _ApiError(
                "invalid_arguments", response_metadata={"messages": [f"[ERROR] {e}" for e in errors]}
            )
        return view

    def _use_trigger(self, trigger: str) -> str | None:
        known = self._triggers.get(trigger)
        if known is None:
            return None  # a trigger we did not issue: accept it, user unknown
        user_id, issued, used = known
        if used:
            raise _ApiError("exchanged_trigger_id")
        if self.trigger_ttl is not None and time.monotonic() - issued > self.trigger_ttl:
            raise _ApiError("expired_trigger_id")
        self._triggers[trigger] = (user_id, issued, True)
        if user_id and self._users.get(user_id, {}).get("deleted"):
            raise _ApiError("user_disabled")
        return user_id

    def _views_open(self, params: dict[str, Any], *, push: bool) -> dict[str, Any]:
        trigger = str(params.get("trigger_id") or "")
        if not trigger:
            raise _ApiError("invalid_trigger_id")
        view = self._view_param(params, "modal")
        user_id = self._use_trigger(trigger)
        previous = None
        if push:
            mine = [
                v
                for vid, v in self._views.items()
                if self._view_users.get(vid) == user_id and v["type"] == "modal"
            ]
            previous = mine[-1] if mine else None
        stored = self._store_view(view, previous=previous)
        self._view_users[stored["id"]] = user_id
        self._transcript.append(
            f"modal {'pushed' if push else 'opened'} for {self._who(user_id)}: {_text(view.get('title'))}"
        )
        return {"view": copy.deepcopy(stored)}

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        vid, ext = params.get("view_id"), params.get("external_id")
        if not vid and not ext:
            raise _invalid_args("must provide view_id or external_id")
        current = (
            self._views.get(str(vid))
            if vid
            else next((v for v in self._views.values() if v["external_id"] == ext), None)
        )
        if current is None:
            raise _ApiError("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            raise _ApiError("hash_conflict")
        view = self._view_param(params, current["type"])
        prev = (
            {"id": current["previous_view_id"], "root_view_id": current["root_view_id"]}
            if current["previous_view_id"]
            else None
        )
        stored = self._store_view(view, view_id=current["id"], previous=prev)
        if not prev:
            stored["root_view_id"] = current["root_view_id"]
        user_id = self._view_users.get(current["id"])
        if stored["type"] == "home" and user_id:
            self._homes[user_id] = stored
            self._transcript.append(
                f"App Home of {self._who(user_id)}: {render_blocks(stored['blocks'], self._names)}"
            )
        else:
            self._transcript.append(f"modal updated for {self._who(user_id)}: {_text(stored.get('title'))}")
        return {"view": copy.deepcopy(stored)}

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self._user_or_error(params.get("user_id"))
        if user["deleted"]:
            raise _ApiError("user_disabled")
        view = self._view_param(params, "home")
        current = self._homes.get(user["id"])
        if current and params.get("hash") and params["hash"] != current["hash"]:
            raise _ApiError("hash_conflict")
        stored = self._store_view(view, view_id=current["id"] if current else None)
        self._homes[user["id"]] = stored
        self._view_users[stored["id"]] = user["id"]
        self._transcript.append(
            f"App Home of {self._who(user['id'])}: {render_blocks(stored['blocks'], self._names)}"
        )
        return {"view": copy.deepcopy(stored)}

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = copy.deepcopy(self._user_or_error(params.get("user")))
        if _as_bool(params.get("include_locale")):
            user["locale"] = "en-GB"
        return {"user": user}

    def _users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        members, next_cursor = self._page("user", list(self._users.values()), params, "id")
        if _as_bool(params.get("include_locale")):
            members = [{**m, "locale": "en-GB"} for m in members]
        return {
            "members": copy.deepcopy(members),
            "cache_ts": int(time.time()),
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _users_lookup_by_email(self, params: dict[str, Any]) -> dict[str, Any]:
        email = str(params.get("email") or "").lower()
        for user in self._users.values():
            if email and str(user["profile"].get("email", "")).lower() == email:
                return {"user": copy.deepcopy(user)}
        raise _ApiError("users_not_found")

    def _users_profile_get(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self._user_or_error(params.get("user") or self.bot_user_id)
        return {"profile": copy.deepcopy(user["profile"])}

    def _usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._usergroups.get(str(params.get("usergroup") or ""))
        if group is None:
            raise _ApiError("no_such_subteam")
        return {"users": list(group)}

    def _team_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "team": {
                "id": self.team_id,
                "name": TEAM_NAME,
                "domain": TEAM_DOMAIN,
                "email_domain": "example.com",
                "icon": {"image_34": "https://avatars.example.com/team_34.png", "image_default": True},
                "url": f"https://{TEAM_DOMAIN}.slack.com/",
            }
        }

    def _files_get_upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        filename = str(params.get("filename") or "")
        if not filename or params.get("length") in (None, ""):
            raise _invalid_args("missing required field: " + ("filename" if not filename else "length"))
        length = _as_int(params.get("length"), 0, "length")
        file_id = "F" + secrets.token_hex(5).upper()
        self._uploads[file_id] = {"filename": filename, "length": length, "data": None}
        return {"upload_url": f"{self.root}/upload/{file_id}", "file_id": file_id}

    def _files_complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        files = params.get("files")
        if not isinstance(files, list) or not files:
            raise _invalid_args("missing required field: files")
        channel = params.get("channel_id") or None
        cid = self._resolve_channel(channel, posting=True) if channel else None
        done = []
        for item in files:
            upload = self._uploads.get(str(item.get("id") if isinstance(item, dict) else ""))
            if upload is None or upload["data"] is None:
                raise _ApiError("file_not_found")
            done.append((item, upload))
        out = []
        ts = self._next_ts() if cid else None
        for item, upload in done:
            fid = str(item["id"])
            self._files[fid] = (upload["filename"], upload["data"], cid)
            out.append(
                {
                    "id": fid,
                    "created": int(time.time()),
                    "timestamp": int(time.time()),
                    "name": upload["filename"],
                    "title": item.get("title") or upload["filename"],
                    "mimetype": "text/csv"
                    if upload["filename"].endswith(".csv")
                    else "application/octet-stream",
                    "filetype": upload["filename"].rsplit(".", 1)[-1]
                    if "." in upload["filename"]
                    else "binary",
                    "user": self.bot_user_id,
                    "size": len(upload["data"]),
                    "url_private": f"{self.root}/files/{fid}",
                    "permalink": f"https://{TEAM_DOMAIN}.slack.com/files/{self.bot_user_id}/{fid}",
                    "channels": [cid] if cid and cid[0] == "C" else [],
                    "ims": [cid] if cid and cid[0] == "D" else [],
                    "groups": [cid] if cid and cid[0] == "G" else [],
                }
            )
        if cid and ts:
            comment = str(params.get("initial_comment") or "")
            msg = self._message({"text": comment, "thread_ts": params.get("thread_ts")}, ts)
            msg["files"] = copy.deepcopy(out)
            self._messages.setdefault(cid, []).append(msg)
            names = ", ".join(f["name"] for f in out)
            self._transcript.append(
                f"{self._where(cid)}: [file: {names}]"
                + (f" {_mrkdwn(comment, self._names)}" if comment else "")
            )
        return {"files": out}

    def _files_upload_legacy(self, params: dict[str, Any]) -> dict[str, Any]:
        # Slack retired files.upload; apps must use the external upload flow.
        raise _ApiError("method_deprecated")


def _interactive_elements(block: Mapping[str, Any]) -> list[dict[str, Any]]:
    kind = block.get("type")
    if kind == "actions":
        return [e for e in block.get("elements") or [] if isinstance(e, dict)]
    if (
        kind == "section"
        and isinstance(block.get("accessory"), dict)
        and block["accessory"].get("type") != "image"
    ):
        return [block["accessory"]]
    if kind == "input" and isinstance(block.get("element"), dict):
        return [block["element"]]
    return []


def _default_error(status: int) -> str:
    return {429: "ratelimited", 500: "fatal_error", 502: "bad_gateway", 503: "service_unavailable"}.get(
        status, "request_failed"
    )


def _summary(params: Mapping[str, Any]) -> str:
    keys = ("channel", "user", "user_id", "users", "text", "trigger_id", "view_id")
    shown = {k: params[k] for k in keys if k in params}
    return json.dumps(shown)[:160]
