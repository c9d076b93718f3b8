"""Reading Web API arguments as Slack does: forms, JSON bodies, multipart uploads, cursors."""

from __future__ import annotations

import base64
import hashlib
import json
from email import policy
from email.parser import BytesParser
from typing import Any

from bot.devtools.standin.errors import ApiError, invalid_args

# Parameters that Slack accepts as JSON-encoded strings in form bodies.
JSON_PARAMS = frozenset({"blocks", "attachments", "view", "files", "metadata", "unfurls"})


def as_bool(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1")) or value == 1


def as_int(value: Any, default: int, name: str) -> int:
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid_args(f"invalid integer for {name}") from None


def decode_json_params(params: dict[str, Any]) -> dict[str, Any]:
    """Decode the arguments Slack takes as JSON strings in a form (``blocks``, ``view``, …)."""
    for key in JSON_PARAMS & params.keys():
        value = params[key]
        if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            try:
                params[key] = json.loads(value)
            except ValueError:
                raise ApiError(
                    "invalid_json", response_metadata={"messages": [f"[ERROR] invalid JSON in {key}"]}
                ) from None
    return params


def parse_multipart(body: bytes, content_type: str) -> dict[str, Any]:
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


def cursor(kind: str, key: str) -> str:
    return base64.b64encode(f"{kind}:{key}".encode()).decode()


def uncursor(kind: str, value: str) -> str:
    try:
        decoded = base64.b64decode(value.encode(), validate=True).decode()
    except ValueError:
        raise ApiError("invalid_cursor") from None
    prefix, _, key = decoded.partition(":")
    if prefix != kind or not key:
        raise ApiError("invalid_cursor")
    return key


def stable_id(prefix: str, key: str) -> str:
    # Deterministic ids keep the same user set on the same conversation across runs.
    return prefix + hashlib.sha1(key.encode()).hexdigest()[:10].upper()
