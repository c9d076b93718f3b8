"""What every listener and job is handed: settings, the database, the Slack gateway."""

from __future__ import annotations

from dataclasses import dataclass

from bot.db import Database
from bot.settings import Settings
from bot.slack_api import SlackGateway


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    db: Database
    slack: SlackGateway
