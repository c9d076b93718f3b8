"""`/infochat <subcommand>`: a router from the first word to a handler."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot import blocks
from bot.context import AppContext
from bot.listeners import ListenerRegistry

log = logging.getLogger(__name__)

COMMAND = "/infochat"

# Subcommands the product defines (PRODUCT.md §3) that later work fills in.
PLANNED = ("profile", "join", "find", "pause", "resume", "leave", "learnings", "report")


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


@dataclass(frozen=True)
class Subcommand:
    # answer(ctx, invocation) -> the ack body (text/blocks) sent back at once
    answer: Callable[[AppContext, Invocation], dict[str, Any]]
    # work(ctx, invocation) -> None: slow follow-up after the ack (optional)
    work: Callable[[AppContext, Invocation], None] | None = None


def _help(ctx: AppContext, inv: Invocation) -> dict[str, Any]:
    return {"text": blocks.help_text(COMMAND), "blocks": blocks.help_blocks(COMMAND)}


def _coming_soon(ctx: AppContext, inv: Invocation) -> dict[str, Any]:
    return {"text": blocks.coming_soon_message(inv.subcommand)}


ROUTES: dict[str, Subcommand] = {"help": Subcommand(_help)}
ROUTES.update({name: Subcommand(_coming_soon) for name in PLANNED})


def _invocation(command: dict[str, Any]) -> Invocation:
    subcommand, argument = parse(command.get("text"))
    return Invocation(str(command.get("user_id", "")), subcommand, argument, command)


def register(registry: ListenerRegistry, ctx: AppContext) -> None:
    def ack_command(ack: Callable[..., None], command: dict[str, Any]) -> None:
        inv = _invocation(command)
        route = ROUTES.get(inv.subcommand)
        if route is None:
            ack(response_type="ephemeral", text=blocks.usage_message(inv.subcommand, COMMAND))
            return
        try:
            body = route.answer(ctx, inv)
        except Exception:
            log.exception("/infochat %s failed for %s", inv.subcommand, inv.user_id)
            body = {"text": "Sorry, something went wrong on our side. Please try again in a minute."}
        ack(response_type="ephemeral", **body)

    def work_command(command: dict[str, Any]) -> None:
        inv = _invocation(command)
        route = ROUTES.get(inv.subcommand)
        if route is None or route.work is None:
            return
        try:
            route.work(ctx, inv)
        except Exception:
            log.exception("/infochat %s follow-up failed for %s", inv.subcommand, inv.user_id)

    registry.command(COMMAND, ack=ack_command, lazy=[work_command])
