"""What the `/infochat` router hands a subcommand: the types both sides share.

`commands` routes the first word of the text to a `Subcommand`; the per-flow
listener modules (`find`, `followups`, `reports`) implement theirs against
these types, so they never import the router back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.context import AppContext

Respond = Callable[..., Any]


@dataclass(frozen=True)
class Invocation:
    user_id: str
    subcommand: str
    argument: str
    payload: dict[str, Any]


def parse(text: str | None) -> tuple[str, str]:
    """Split `find machine learning` into ("find", "machine learning"); empty means help."""
    words = (text or "").strip().split(maxsplit=1)
    if not words:
        return "help", ""
    return words[0].lower(), (words[1].strip() if len(words) > 1 else "")


def invocation(command: dict[str, Any]) -> Invocation:
    subcommand, argument = parse(command.get("text"))
    return Invocation(str(command.get("user_id", "")), subcommand, argument, command)


@dataclass(frozen=True)
class Subcommand:
    # answer(ctx, invocation) -> the ack body (text/blocks) sent back at once; None acks silently
    answer: Callable[[AppContext, Invocation], dict[str, Any] | None]
    # work(ctx, invocation, respond) -> None: slow follow-up after the ack (optional)
    work: Callable[[AppContext, Invocation, Respond], None] | None = None
