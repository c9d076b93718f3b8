"""Chat requests: a learner asks an expert for a 20–30 minute chat.

State changes are conditional UPDATEs on `status = 'open'`, so a double click,
a retried delivery or two replicas produce one outcome; every message the
change causes is enqueued in the same transaction through the outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db import one_of
from bot.models import (
    Chat,
    ChatKind,
    ChatParticipant,
    ChatRequest,
    ChatRole,
    Person,
    RequestStatus,
)
from bot.services import chat_history
from bot.services import topics as topic_service

log = logging.getLogger(__name__)

MAX_OPEN_REQUESTS = 3
MIN_TEXT = 15
MAX_INTRO = 1000
MAX_GOAL = 1000
MAX_QUESTIONS = 3000
MAX_REASON = 500
DURATIONS = (20, 30)
FORMATS = ("any", "coffee", "call", "video")
NUDGE_AFTER_WORKING_DAYS = 2
EXPIRE_AFTER = timedelta(days=7)
# The default working hours of a profile (bot.services.scheduling.slots), for the intro's overlap line.
WORK_START, WORK_END = time(10, 0), time(17, 0)


def suggested_questions(topic: str) -> list[str]:
    """Good informational-interview questions, tuned to the topic."""
    subject = topic.strip() or "your work"
    return [
        f"What do you enjoy most about working on {subject}, and what do you enjoy least?",
        "How did you get into this area?",
        "Looking back, what would you do differently?",
        f"What should someone new to {subject} read, try or learn first?",
        "How can I help you in return — and who else should I talk to?",
    ]


class RequestRefused(Exception):
    """The request can't be made; the message says why, for the learner."""


class NotAllowed(Exception):
    """The clicking user may not take this action; the message is for them."""


@dataclass(frozen=True)
class RequestDraft:
    intro: str
    goal: str
    questions: str
    preferred_format: str = "any"
    duration_minutes: int = 30


def validate_draft(draft: RequestDraft) -> dict[str, str]:
    """Field errors keyed by the request modal's block ids."""
    errors: dict[str, str] = {}
    if len(draft.intro.strip()) < MIN_TEXT:
        errors["intro"] = "Introduce yourself in a sentence or two: who you are and what you do."
    elif len(draft.intro) > MAX_INTRO:
        errors["intro"] = f"Keep your introduction under {MAX_INTRO} characters."
    if len(draft.goal.strip()) < MIN_TEXT:
        errors["goal"] = "Say what you'd like to understand — the expert uses it to prepare."
    elif len(draft.goal) > MAX_GOAL:
        errors["goal"] = f"Keep this under {MAX_GOAL} characters."
    if len(draft.questions) > MAX_QUESTIONS:
        errors["questions"] = f"Keep your questions under {MAX_QUESTIONS} characters."
    if draft.preferred_format not in FORMATS:
        errors["format"] = "Choose coffee, call, video or any."
    if draft.duration_minutes not in DURATIONS:
        errors["duration"] = "Choose 20 or 30 minutes."
    return errors


# -- capacity --------------------------------------------------------------------------


def chats_this_month(session: Session, person_ids: list[int], now: datetime) -> dict[int, int]:
    """Chats each person takes part in as expert or peer since the start of this (UTC) month."""
    if not person_ids:
        return {}
    postgres = session.get_bind().dialect.name == "postgresql"
    rows = session.execute(
        select(ChatParticipant.person_id, func.count())
        .join(Chat, Chat.id == ChatParticipant.chat_id)
        .where(
            # One parameter: a weekly round asks about 50,000 people. Then SQLite reads this
            # month's chats rather than every chat of 50,000 people (db.one_of, `many`).
            one_of(
                ChatParticipant.person_id, "person_ids", BigInteger, postgres, many=len(person_ids) > 1_000
            ),
            ChatParticipant.role.in_([ChatRole.EXPERT, ChatRole.PEER]),
            Chat.created_at >= chat_history.month_start(now),
        )
        .group_by(ChatParticipant.person_id),
        {"person_ids": list(person_ids)},
    )
    return {int(person_id): int(count) for person_id, count in rows}


def open_requests_of(session: Session, learner_id: int) -> list[ChatRequest]:
    return list(
        session.scalars(
            select(ChatRequest).where(
                ChatRequest.learner_id == learner_id, ChatRequest.status == RequestStatus.OPEN
            )
        )
    )


def check_can_request(session: Session, learner: Person, expert: Person, now: datetime) -> None:
    """Raise RequestRefused with a kind, specific reason when this request can't be made."""
    if learner.id == expert.id:
        raise RequestRefused("That's you! Try `/infochat find` to meet someone else.")
    if not learner.can_be_messaged:
        raise RequestRefused("infochat is open to full members of this workspace.")
    if not expert.is_available(now):
        raise RequestRefused(
            f"{expert.display_name} isn't taking requests right now. `/infochat find` shows who is."
        )
    if expert.chats_per_month <= 0:
        raise RequestRefused(f"{expert.display_name} is taking part as a learner only for now.")
    if chats_this_month(session, [expert.id], now).get(expert.id, 0) >= expert.chats_per_month:
        raise RequestRefused(
            f"{expert.display_name} has had all the chats they can take this month. Try someone else, "
            "or ask again next month."
        )
    mine = open_requests_of(session, learner.id)
    if any(r.expert_id == expert.id for r in mine):
        raise RequestRefused(f"You already have a request waiting with {expert.display_name}.")
    if len(mine) >= MAX_OPEN_REQUESTS:
        raise RequestRefused(
            f"You have {len(mine)} requests waiting for an answer — the most at once. "
            "Once one is answered (or expires after a week) you can ask again."
        )


def create_request(
    session: Session, learner: Person, expert: Person, topic_text: str, draft: RequestDraft, now: datetime
) -> ChatRequest:
    check_can_request(session, learner, expert, now)
    topic = topic_service.find_topic(session, topic_text) if topic_text else None
    request = ChatRequest(
        learner_id=learner.id,
        expert_id=expert.id,
        topic_id=topic.id if topic else None,
        topic_text=(topic.name if topic else topic_text)[:100],
        intro=draft.intro.strip(),
        goal=draft.goal.strip(),
        questions=draft.questions.strip(),
        preferred_format=draft.preferred_format,
        duration_minutes=draft.duration_minutes,
        status=RequestStatus.OPEN,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(request)
            session.flush()
    except IntegrityError:
        # The unique open-pair index: a double submission raced this one.
        raise RequestRefused(f"You already have a request waiting with {expert.display_name}.") from None
    return request


# -- answering -------------------------------------------------------------------------


def load_request(session: Session, request_id: int) -> ChatRequest | None:
    return session.get(ChatRequest, request_id)


def require_expert(request: ChatRequest, clicking_slack_id: str) -> None:
    """Only the addressed expert may answer; NotAllowed (with a kind message) for anyone else."""
    if request.expert.slack_user_id != clicking_slack_id:
        raise NotAllowed(f"Only {request.expert.display_name} can answer this request.")


def _transition(
    session: Session, request: ChatRequest, status: RequestStatus, now: datetime, **values: object
) -> bool:
    """open -> status, exactly once; False when someone (or an earlier click) got there first."""
    result = session.execute(
        update(ChatRequest)
        .where(ChatRequest.id == request.id, ChatRequest.status == RequestStatus.OPEN)
        .values(status=status, responded_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    session.refresh(request)
    return result.rowcount == 1


def accept(session: Session, request: ChatRequest, clicking_slack_id: str, now: datetime) -> Chat | None:
    """Accept once: returns the new chat, or None when the request was already answered."""
    require_expert(request, clicking_slack_id)
    if not _transition(session, request, RequestStatus.ACCEPTED, now):
        return None
    chat = Chat(kind=ChatKind.REQUEST, request_id=request.id, topic_id=request.topic_id, created_at=now)
    chat.participants = [
        ChatParticipant(person_id=request.learner_id, role=ChatRole.LEARNER),
        ChatParticipant(person_id=request.expert_id, role=ChatRole.EXPERT),
    ]
    session.add(chat)
    session.flush()
    return chat


def decline(
    session: Session, request: ChatRequest, clicking_slack_id: str, reason: str, now: datetime
) -> bool:
    require_expert(request, clicking_slack_id)
    return _transition(
        session, request, RequestStatus.DECLINED, now, decline_reason=reason.strip()[:MAX_REASON]
    )


def redirect(
    session: Session,
    request: ChatRequest,
    clicking_slack_id: str,
    suggested: Person,
    note: str,
    now: datetime,
) -> bool:
    require_expert(request, clicking_slack_id)
    if suggested.id in (request.expert_id, request.learner_id):
        raise NotAllowed("Suggest a colleague other than yourself or the person asking.")
    if not suggested.can_be_messaged:
        raise NotAllowed(f"{suggested.display_name} can't be reached through infochat.")
    return _transition(
        session,
        request,
        RequestStatus.REDIRECTED,
        now,
        redirect_to_id=suggested.id,
        decline_reason=note[:MAX_REASON],
    )


# -- expiry and nudges -------------------------------------------------------------------


def add_working_days(start: datetime, days: int) -> datetime:
    """`days` working days (Mon–Fri) after `start`."""
    moment = start
    remaining = days
    while remaining > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            remaining -= 1
    return moment


def due_nudges(session: Session, now: datetime) -> list[ChatRequest]:
    candidates = session.scalars(
        select(ChatRequest).where(
            ChatRequest.status == RequestStatus.OPEN,
            ChatRequest.nudged_at.is_(None),
            ChatRequest.created_at <= now - timedelta(days=2),
        )
    )
    return [r for r in candidates if add_working_days(r.created_at, NUDGE_AFTER_WORKING_DAYS) <= now]


def mark_nudged(session: Session, request: ChatRequest, now: datetime) -> bool:
    result = session.execute(
        update(ChatRequest)
        .where(
            ChatRequest.id == request.id,
            ChatRequest.nudged_at.is_(None),
            ChatRequest.status == RequestStatus.OPEN,
        )
        .values(nudged_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def due_expiries(session: Session, now: datetime) -> list[ChatRequest]:
    return list(
        session.scalars(
            select(ChatRequest).where(
                ChatRequest.status == RequestStatus.OPEN, ChatRequest.created_at <= now - EXPIRE_AFTER
            )
        )
    )


def expire(session: Session, request: ChatRequest, now: datetime) -> bool:
    return _transition(session, request, RequestStatus.EXPIRED, now)


def close_open_requests(
    session: Session, now: datetime, *, experts: Sequence[int] = (), learners: Sequence[int] = ()
) -> list[ChatRequest]:
    """Close the open requests to `experts` and from `learners` (who left, were deactivated or
    erased: nobody can answer them any more); returns those this call closed."""
    if not experts and not learners:
        return []
    closed = []
    for request in session.scalars(
        select(ChatRequest).where(
            ChatRequest.status == RequestStatus.OPEN,
            or_(ChatRequest.expert_id.in_(list(experts)), ChatRequest.learner_id.in_(list(learners))),
        )
    ).all():
        if _transition(session, request, RequestStatus.CLOSED, now):
            closed.append(request)
    return closed


# -- times -------------------------------------------------------------------------------


def working_overlap(a: ZoneInfo, b: ZoneInfo, day: date) -> tuple[datetime, datetime] | None:
    """The overlap of 09:00–17:00 in both zones on `day` (UTC instants), or None."""
    start = max(datetime.combine(day, WORK_START, a), datetime.combine(day, WORK_START, b))
    end = min(datetime.combine(day, WORK_END, a), datetime.combine(day, WORK_END, b))
    if end <= start:
        return None
    return start.astimezone(UTC), end.astimezone(UTC)


def next_working_day(now: datetime, zone: ZoneInfo) -> date:
    day = now.astimezone(zone).date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def requests_involving(session: Session, person_id: int) -> tuple[list[ChatRequest], list[ChatRequest]]:
    """(open requests I received, open requests I sent), oldest first."""
    open_requests = session.scalars(
        select(ChatRequest)
        .where(
            ChatRequest.status == RequestStatus.OPEN,
            (ChatRequest.expert_id == person_id) | (ChatRequest.learner_id == person_id),
        )
        .order_by(ChatRequest.created_at)
    ).all()
    received = [r for r in open_requests if r.expert_id == person_id]
    sent = [r for r in open_requests if r.learner_id == person_id]
    return received, sent


def upcoming_chats(session: Session, person_id: int, now: datetime, days: int = 30) -> list[Chat]:
    """Chats I'm in that were introduced recently, neither marked done nor cancelled."""
    return list(
        session.scalars(
            select(Chat)
            .join(ChatParticipant, ChatParticipant.chat_id == Chat.id)
            .where(
                ChatParticipant.person_id == person_id,
                Chat.done_at.is_(None),
                Chat.cancelled_at.is_(None),
                Chat.created_at >= now - timedelta(days=days),
            )
            .order_by(Chat.created_at.desc())
            .limit(10)
        )
    )
