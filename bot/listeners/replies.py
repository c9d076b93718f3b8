"""Answering a click after the ack, wherever it came from.

A click in a message comes with a `response_url`; a click in App Home (Accept,
Decline, Suggest someone else are there too) comes without one, and Bolt's
`respond` then raises. `responder` gives a listener a `respond` that works in
both: through the `response_url` when there is one, else as a DM to whoever
clicked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from bot.context import AppContext

log = logging.getLogger(__name__)

Respond = Callable[..., Any]


def clicking_user(body: Mapping[str, Any]) -> str:
    """The Slack user id of whoever sent an interactive payload; "" when the payload has none."""
    user = body.get("user")
    user_id = user.get("id") if isinstance(user, Mapping) else None
    return user_id if isinstance(user_id, str) else ""


def responder(ctx: AppContext, body: Mapping[str, Any], respond: Respond | None) -> Respond:
    if body.get("response_url") and respond is not None:
        return respond

    def by_dm(text: str = "", blocks: list[dict[str, Any]] | None = None, **_: Any) -> None:
        user_id = clicking_user(body)
        if not user_id:
            log.info("nobody to answer: a click without a user")
            return
        ctx.slack.post_message(ctx.slack.open_dm([user_id]), text, blocks)

    return by_dm
