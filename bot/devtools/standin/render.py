"""What people would see in Slack, as plain text: mrkdwn, Block Kit blocks and messages.

The transcript of the stand-in and the demo's output are written with these.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

_MENTION = re.compile(r"<([^<>]*)>")


def mrkdwn(text: str, names: Mapping[str, str] | None = None) -> str:
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


def text_of(obj: Any, names: Mapping[str, str] | None = None) -> str:
    """The text of a text object (mrkdwn resolved), or of a plain string."""
    if isinstance(obj, str):
        return obj
    if not isinstance(obj, Mapping):
        return ""
    raw = str(obj.get("text") or "")
    return mrkdwn(raw, names) if obj.get("type") == "mrkdwn" else raw


def _option_label(opt: Any) -> str:
    return text_of(opt.get("text")) if isinstance(opt, Mapping) else ""


def _render_choice(el: Mapping[str, Any], kind: str) -> str:
    chosen = [_option_label(o) for o in (el.get("initial_options") or [el.get("initial_option")]) if o]
    on, off = ("[x]", "[ ]") if kind == "checkboxes" else ("(o)", "( )")
    opts = [_option_label(o) for o in el.get("options") or []]
    return "  ".join(f"{on if o in chosen else off} {o}" for o in opts)


def _render_select(el: Mapping[str, Any], names: Mapping[str, str] | None) -> str:
    picked = el.get("initial_option") or None
    shown = _option_label(picked) if picked else ""
    if not shown and el.get("initial_options"):
        shown = ", ".join(_option_label(o) for o in el["initial_options"])
    if not shown and (el.get("initial_user") or el.get("initial_users")):
        uids = el.get("initial_users") or [el["initial_user"]]
        shown = ", ".join("@" + (names or {}).get(u, u) for u in uids)
    return f"[{shown or text_of(el.get('placeholder')) or 'Select'} v]"


def _render_element(el: Mapping[str, Any], names: Mapping[str, str] | None) -> str:
    kind = el.get("type", "")
    if kind == "button":
        return f"[{text_of(el.get('text'))}]"
    if kind in ("mrkdwn", "plain_text"):
        return text_of(el, names)
    if kind == "image":
        return f"[image: {el.get('alt_text', '')}]"
    if kind in ("checkboxes", "radio_buttons"):
        return _render_choice(el, kind)
    if kind == "overflow":
        return "[... " + " | ".join(_option_label(o) for o in el.get("options") or []) + "]"
    if kind in ("datepicker", "timepicker", "datetimepicker"):
        shown = el.get("initial_date") or el.get("initial_time") or text_of(el.get("placeholder")) or kind
        return f"[{shown}]"
    if kind.endswith("_input"):
        shown = el.get("initial_value") or text_of(el.get("placeholder"))
        return f"[{shown} _]" if shown else "[_]"
    if kind.endswith("select"):
        return _render_select(el, names)
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


def _render_section(block: Mapping[str, Any], names: Mapping[str, str] | None) -> str:
    text = text_of(block.get("text"), names)
    fields = " | ".join(text_of(f, names) for f in block.get("fields") or [])
    acc = block.get("accessory")
    tail = _render_element(acc, names) if isinstance(acc, Mapping) else ""
    body = "\n".join(p for p in (text, fields) if p)
    return f"{body}  {tail}".strip() if tail else body


def _render_block(block: Mapping[str, Any], names: Mapping[str, str] | None) -> str | None:
    kind = block.get("type")
    if kind == "section":
        return _render_section(block, names)
    if kind == "header":
        return f"# {text_of(block.get('text'), names)}"
    if kind in ("context", "actions"):
        return " ".join(_render_element(e, names) for e in block.get("elements") or [])
    if kind == "input":
        label = text_of(block.get("label"))
        optional = " (optional)" if block.get("optional") else ""
        el = block.get("element")
        shown = _render_element(el, names) if isinstance(el, Mapping) else ""
        return f"{label}{optional}: {shown}"
    if kind == "divider":
        return "---"
    if kind == "image":
        return f"[image: {block.get('alt_text', '')}]"
    if kind == "rich_text":
        return _render_rich(block, names)
    if kind == "markdown":
        return str(block.get("text", ""))
    return f"[{kind}]" if kind else None


def render_blocks(blocks: Sequence[Mapping[str, Any]] | None, names: Mapping[str, str] | None = None) -> str:
    """Render Block Kit blocks as plain text lines; ``names`` maps user ids to names for mentions."""
    lines = [_render_block(block, names) for block in blocks or []]
    return "\n".join(line for line in lines if line is not None)


def render_message(params: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """What a message shows: its blocks if any (text is then only the notification fallback)."""
    blocks = params.get("blocks")
    shown = (
        render_blocks(blocks, names)
        if isinstance(blocks, list) and blocks
        else mrkdwn(str(params.get("text") or ""), names)
    )
    for att in params.get("attachments") or []:
        if isinstance(att, Mapping):
            extra = (
                render_blocks(att.get("blocks"), names)
                if att.get("blocks")
                else mrkdwn(str(att.get("text") or att.get("fallback") or ""), names)
            )
            shown = f"{shown}\n{extra}" if shown else extra
    return shown


class Names(Mapping[str, str]):
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
