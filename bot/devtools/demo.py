"""`infochat demo`: the real app, a Slack stand-in and a synthetic company.

Plays the user journeys that exist and prints what each person sees in Slack.
No Slack account, no network, nothing to configure. Each journey is a
function in JOURNEYS; later capabilities add theirs.
"""

from __future__ import annotations

import html
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot import migrate
from bot.db import Database
from bot.devtools.company import Employee, make_company
from bot.devtools.runner import AppServer
from bot.devtools.slack_client import SlackAppClient
from bot.devtools.standin import SlackStandIn
from bot.settings import load_settings

DEMO_SECRET = "demo-signing-secret"
DEMO_TOKEN = "xoxb-demo"


@dataclass
class Demo:
    standin: SlackStandIn
    slack: SlackAppClient
    server: AppServer
    people: list[Employee]
    folder: Path
    _seen: int = 0

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


Journey = Callable[[Demo], None]


def journey_help(demo: Demo) -> None:
    ada = demo.people[0]
    demo.say(f"{ada.name} ({ada.function}) types `/infochat help`")
    response = demo.slack.command(ada.user_id, "help")
    text = html.unescape(response.json()["text"])
    print("   ephemeral to " + ada.name + ":\n     " + text.replace("\n", "\n     "))


def journey_app_home(demo: Demo) -> None:
    person = demo.people[1]
    demo.say(f"{person.name} opens infochat's App Home")
    demo.slack.event({"type": "app_home_opened", "user": person.user_id, "tab": "home"})
    demo.standin.wait_for(lambda: bool(demo.standin.calls_to("views.publish")))
    demo.show()


JOURNEYS: list[tuple[str, Journey]] = [
    ("Getting started", journey_help),
    ("App Home", journey_app_home),
]


def run_demo(directory: str | None = None, *, size: int = 36) -> int:
    # The demo prints what people see; server chatter would drown it.
    logging.getLogger().setLevel(logging.WARNING)
    folder = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="infochat-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    database_url = f"sqlite:///{folder / 'infochat.db'}"
    people = make_company(size)
    with SlackStandIn(bot_token=DEMO_TOKEN) as standin:
        for person in people:
            standin.add_user(
                person.user_id,
                name=person.handle,
                real_name=person.name,
                title=person.title,
                tz=person.tz,
                email=person.email,
            )
        settings = load_settings(
            slack_bot_token=DEMO_TOKEN,
            slack_signing_secret=DEMO_SECRET,
            slack_api_url=standin.url,
            database_url=database_url,
            functions=sorted({p.function for p in people}),
            admins=[people[-1].user_id],
            followup_after="0s",
            auto_migrate=False,
        )
        db = Database(database_url)
        migrate.upgrade(db)
        print(
            f"infochat demo: {len(people)} people in {len(settings.functions)} functions; "
            f"Slack is a local stand-in at {standin.root}"
        )
        with AppServer(settings, db=db) as server:
            slack = SlackAppClient(server.events_url, DEMO_SECRET, standin)
            demo = Demo(standin=standin, slack=slack, server=server, people=people, folder=folder)
            for title, journey in JOURNEYS:
                print(f"\n══ {title} ══")
                journey(demo)
                demo.show()
            slack.close()
    print(f"\nDemo database and files are in {folder}")
    return 0
