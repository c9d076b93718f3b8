"""Events API listeners."""

from __future__ import annotations

import logging
from typing import Any

from bot import blocks
from bot.context import AppContext
from bot.listeners import ListenerRegistry, just_ack

log = logging.getLogger(__name__)


def register(registry: ListenerRegistry, ctx: AppContext) -> None:
    def publish_home(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        user_id = str(event.get("user", ""))
        try:
            ctx.slack.publish_home(user_id, blocks.welcome_home_view())
        except Exception:
            log.exception("could not publish App Home for %s", user_id)

    registry.event("app_home_opened", ack=just_ack, lazy=[publish_home])
