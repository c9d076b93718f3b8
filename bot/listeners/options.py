"""Type-ahead for the profile modal's topic selects (Slack `block_suggestion` requests).

Slack waits for these synchronously and shows nothing if the answer is slow or
fails, so the listener does one quick read and always acks, with at least the
"Add …" option when the database cannot be read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.blocks.topics import topic_options
from bot.context import AppContext
from bot.listeners import on_options
from bot.retry import ACK_BUDGET_SECONDS
from bot.services.topics import MAX_QUERY_LENGTH, typeahead

log = logging.getLogger(__name__)

# The action ids of the profile modal's two multi_external_select elements.
TOPIC_SELECTS = ("speak_topics", "learn_topics")


def ack_topic_suggestions(ctx: AppContext, ack: Callable[..., None], payload: dict[str, Any]) -> None:
    query = str(payload.get("value") or "")[:MAX_QUERY_LENGTH]
    try:
        found = ctx.db.run(
            lambda session: typeahead(session, query), label="typeahead", budget=ACK_BUDGET_SECONDS
        )
        options = topic_options(found.topics, query, exact=found.exact is not None)
    except Exception:
        log.exception("topic type-ahead failed for %r", query)
        options = topic_options([], query)
    ack(options=options)


LISTENERS = tuple(on_options(action_id, ack_topic_suggestions) for action_id in TOPIC_SELECTS)
