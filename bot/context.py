"""What every listener and job is handed: settings, the database, the Slack gateway."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import set_home_zone
from bot.db import Database
from bot.gateway.slack import SlackGateway
from bot.settings import Settings


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    db: Database
    slack: SlackGateway


def make_context(settings: Settings, *, require_slack: bool = True) -> AppContext:
    """The context for CLI commands and jobs outside the web app."""
    from bot.gateway.slack import build_web_client

    set_home_zone(settings.timezone)
    token = settings.bot_token() if require_slack else ""
    client = build_web_client(token, settings.slack_api_url)
    return AppContext(settings=settings, db=Database(settings.database_url), slack=SlackGateway(client))
