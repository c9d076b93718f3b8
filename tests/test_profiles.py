"""Profiles end to end: the modal round trip, validation, pause/resume/leave, App Home."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.blocks import MAX_VIEW_BLOCKS
from bot.blocks.find import ASK_FOR_CHAT_ACTION
from bot.blocks.home import home_view
from bot.clock import utcnow
from bot.db import Database
from bot.devtools.slack_client import SlackAppClient
from bot.devtools.standin import SlackStandIn
from bot.models import Person, PersonTopic, Topic, TopicKind
from bot.services import profiles
from bot.services.profiles import PauseError, ProfileSnapshot, TopicRef, pause_end
from tests.factories import PROFILE, open_profile_modal


def labels(view: dict[str, Any]) -> list[str]:
    return [b["label"]["text"].lower() for b in view["blocks"] if b["type"] == "input"]


def person(db: Database, user_id: str) -> Person | None:
    with db.session() as session:
        found = profiles.get_person(session, user_id)
        if found is not None:
            _ = [pt.topic.name for pt in found.topics]
        return found


def save_profile(
    slack: SlackAppClient, standin: SlackStandIn, user_id: str, **answers: Any
) -> dict[str, Any]:
    view = open_profile_modal(slack, standin, user_id)
    response = slack.submit(user_id, view, {**PROFILE, **answers})
    assert response.status_code == 200
    return response.json() if response.content else {}


def test_profile_modal_round_trip(slack: SlackAppClient, standin: SlackStandIn, db: Database) -> None:
    standin.add_user("UALICE", name="alice", real_name="Alice Moreau", title="Senior Software Engineer")
    view = open_profile_modal(slack, standin, "UALICE")
    for word in ("function", "speak about", "learn", "per month", "weekly"):
        assert sum(word in label for label in labels(view)) == 1, (word, labels(view))
    function_input = next(b for b in view["blocks"] if b.get("block_id") == "function")
    # Slack's title suggests the function.
    assert function_input["element"]["initial_option"]["value"] == "Engineering"

    answer = slack.submit("UALICE", view, PROFILE).json()
    assert answer["response_action"] == "update"
    assert "Profile saved" in str(answer["view"])
    assert standin.calls_to("chat.postMessage") == []  # saving DMs nothing

    again = open_profile_modal(slack, standin, "UALICE")
    by_block = {b.get("block_id"): b for b in again["blocks"]}
    assert by_block["function"]["element"]["initial_option"]["value"] == "Product"
    assert sorted(o["text"]["text"] for o in by_block["speak"]["element"]["initial_options"]) == [
        "Kubernetes",
        "Pricing",
    ]
    assert [o["text"]["text"] for o in by_block["learn"]["element"]["initial_options"]] == ["Negotiation"]
    assert by_block["capacity"]["element"]["initial_option"]["value"] == "3"
    assert by_block["weekly"]["element"]["initial_option"]["value"] == "on"

    stored = person(db, "UALICE")
    assert stored is not None and stored.has_joined and stored.weekly_pairing
    assert stored.topic_names(TopicKind.SPEAK) == ["Kubernetes", "Pricing"]
    # App Home is refreshed after saving.
    standin.wait_for(lambda: any("Kubernetes" in str(c.params) for c in standin.calls_to("views.publish")))


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        pytest.param({"speak about": [f"Topic number {i}" for i in range(21)]}, "speak", id="21-topics"),
        pytest.param({"learn": ["x" * 200]}, "learn", id="200-char-topic"),
        pytest.param({"learn": ["x"]}, "learn", id="1-char-topic"),
        pytest.param({"function": None}, "function", id="empty-function"),
    ],
)
def test_invalid_profile_gets_field_errors_and_saves_nothing(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, answers: dict[str, Any], field: str
) -> None:
    view = open_profile_modal(slack, standin, "UBOB")
    values = {**PROFILE, **answers}
    if values["function"] is None:
        del values["function"]
    answer = slack.submit("UBOB", view, values).json()
    assert answer["response_action"] == "errors"
    assert field in answer["errors"]
    stored = person(db, "UBOB")
    assert stored is None or not stored.has_joined
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(PersonTopic)) == 0


def test_k8s_and_kubernetes_end_as_one_topic(
    slack: SlackAppClient, standin: SlackStandIn, db: Database
) -> None:
    save_profile(slack, standin, "UONE", **{"speak about": ["K8s"]})
    save_profile(slack, standin, "UTWO", **{"speak about": ["kubernetes "]})
    with db.session() as session:
        names = session.scalars(
            select(Topic.name).join(PersonTopic).where(PersonTopic.kind == TopicKind.SPEAK)
        )
        assert set(names) == {"Kubernetes"}


def test_guest_cannot_open_profile(slack: SlackAppClient, standin: SlackStandIn) -> None:
    standin.add_user("UGUEST", name="guest", is_restricted=True)
    slack.command("UGUEST", "profile")
    standin.wait_for(lambda: bool(standin.responses))
    assert "full members" in standin.responses[-1].payload["text"]
    assert standin.calls_to("views.open") == []


def test_pause_and_resume_by_command(slack: SlackAppClient, standin: SlackStandIn, db: Database) -> None:
    assert "haven't joined" in slack.command("UCAROL", "pause 2w").json()["text"]
    save_profile(slack, standin, "UCAROL")
    reply = slack.command("UCAROL", "pause 2w").json()["text"]
    assert "paused until" in reply
    stored = person(db, "UCAROL")
    assert stored is not None and stored.is_paused(utcnow())
    with db.session() as session:
        assert "UCAROL" not in {p.slack_user_id for p in profiles.available_people(session, utcnow())}

    bad = slack.command("UCAROL", "pause someday").json()["text"]
    assert "didn't understand" in bad
    assert person(db, "UCAROL").paused_until == stored.paused_until  # type: ignore[union-attr]

    assert "Welcome back" in slack.command("UCAROL", "resume").json()["text"]
    with db.session() as session:
        assert "UCAROL" in {p.slack_user_id for p in profiles.available_people(session, utcnow())}


def test_pause_from_app_home_and_resume_button(
    slack: SlackAppClient, standin: SlackStandIn, db: Database
) -> None:
    save_profile(slack, standin, "UDAN")
    response = slack.block_action(
        "UDAN",
        "home_pause",
        selected_option={"text": {"type": "plain_text", "text": "1 week"}, "value": "1w"},
    )
    assert response.status_code == 200
    assert person(db, "UDAN").is_paused(utcnow())  # type: ignore[union-attr]
    standin.wait_for(lambda: "Paused until" in str(standin.calls_to("views.publish")[-1].params))
    assert "UDAN" not in experts_offered(slack, "Kubernetes")  # not while paused
    slack.block_action("UDAN", "home_resume", value="resume")
    assert not person(db, "UDAN").is_paused(utcnow())  # type: ignore[union-attr]
    assert "UDAN" in experts_offered(slack, "Kubernetes")


def experts_offered(slack: SlackAppClient, topic: str) -> list[str]:
    """Whom `/infochat find <topic>` offers to ask for a chat (a colleague who has not joined)."""
    answer = slack.command("UCOLLEAGUE", f"find {topic}").json()
    buttons = [
        element
        for block in answer.get("blocks", [])
        for element in [*block.get("elements", []), block.get("accessory") or {}]
        if element.get("action_id") == ASK_FOR_CHAT_ACTION
    ]
    return [json.loads(button["value"])["expert"] for button in buttons]


def test_leave_asks_then_removes_from_search_and_pairing(
    slack: SlackAppClient, standin: SlackStandIn, db: Database
) -> None:
    save_profile(slack, standin, "UERIN")
    ask = slack.command("UERIN", "leave").json()
    assert "Leave infochat?" in ask["text"]
    assert person(db, "UERIN").has_joined  # type: ignore[union-attr]  # nothing yet: it asks first
    slack.block_action("UERIN", "leave_confirm", message={"blocks": ask["blocks"]})
    stored = person(db, "UERIN")
    assert stored is not None and not stored.has_joined and not stored.weekly_pairing
    with db.session() as session:
        assert "UERIN" not in {p.slack_user_id for p in profiles.available_people(session, utcnow())}
    standin.wait_for(lambda: any("You've left" in str(r.payload) for r in standin.responses))
    # Coming back through the profile modal rejoins.
    save_profile(slack, standin, "UERIN")
    assert person(db, "UERIN").has_joined  # type: ignore[union-attr]


def test_deactivated_member_leaves_search_within_the_request(
    slack: SlackAppClient, standin: SlackStandIn, db: Database
) -> None:
    save_profile(slack, standin, "UFAY")
    user = standin.add_user("UFAY", name="fay", deleted=True)
    slack.event({"type": "user_change", "user": user})
    with db.session() as session:
        assert "UFAY" not in {p.slack_user_id for p in profiles.available_people(session, utcnow())}


# -- pure functions -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "now", "argument", "first_day_back", "ends_utc"),
    [
        # Europe/London leaves summer time on 25 Oct 2026: the pause still ends at local midnight.
        (
            "Europe/London",
            datetime(2026, 10, 20, 9, 0, tzinfo=UTC),
            "2w",
            date(2026, 11, 3),
            datetime(2026, 11, 3, 0, 0, tzinfo=UTC),
        ),
        (
            "Europe/London",
            datetime(2026, 3, 20, 9, 0, tzinfo=UTC),
            "2w",
            date(2026, 4, 3),
            datetime(2026, 4, 2, 23, 0, tzinfo=UTC),
        ),
        (
            "America/New_York",
            datetime(2026, 10, 30, 3, 0, tzinfo=UTC),
            "2026-11-02",
            date(2026, 11, 2),
            datetime(2026, 11, 2, 5, 0, tzinfo=UTC),
        ),
        # 03:00 UTC on 30 Oct is still 29 Oct in New York: "10d" counts from the local day.
        (
            "America/New_York",
            datetime(2026, 10, 30, 3, 0, tzinfo=UTC),
            "10d",
            date(2026, 11, 8),
            datetime(2026, 11, 8, 5, 0, tzinfo=UTC),
        ),
        (
            "Asia/Tokyo",
            datetime(2026, 12, 1, 0, 0, tzinfo=UTC),
            "",
            date(2026, 12, 15),
            datetime(2026, 12, 14, 15, 0, tzinfo=UTC),
        ),
    ],
)
def test_pause_ends_at_local_midnight_across_dst(
    zone: str, now: datetime, argument: str, first_day_back: date, ends_utc: datetime
) -> None:
    assert pause_end(argument, now, ZoneInfo(zone)) == (first_day_back, ends_utc)


@pytest.mark.parametrize("argument", ["yesterday", "2026-02-30", "2020-01-01", "500w", "0d"])
def test_bad_pause_arguments_are_explained(argument: str) -> None:
    with pytest.raises(PauseError):
        pause_end(argument, datetime(2026, 11, 22, tzinfo=UTC), ZoneInfo("UTC"))


def test_app_home_stays_within_block_kit_limits_and_escapes_text() -> None:
    many = [TopicRef(i, f"Topic {i} <!channel>") for i in range(500)]
    snapshot = ProfileSnapshot(
        slack_user_id="U1",
        display_name="A",
        title="",
        tz="UTC",
        joined=True,
        function="Sales & Ops",
        function_locked=False,
        speak=many,
        learn=many,
        ask_me_about="<@U123> & friends",
    )
    view = home_view(snapshot, datetime(2026, 11, 22, tzinfo=UTC), ZoneInfo("UTC"))
    assert len(view["blocks"]) <= MAX_VIEW_BLOCKS
    text = str(view)
    assert "<!channel>" not in text and "<@U123>" not in text
    assert "&lt;@U123&gt; &amp; friends" in text
    assert "and 488 more" in text
    for block in view["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000


def test_what_people_type_comes_back_as_typed(slack: SlackAppClient, standin: SlackStandIn) -> None:
    # Slack sends a modal's state percent-encoded in a form body; every character below is
    # encoded or special there (`+`, `&`, `=`, `%`, non-ASCII).
    standin.add_user("UTYPED", name="typed", real_name="Tess Typed")
    typed = ["C++ & C#", "100% remote", "A=B testing", "Café ☕ culture"]
    answer = save_profile(slack, standin, "UTYPED", **{"speak about": typed})
    assert answer["response_action"] == "update"
    again = open_profile_modal(slack, standin, "UTYPED")
    speak = next(b for b in again["blocks"] if b.get("block_id") == "speak")
    assert sorted(o["text"]["text"] for o in speak["element"]["initial_options"]) == sorted(typed)
