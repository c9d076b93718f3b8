"""Block Kit checks: what Slack refuses in blocks, views, messages and app answers.

Three layers, each a list of Slack-style error strings (``... [json-pointer:/blocks/0/text]``):

- slack_sdk's own models (``Block.parse(b).validate_json()``, ``View(**v).validate_json()``):
  the types, required fields and most length limits Slack documents;
- the documented limits the models do not enforce (``_extra``): radio buttons and checkboxes
  up to 10 options, an overflow 2–5, an ``initial_option`` among the options, only input
  elements in an input block, ``emoji`` only on plain_text, ``max_length`` up to 3000, empty
  texts, button texts up to 75, duplicate ids;
- message-level rules (``check_message``): up to 50 blocks, text up to 40,000 characters,
  metadata with ``event_type`` and ``event_payload``, and a ``text`` fallback beside blocks.

The same checks serve the Web API (``chat.*``, ``views.*``), response_url posts and the app's
own HTTP answers (slash-command replies, ``response_action`` bodies, options), which the
stand-in's client checks (bot/devtools/slack_client.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.devtools.standin.errors import ApiError, invalid_args

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT = 40000  # a message's top-level text

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
_INPUT_ELEMENTS = frozenset(
    {
        "plain_text_input",
        "email_text_input",
        "url_text_input",
        "number_input",
        "rich_text_input",
        "static_select",
        "multi_static_select",
        "external_select",
        "multi_external_select",
        "users_select",
        "multi_users_select",
        "conversations_select",
        "multi_conversations_select",
        "channels_select",
        "multi_channels_select",
        "datepicker",
        "timepicker",
        "datetimepicker",
        "checkboxes",
        "radio_buttons",
        "file_input",
    }
)
# (fewest, most) options an element may carry, where Slack documents a narrower range than 100.
_OPTION_RANGE = {"radio_buttons": (1, 10), "checkboxes": (1, 10), "overflow": (2, 5)}
_OPTION_ELEMENTS = frozenset(
    {*_OPTION_RANGE, "static_select", "multi_static_select", "external_select", "multi_external_select"}
)


class BlockErrors(list[str]):
    """Error strings in Slack's wording, each ending with the JSON pointer of the culprit."""

    def add(self, message: str, ptr: str) -> None:
        self.append(f"{message} [json-pointer:{ptr}]")


def _check_text(obj: Any, ptr: str, errors: BlockErrors, *, limit: int, plain_only: bool = False) -> None:
    if not isinstance(obj, Mapping) or obj.get("type") not in ("plain_text", "mrkdwn"):
        errors.add("must provide an object", ptr)
        return
    if plain_only and obj.get("type") != "plain_text":
        errors.add("must be a plain_text object", f"{ptr}/type")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        errors.add("must be more than 0 characters", f"{ptr}/text")
    elif len(text) > limit:
        errors.add(f"must be less than {limit + 1} characters", f"{ptr}/text")


def _text_objects(node: Any, ptr: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every text object anywhere under ``node`` (for rules that hold wherever text is)."""
    if isinstance(node, Mapping):
        if node.get("type") in ("plain_text", "mrkdwn") and "text" in node:
            yield ptr, node
        for key, value in node.items():
            yield from _text_objects(value, f"{ptr}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _text_objects(value, f"{ptr}/{i}")


def _option_key(opt: Any) -> tuple[str, str]:
    text = opt.get("text") if isinstance(opt, Mapping) else None
    label = str(text.get("text", "")) if isinstance(text, Mapping) else ""
    return (str(opt.get("value", "")) if isinstance(opt, Mapping) else "", label)


def _check_options(el: Mapping[str, Any], ptr: str, errors: BlockErrors) -> None:
    kind = str(el["type"])
    if kind.endswith("external_select"):
        return  # options (and initial ones) come from the app's options answer
    options = el.get("options")
    groups = el.get("option_groups")
    if isinstance(options, list):
        fewest, most = _OPTION_RANGE.get(kind, (1, 100))
        if not fewest <= len(options) <= most:
            errors.add(f"must have between {fewest} and {most} items", f"{ptr}/options")
    elif isinstance(groups, list) and kind.endswith("static_select"):
        options = [o for g in groups if isinstance(g, Mapping) for o in g.get("options") or []]
    else:
        errors.add("must provide an array", f"{ptr}/options")
        return
    select = kind.endswith("select") or kind == "overflow"
    for j, opt in enumerate(options):
        if not isinstance(opt, Mapping):
            errors.add("must provide an object", f"{ptr}/options/{j}")
            continue
        _check_text(opt.get("text"), f"{ptr}/options/{j}/text", errors, limit=75, plain_only=select)
        if len(str(opt.get("value", ""))) > 150:
            errors.add("must be less than 151 characters", f"{ptr}/options/{j}/value")
    known = {_option_key(o) for o in options}
    if "initial_option" in el and _option_key(el["initial_option"]) not in known:
        errors.add("must be one of the provided options", f"{ptr}/initial_option")
    for j, opt in enumerate(el.get("initial_options") or []):
        if _option_key(opt) not in known:
            errors.add("must be one of the provided options", f"{ptr}/initial_options/{j}")


def _check_element(el: Any, ptr: str, errors: BlockErrors, *, in_input: bool) -> None:
    if not isinstance(el, Mapping) or not isinstance(el.get("type"), str):
        errors.add("must provide an object", ptr)
        return
    kind = el["type"]
    if in_input and kind not in _INPUT_ELEMENTS:
        errors.add(f"{kind} is not a valid element for an input block", f"{ptr}/type")
    if not in_input and kind in ("plain_text", "mrkdwn", "image"):
        errors.add(f"{kind} is not an interactive element", f"{ptr}/type")
    if len(str(el.get("action_id", ""))) > 255:
        errors.add("must be less than 256 characters", f"{ptr}/action_id")
    if kind == "button":
        _check_text(el.get("text"), f"{ptr}/text", errors, limit=75, plain_only=True)
        if len(str(el.get("value", ""))) > 2000:
            errors.add("must be less than 2001 characters", f"{ptr}/value")
    if "placeholder" in el:
        _check_text(el["placeholder"], f"{ptr}/placeholder", errors, limit=150, plain_only=True)
    if kind in _OPTION_ELEMENTS:
        _check_options(el, ptr, errors)
    if kind == "plain_text_input":
        for key in ("min_length", "max_length"):
            value = el.get(key)
            if value is not None and (not isinstance(value, int) or not 0 <= value <= 3000):
                errors.add("must be between 0 and 3000", f"{ptr}/{key}")
        initial, most = el.get("initial_value"), el.get("max_length")
        if isinstance(initial, str) and isinstance(most, int) and len(initial) > most:
            errors.add("must be no longer than max_length", f"{ptr}/initial_value")


def _block_elements(block: Mapping[str, Any], ptr: str, errors: BlockErrors) -> list[tuple[str, Any]]:
    """The block's own checks; returns its interactive elements (pointer, element) for the caller."""
    kind = block["type"]
    elements: list[tuple[str, Any]] = []
    if kind == "section":
        if "text" not in block and "fields" not in block:
            errors.add("must provide text or fields", ptr)
        if "text" in block:
            _check_text(block["text"], f"{ptr}/text", errors, limit=3000)
        fields = block.get("fields") or []
        if len(fields) > 10:
            errors.add("no more than 10 items allowed", f"{ptr}/fields")
        for j, f in enumerate(fields):
            _check_text(f, f"{ptr}/fields/{j}", errors, limit=2000)
        if isinstance(block.get("accessory"), Mapping) and block["accessory"].get("type") != "image":
            elements.append((f"{ptr}/accessory", block["accessory"]))
    elif kind == "header":
        _check_text(block.get("text"), f"{ptr}/text", errors, limit=150, plain_only=True)
    elif kind in ("actions", "context"):
        items = block.get("elements")
        limit = 25 if kind == "actions" else 10
        if not isinstance(items, list) or not items:
            errors.add("must provide a non-empty array", f"{ptr}/elements")
            items = []
        elif len(items) > limit:
            errors.add(f"no more than {limit} items allowed", f"{ptr}/elements")
        for j, el in enumerate(items):
            if kind == "actions":
                elements.append((f"{ptr}/elements/{j}", el))
            elif isinstance(el, Mapping) and el.get("type") in ("plain_text", "mrkdwn"):
                _check_text(el, f"{ptr}/elements/{j}", errors, limit=3000)
    elif kind == "input":
        _check_text(block.get("label"), f"{ptr}/label", errors, limit=2000, plain_only=True)
        if "hint" in block:
            _check_text(block["hint"], f"{ptr}/hint", errors, limit=2000, plain_only=True)
        if "element" not in block:
            errors.add("must provide an element", f"{ptr}/element")
        else:
            elements.append((f"{ptr}/element", block["element"]))
    return elements


def _sdk_errors(block: Mapping[str, Any], ptr: str, errors: BlockErrors) -> None:
    """slack_sdk's model of the block: unknown fields and its documented limits."""
    try:
        parsed = Block.parse(dict(block))
        if parsed is None:
            errors.add("unsupported type", f"{ptr}/type")
        else:
            parsed.validate_json()
    except SlackObjectFormationError as exc:
        errors.add(str(exc), ptr)
    except (TypeError, KeyError, AttributeError, ValueError) as exc:
        # The models raise TypeError for a field the block type does not have.
        errors.add(f"invalid block: {exc}", ptr)


def check_blocks(blocks: Any, *, max_blocks: int, where: str = "/blocks") -> list[str]:
    """What Slack would say about ``blocks`` ([] when it would take them)."""
    if not isinstance(blocks, list):
        return [f"must provide an array [json-pointer:{where}]"]
    errors = BlockErrors()
    if not blocks and where == "/blocks":
        errors.add("must provide at least one block", where)
    if len(blocks) > max_blocks:
        errors.add(f"no more than {max_blocks} items allowed", where)
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        ptr = f"{where}/{i}"
        if not isinstance(block, Mapping) or block.get("type") not in _BLOCK_TYPES:
            errors.add("unsupported type", f"{ptr}/type")
            continue
        bid = block.get("block_id")
        if bid is not None:
            if len(str(bid)) > 255:
                errors.add("must be less than 256 characters", f"{ptr}/block_id")
            if bid in block_ids:
                errors.add("duplicate block_id", f"{ptr}/block_id")
            block_ids.add(bid)
        before = len(errors)
        action_ids: set[str] = set()  # unique within their block (Slack's rule)
        for el_ptr, el in _block_elements(block, ptr, errors):
            _check_element(el, el_ptr, errors, in_input=block["type"] == "input")
            aid = el.get("action_id") if isinstance(el, Mapping) else None
            if aid is not None:
                if aid in action_ids:
                    errors.add("duplicate action_id", f"{el_ptr}/action_id")
                action_ids.add(aid)
        for text_ptr, obj in _text_objects(block, ptr):
            if obj.get("type") == "mrkdwn" and "emoji" in obj:
                errors.add("emoji is only allowed on plain_text", f"{text_ptr}/emoji")
        if len(errors) == before:
            _sdk_errors(block, ptr, errors)  # one account per block: ours is the more precise
    return list(errors)


def check_view(view: Any, *, kind: str) -> list[str]:
    """What Slack would say about a modal or Home view."""
    if not isinstance(view, Mapping):
        return ["must provide an object [json-pointer:/view]"]
    if view.get("type") != kind:
        return [f"must be '{kind}' [json-pointer:/view/type]"]
    errors = BlockErrors(check_blocks(view.get("blocks"), max_blocks=MAX_VIEW_BLOCKS, where="/view/blocks"))
    if kind == "modal":
        _check_text(view.get("title"), "/view/title", errors, limit=24, plain_only=True)
        for key in ("submit", "close"):
            if view.get(key) is not None:
                _check_text(view[key], f"/view/{key}", errors, limit=24, plain_only=True)
        # Slack refuses a modal with inputs but no submit button.
        if view.get("submit") is None and any(
            isinstance(b, Mapping) and b.get("type") == "input" for b in view.get("blocks") or []
        ):
            errors.add("must provide submit if input blocks are present", "/view/submit")
    if len(str(view.get("private_metadata") or "")) > 3000:
        errors.add("must be less than 3001 characters", "/view/private_metadata")
    if len(str(view.get("callback_id") or "")) > 255:
        errors.add("must be less than 256 characters", "/view/callback_id")
    if not errors:
        try:
            View(**dict(view)).validate_json()
        except SlackObjectFormationError as exc:
            errors.add(str(exc), "/view")
        except (TypeError, KeyError, AttributeError, ValueError) as exc:
            errors.add(f"invalid view: {exc}", "/view")
    return list(errors)


def _metadata_ok(metadata: Any) -> bool:
    return (
        isinstance(metadata, Mapping)
        and isinstance(metadata.get("event_type"), str)
        and bool(metadata["event_type"])
        and isinstance(metadata.get("event_payload"), Mapping)
    )


def message_errors(params: Mapping[str, Any], *, need_fallback: bool = True) -> tuple[str, list[str]]:
    """("", []) for a message Slack takes; else (error code, details) as Slack would refuse it."""
    blocks, attachments, text = params.get("blocks"), params.get("attachments"), params.get("text")
    if not text and not blocks and not attachments:
        return "no_text", []
    if text is not None and not isinstance(text, str):
        return "invalid_arguments", ["text must be a string [json-pointer:/text]"]
    if isinstance(text, str) and len(text) > MAX_TEXT:
        return "msg_too_long", []
    metadata = params.get("metadata")
    if metadata not in (None, "", {}) and not _metadata_ok(metadata):
        return "invalid_metadata_format", ["metadata needs event_type and event_payload"]
    if blocks not in (None, "", []):
        errors = check_blocks(blocks, max_blocks=MAX_MESSAGE_BLOCKS)
        if errors:
            return "invalid_blocks", errors
        if need_fallback and not text:
            # Slack posts it with a warning; notifications and screen readers then show nothing.
            return "invalid_arguments", ["text is required as the fallback of blocks [json-pointer:/text]"]
    return "", []


def check_message_content(params: Mapping[str, Any]) -> None:
    """A message needs text, blocks or attachments, within Slack's limits (raises ApiError)."""
    error, details = message_errors(params)
    if not error:
        return
    extra: dict[str, Any] = {}
    if details:
        extra["response_metadata"] = {"messages": [f"[ERROR] {d}" for d in details]}
        if error == "invalid_blocks":
            extra["errors"] = details
    raise ApiError(error, **extra)


def view_param(params: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The ``view`` argument of a views.* call, checked as a ``kind`` view."""
    view = params.get("view")
    if not isinstance(view, dict):
        raise invalid_args("missing required field: view")
    errors = check_view(view, kind=kind)
    if errors:
        raise invalid_args(*errors)
    return view
