"""Filling Slack forms as a person would: ``state.values`` for a modal from answers by label,
and the options a click or selection picks (the stand-in's client, bot/devtools/slack_client.py)."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

# Option words a True/False answer picks in a radio or select (e.g. a weekly on/off toggle).
_YES = ("yes", "on", "true", "enabled", "enable", "opt in", "opted in", "1")
_NO = ("no", "off", "false", "disabled", "disable", "opt out", "opted out", "0")


def label_of(block: Mapping[str, Any]) -> str:
    label = block.get("label")
    return str(label.get("text", "")) if isinstance(label, Mapping) else str(label or "")


def pick_input(inputs: list[Mapping[str, Any]], key: str) -> Mapping[str, Any]:
    """The one input whose label contains ``key``; prefer whole-word, then exact matches."""
    needle = key.lower()
    found = [b for b in inputs if needle in label_of(b).lower()]
    if len(found) > 1:
        words = [b for b in found if re.search(rf"\b{re.escape(needle)}\b", label_of(b).lower())]
        found = words or found
    if len(found) > 1:
        exact = [b for b in found if label_of(b).strip().lower() == needle]
        found = exact or found
    if not found:
        raise KeyError(f"no input labelled {key!r}; labels: {[label_of(b) for b in inputs]}")
    if len(found) > 1:
        raise KeyError(f"{key!r} matches several inputs: {[label_of(b) for b in found]}")
    return found[0]


def options_of(element: Mapping[str, Any]) -> list[dict[str, Any]]:
    opts = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        opts += group.get("options") or []
    return opts


def _option_text(opt: Mapping[str, Any]) -> str:
    text = opt.get("text")
    return str(text.get("text", "")) if isinstance(text, Mapping) else str(text or "")


def _clean_option(opt: Mapping[str, Any]) -> dict[str, Any]:
    # Slack echoes options without the description/url extras the app may have set.
    return {k: copy.deepcopy(opt[k]) for k in ("text", "value") if k in opt}


def match_option(options: list[dict[str, Any]], answer: object, *, label: str) -> dict[str, Any]:
    """Pick an option by text or value (case-insensitive); booleans pick yes/on or no/off."""
    texts = [(o, _option_text(o).strip().lower(), str(o.get("value", "")).strip().lower()) for o in options]
    if isinstance(answer, bool):
        words = _YES if answer else _NO
        for o, text, value in texts:
            if text in words or value in words:
                return _clean_option(o)
        for o, text, value in texts:
            if any(re.search(rf"\b{re.escape(w)}\b", f"{text} {value}") for w in words):
                return _clean_option(o)
        if options and answer:
            return _clean_option(options[0])
        raise ValueError(f"no option for {answer!r} in {label!r}; options: {[t for _, t, _ in texts]}")
    wanted = str(answer).strip().lower()
    for o, text, value in texts:
        if wanted in (text, value):
            return _clean_option(o)
    partial = [o for o, text, _ in texts if re.search(rf"(?<!\w){re.escape(wanted)}(?!\w)", text)]
    if len(partial) == 1:
        return _clean_option(partial[0])
    raise ValueError(f"no option {answer!r} in {label!r}; options: {[_option_text(o) for o in options]}")


def _as_list(answer: object) -> list[object]:
    if answer is None or answer is False:
        return []
    if isinstance(answer, str):
        return [part.strip() for part in answer.split(",") if part.strip()]
    if isinstance(answer, (list, tuple, set)):
        return list(answer)
    return [answer]


def _text_option(text: object) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": str(text), "emoji": True}, "value": str(text)}


def answer_state(element: Mapping[str, Any], answer: object, label: str) -> dict[str, Any]:
    kind = str(element.get("type"))
    state: dict[str, Any] = {"type": kind}
    if kind in ("plain_text_input", "email_text_input", "url_text_input", "number_input"):
        if isinstance(answer, (list, tuple)):
            answer = ", ".join(str(a) for a in answer)  # a comma-separated topics field
        state["value"] = None if answer is None else str(answer)
    elif kind in ("static_select", "radio_buttons"):
        state["selected_option"] = (
            None if answer is None else match_option(options_of(element), answer, label=label)
        )
    elif kind == "external_select":
        state["selected_option"] = None if answer is None else _text_option(answer)
    elif kind == "multi_static_select":
        state["selected_options"] = [
            match_option(options_of(element), a, label=label) for a in _as_list(answer)
        ]
    elif kind == "multi_external_select":
        state["selected_options"] = [_text_option(a) for a in _as_list(answer)]
    elif kind == "checkboxes":
        opts = options_of(element)
        if answer is True:
            state["selected_options"] = [_clean_option(opts[0])] if opts else []
        else:
            state["selected_options"] = [match_option(opts, a, label=label) for a in _as_list(answer)]
    elif kind == "users_select":
        state["selected_user"] = answer
    elif kind == "multi_users_select":
        state["selected_users"] = [str(a) for a in _as_list(answer)]
    elif kind == "conversations_select":
        state["selected_conversation"] = answer
    elif kind == "channels_select":
        state["selected_channel"] = answer
    elif kind == "datepicker":
        state["selected_date"] = None if answer is None else str(answer)
    elif kind == "timepicker":
        state["selected_time"] = None if answer is None else str(answer)
    else:
        raise ValueError(f"cannot fill a {kind} input ({label!r})")
    return state


def initial_state(element: Mapping[str, Any]) -> dict[str, Any]:
    """What Slack sends for an input the user left alone: its initial value, else null/empty."""
    kind = str(element.get("type"))
    state: dict[str, Any] = {"type": kind}
    if kind.startswith("multi_") or kind == "checkboxes":
        if kind.endswith("users_select"):
            state["selected_users"] = list(element.get("initial_users") or [])
        else:
            state["selected_options"] = [_clean_option(o) for o in element.get("initial_options") or []]
    elif kind.endswith("select") or kind == "radio_buttons":
        if kind == "users_select":
            state["selected_user"] = element.get("initial_user")
        elif kind == "conversations_select":
            state["selected_conversation"] = element.get("initial_conversation")
        elif kind == "channels_select":
            state["selected_channel"] = element.get("initial_channel")
        else:
            initial = element.get("initial_option")
            state["selected_option"] = _clean_option(initial) if initial else None
    elif kind == "datepicker":
        state["selected_date"] = element.get("initial_date")
    elif kind == "timepicker":
        state["selected_time"] = element.get("initial_time")
    else:
        state["value"] = element.get("initial_value")
    return state
