"""Follow-ups end to end: check-ins exactly once, We met -> what I learned, thanks and referrals,
Not yet / no answer, We couldn't meet and the ghost rule, late answers, the learnings library."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url

from bot.blocks.followups import learnings_home_blocks
from bot.blocks.requests import ask_button_value
from bot.clock import utcnow
from bot.db import Database
from bot.devtools.runner import AppServer
from bot.devtools.slack_client import SlackAppClient, last_view_opened
from bot.devtools.standin import SlackStandIn, render_blocks
from bot.flows.followups import run_followups
from bot.models import (
    Chat,
    ChatParticipant,
    OutboxMessage,
    Outcome,
    Person,
    Referral,
    Share,
    Takeaway,
    Thanks,
)
from bot.services import chats, expert_ranks, followups, home, pairing
from bot.settings import Settings
from tests.conftest import make_settings
from tests.factories import ask, checkins_to, daytime_zone, make_chat, make_person, request_dm

HOSTILE = "Thanks <!channel> & <@U123> <b>so much</b>"
CHECKIN_BUTTONS = ["We met", "Not yet", "We couldn't meet"]
MODAL_WORDS = ("learned", "useful", "share", "thank", "who else")


def night_zone(now: datetime) -> str:
    for name in ("Europe/London", "Asia/Tokyo", "America/New_York", "Asia/Kolkata", "Pacific/Auckland"):
        hour = now.astimezone(ZoneInfo(name)).hour
        if hour >= 20 or hour < 6:
            return name
    raise AssertionError("no night zone found")  # pragma: no cover


@pytest.fixture
def settings(db: Database, standin: SlackStandIn) -> Settings:
    # INFOCHAT_FOLLOWUP_AFTER=0s: a chat is due for its check-in as soon as it is introduced.
    url = make_url(str(db.url)).render_as_string(hide_password=False)
    return make_settings(url, standin, followup_after="0s")


@pytest.fixture
def people(db: Database, standin: SlackStandIn) -> dict[str, int]:
    tz = daytime_zone(utcnow())
    return {
        "learner": make_person(
            db,
            standin,
            "ULENA",
            "Lena Park",
            "Sales",
            learns=["Kubernetes"],
            title="Account Executive",
            tz=tz,
        ),
        "expert": make_person(
            db, standin, "UEXP", "Omar Haddad", "Engineering", speaks=["Kubernetes"], tz=tz
        ),
        "other1": make_person(db, standin, "UOTH1", "Kemi Ng", "Engineering", speaks=["Kubernetes"], tz=tz),
        "learner2": make_person(db, standin, "ULEO", "Leo Ruiz", "Finance", tz=tz),
        "learner3": make_person(db, standin, "UMIA", "Mia Sato", "Design", tz=tz),
    }


def buttons(message: dict[str, Any]) -> list[str]:
    return [
        element["text"]["text"]
        for block in message.get("blocks") or []
        if block.get("type") == "actions"
        for element in block["elements"]
    ]


def labels(view: dict[str, Any]) -> list[str]:
    return [b["label"]["text"].lower() for b in view["blocks"] if b["type"] == "input"]


def open_modal(
    slack: SlackAppClient, standin: SlackStandIn, user_id: str, action_id: str, message: dict[str, Any]
) -> dict[str, Any]:
    before = len(standin.calls_to("views.open"))
    slack.block_action(user_id, action_id, message=message)
    standin.wait_for(lambda: len(standin.calls_to("views.open")) > before)
    return last_view_opened(standin, user_id)


def participant(db: Database, chat_id: int, person_id: int) -> ChatParticipant:
    with db.session() as session:
        found = session.get(ChatParticipant, (chat_id, person_id))
        assert found is not None
        session.expunge(found)
        return found


def test_accepted_request_checkin_we_met_thanks_and_referral(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, people: dict[str, int], server: AppServer
) -> None:
    ctx = server.app.ctx
    ask(slack, standin, "ULENA", "UEXP")
    slack.block_action("UEXP", "request_accept", message=request_dm(standin, "UEXP"))
    standin.wait_for(lambda: "You accepted" in str(standin.messages_in("UEXP")[-1]))

    assert run_followups(ctx, utcnow()) == "sent 2 check-ins, 0 re-asks, 0 no-answers"
    (checkin,) = checkins_to(standin, "ULENA")
    assert len(checkins_to(standin, "UEXP")) == 1
    assert buttons(checkin) == CHECKIN_BUTTONS
    assert "Omar Haddad" in render_blocks(checkin["blocks"]) and "Kubernetes" in render_blocks(
        checkin["blocks"]
    )
    # A second run sends nothing.
    posted = len(standin.calls_to("chat.postMessage"))
    assert run_followups(ctx, utcnow()) == "sent 0 check-ins, 0 re-asks, 0 no-answers"
    assert len(standin.calls_to("chat.postMessage")) == posted

    # Someone else can't answer for the chat.
    slack.block_action("UOTH1", "followup_met", message=checkin)
    standin.wait_for(lambda: any("Only the people in this chat" in str(r.payload) for r in standin.responses))

    modal = open_modal(slack, standin, "ULENA", "followup_met", checkin)
    assert modal["callback_id"] == "learned_modal"
    shown = labels(modal)
    for word in MODAL_WORDS:
        assert sum(word in label for label in shown) == 1, (word, shown)
    assert any("show my name" in label for label in shown)
    topics_input = next(b for b in modal["blocks"] if b.get("block_id") == "topics")
    assert topics_input["element"]["initial_value"] == "Kubernetes"  # prefilled
    server.settle()  # the modal opens first (the trigger lasts 3 s); We met is stored just after
    with db.session() as session:
        chat = session.scalars(select(Chat)).one()
        assert chat.done_at is not None  # We met counts for the pairing cooldown
        chat_id = chat.id
    assert participant(db, chat_id, people["learner"]).outcome == Outcome.MET

    answers = {
        "learned": "Deployments roll out gradually; health checks decide when to stop.",
        "useful": 5,
        "share": "everyone",
        "thank": HOSTILE,
        "who else": "UOTH1",
    }
    response = slack.submit("ULENA", modal, answers)
    assert response.json()["response_action"] == "update"

    standin.wait_for(lambda: any("says thank you" in str(m.get("text")) for m in standin.messages_in("UEXP")))
    thanks = next(m for m in standin.messages_in("UEXP") if "says thank you" in str(m.get("text")))
    raw = str(thanks["blocks"])
    assert "<!channel>" not in raw and "<@U123>" not in raw and "<b>" not in raw
    assert "&lt;!channel&gt;" in raw and "> Thanks" in raw  # escaped and quoted
    assert "Lena Park" in render_blocks(thanks["blocks"])

    standin.wait_for(
        lambda: any("ask_for_chat" in str(m.get("blocks")) for m in standin.messages_in("ULENA"))
    )
    offer = next(m for m in standin.messages_in("ULENA") if "ask_for_chat" in str(m.get("blocks")))
    ask_values = [
        b["accessory"]["value"]
        for b in offer["blocks"]
        if b.get("accessory", {}).get("action_id") == "ask_for_chat"
    ]
    assert ask_values == [ask_button_value("UOTH1", "Kubernetes")]
    assert "Kemi Ng" in render_blocks(offer["blocks"]) and "Omar Haddad" in render_blocks(offer["blocks"])
    # The offer leads to a chat request to the named colleague.
    slack.block_action("ULENA", "ask_for_chat", message=offer)
    standin.wait_for(lambda: last_view_opened(standin, "ULENA").get("callback_id") == "chat_request_modal")
    assert "Kemi Ng" in str(last_view_opened(standin, "ULENA"))

    with db.session() as session:
        takeaway = session.scalars(select(Takeaway)).one()
        assert (takeaway.chat_id, takeaway.author_id) == (chat_id, people["learner"])
        assert takeaway.share == Share.EVERYONE and takeaway.usefulness == 5
        assert takeaway.topics == ["Kubernetes"] and takeaway.show_name is False
        assert session.scalar(select(func.count()).select_from(Thanks)) == 1
        referral = session.scalars(select(Referral)).one()
        assert referral.by_id == people["learner"] and referral.referred_id == people["other1"]
    # The check-in DM now shows the answer instead of the question.
    standin.wait_for(lambda: "followup_not_yet" not in str(checkins_to(standin, "ULENA")[0]["blocks"]))

    # The expert (also asked) gets the shorter form.
    expert_checkin = checkins_to(standin, "UEXP")[0]
    expert_modal = open_modal(slack, standin, "UEXP", "followup_met", expert_checkin)
    shown = labels(expert_modal)
    assert not any("who else" in label for label in shown)
    assert any("learned" in label for label in shown) and any("thank" in label for label in shown)
    assert len(shown) < len(labels(modal))

    # The library shows it, without a name.
    library = slack.command("UOTH1", "learnings kubernetes").json()
    text = render_blocks(library["blocks"])
    assert "health checks decide" in text and "Lena Park" not in text and "Kubernetes" in text


def test_bad_input_gets_field_errors_and_changes_nothing(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, people: dict[str, int], server: AppServer
) -> None:
    make_chat(db, people["learner"], people["expert"])
    run_followups(server.app.ctx, utcnow())
    modal = open_modal(slack, standin, "ULENA", "followup_met", checkins_to(standin, "ULENA")[0])
    body = slack.submit(
        "ULENA", modal, {"learned": "x" * 3001, "thank": "y" * 1001, "who else": "ULENA"}
    ).json()
    assert body["response_action"] == "errors"
    assert {"learned", "thanks", "referral"} <= set(body["errors"])
    assert "3000" in body["errors"]["learned"]
    body = slack.submit("ULENA", modal, {"learned": "ok", "who else": "UEXP"}).json()
    assert body["response_action"] == "errors" and {"learned", "referral"} <= set(body["errors"])
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Takeaway)) == 0
        assert session.scalar(select(func.count()).select_from(Thanks)) == 0
        assert session.scalar(select(func.count()).select_from(Referral)) == 0
    assert not any("says thank you" in str(m.get("text")) for m in standin.messages_in("UEXP"))


def test_not_yet_asks_again_twice_then_records_no_answer(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, people: dict[str, int], server: AppServer
) -> None:
    ctx = server.app.ctx
    learner, expert = people["learner"], people["expert"]
    chat_id = make_chat(db, learner, expert)
    start = utcnow()
    assert run_followups(ctx, start) == "sent 2 check-ins, 0 re-asks, 0 no-answers"
    slack.block_action("ULENA", "followup_not_yet", message=checkins_to(standin, "ULENA")[0])
    standin.wait_for(lambda: participant(db, chat_id, learner).outcome == Outcome.NOT_YET)
    standin.wait_for(lambda: "not yet" in render_blocks(checkins_to(standin, "ULENA")[0]["blocks"]))
    assert buttons(checkins_to(standin, "ULENA")[0]) == CHECKIN_BUTTONS  # can still answer later

    assert run_followups(ctx, start + timedelta(days=2)) == "sent 0 check-ins, 0 re-asks, 0 no-answers"
    # The learner said not yet; the expert never answered: both are asked again, once.
    later = start + timedelta(days=3, hours=1)
    assert run_followups(ctx, later) == "sent 0 check-ins, 2 re-asks, 0 no-answers"
    assert run_followups(ctx, later) == "sent 0 check-ins, 0 re-asks, 0 no-answers"
    later += timedelta(days=3, hours=1)
    assert run_followups(ctx, later) == "sent 0 check-ins, 2 re-asks, 0 no-answers"
    later += timedelta(days=3, hours=1)
    assert run_followups(ctx, later) == "sent 0 check-ins, 0 re-asks, 2 no-answers"
    assert run_followups(ctx, later + timedelta(days=30)) == "sent 0 check-ins, 0 re-asks, 0 no-answers"
    with db.session() as session:
        keys = set(session.scalars(select(OutboxMessage.dedupe_key)))
        last = session.scalar(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == f"chat:{chat_id}:checkin:{learner}:3")
        )
        assert last is not None and "Last check-in" in str(last.blocks)
        chat = session.get(Chat, chat_id)
        assert chat is not None and chat.done_at is None
    for person in (learner, expert):
        assert {f"chat:{chat_id}:checkin:{person}:{n}" for n in (1, 2, 3)} <= keys
        assert f"chat:{chat_id}:checkin:{person}:4" not in keys
        found = participant(db, chat_id, person)
        assert (found.outcome, found.checkins_sent, found.next_checkin_at) == (Outcome.NO_ANSWER, 3, None)


def couldnt(
    slack: SlackAppClient, standin: SlackStandIn, user_id: str, message: dict[str, Any]
) -> dict[str, Any]:
    modal = open_modal(slack, standin, user_id, "followup_couldnt", message)
    assert modal["callback_id"] == "couldnt_modal"
    assert slack.submit(user_id, modal, {"reason": "no reply"}).json()["response_action"] == "update"
    return modal


def test_three_no_replies_in_a_row_pause_the_partner_with_a_dm(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, people: dict[str, int], server: AppServer
) -> None:
    expert = people["expert"]
    chats = {
        user: make_chat(db, people[key], expert)
        for user, key in (("ULENA", "learner"), ("ULEO", "learner2"), ("UMIA", "learner3"))
    }
    assert run_followups(server.app.ctx, utcnow()) == "sent 6 check-ins, 0 re-asks, 0 no-answers"

    def streak() -> int:
        with db.session() as session:
            return int(session.scalar(select(Person.no_show_streak).where(Person.id == expert)) or 0)

    modal = couldnt(slack, standin, "ULENA", checkins_to(standin, "ULENA")[0])
    assert streak() == 1
    # A double submission doesn't count twice.
    slack.submit("ULENA", modal, {"reason": "no reply"})
    assert streak() == 1
    # Once answered, the check-in offers only "We met after all".
    standin.wait_for(lambda: buttons(checkins_to(standin, "ULENA")[0]) == ["We met after all"])
    couldnt(slack, standin, "ULEO", checkins_to(standin, "ULEO")[0])
    assert streak() == 2
    assert not any("Stay active" in str(m.get("blocks")) for m in standin.messages_in("UEXP"))
    couldnt(slack, standin, "UMIA", checkins_to(standin, "UMIA")[0])

    standin.wait_for(lambda: any("Stay active" in str(m.get("blocks")) for m in standin.messages_in("UEXP")))
    dm = next(m for m in standin.messages_in("UEXP") if "Stay active" in str(m.get("blocks")))
    assert buttons(dm) == ["Stay active", "Pause me"]
    assert "Lena" not in render_blocks(dm["blocks"])  # nobody is named
    with db.session() as session:
        paused = session.get(Person, expert)
        assert paused is not None and paused.is_paused(utcnow()) and paused.no_show_streak == 0
        reasons = session.scalars(
            select(ChatParticipant.outcome_reason).where(ChatParticipant.chat_id.in_(chats.values()))
        ).all()
        assert sorted(r for r in reasons if r) == ["no_reply"] * 3
        # The pause is a Core write: search's ranking rows follow it (find stops offering them).
        assert expert_ranks.disagreements(session) == []

    slack.block_action("UEXP", "followup_stay_active", message=dm)
    standin.wait_for(lambda: any("active again" in str(r.payload) for r in standin.responses))
    with db.session() as session:
        back = session.get(Person, expert)
        assert back is not None and not back.is_paused(utcnow())
    slack.block_action("UEXP", "followup_pause_me", message=dm)
    standin.wait_for(lambda: any("paused until" in str(r.payload) for r in standin.responses))
    with db.session() as session:
        again = session.get(Person, expert)
        assert again is not None and again.is_paused(utcnow())


def test_a_late_answer_updates_the_chat_it_was_asked_about(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, people: dict[str, int], server: AppServer
) -> None:
    learner, expert = people["learner"], people["expert"]
    old = make_chat(db, learner, expert, ago=timedelta(days=10))
    new = make_chat(db, learner, expert)
    assert run_followups(server.app.ctx, utcnow()) == "sent 4 check-ins, 0 re-asks, 0 no-answers"
    old_checkin = checkins_to(standin, "ULENA", old)[0]

    modal = open_modal(slack, standin, "ULENA", "followup_met", old_checkin)
    server.settle()  # We met is stored just after the modal opens
    assert participant(db, old, learner).outcome == Outcome.MET
    assert participant(db, new, learner).outcome is None
    slack.submit("ULENA", modal, {"learned": "How on-call rotations are planned.", "share": "only me"})
    slack.block_action("ULENA", "followup_not_yet", message=checkins_to(standin, "ULENA", new)[0])
    standin.wait_for(lambda: participant(db, new, learner).outcome == Outcome.NOT_YET)
    with db.session() as session:
        old_chat, new_chat = session.get(Chat, old), session.get(Chat, new)
        assert old_chat is not None and new_chat is not None
        assert old_chat.done_at is not None and new_chat.done_at is None
        assert session.scalars(select(Takeaway.chat_id)).all() == [old]
    assert participant(db, old, learner).outcome == Outcome.MET


def test_private_takeaways_stay_private(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, people: dict[str, int], server: AppServer
) -> None:
    private_chat = make_chat(db, people["learner"], people["expert"])
    shared_chat = make_chat(db, people["learner2"], people["expert"])
    run_followups(server.app.ctx, utcnow())
    modal = open_modal(slack, standin, "ULENA", "followup_met", checkins_to(standin, "ULENA")[0])
    slack.submit(
        "ULENA",
        modal,
        {"learned": "SECRET: my private note on kubernetes", "share": "only me", "thank": "Thank you!"},
    )
    modal = open_modal(slack, standin, "ULEO", "followup_met", checkins_to(standin, "ULEO")[0])
    slack.submit(
        "ULEO",
        modal,
        {"learned": "PUBLIC: clusters need owners", "share": "everyone", "show my name": True},
    )
    standin.wait_for(lambda: standin.home_view("UEXP") is not None)
    standin.wait_for(lambda: any("says thank you" in str(m.get("text")) for m in standin.messages_in("UEXP")))

    for query in ("learnings", "learnings kubernetes", "learnings k8s"):
        text = render_blocks(slack.command("UOTH1", query).json()["blocks"])
        assert "SECRET" not in text and "PUBLIC: clusters need owners" in text
        assert "Leo Ruiz" in text  # he chose to show his name
    own = render_blocks(slack.command("ULENA", "learnings").json()["blocks"])
    assert "SECRET" not in own  # the library is shared notes only, even for the author
    assert "No shared learnings" in render_blocks(
        slack.command("UOTH1", "learnings pricing").json()["blocks"]
    )

    with db.session() as session:
        # What each person's App Home reads (services/home.py): the private note is its author's.
        mine = home.read(session, people["learner"], utcnow()).takeaways
        assert [t.text for t in mine] == ["SECRET: my private note on kubernetes"]
        for other in ("expert", "learner2", "other1"):
            theirs = home.read(session, people[other], utcnow())
            shown = render_blocks(learnings_home_blocks(theirs.takeaways, theirs.thanks))
            assert "SECRET" not in shown
        expert_home = home.read(session, people["expert"], utcnow())
        expert_mine, expert_thanks = expert_home.takeaways, expert_home.thanks
        assert [t.text for t in expert_thanks] == ["Thank you!"] and expert_mine == []
        assert "Thank you!" in render_blocks(learnings_home_blocks(expert_mine, expert_thanks))
        assert followups.outcome_counts(session)["met"] == 2
    # The thank-you to the expert doesn't carry the private note either.
    assert not any(
        "SECRET" in str(m) for user in ("UEXP", "UOTH1", "ULEO") for m in standin.messages_in(user)
    )
    for user in ("UEXP", "ULEO", "UOTH1"):
        assert "SECRET" not in str(standin.home_view(user))
    assert private_chat != shared_chat


def test_mark_as_done_counts_as_we_met_for_both(
    standin: SlackStandIn, db: Database, people: dict[str, int], server: AppServer
) -> None:
    learner, expert = people["learner"], people["expert"]
    chat_id = make_chat(db, learner, expert)
    now = utcnow()
    with db.session() as session:
        chat = session.get(Chat, chat_id)
        assert chat is not None
        # What the `Mark as done` handler does for every participant.
        assert chats.record_met(session, chat, learner, now) is True
        assert chats.record_met(session, chat, expert, now) is True
        assert chats.record_met(session, chat, expert, now) is False
        assert {frozenset((learner, expert))} == pairing.met_pairs(session, [learner, expert], None)
    assert participant(db, chat_id, expert).outcome == Outcome.MET
    # They're not asked whether they met — only what they learned, once.
    assert run_followups(server.app.ctx, now) == "sent 2 check-ins, 0 re-asks, 0 no-answers"
    for user in ("ULENA", "UEXP"):
        (prompt,) = checkins_to(standin, user)
        assert buttons(prompt) == ["Note what I learned"]
    assert (
        run_followups(server.app.ctx, now + timedelta(days=10)) == "sent 0 check-ins, 0 re-asks, 0 no-answers"
    )


def test_cancelled_chats_are_skipped_and_nights_are_respected(
    standin: SlackStandIn, db: Database, people: dict[str, int], server: AppServer
) -> None:
    now = utcnow()
    cancelled = make_chat(db, people["learner"], people["expert"])
    with db.session() as session:
        session.execute(update(Chat).where(Chat.id == cancelled).values(cancelled_at=now))
    sleeper = make_person(db, standin, "USLEEP", "Sam Sleep", "Product", tz=night_zone(now))
    late = make_chat(db, people["learner2"], sleeper)
    now = utcnow()
    assert run_followups(server.app.ctx, now) == "sent 2 check-ins, 0 re-asks, 0 no-answers"
    with db.session() as session:
        held = session.scalar(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == f"chat:{late}:checkin:{sleeper}:1")
        )
        assert held is not None and held.not_before > now + timedelta(hours=1)
        assert (
            session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.dedupe_key.like(f"chat:{cancelled}:%"))
            )
            == 0
        )
    assert checkins_to(standin, "USLEEP") == [] and len(checkins_to(standin, "ULEO")) == 1


def test_concurrent_runs_send_each_checkin_once(
    standin: SlackStandIn, db: Database, people: dict[str, int], server: AppServer
) -> None:
    for key in ("learner", "learner2", "learner3"):
        make_chat(db, people[key], people["expert"])
    results: list[str] = []
    runs = [
        threading.Thread(target=lambda: results.append(run_followups(server.app.ctx, utcnow())))
        for _ in range(3)
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert sum(int(r.split()[1]) for r in results) == 6
    assert len(checkins_to(standin, "UEXP")) == 3
    for user in ("ULENA", "ULEO", "UMIA"):
        assert len(checkins_to(standin, user)) == 1


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ([Outcome.MET, Outcome.MET], "met"),
        ([Outcome.MET, None], "met"),
        ([Outcome.MET, Outcome.COULDNT, Outcome.MET], "some"),
        ([Outcome.COULDNT, None], "couldnt"),
        ([Outcome.NOT_YET, None], "not_yet"),
        ([Outcome.NO_ANSWER, Outcome.NO_ANSWER], "no_answer"),
    ],
)
def test_chat_outcome(outcomes: list[Outcome | None], expected: str) -> None:
    assert followups.chat_outcome(outcomes) == expected


def test_library_and_home_escape_user_text() -> None:
    from bot.blocks.followups import learned_modal, learnings_message
    from bot.services.learnings import LearningCard, MyTakeaway, ThanksCard

    now = utcnow()
    card = LearningCard(text=HOSTILE, topics=["<!here>"], created_at=now, usefulness=4, author_name="<@U1>")
    blocks = learnings_message("k8s", "Kubernetes", [card])["blocks"]
    mine = MyTakeaway(1, HOSTILE, ["<b>"], now, None, "expert", ["<!channel>"])
    home = learnings_home_blocks([mine], [ThanksCard("<@U9>", HOSTILE, now)])
    for raw in (str(blocks), str(home)):
        assert "<!channel>" not in raw and "<@U" not in raw and "<b>" not in raw and "<!here>" not in raw
    for full in (True, False):
        modal = learned_modal(7, ["Omar <Haddad>"], ["Kubernetes"], full=full)
        shown = labels(modal)
        for word in MODAL_WORDS:
            assert sum(word in label for label in shown) == (
                1 if full or word not in ("useful", "who else") else 0
            )


def test_home_shows_what_i_learned_and_thanks_received_once_each_changes(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, people: dict[str, int], server: AppServer
) -> None:
    def open_home(user_id: str) -> tuple[int, str]:
        before = len(standin.calls_to("views.publish"))
        slack.event({"type": "app_home_opened", "user": user_id, "tab": "home"})
        server.settle()
        sent = [c for c in standin.calls_to("views.publish")[before:] if c.params["user_id"] == user_id]
        return len(sent), render_blocks(standin.home_view(user_id)["blocks"])  # type: ignore[index]

    make_chat(db, people["learner"], people["expert"])
    assert open_home("ULENA")[0] == 1 and open_home("UEXP")[0] == 1
    assert open_home("ULENA")[0] == 0 and open_home("UEXP")[0] == 0
    run_followups(server.app.ctx, utcnow())
    modal = open_modal(slack, standin, "ULENA", "followup_met", checkins_to(standin, "ULENA")[0])
    note = "SECRET: rollouts are gradual; health checks decide"
    slack.submit("ULENA", modal, {"learned": note, "share": "only me", "thank": "Thank you, Omar!"})
    server.settle()

    sent, home = open_home("ULENA")  # her Home was refreshed when she saved: nothing to send
    assert sent == 0 and "What I learned" in home and note in home and "Omar Haddad" in home
    assert "only you" in home
    sent, home = open_home("UEXP")  # refreshed when the thanks reached him: nothing to send
    assert sent == 0 and "Thanks you received" in home and "Lena Park" in home
    assert "Thank you, Omar!" in home and "SECRET" not in home
    assert open_home("ULENA")[0] == 0 and open_home("UEXP")[0] == 0
