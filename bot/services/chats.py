"""A chat: two or three people introduced by an accepted request or a weekly pairing.

This module owns what every flow asks of a chat: who is in it (one check, one
exception type, with the refusal worded for the button that was clicked),
`Mark as done` (which counts as `We met` for everyone in it), `We met` for one
participant, and `Can't make it`. Every change is a conditional UPDATE, so a
double click or two replicas produce one outcome.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from bot.models import Chat, ChatParticipant, Outcome, Person

ANSWER_REFUSAL = "Only the people in this chat can answer for it."
DONE_REFUSAL = "Only the people in this chat can mark it as done."
PAIRING_REFUSAL = "Only the people in this pairing can use these buttons."
TIME_REFUSAL = "Only the people in this chat can choose its time."
GONE = "That chat no longer exists."


class NotParticipant(Exception):
    """Only the people in a chat may act on it; the message is for whoever clicked."""


def get_chat(session: Session, chat_id: int | None) -> Chat | None:
    return session.get(Chat, chat_id) if chat_id is not None else None


def participant(chat: Chat, slack_user_id: str, refusal: str = ANSWER_REFUSAL) -> ChatParticipant:
    """The clicking user's place in `chat`; NotParticipant(refusal) for anyone else."""
    for member in chat.participants:
        if member.person.slack_user_id == slack_user_id:
            return member
    raise NotParticipant(refusal)


def participant_in(
    session: Session, chat_id: int | None, slack_user_id: str, refusal: str = ANSWER_REFUSAL
) -> ChatParticipant | None:
    """`participant` of the chat with this id; None when there is no such chat."""
    chat = get_chat(session, chat_id)
    return participant(chat, slack_user_id, refusal) if chat is not None else None


def partners_of(chat: Chat, person_id: int) -> list[Person]:
    return [p.person for p in chat.participants if p.person_id != person_id]


def member_ids(chat: Chat) -> list[str]:
    """Everyone in the chat, by Slack user id."""
    return [p.person.slack_user_id for p in chat.participants]


def refresh(session: Session, chat: Chat) -> None:
    """Re-read the chat and its participants after a conditional UPDATE changed them."""
    session.refresh(chat)
    for member in chat.participants:
        session.refresh(member)


def record_met(session: Session, chat: Chat, person_id: int, now: datetime) -> bool:
    """`We met` (or `Mark as done`, for each participant). True when this changed the answer.

    Sets Chat.done_at if unset: the pairing cooldown (services.pairing.met_pairs)
    counts only real meetings, and it reads done_at.
    """
    changed = session.execute(
        update(ChatParticipant)
        .where(
            ChatParticipant.chat_id == chat.id,
            ChatParticipant.person_id == person_id,
            or_(ChatParticipant.outcome.is_(None), ChatParticipant.outcome != Outcome.MET),
        )
        .values(outcome=Outcome.MET, outcome_reason=None, answered_at=now, next_checkin_at=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Chat)
        .where(Chat.id == chat.id, Chat.done_at.is_(None))
        .values(done_at=now)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount:
        # Everyone in a chat that happened showed up: that ends any "no reply" streak.
        session.execute(
            update(Person)
            .where(Person.id.in_([p.person_id for p in chat.participants]), Person.no_show_streak > 0)
            .values(no_show_streak=0)
            .execution_options(synchronize_session=False)
        )
    refresh(session, chat)
    return bool(changed.rowcount)


def mark_done(session: Session, chat: Chat, slack_user_id: str, now: datetime) -> bool:
    """`Mark as done`, by a participant only: it means `We met` for everyone. True the first time."""
    participant(chat, slack_user_id, DONE_REFUSAL)
    result = session.execute(
        update(Chat)
        .where(Chat.id == chat.id, Chat.done_at.is_(None))
        .values(done_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(chat)
    for member in chat.participants:
        record_met(session, chat, member.person_id, now)
    return result.rowcount == 1


def cancel(session: Session, chat: Chat, slack_user_id: str, now: datetime) -> bool:
    """`Can't make it`: no penalty, and the pair does not count as met. True the first time."""
    participant(chat, slack_user_id, PAIRING_REFUSAL)
    if chat.cancelled_at is not None or chat.done_at is not None:
        return False
    result = session.execute(
        update(Chat)
        .where(Chat.id == chat.id, Chat.cancelled_at.is_(None), Chat.done_at.is_(None))
        .values(cancelled_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(chat)
    return result.rowcount == 1
