"""Chat requests end to end: ask, accept / decline / redirect, intros, expiry, the outbox."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from bot.blocks.requests import ask_button_value
from bot.clock import utcnow
from bot.db import Database
from bot.devtools.runner import AppServer
from bot.devtools.slack_client import SlackAppClient, last_view_opened
from bot.devtools.standin import SlackStandIn, render_blocks
from bot.flows import outbox as delivery
from bot.flows.requests import remind_and_expire
from bot.models import (
    Chat,
    ChatParticipant,
    ChatRequest,
    OutboxMessage,
    OutboxStatus,
    Outcome,
    RequestStatus,
)
from bot.services import outbox
from tests.factories import ask, group_dms, make_person, request_dm

HOSTILE = "I'm <!channel> & <@U123> <b>bold</b>"


@pytest.fixture
def people(db: Database, standin: SlackStandIn) -> dict[str, int]:
    return {
        "learner": make_person(
            db, standin, "ULENA", "Lena Park", "Sales", learns=["Kubernetes"], title="Account Executive"
        ),
        "expert": make_person(
            db, standin, "UEXP", "Omar Haddad", "Engineering", speaks=["Kubernetes"], tz="America/New_York"
        ),
        "other1": make_person(db, standin, "UOTH1", "Kemi Ng", "Engineering", speaks=["Kubernetes"]),
        "other2": make_person(db, standin, "UOTH2", "Sami Silva", "Product", speaks=["K8s"]),
        "bystander": make_person(db, standin, "UBY", "Bo Novak", "Finance", speaks=["Budgeting"]),
    }


def test_ask_accept_introduces_both_exactly_once(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, people: dict[str, int], server: AppServer
) -> None:
    modal, response = ask(slack, standin, "ULENA", "UEXP")
    assert "never a job ask" in str(modal)
    labels = [b["label"]["text"].lower() for b in modal["blocks"] if b["type"] == "input"]
    assert any("introduce" in label for label in labels) and any("want to learn" in label for label in labels)
    assert response.json()["response_action"] == "update"
    dm = request_dm(standin, "UEXP")
    shown = render_blocks(dm["blocks"])
    assert (
        "Lena Park" in shown and "Kubernetes deployments" in shown and "Who else should I talk to?" in shown
    )

    # A third person's click changes nothing.
    slack.block_action("UBY", "request_accept", message=dm)
    standin.wait_for(lambda: any("Only Omar Haddad" in str(r.payload) for r in standin.responses))
    with db.session() as session:
        assert session.scalar(select(ChatRequest.status)) == RequestStatus.OPEN
    assert group_dms(standin) == []

    # Two quick clicks by the expert give one intro.
    clicks = [
        threading.Thread(target=slack.block_action, args=("UEXP", "request_accept"), kwargs={"message": dm})
        for _ in range(2)
    ]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join()
    standin.wait_for(lambda: len(group_dms(standin)) == 1)
    standin.wait_for(lambda: "You accepted" in str(standin.messages_in("UEXP")[-1]))
    intro = group_dms(standin)[0]
    opened = [c for c in standin.calls_to("conversations.open") if "," in str(c.params.get("users", ""))]
    assert {u for c in opened for u in str(c.params["users"]).split(",")} == {"ULENA", "UEXP"}
    text = render_blocks(intro.params["blocks"])
    assert "Lena Park" in text and "Omar Haddad" in text
    assert "Who else should I talk to?" in text  # the learner's questions
    assert "“who else should I talk to?”" in text  # the method's closing reminder
    assert "Mark as done" in text
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Chat)) == 1
        assert session.scalar(select(ChatRequest.status)) == RequestStatus.ACCEPTED
    # A late extra click is harmless.
    slack.block_action("UEXP", "request_accept", message=dm)
    delivery.deliver(server.app.ctx)
    assert len(group_dms(standin)) == 1


def test_decline_is_kind_and_offers_two_other_experts(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, people: dict[str, int]
) -> None:
    ask(slack, standin, "ULENA", "UEXP")
    dm = request_dm(standin, "UEXP")
    slack.block_action("UBY", "request_decline", message=dm)
    standin.wait_for(lambda: any("Only Omar Haddad" in str(r.payload) for r in standin.responses))
    slack.block_action("UEXP", "request_decline", message=dm)
    standin.wait_for(lambda: last_view_opened(standin).get("callback_id") == "decline_modal")
    slack.submit("UEXP", last_view_opened(standin), {"note": "Deadline month, sorry!"})
    standin.wait_for(lambda: any("can't take" in str(m) for m in standin.messages_in("ULENA")))
    told = next(m for m in standin.messages_in("ULENA") if "can't take" in str(m))
    text = render_blocks(told["blocks"])
    assert "Deadline month" in text
    assert "Kemi Ng" in text and "Sami Silva" in text and "Omar Haddad" not in text.split("others who")[-1]
    assert str(told["blocks"]).count("ask_for_chat") == 2
    standin.wait_for(lambda: "You declined" in str(standin.messages_in("UEXP")[-1]))
    assert group_dms(standin) == []


def test_redirect_suggests_a_colleague_with_an_ask_button(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, people: dict[str, int]
) -> None:
    ask(slack, standin, "ULENA", "UEXP")
    dm = request_dm(standin, "UEXP")
    slack.block_action("UEXP", "request_redirect", message=dm)
    standin.wait_for(lambda: last_view_opened(standin).get("callback_id") == "redirect_modal")
    modal = last_view_opened(standin)
    slack.view_submission(
        "UEXP",
        modal,
        {
            "colleague": {"colleague_select": {"type": "users_select", "selected_user": "UOTH1"}},
            "note": {"note_input": {"type": "plain_text_input", "value": "Kemi runs our clusters"}},
        },
    )
    standin.wait_for(lambda: any("better person" in str(m) for m in standin.messages_in("ULENA")))
    suggestion = next(m for m in standin.messages_in("ULENA") if "better person" in str(m))
    assert "Kemi Ng" in render_blocks(suggestion["blocks"])
    assert '"expert": "UOTH1"' in str(suggestion["blocks"])
    with db.session() as session:
        assert session.scalar(select(ChatRequest.status)) == RequestStatus.REDIRECTED


def test_user_text_is_escaped_in_every_message(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, people: dict[str, int]
) -> None:
    hostile = {
        "introduce": HOSTILE + " from Sales",
        "want to learn": HOSTILE + " and deployments",
        "questions": HOSTILE,
    }
    ask(slack, standin, "ULENA", "UEXP", hostile)
    dm = request_dm(standin, "UEXP")
    slack.block_action("UEXP", "request_accept", message=dm)
    standin.wait_for(lambda: len(group_dms(standin)) == 1)
    for call in standin.calls_to("chat.postMessage") + standin.calls_to("chat.update"):
        raw = str(call.params.get("blocks")) + str(call.params.get("text"))
        assert "<!channel>" not in raw and "<@U123>" not in raw and "<b>" not in raw
        if "want" in raw:
            assert "&lt;!channel&gt;" in raw


def test_limits_are_explained_in_the_modal(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, people: dict[str, int]
) -> None:
    ask(slack, standin, "ULENA", "UEXP")
    # A second open request to the same expert is refused when opening.
    slack.block_action("ULENA", "ask_for_chat", value=ask_button_value("UEXP", "Kubernetes"))
    standin.wait_for(lambda: "already have a request" in str(last_view_opened(standin)))
    ask(slack, standin, "ULENA", "UOTH1")
    ask(slack, standin, "ULENA", "UOTH2")
    slack.block_action("ULENA", "ask_for_chat", value=ask_button_value("UBY", "Budgeting"))
    standin.wait_for(lambda: "the most at once" in str(last_view_opened(standin)))
    # Missing introduction: a field error, nothing sent.
    with db.session() as session:
        count = session.scalar(select(func.count()).select_from(ChatRequest))
    assert count == 3


def test_request_without_intro_or_goal_is_not_sent(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, people: dict[str, int]
) -> None:
    _, response = ask(
        slack, standin, "ULENA", "UEXP", {"introduce": "hi", "want to learn": "", "questions": ""}
    )
    body = response.json()
    assert body["response_action"] == "errors" and {"intro", "goal"} <= set(body["errors"])
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(ChatRequest)) == 0
    assert standin.messages_in("UEXP") == []


def test_nudge_after_two_working_days_then_expiry_with_alternatives(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, people: dict[str, int], server: AppServer
) -> None:
    ask(slack, standin, "ULENA", "UEXP")
    request_dm(standin, "UEXP")
    created = utcnow() - timedelta(days=4)
    with db.session() as session:
        session.execute(update(ChatRequest).values(created_at=created))
    assert remind_and_expire(server.app.ctx, utcnow()) == "nudged 1, expired 0"
    assert remind_and_expire(server.app.ctx, utcnow()) == "nudged 0, expired 0"
    assert any("gentle reminder" in str(m) for m in standin.messages_in("UEXP"))
    assert remind_and_expire(server.app.ctx, utcnow() + timedelta(days=4)) == "nudged 0, expired 1"
    expired = next(m for m in standin.messages_in("ULENA") if "expired" in str(m.get("text")))
    assert "Kemi Ng" in render_blocks(expired["blocks"])
    with db.session() as session:
        assert session.scalar(select(ChatRequest.status)) == RequestStatus.EXPIRED


def test_deactivated_expert_closes_requests_and_tells_learner(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, people: dict[str, int]
) -> None:
    ask(slack, standin, "ULENA", "UEXP")
    request_dm(standin, "UEXP")
    slack.event(
        {
            "type": "user_change",
            "user": standin.add_user("UEXP", name="omar", real_name="Omar Haddad", deleted=True),
        }
    )
    standin.wait_for(lambda: any("no longer available" in str(m) for m in standin.messages_in("ULENA")))
    with db.session() as session:
        assert session.scalar(select(ChatRequest.status)) == RequestStatus.CLOSED


def test_mark_as_done_only_by_participants(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, people: dict[str, int]
) -> None:
    ask(slack, standin, "ULENA", "UEXP")
    slack.block_action("UEXP", "request_accept", message=request_dm(standin, "UEXP"))
    standin.wait_for(lambda: len(group_dms(standin)) == 1)
    intro_message = {"blocks": group_dms(standin)[0].params["blocks"]}
    slack.block_action("UBY", "chat_mark_done", message=intro_message)
    standin.wait_for(lambda: any("Only the people in this chat" in str(r.payload) for r in standin.responses))
    with db.session() as session:
        assert session.scalar(select(Chat.done_at)) is None
    slack.block_action("ULENA", "chat_mark_done", message=intro_message)
    standin.wait_for(lambda: any("marked this chat as done" in str(r.payload) for r in standin.responses))
    with db.session() as session:
        assert session.scalar(select(Chat.done_at)) is not None
        # It counts as "We met" for both.
        assert set(session.scalars(select(ChatParticipant.outcome))) == {Outcome.MET}


# -- the outbox under faults ---------------------------------------------------------------


def test_outbox_retries_429_and_records_permanent_failures(
    server: AppServer, standin: SlackStandIn, db: Database, people: dict[str, int]
) -> None:
    ctx = server.app.ctx
    standin.fail("chat.postMessage", status=429, retry_after=1)
    with db.session() as session:
        outbox.enqueue(session, "t:1", users=["UEXP"], text="hello")
        outbox.enqueue(session, "t:1", users=["UEXP"], text="hello again")  # same key: stored once
    report = delivery.deliver(ctx)
    assert report.sent == 1
    assert [m["text"] for m in standin.messages_in("UEXP")] == ["hello"]

    standin.fail("chat.postMessage", error="user_disabled")
    with db.session() as session:
        outbox.enqueue(session, "t:2", users=["UEXP"], text="will fail")
    assert delivery.deliver(ctx).failed == 1
    with db.session() as session:
        failed = session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == "t:2"))
        assert (
            failed is not None
            and failed.status == OutboxStatus.FAILED
            and failed.last_error == "user_disabled"
        )

    standin.fail("chat.postMessage", status=500, times=10)
    with db.session() as session:
        outbox.enqueue(session, "t:3", users=["UEXP"], text="later")
    assert delivery.deliver(ctx).retrying == 1
    with db.session() as session:
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == "t:3"))
        assert row is not None and row.status == OutboxStatus.PENDING and row.not_before > utcnow()


def test_outbox_reconciles_a_send_interrupted_before_commit(
    server: AppServer, standin: SlackStandIn, db: Database, people: dict[str, int]
) -> None:
    """A sender that crashed after chat.postMessage but before recording it must not post again."""
    ctx = server.app.ctx
    with db.session() as session:
        outbox.enqueue(session, "t:crash", users=["UEXP"], text="only once")
    # Simulate the crash: the row was claimed, the DM opened and the message posted, then the process died.
    channel = ctx.slack.open_dm(["UEXP"])
    ctx.slack.post_message(
        channel,
        "only once",
        metadata={"event_type": delivery.METADATA_EVENT, "event_payload": {"key": "t:crash"}},
    )
    with db.session() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.dedupe_key == "t:crash")
            .values(
                attempts=1,
                sent_channel=channel,
                claimed_by="dead",
                claimed_until=utcnow() - timedelta(seconds=1),
            )
        )
    report = delivery.deliver(ctx)
    assert report.reconciled == 1 and report.sent == 0
    assert [m["text"] for m in standin.messages_in("UEXP")] == ["only once"]


def test_two_senders_never_send_a_message_twice(
    server: AppServer, standin: SlackStandIn, db: Database, people: dict[str, int]
) -> None:
    ctx = server.app.ctx
    with db.session() as session:
        for i in range(20):
            outbox.enqueue(session, f"t:many:{i}", users=["UEXP"], text=f"message {i}")
    senders = [threading.Thread(target=delivery.OutboxSender(ctx, holder=f"s{n}").drain) for n in range(3)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    texts = [m["text"] for m in standin.messages_in("UEXP")]
    assert sorted(texts) == sorted(f"message {i}" for i in range(20))
