"""Test data made through the real services (no shortcuts around validation), and what the
Slack stand-in shows of it: people, requests, chats, weekly rounds.

Test modules import their helpers from here, never from each other.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy.orm import Session

from bot.blocks.requests import ask_button_value
from bot.clock import utcnow
from bot.context import AppContext
from bot.db import Database
from bot.devtools.slack_client import SlackAppClient, last_view_opened
from bot.devtools.standin import SlackStandIn
from bot.flows.pairing import run_round
from bot.models import Chat, ChatKind, ChatParticipant, ChatRole, Person, PersonTopic, TopicKind
from bot.services import pairing, profiles
from bot.services import requests as request_service
from bot.services.find import SearchResult
from bot.services.topics import resolve_topics

# -- people ------------------------------------------------------------------------------------


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


PROFILE: dict[str, Any] = {
    # what someone types into the profile modal, by label
    "function": "Product",
    "speak about": ["Kubernetes", "Pricing"],
    "learn": ["Negotiation"],
    "per month": "3",
    "weekly": True,
}


def open_profile_modal(slack: SlackAppClient, standin: SlackStandIn, user_id: str) -> dict[str, Any]:
    """`/infochat profile`, as `user_id` types it; the modal that opened."""
    before = len(standin.calls_to("views.open"))
    response = slack.command(user_id, "profile")
    assert response.status_code == 200
    assert response.content in (b"", b"{}") or "text" not in response.json()
    standin.wait_for(lambda: len(standin.calls_to("views.open")) > before)
    return last_view_opened(standin)


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


# -- requests ----------------------------------------------------------------------------------

# What a learner types into the request modal, by label.
REQUEST = {
    "introduce": "Hi! I'm Lena, an account executive in Sales, curious about infrastructure.",
    "want to learn": "How Kubernetes deployments work, so I can explain them to customers.",
    "questions": "What do you like most about it?\nWho else should I talk to?",
}


def ask(
    slack: SlackAppClient,
    standin: SlackStandIn,
    learner: str,
    expert: str,
    answers: dict[str, Any] | None = None,
    topic: str = "Kubernetes",
) -> tuple[dict[str, Any], httpx.Response]:
    """Click `Ask for a chat` and submit the request modal, as `learner` would in Slack."""
    before = len(standin.calls_to("views.open"))
    slack.block_action(learner, "ask_for_chat", value=ask_button_value(expert, topic))
    standin.wait_for(lambda: len(standin.calls_to("views.open")) > before)
    modal = last_view_opened(standin)
    return modal, slack.submit(learner, modal, answers or REQUEST)


def make_request(
    db: Database, learner_id: int, expert_id: int, *, topic: str = "Kubernetes", at: datetime | None = None
) -> int:
    """An open request, made through the real service (no DM: see `ask` for the Slack path)."""
    draft = request_service.RequestDraft(
        intro="Hi, I'm new here and curious about your work.",
        goal=f"How you work with {topic}, end to end.",
        questions="",
    )
    with db.session() as session:
        learner, expert = session.get(Person, learner_id), session.get(Person, expert_id)
        assert learner is not None and expert is not None
        return request_service.create_request(session, learner, expert, topic, draft, at or utcnow()).id


def request_dm(standin: SlackStandIn, expert: str) -> dict[str, Any]:
    """The request DM the expert got (waits for it)."""
    standin.wait_for(lambda: any("Accept" in str(m.get("blocks")) for m in standin.messages_in(expert)))
    return next(m for m in reversed(standin.messages_in(expert)) if "request_accept" in str(m.get("blocks")))


# -- search: profile rows made directly, at a pinned instant --------------------------------------

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SEARCHER = "ULEARNER"


def person(
    session: Session,
    slack_user_id: str,
    name: str,
    function: str | None = "Product",
    *,
    speaks: list[str] = (),  # type: ignore[assignment]
    ask: str = "",
    chats_per_month: int = 4,
    title: str = "",
    tz: str | None = "Europe/London",
    joined: bool = True,
    **flags: Any,
) -> Person:
    """A profile row made directly (the modal round trip is tested in test_profiles)."""
    p = Person(
        slack_user_id=slack_user_id,
        name=name.split()[0].lower() if name.split() else slack_user_id.lower(),
        real_name=name,
        title=title,
        tz=tz,
        function=function,
        ask_me_about=ask,
        chats_per_month=chats_per_month,
        joined_at=NOW - timedelta(days=200) if joined else None,
        **flags,
    )
    session.add(p)
    session.flush()
    for topic in resolve_topics(session, speaks):
        session.add(PersonTopic(person_id=p.id, topic_id=topic.id, kind=TopicKind.SPEAK))
    session.flush()
    return p


def chat(session: Session, at: datetime, *people: tuple[Person, ChatRole]) -> None:
    c = Chat(kind=ChatKind.REQUEST, created_at=at)
    session.add(c)
    session.flush()
    for p, role in people:
        session.add(ChatParticipant(chat_id=c.id, person_id=p.id, role=role))
    session.flush()


def searcher(session: Session, function: str = "Engineering") -> Person:
    return person(session, SEARCHER, "Lena Learner", function, chats_per_month=0)


def ids(result: SearchResult) -> list[str]:
    return [hit.slack_user_id for hit in result.hits]


# -- chats ---------------------------------------------------------------------------------------


def make_chat(db: Database, learner_id: int, expert_id: int, *, ago: timedelta = timedelta(0)) -> int:
    """An accepted request's chat, `ago` in the past, made through the real services."""
    now = utcnow() - ago
    request_id = make_request(db, learner_id, expert_id, at=now)
    with db.session() as session:
        request = request_service.load_request(session, request_id)
        assert request is not None
        chat = request_service.accept(session, request, request.expert.slack_user_id, now)
        assert chat is not None
        return chat.id


def group_dms(standin: SlackStandIn) -> list[Any]:
    """Every message posted to a group DM or channel (intros)."""
    return [
        c
        for c in standin.calls_to("chat.postMessage")
        if str(c.response.get("channel", "")).startswith(("G", "C"))
    ]


def checkins_to(standin: SlackStandIn, user_id: str, chat_id: int | None = None) -> list[dict[str, Any]]:
    """The follow-up check-ins `user_id` got (about `chat_id` only, when given)."""
    wanted = f"checkin_{chat_id}" if chat_id is not None else "checkin_"
    return [m for m in standin.messages_in(user_id) if wanted in str(m.get("blocks"))]


# -- weekly rounds ---------------------------------------------------------------------------------


def make_round(ctx: AppContext, *, at: datetime | None = None, seed: int = 3) -> pairing.RoundReport:
    """This week's round, planned, stored and delivered as the scheduler runs it."""
    return run_round(ctx, at or utcnow(), seed=seed)
