"""Block Kit checks: the limits Slack enforces on blocks, views and messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.devtools.standin.errors import ApiError, invalid_args

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


def check_blocks(blocks: Any, *, max_blocks: int) -> list[str]:
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


def check_view(view: Any, *, kind: str) -> list[str]:
    if not isinstance(view, Mapping):
        return ["must provide an object [json-pointer:/view]"]
    if view.get("type") != kind:
        return [f"must be '{kind}' [json-pointer:/view/type]"]
    errors = check_blocks(view.get("blocks"), max_blocks=100)
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


def check_message_content(params: Mapping[str, Any]) -> None:
    """A message needs text, blocks or attachments, within Slack's limits."""
    blocks, attachments, text = params.get("blocks"), params.get("attachments"), params.get("text")
    if not text and not blocks and not attachments:
        raise ApiError("no_text")
    if isinstance(text, str) and len(text) > 40000:
        raise ApiError("msg_too_long")
    if blocks not in (None, "", []):
        errors = check_blocks(blocks, max_blocks=50)
        if errors:
            raise ApiError(
                "invalid_blocks",
                errors=errors,
                response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
            )


def view_param(params: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The ``view`` argument of a views.* call, checked as a ``kind`` view."""
    view = params.get("view")
    if not isinstance(view, dict):
        raise invalid_args("missing required field: view")
    errors = check_view(view, kind=kind)
    if errors:
        raise invalid_args(*errors)
    return view
