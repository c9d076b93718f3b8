"""Payloads whose shape Bolt cannot read, refused before Bolt sees them.

Before any middleware or listener runs, Bolt reads every payload through
`slack_bolt.request.payload_utils` (`actions[0]`, `view["callback_id"]`,
`view["type"]`, `event["type"]`, …) and answers 500 when that raises, e.g. for
a `block_actions` payload whose `actions` list is empty. Slack never sends such
a payload, but a signed one must still get a plain 400 and change nothing, so
`bot.app` checks the shape here first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from slack_bolt.request import payload_utils

# Top-level fields that Slack sends as objects and Bolt reads with `.get`.
_OBJECTS = ("view", "user", "team", "enterprise", "container", "channel", "message", "event")
# How Bolt reads every payload before any middleware runs (for the listeners' keyword arguments).
_BOLT_READERS = (
    payload_utils.to_options,
    payload_utils.to_shortcut,
    payload_utils.to_action,
    payload_utils.to_view,
    payload_utils.to_command,
    payload_utils.to_event,
    payload_utils.to_message,
    payload_utils.to_step,
)
# Interactive payloads: Slack always says whose they are, and the listeners read it.
_INTERACTIVE = (
    "block_actions",
    "block_suggestion",
    "view_submission",
    "view_closed",
    "shortcut",
    "message_action",
    "interactive_message",
)
# Payload types Bolt reads `actions[0]` of.
_WITH_ACTIONS = ("block_actions", "interactive_message")


def _has_str(obj: object, key: str) -> bool:
    return isinstance(obj, Mapping) and isinstance(obj.get(key), str)


def malformed(body: object) -> str | None:
    """Why Bolt could not read this payload, or None when it can."""
    if not isinstance(body, Mapping):
        return "the payload is not an object"
    for key in _OBJECTS:
        if body.get(key) is not None and not isinstance(body[key], Mapping):
            return f"{key} is not an object"
    try:
        for read in _BOLT_READERS:
            read(body)  # type: ignore[arg-type]
    except Exception:  # whatever Bolt would raise on, it must not see
        return "a shape Bolt cannot read"
    kind = body.get("type")
    if kind in _INTERACTIVE and not _has_str(body.get("user"), "id"):
        return f"{kind} from nobody"  # Slack names who clicked, typed or submitted
    if kind in _WITH_ACTIONS and ("actions" in body or kind == "interactive_message"):
        actions = body.get("actions")
        first = actions[0] if isinstance(actions, list) and actions else None
        named = _has_str(first, "action_id") or (kind == "interactive_message" and _has_str(first, "name"))
        if not named:
            return f"{kind} without an action"
    if kind in ("view_submission", "view_closed") and "view" in body:
        view = body["view"]
        if not _has_str(view, "callback_id") or not _has_str(view, "type"):
            return f"{kind} without a view"
        if view["type"] == "workflow_step":
            return "a workflow step (infochat has none)"
    if kind == "workflow_step_edit":
        return "a workflow step (infochat has none)"
    if "callback_id" in body and not isinstance(body["callback_id"], str):
        return "callback_id is not a string"
    if kind == "block_suggestion" and "action_id" in body and not isinstance(body["action_id"], str):
        return "block_suggestion without an action_id"
    if kind == "event_callback" and "event" in body:
        event = body["event"]
        if not _has_str(event, "type"):
            return "event_callback without an event type"
        if "message" in event and not isinstance(event["message"], Mapping | None):
            return "message event with a malformed message"
    if "command" in body and not isinstance(body["command"], str):
        return "command is not a string"
    if "command" in body and not (isinstance(body.get("user_id"), str) and body["user_id"]):
        return "a slash command from nobody"  # Slack always says who typed it
    return None


# -- reading fields out of a payload that may be malformed ----------------------------------------

# Database ids are BIGINT; anything larger names no row (and would overflow the query).
MAX_ID = 2**63 - 1


def as_id(value: object) -> int | None:
    """A row id from a button value or metadata (`"12"` or `12`); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and 0 < len(value) <= 19 and value.isascii() and value.isdigit():
        number = int(value)  # isascii: "²".isdigit() is True but int() refuses it
    else:
        return None
    return number if 0 < number <= MAX_ID else None


def as_small_int(value: object) -> int | None:
    """A small count from an option value ("30", "4"); None for anything else."""
    if isinstance(value, str) and 0 < len(value) <= 6 and value.isascii() and value.isdigit():
        return int(value)
    return None


def json_object(value: object) -> dict[str, Any]:
    """A JSON object carried in a button value or private_metadata; {} when it is anything else."""
    if not isinstance(value, str) or not value:
        return {}
    try:
        parsed = json.loads(value)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def input_state(view: object, block_id: str) -> dict[str, Any]:
    """The submitted state of the one input in `block_id`; {} when missing or malformed."""
    state = view.get("state") if isinstance(view, Mapping) else None
    values = state.get("values") if isinstance(state, Mapping) else None
    block = values.get(block_id) if isinstance(values, Mapping) else None
    element = next(iter(block.values()), None) if isinstance(block, Mapping) and block else None
    return element if isinstance(element, dict) else {}


def text_value(element: Mapping[str, Any], key: str = "value") -> str:
    """A string field of an input's state ("" when missing or not a string)."""
    value = element.get(key)
    return value if isinstance(value, str) else ""


def option_value(element: Mapping[str, Any]) -> str | None:
    """The value of a select's or radio's selected option."""
    option = element.get("selected_option")
    value = option.get("value") if isinstance(option, Mapping) else None
    return value if isinstance(value, str) else None


def option_values(element: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A multi-select's or checkboxes' selected options, malformed ones left out."""
    options = element.get("selected_options")
    return [o for o in options if isinstance(o, dict)] if isinstance(options, list) else []
