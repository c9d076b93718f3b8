"""Follow-ups after a chat: check-ins, outcomes, takeaways, thanks, referrals, the ghost rule.

Every state change is a conditional UPDATE on the participant's current
state, so a double click, two replicas running the follow-up job, or a late
answer racing a re-ask produce one outcome; messages the change causes are
enqueued by the caller (bot.flows.followups) in the same transaction.

Per participant (chat_participants):
- check-in 1 goes out `followup_after` after the chat was introduced, or 2 hours
  after its slot when scheduling confirmed a time (ChatSchedule.checkin_after);
- silence or `Not yet` asks again 3 days later, at most twice;
- three days after the last check-in, still no answer: outcome "no answer";
- `We met` / `We couldn't meet` are final (a late `We met` may still replace
  "couldn't" or "no answer": people do meet late).
What people learned, their thanks and referrals are `bot.services.learnings`.
Answers always carry the chat id they were asked about, so a late answer
updates that chat and never a newer one between the same people.

Nothing here knows about Slack payloads.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select, update
from sqlalchemy.orm import Session

from bot.models import (
    Chat,
    ChatParticipant,
    ChatRequest,
    ChatRole,
    ChatSchedule,
    Outcome,
    Person,
    Takeaway,
)
from bot.services import chats, expert_ranks

log = logging.getLogger(__name__)

REASK_AFTER = timedelta(days=3)
MAX_CHECKINS = 3  # the first check-in and at most two re-asks
# Chats introduced longer ago than this (before follow-ups existed, or while
# someone was away) are not asked about: a check-in months later is noise.
CHECKIN_WINDOW = timedelta(days=30)
GHOST_STREAK = 3  # Donut's ghost rule: three "no reply"s in a row pause someone
GHOST_PAUSE = timedelta(days=28)

# Why a chat didn't happen; the keys are stored in chat_participants.outcome_reason.
REASONS: dict[str, str] = {
    "scheduling": "Scheduling — we couldn't find a time",
    "no_reply": "No reply from them",
    "not_relevant": "No longer relevant",
    "other": "Other",
}
NO_REPLY = "no_reply"

PENDING = (Outcome.NOT_YET,)  # with NULL: still waiting for an answer


class AlreadyAnswered(Exception):
    """The answer contradicts a final one; the message says what was recorded."""


def _pending() -> ColumnElement[bool]:
    return or_(ChatParticipant.outcome.is_(None), ChatParticipant.outcome.in_(PENDING))


def _reachable(now: datetime) -> ColumnElement[bool]:
    """Who may get a check-in now: active full members who haven't left and aren't on a pause."""
    return and_(
        Person.is_deleted == false(),
        Person.is_bot == false(),
        Person.is_restricted == false(),
        Person.is_ultra_restricted == false(),
        Person.left_at.is_(None),
        or_(Person.paused_until.is_(None), Person.paused_until <= now),
    )


def _gone() -> ColumnElement[bool]:
    """People who will never answer: deactivated, left, or not a full member."""
    return or_(
        Person.is_deleted.is_(True),
        Person.is_bot.is_(True),
        Person.is_restricted.is_(True),
        Person.is_ultra_restricted.is_(True),
        Person.left_at.is_not(None),
    )


# -- the chat as follow-ups see it ----------------------------------------------------


def chat_topic(session: Session, chat: Chat) -> str:
    """What the chat was about: the catalogue topic, else the request's free text."""
    if chat.topic is not None:
        return chat.topic.name
    if chat.request_id is not None:
        request = session.get(ChatRequest, chat.request_id)
        if request is not None:
            return request.topic_text
    return ""


def wants_full_form(role: ChatRole) -> bool:
    """Learners and weekly-pairing peers learned something; the expert gets the short form."""
    return role != ChatRole.EXPERT


def chat_outcome(outcomes: list[Outcome | None]) -> str:
    """One chat's outcome from its participants' answers: met / some / couldnt / not_yet / no_answer.

    "some": in a trio, some said they met and others didn't.
    """
    answered = [o for o in outcomes if o is not None]
    met = sum(1 for o in answered if o == Outcome.MET)
    if met and met == len(outcomes):
        return "met"
    if met:
        # Two people meeting is a meeting; a trio where one missed it is "some".
        return "met" if len(outcomes) == 2 else "some"
    if any(o == Outcome.COULDNT for o in answered):
        return "couldnt"
    if any(o is None or o == Outcome.NOT_YET for o in outcomes):
        return "not_yet"
    return "no_answer"


# -- which check-ins are due -------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    chat_id: int
    person_id: int
    number: int  # the check-in to send (1 = first); for no-answers, how many were sent
    outcome: Outcome | None  # as read; the claim only succeeds if it is still this


def due_first_checkins(session: Session, now: datetime, after: timedelta, limit: int = 500) -> list[Due]:
    """Participants of chats introduced at least `after` ago who were never asked.

    Someone who already said they met (`Mark as done`) is still asked once —
    for what they learned and a thank-you — unless they already wrote it.
    """
    cutoff = now - after
    wrote = exists().where(
        Takeaway.chat_id == ChatParticipant.chat_id, Takeaway.author_id == ChatParticipant.person_id
    )
    # A chat with a time found by scheduling is asked about 2 hours after it ends
    # (ChatSchedule.checkin_after); others `after` their intro.
    due = or_(
        and_(
            ChatSchedule.checkin_after.is_(None),
            Chat.created_at <= cutoff,
            Chat.created_at > cutoff - CHECKIN_WINDOW,
        ),
        and_(ChatSchedule.checkin_after <= now, ChatSchedule.checkin_after > now - CHECKIN_WINDOW),
    )
    rows = session.execute(
        select(ChatParticipant.chat_id, ChatParticipant.person_id, ChatParticipant.outcome)
        .join(Chat, Chat.id == ChatParticipant.chat_id)
        .join(Person, Person.id == ChatParticipant.person_id)
        .outerjoin(ChatSchedule, ChatSchedule.chat_id == Chat.id)
        .where(
            Chat.cancelled_at.is_(None),
            due,
            ChatParticipant.checkins_sent == 0,
            or_(ChatParticipant.outcome.is_(None), and_(ChatParticipant.outcome == Outcome.MET, ~wrote)),
            _reachable(now),
        )
        .order_by(Chat.created_at, ChatParticipant.chat_id, ChatParticipant.person_id)
        .limit(limit)
    )
    return [Due(int(c), int(p), 1, o) for c, p, o in rows]


def _asked_and_due(now: datetime, *conditions: ColumnElement[bool], limit: int) -> Select[Any]:
    """Participants of a chat still on, asked at least once, not answered, whose next check-in is due."""
    return (
        select(
            ChatParticipant.chat_id,
            ChatParticipant.person_id,
            ChatParticipant.checkins_sent,
            ChatParticipant.outcome,
        )
        .join(Chat, Chat.id == ChatParticipant.chat_id)
        .join(Person, Person.id == ChatParticipant.person_id)
        .where(
            Chat.cancelled_at.is_(None),
            ChatParticipant.next_checkin_at <= now,
            ChatParticipant.checkins_sent >= 1,
            *conditions,
            _pending(),
        )
        .order_by(ChatParticipant.next_checkin_at)
        .limit(limit)
    )


def due_reasks(session: Session, now: datetime, limit: int = 500) -> list[Due]:
    rows = session.execute(
        _asked_and_due(now, ChatParticipant.checkins_sent < MAX_CHECKINS, _reachable(now), limit=limit)
    )
    return [Due(int(c), int(p), int(n) + 1, o) for c, p, n, o in rows]


def due_no_answers(session: Session, now: datetime, limit: int = 500) -> list[Due]:
    """Asked three times and three days have passed — or gone for good — and still no answer."""
    rows = session.execute(
        _asked_and_due(now, or_(ChatParticipant.checkins_sent >= MAX_CHECKINS, _gone()), limit=limit)
    )
    return [Due(int(c), int(p), int(n), o) for c, p, n, o in rows]


def _same_outcome(outcome: Outcome | None) -> ColumnElement[bool]:
    return ChatParticipant.outcome.is_(None) if outcome is None else ChatParticipant.outcome == outcome


def claim_checkin(session: Session, due: Due, now: datetime) -> bool:
    """Record that check-in `due.number` goes out; False when another run (or an answer) got there first.

    The caller enqueues the message in the same transaction, so a claim and
    its message commit together or not at all.
    """
    if due.number == 1:
        condition = and_(ChatParticipant.checkins_sent == 0, _same_outcome(due.outcome))
    else:
        condition = and_(
            ChatParticipant.checkins_sent == due.number - 1,
            ChatParticipant.next_checkin_at <= now,
            _pending(),
        )
    # Someone who already met is asked once, for what they learned; nothing to re-ask.
    next_at = None if due.outcome == Outcome.MET else now + REASK_AFTER
    result = session.execute(
        update(ChatParticipant)
        .where(ChatParticipant.chat_id == due.chat_id, ChatParticipant.person_id == due.person_id, condition)
        .values(checkins_sent=due.number, next_checkin_at=next_at)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def record_no_answer(session: Session, due: Due, now: datetime) -> bool:
    result = session.execute(
        update(ChatParticipant)
        .where(
            ChatParticipant.chat_id == due.chat_id,
            ChatParticipant.person_id == due.person_id,
            ChatParticipant.checkins_sent == due.number,
            ChatParticipant.next_checkin_at <= now,
            _pending(),
        )
        .values(outcome=Outcome.NO_ANSWER, next_checkin_at=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


# -- answers ---------------------------------------------------------------------------------


def record_not_yet(session: Session, chat: Chat, person_id: int, now: datetime) -> datetime | None:
    """`Not yet`: ask again in three days. Returns when, or None when already answered for good."""
    next_at = now + REASK_AFTER
    result = session.execute(
        update(ChatParticipant)
        .where(ChatParticipant.chat_id == chat.id, ChatParticipant.person_id == person_id, _pending())
        .values(outcome=Outcome.NOT_YET, answered_at=now, next_checkin_at=next_at)
        .execution_options(synchronize_session=False)
    )
    chats.refresh(session, chat)
    return next_at if result.rowcount == 1 else None


@dataclass
class CouldntResult:
    recorded: bool = False
    paused: list[Person] = field(default_factory=list)  # partners the ghost rule just paused


def record_couldnt(session: Session, chat: Chat, person_id: int, reason: str, now: datetime) -> CouldntResult:
    """`We couldn't meet` with a reason. "No reply" counts against the partners' reliability."""
    if reason not in REASONS:
        raise ValueError(f"unknown reason {reason!r}")
    me = next(p for p in chat.participants if p.person_id == person_id)
    if me.outcome == Outcome.MET:
        raise AlreadyAnswered("You told me you met — thank you! Nothing to change.")
    before_outcome, before_reason = me.outcome, me.outcome_reason
    # Optimistic: only if nobody changed this answer since it was read (a double submit).
    result = session.execute(
        update(ChatParticipant)
        .where(
            ChatParticipant.chat_id == chat.id,
            ChatParticipant.person_id == person_id,
            ChatParticipant.outcome.is_not_distinct_from(before_outcome),
            ChatParticipant.outcome_reason.is_not_distinct_from(before_reason),
        )
        .values(outcome=Outcome.COULDNT, outcome_reason=reason, answered_at=now, next_checkin_at=None)
        .execution_options(synchronize_session=False)
    )
    outcome = CouldntResult(recorded=result.rowcount == 1)
    already_counted = before_outcome == Outcome.COULDNT and before_reason == NO_REPLY
    if outcome.recorded and reason == NO_REPLY and not already_counted:
        for partner in chat.participants:
            if partner.person_id == person_id or partner.outcome == Outcome.MET:
                continue
            # In a trio, two people reporting the same silent third count once.
            reported = any(
                p.outcome == Outcome.COULDNT and p.outcome_reason == NO_REPLY
                for p in chat.participants
                if p.person_id not in (person_id, partner.person_id)
            )
            if not reported and _strike(session, partner.person_id, now):
                paused = session.get(Person, partner.person_id)
                if paused is not None:
                    outcome.paused.append(paused)
    chats.refresh(session, chat)
    return outcome


def _strike(session: Session, person_id: int, now: datetime) -> bool:
    """One more "no reply"; True when this one reached the streak and paused them (exactly once)."""
    session.execute(
        update(Person)
        .where(Person.id == person_id)
        .values(no_show_streak=Person.no_show_streak + 1)
        .execution_options(synchronize_session=False)
    )
    # Only the transaction that sees the streak at the limit resets it, so
    # concurrent reports pause (and DM) once; the next three strikes start afresh.
    paused = session.execute(
        update(Person)
        .where(Person.id == person_id, Person.no_show_streak >= GHOST_STREAK)
        .values(
            no_show_streak=0,
            paused_until=now + GHOST_PAUSE,
        )
        .execution_options(synchronize_session=False)
    )
    if paused.rowcount == 1:
        expert_ranks.refresh(session, [person_id], now)  # a Core UPDATE: the flush hook does not see it
    person = session.get(Person, person_id)
    if person is not None:
        session.refresh(person)
    return paused.rowcount == 1


def stay_active(person: Person) -> None:
    """The paused partner says they're around after all: back in, with a clean slate."""
    person.paused_until = None
    person.no_show_streak = 0


def pause_me(person: Person, now: datetime) -> datetime:
    """Keep (or restart) the ghost-rule pause; returns when it ends."""
    if person.paused_until is None or person.paused_until <= now:
        person.paused_until = now + GHOST_PAUSE
    return person.paused_until


def outcome_counts(session: Session, since: datetime | None = None) -> dict[str, int]:
    """How many chats (not cancelled) ended each way since `since`: met / some / couldnt / …

    For reports: counts only, never takeaway text.
    """
    query = (
        select(ChatParticipant.chat_id, ChatParticipant.outcome)
        .join(Chat, Chat.id == ChatParticipant.chat_id)
        .where(Chat.cancelled_at.is_(None))
    )
    if since is not None:
        query = query.where(Chat.created_at >= since)
    by_chat: dict[int, list[Outcome | None]] = {}
    for chat_id, outcome in session.execute(query):
        by_chat.setdefault(int(chat_id), []).append(outcome)
    counts = dict.fromkeys(("met", "some", "couldnt", "not_yet", "no_answer"), 0)
    for outcomes in by_chat.values():
        counts[chat_outcome(outcomes)] += 1
    return counts
