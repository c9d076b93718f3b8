"""`/infochat find <topic>` and its paging buttons.

The search is fast (p95 well under 50 ms, docs/performance.md), so the command
answers in its ack: `answer_find` is the router's `answer` and calls no Web
API. Paging and "Show my function too" cannot edit an ephemeral message from
the ack, so they ack at once and replace the message through `respond` in a
lazy step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot import blocks, retry
from bot.blocks.find import (
    FIND_OWN_FUNCTION_ACTION,
    FIND_PAGE_ACTION,
    parse_page_value,
    search_message,
    usage_message,
)
from bot.clock import utcnow
from bot.context import AppContext
from bot.listeners import on_action
from bot.listeners.routing import Invocation
from bot.services.find import QueryError, find_experts

log = logging.getLogger(__name__)

Respond = Callable[..., Any]


def run_search(
    ctx: AppContext, user_id: str, query: str, *, page: int, include_own_function: bool, record: bool
) -> dict[str, Any]:
    """Search and render in one unit of work; a usage hint for an empty or long query."""
    now = utcnow()
    try:
        with ctx.db.session() as session:
            result = find_experts(
                session, query, user_id, now, include_own_function=include_own_function, record=record
            )
    except QueryError as exc:
        return {"text": usage_message(exc)}
    return search_message(
        result,
        page=page,
        include_own_function=include_own_function,
        now=now,
    )


def answer_find(ctx: AppContext, inv: Invocation) -> dict[str, Any]:
    """The ack body for `/infochat find …` (recorded for HR's supply-and-demand report)."""
    return run_search(ctx, inv.user_id, inv.argument, page=0, include_own_function=False, record=True)


def show_page(ctx: AppContext, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
    user_id = str(body["user"]["id"])
    parsed = parse_page_value(action.get("value"))
    if parsed is None:
        log.warning("malformed find button value", extra={"slack_user": user_id})
        respond(replace_original=True, text=usage_message())
        return
    query, page, own = parsed
    try:
        # Re-run for whoever clicked (record=False: the search was counted once).
        message = retry.retrying(
            lambda: run_search(ctx, user_id, query, page=page, include_own_function=own, record=False),
            label="find paging",
        )
    except Exception:
        log.exception("find paging failed", extra={"slack_user": user_id})
        respond(replace_original=True, text=blocks.SOMETHING_WENT_WRONG)
        return
    respond(replace_original=True, **message)


LISTENERS = (
    on_action(FIND_PAGE_ACTION, lazy=[show_page]),
    on_action(FIND_OWN_FUNCTION_ACTION, lazy=[show_page]),
)
