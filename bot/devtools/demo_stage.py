"""The demo's stage: the running app, the Slack stand-in, the cast, and how it prints.

Every journey (demo.py, demo_followups.py, demo_scheduling.py) takes a `Demo` and tells
one part of the story through it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.clock import utcnow
from bot.devtools.company import Employee
from bot.devtools.runner import AppServer
from bot.devtools.slack_client import SlackAppClient
from bot.devtools.standin import SlackStandIn, render_blocks
from bot.flows import outbox as delivery
from bot.models import OutboxMessage, OutboxStatus


@dataclass
class Demo:
    standin: SlackStandIn
    slack: SlackAppClient
    server: AppServer
    people: list[Employee]  # the cast: who the journeys follow, joining today
    everyone: list[Employee]  # the cast and the colleagues with six months of history
    folder: Path
    _seen: int = 0

    def person(self, user_id: str) -> Employee:
        return next(p for p in self.everyone if p.user_id == user_id)

    def names(self) -> dict[str, str]:
        return {p.user_id: p.name for p in self.everyone}

    def by_function(self, function: str) -> list[Employee]:
        return [p for p in self.people if p.function == function]

    def show(self) -> None:
        """Print what people saw since the last call."""
        lines = self.standin.transcript()
        for line in lines[self._seen :]:
            print("   " + line.replace("\n", "\n   "))
        self._seen = len(lines)

    def say(self, text: str) -> None:
        print(f"\n▶ {text}")

    def release_held(self) -> int:
        """Send what waits for someone's working hours now: the demo cannot wait until morning.

        Messages to people whose local time is outside 08:00–18:00 are held in the
        outbox (services.pairing.not_before). Whatever hour the demo runs at, it
        first lets the app finish the work after the last click, then delivers
        the held messages as of the latest hold, so no step waits for a message
        that is still asleep in the outbox.
        """
        self.server.settle()
        ctx = self.server.app.ctx
        with ctx.db.session() as session:
            latest = session.scalar(
                select(func.max(OutboxMessage.not_before)).where(OutboxMessage.status == OutboxStatus.PENDING)
            )
        if latest is None:
            return 0
        sent = delivery.deliver(ctx, as_of=latest).sent
        if latest > utcnow() and sent:
            print(f"   ({sent} held for someone's working hours; the demo sends them now)")
        return sent

    def dm_with(self, user_id: str, needle: str) -> dict[str, Any]:
        """The latest DM to `user_id` containing `needle`, once it has been delivered."""
        self.release_held()
        self.standin.wait_for(lambda: any(needle in str(m) for m in self.standin.messages_in(user_id)))
        return next(m for m in reversed(self.standin.messages_in(user_id)) if needle in str(m))

    def print_message(self, who: str, message: dict[str, Any]) -> None:
        """A message as its reader sees it in Slack (names for mentions), indented under `who`."""
        rendered = render_blocks(message.get("blocks") or [], self.names()) or str(message.get("text", ""))
        print(f"   {who}:\n     " + rendered.replace("\n", "\n     "))
