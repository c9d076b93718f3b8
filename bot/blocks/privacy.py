"""Messages privacy work causes."""

from __future__ import annotations

from typing import Any

from bot.blocks import escape, section


def request_closed_note(topic: str) -> tuple[str, list[dict[str, Any]]]:
    """To a learner whose open request closed because the expert's data was erased.

    Names no one: the expert's name is exactly what was just erased.
    """
    about = f" about *{escape(topic)}*" if topic else ""
    find = f"`/infochat find {escape(topic)}`" if topic else "`/infochat find`"
    text = (
        f"Your infochat request{about} is closed: the person you asked is no longer on infochat. "
        f"{find} shows who else can help."
    )
    return text, [section(text)]
