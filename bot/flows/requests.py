"""What infochat tells whom: renders messages with bot.blocks and enqueues them
in the outbox, inside the caller's transaction. Delivery happens afterwards
(`services.outbox.deliver`), exactly once per dedupe key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.blocks import requests as request_blocks
from bot.blocks.requests import PersonCard, RequestCard
from bot.models import Chat, ChatRequest, OutboxMessage, Person
from bot.services import outbox
from bot.services import requests as request_service


def person_card(person: Person, default_tz: str) -> PersonCard:
    return PersonCard(
        slack_user_id=person.slack_user_id,
        name=person.display_name,
        function=person.function,
        title=person.title,
        tz=person.tz or default_tz,
    )


def request_card(request: ChatRequest, default_tz: str) -> RequestCard:
    return RequestCard(
        request_id=request.id,
        learner=person_card(request.learner, default_tz),
        expert=person_card(request.expert, default_tz),
        topic=request.topic_text,
        intro=request.intro,
        goal=request.goal,
        questions=request.questions,
        preferred_format=request.preferred_format,
        duration_minutes=request.duration_minutes,
    )


def ask_key(request_id: int) -> str:
    return f"request:{request_id}:ask"


def ask_expert(session: Session, request: ChatRequest, now: datetime, default_tz: str) -> str:
    text, blocks = request_blocks.expert_request_message(request_card(request, default_tz), now)
    key = ask_key(request.id)
    outbox.enqueue(
        session,
        key,
        users=[request.expert.slack_user_id],
        text=text,
        blocks=blocks,
        subject=f"request:{request.id}",
    )
    return key


def introduce(session: Session, request: ChatRequest, chat: Chat, now: datetime, default_tz: str) -> str:
    card = request_card(request, default_tz)
    overlap = request_service.working_overlap(
        request_service.zone_of(request.learner, default_tz),
        request_service.zone_of(request.expert, default_tz),
        request_service.next_working_day(now, request_service.zone_of(request.learner, default_tz)),
    )
    text, blocks = request_blocks.intro_message(card, chat.id, now, overlap)
    key = f"chat:{chat.id}:intro"
    outbox.enqueue(
        session,
        key,
        users=[request.learner.slack_user_id, request.expert.slack_user_id],
        text=text,
        blocks=blocks,
        subject=f"chat:{chat.id}",
    )
    return key


def alternatives(
    session: Session, request: ChatRequest, now: datetime, default_tz: str, limit: int = 2
) -> list[PersonCard]:
    """Other available experts on the request's topic (never the one who said no)."""
    if not request.topic_text:
        return []
    from bot.services.find import QueryError, find_experts

    try:
        result = find_experts(
            session,
            request.topic_text,
            request.learner.slack_user_id,
            now,
            include_own_function=True,
            exclude_slack_ids=(request.expert.slack_user_id,),
            record=False,
        )
    except QueryError:
        return []
    people = {
        p.slack_user_id: p
        for p in session.scalars(
            select(Person).where(Person.slack_user_id.in_([h.slack_user_id for h in result.hits[:limit]]))
        )
    }
    return [
        person_card(people[h.slack_user_id], default_tz)
        for h in result.hits[:limit]
        if h.slack_user_id in people
    ]


def _to_learner(
    session: Session, request: ChatRequest, key: str, text: str, blocks: list[dict[str, object]]
) -> str:
    outbox.enqueue(
        session,
        key,
        users=[request.learner.slack_user_id],
        text=text,
        blocks=blocks,
        subject=f"request:{request.id}",
    )
    return key


def tell_declined(session: Session, request: ChatRequest, now: datetime, default_tz: str) -> str:
    others = alternatives(session, request, now, default_tz)
    text, blocks = request_blocks.declined_message(
        request_card(request, default_tz), request.decline_reason, others
    )
    return _to_learner(session, request, f"request:{request.id}:declined", text, blocks)


def tell_redirected(session: Session, request: ChatRequest, suggested: Person, default_tz: str) -> str:
    text, blocks = request_blocks.redirected_message(
        request_card(request, default_tz), person_card(suggested, default_tz), request.decline_reason
    )
    return _to_learner(session, request, f"request:{request.id}:redirected", text, blocks)


def nudge_expert(session: Session, request: ChatRequest, now: datetime, default_tz: str) -> str:
    text, blocks = request_blocks.nudge_message(request_card(request, default_tz), now)
    key = f"request:{request.id}:nudge"
    outbox.enqueue(
        session,
        key,
        users=[request.expert.slack_user_id],
        text=text,
        blocks=blocks,
        subject=f"request:{request.id}",
    )
    return key


def tell_expired(session: Session, request: ChatRequest, now: datetime, default_tz: str) -> str:
    others = alternatives(session, request, now, default_tz)
    text, blocks = request_blocks.expired_message(request_card(request, default_tz), others)
    return _to_learner(session, request, f"request:{request.id}:expired", text, blocks)


def tell_closed(session: Session, request: ChatRequest, default_tz: str) -> str:
    text, blocks = request_blocks.closed_message(request_card(request, default_tz))
    return _to_learner(session, request, f"request:{request.id}:closed", text, blocks)


def sent_request_dm(session: Session, request_id: int) -> OutboxMessage | None:
    """Where the expert's request DM landed (to update it once answered)."""
    return session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == ask_key(request_id)))
