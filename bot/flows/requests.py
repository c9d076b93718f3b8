"""Chat requests, orchestrated: the expert's answers, the reminders, and what infochat tells
whom about a request (rendered with bot.blocks and enqueued in the outbox inside the
caller's transaction). Delivery happens after the commit, exactly once per dedupe key.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.blocks import Block
from bot.blocks import requests as request_blocks
from bot.blocks.requests import PersonCard, RequestCard
from bot.clock import utcnow, zone
from bot.context import AppContext
from bot.flows import outbox as delivery
from bot.models import Chat, ChatRequest, OutboxMessage, Person, RequestStatus
from bot.services import directory, outbox
from bot.services import requests as request_service

log = logging.getLogger(__name__)


def person_card(person: Person) -> PersonCard:
    return PersonCard(
        slack_user_id=person.slack_user_id,
        name=person.display_name,
        function=person.function,
        title=person.title,
        tz=zone(person.tz).key,
    )


def request_card(request: ChatRequest) -> RequestCard:
    return RequestCard(
        request_id=request.id,
        learner=person_card(request.learner),
        expert=person_card(request.expert),
        topic=request.topic_text,
        intro=request.intro,
        goal=request.goal,
        questions=request.questions,
        preferred_format=request.preferred_format,
        duration_minutes=request.duration_minutes,
    )


def ask_key(request_id: int) -> str:
    return f"request:{request_id}:ask"


def _dm(
    session: Session, request: ChatRequest, person: Person, key: str, message: tuple[str, list[Block]]
) -> str:
    """`message` about `request` to one of its two people (the learner, or the expert)."""
    text, blocks = message
    outbox.enqueue(
        session, key, users=[person.slack_user_id], text=text, blocks=blocks, subject=f"request:{request.id}"
    )
    return key


def ask_expert(session: Session, request: ChatRequest, now: datetime) -> str:
    message = request_blocks.expert_request_message(request_card(request), now)
    return _dm(session, request, request.expert, ask_key(request.id), message)


def introduce(session: Session, request: ChatRequest, chat: Chat, now: datetime) -> str:
    card = request_card(request)
    overlap = request_service.working_overlap(
        zone(request.learner.tz),
        zone(request.expert.tz),
        request_service.next_working_day(now, zone(request.learner.tz)),
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


def alternatives(session: Session, request: ChatRequest, now: datetime, limit: int = 2) -> list[PersonCard]:
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
    return [person_card(people[h.slack_user_id]) for h in result.hits[:limit] if h.slack_user_id in people]


def tell_declined(session: Session, request: ChatRequest, now: datetime) -> str:
    others = alternatives(session, request, now)
    message = request_blocks.declined_message(request_card(request), request.decline_reason, others)
    return _dm(session, request, request.learner, f"request:{request.id}:declined", message)


def tell_redirected(session: Session, request: ChatRequest, suggested: Person) -> str:
    message = request_blocks.redirected_message(
        request_card(request), person_card(suggested), request.decline_reason
    )
    return _dm(session, request, request.learner, f"request:{request.id}:redirected", message)


def nudge_expert(session: Session, request: ChatRequest, now: datetime) -> str:
    message = request_blocks.nudge_message(request_card(request), now)
    return _dm(session, request, request.expert, f"request:{request.id}:nudge", message)


def tell_expired(session: Session, request: ChatRequest, now: datetime) -> str:
    others = alternatives(session, request, now)
    message = request_blocks.expired_message(request_card(request), others)
    return _dm(session, request, request.learner, f"request:{request.id}:expired", message)


def tell_closed(session: Session, request: ChatRequest) -> str:
    message = request_blocks.closed_message(request_card(request))
    return _dm(session, request, request.learner, f"request:{request.id}:closed", message)


def sent_request_dm(session: Session, request_id: int) -> OutboxMessage | None:
    """Where the expert's request DM landed (to update it once answered)."""
    return session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == ask_key(request_id)))


def refresh_request_dm(ctx: AppContext, request_id: int) -> None:
    """Show the expert's request DM with its outcome instead of the buttons."""
    with ctx.db.session() as session:
        request = request_service.load_request(session, request_id)
        sent = sent_request_dm(session, request_id)
        if request is None or sent is None or not sent.sent_ts or not sent.sent_channel:
            return
        if request.status == RequestStatus.OPEN:
            return  # unanswered (e.g. a refused or invalid answer): the DM keeps its buttons
        card = request_card(request)
        outcome = request_blocks.outcome_for(str(request.status))
        channel, ts = sent.sent_channel, sent.sent_ts
    text, blocks = request_blocks.request_outcome_blocks(card, outcome, utcnow())
    try:
        ctx.slack.update_message(channel, ts, text, blocks)
    except Exception:
        log.exception("could not update request DM", extra={"request_id": request_id})


# -- the expert answers ------------------------------------------------------------------


def accept(ctx: AppContext, request_id: int, clicking_slack_id: str, now: datetime) -> str | None:
    """`Accept`: the chat and its intro once, then delivery and the expert's DM brought up to date.

    Returns the learner's Slack id (whose App Home changed), None when there is no such
    request; raises NotAllowed for anyone but the addressed expert.
    """
    with ctx.db.session() as session:
        request = request_service.load_request(session, request_id)
        if request is None:
            return None
        chat = request_service.accept(session, request, clicking_slack_id, now)
        if chat is not None:
            introduce(session, request, chat, now)
        learner_id = request.learner.slack_user_id
    delivery.deliver(ctx)
    refresh_request_dm(ctx, request_id)
    return learner_id


def decline(
    ctx: AppContext, request_id: int | None, clicking_slack_id: str, reason: str, now: datetime
) -> None:
    """`Decline` with an optional reason; the learner hears of it (with other experts) once."""
    with ctx.db.session() as session:
        request = request_service.load_request(session, request_id) if request_id else None
        if request is None:
            return
        if request_service.decline(session, request, clicking_slack_id, reason, now):
            tell_declined(session, request, now)


def redirect(
    ctx: AppContext,
    request_id: int | None,
    clicking_slack_id: str,
    suggested_id: str,
    note: str,
    now: datetime,
) -> None:
    """`Suggest someone else`: the learner hears whom to ask instead, once."""
    with ctx.db.session() as session:
        request = request_service.load_request(session, request_id) if request_id else None
        if request is None:
            return
        # Before anything is stored: only the addressed expert may suggest someone.
        request_service.require_expert(request, clicking_slack_id)
        # A savepoint: a refused redirect leaves no stub person behind.
        with session.begin_nested():
            suggested = directory.person_or_stub(session, suggested_id)
            if request_service.redirect(session, request, clicking_slack_id, suggested, note, now):
                tell_redirected(session, request, suggested)


# -- reminders ------------------------------------------------------------------------------


def remind_and_expire(ctx: AppContext, now: datetime) -> str:
    """Nudge experts once after 2 working days; expire requests after 7 days and offer alternatives."""
    nudged, expired = 0, []
    with ctx.db.session() as session:
        for request in request_service.due_nudges(session, now):
            if request_service.mark_nudged(session, request, now):
                nudge_expert(session, request, now)
                nudged += 1
        for request in request_service.due_expiries(session, now):
            if request_service.expire(session, request, now):
                tell_expired(session, request, now)
                expired.append(request.id)
    delivery.deliver(ctx)
    for request_id in expired:
        refresh_request_dm(ctx, request_id)
    return f"nudged {nudged}, expired {len(expired)}"
