"""Test data made through the real services (no shortcuts around validation)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.clock import utcnow
from bot.db import Database
from bot.devtools.standin import SlackStandIn
from bot.models import Person
from bot.services import profiles


def make_person(
    db: Database,
    standin: SlackStandIn | None,
    slack_user_id: str,
    name: str,
    function: str,
    *,
    speaks: list[str] = (),  # type: ignore[assignment]
    learns: list[str] = (),  # type: ignore[assignment]
    chats_per_month: int = 4,
    tz: str = "Europe/London",
    title: str = "",
    weekly: bool = False,
    joined_at: datetime | None = None,
) -> int:
    """A joined member with a saved profile; also known to the Slack stand-in."""
    if standin is not None:
        standin.add_user(slack_user_id, name=name.split(" ")[0].lower(), real_name=name, title=title, tz=tz)
    with db.session() as session:
        person = profiles.get_person(session, slack_user_id)
        if person is None:
            person = Person(
                slack_user_id=slack_user_id, name=name.split(" ")[0].lower(), real_name=name, title=title
            )
            session.add(person)
        person.tz = tz
        session.flush()
        profiles.save_profile(
            session,
            person,
            profiles.ProfileInput(
                function=function,
                speak=list(speaks),
                learn=list(learns),
                chats_per_month=chats_per_month,
                weekly_pairing=weekly,
            ),
            joined_at or utcnow(),
        )
        return person.id


def daytime_zone(now: datetime) -> str:
    """A zone where it is office hours now, so messages are not held for the morning."""
    for name in (
        "Europe/London",
        "Asia/Tokyo",
        "America/New_York",
        "Asia/Kolkata",
        "America/Los_Angeles",
        "Pacific/Auckland",
        "Pacific/Honolulu",
        "Asia/Dubai",
    ):
        if 9 <= now.astimezone(ZoneInfo(name)).hour < 15:
            return name
    raise AssertionError("no daytime zone found")  # pragma: no cover - the list spans the globe
