"""The app's own answers to Slack's requests, held to what Slack accepts from them.

Slack reads the body of the app's HTTP answer (or the payload of a Socket Mode ack):

- a slash command: nothing, plain text, or a message (``response_type`` in_channel/ephemeral,
  validated like a response_url post);
- a ``view_submission``: nothing, or a ``response_action`` of ``errors`` (keyed by the block_id
  of an input block of the submitted view), ``update`` or ``push`` (a valid modal), ``clear``;
- a ``block_suggestion``: ``options`` (up to 100) or ``option_groups``, each option with a
  plain_text text up to 75 characters and a value up to 150;
- clicks, ``view_closed`` and events: only the acknowledgement counts.

``answer_errors`` says what Slack would refuse; the stand-in's client and its Socket Mode side
record that as a ``Refusal`` (source ``app_answer``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.devtools.standin.response_urls import payload_errors
from bot.devtools.standin.validation import check_view

RESPONSE_ACTIONS = frozenset({"errors", "update", "push", "clear"})


def _submission_errors(answer: Mapping[str, Any], request: Mapping[str, Any]) -> list[str]:
    action = answer.get("response_action")
    if action not in RESPONSE_ACTIONS:
        return [f"response_action must be one of {sorted(RESPONSE_ACTIONS)}, not {action!r}"]
    if action == "errors":
        errors = answer.get("errors")
        if not isinstance(errors, Mapping) or not errors:
            return ["errors must be an object of block_id: message"]
        view = request.get("view") or {}
        inputs = {
            str(b.get("block_id"))
            for b in view.get("blocks") or []
            if isinstance(b, Mapping) and b.get("type") == "input"
        }
        return [
            f"errors names {block_id!r}, which is not an input block of the view"
            for block_id, message in errors.items()
            if block_id not in inputs or not isinstance(message, str) or not message
        ]
    if action in ("update", "push"):
        return check_view(answer.get("view"), kind="modal")
    return []


def _options_errors(answer: Mapping[str, Any]) -> list[str]:
    options = answer.get("options")
    groups = answer.get("option_groups")
    if isinstance(groups, list):
        options = [o for g in groups if isinstance(g, Mapping) for o in g.get("options") or []]
        if len(groups) > 100:
            return ["no more than 100 option_groups allowed"]
    if not isinstance(options, list):
        return ["an options answer needs options or option_groups"]
    problems = ["no more than 100 options allowed"] if len(options) > 100 else []
    for i, opt in enumerate(options):
        text = opt.get("text") if isinstance(opt, Mapping) else None
        if not isinstance(text, Mapping) or text.get("type") != "plain_text":
            problems.append(f"option {i}: text must be a plain_text object")
        elif not text.get("text") or len(str(text["text"])) > 75:
            problems.append(f"option {i}: text must be 1 to 75 characters")
        if not isinstance(opt, Mapping) or not opt.get("value") or len(str(opt["value"])) > 150:
            problems.append(f"option {i}: value must be 1 to 150 characters")
    return problems


def answer_errors(kind: str, answer: Any, request: Mapping[str, Any]) -> list[str]:
    """What Slack would refuse in the app's answer ``answer`` (decoded JSON, text or None)."""
    if kind == "slash_command":
        if isinstance(answer, Mapping):
            error, details = payload_errors(dict(answer))
            return [f"{error}: {d}" for d in details] or ([error] if error else [])
        return []
    if kind == "view_submission":
        if answer in (None, "", {}):
            return []
        if not isinstance(answer, Mapping):
            return ["a view_submission is answered with nothing or a response_action object"]
        return _submission_errors(answer, request)
    if kind == "block_suggestion":
        if not isinstance(answer, Mapping):
            return ["an options request is answered with a JSON object of options"]
        return _options_errors(answer)
    return []
