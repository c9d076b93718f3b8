"""Follow-ups after a chat: check-ins, outcomes, takeaways, thanks, referrals, the ghost rule.

Every state change is a conditional UPDATE on the participant's current
state, so a double click, two replicas running the follow-up job, or a late
answer racing a re-ask produce one outcome; messages the change causes are
enqueued by the caller (bot.flows.followups) in the same transaction.

Per participant (chat_participants):
- check-in 1 goes out `followup_after` after the chat was introduced;
- silence or `Not yet` asks again 3 days later, at most twice;
- three days after the last check-in, still no answer: outcome "no answer";
- `We met` / `We couldn't meet` are final (a late `We met` may still replace
  "couldn't" or "no answer": people do meet late).
Answers always carry the chat id they were asked about, so a late answer
updates that chat and never a newer one between the same people.

Nothing here knows about Slack payloads.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.models import (
    Chat,
    ChatParticipant,
    ChatRequest,
    ChatRole,
    Outcome,
    Person,
    Referral,
    Share,
    Takeaway,
    Thanks,
)
from bot.services import chats, directory
from bot.services import topics as topic_service

log = logging.getLogger(__name__)

REASK_AFTER = timedelta(days=3)
MAX_CHECKINS = 3  # the first check-in and at most two re-asks
# Chats introduced longer ago than this (before follow-ups existed, or while
# someone was away) are not asked about: a check-in months later is noise.
CHECKIN_WINDOW = timedelta(days=30)
GHOST_STREAK = 3  # Donut's ghost rule: three "no reply"s in a row pause someone
GHOST_PAUSE = timedelta(days=28)

MIN_TAKEAWAY = 10
MAX_TAKEAWAY = 3000
MAX_THANKS = 1000
MAX_TOPICS = 5

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
    rows = session.execute(
        select(ChatParticipant.chat_id, ChatParticipant.person_id, ChatParticipant.outcome)
        .join(Chat, Chat.id == ChatParticipant.chat_id)
        .join(Person, Person.id == ChatParticipant.person_id)
        .where(
            Chat.cancelled_at.is_(None),
            Chat.created_at <= cutoff,
            Chat.created_at > cutoff - CHECKIN_WINDOW,
            ChatParticipant.checkins_sent == 0,
            or_(ChatParticipant.outcome.is_(None), and_(ChatParticipant.outcome == Outcome.MET, ~wrote)),
            _reachable(now),
        )
        .order_by(Chat.created_at, ChatParticipant.chat_id, ChatParticipant.person_id)
        .limit(limit)
    )
    return [Due(int(c), int(p), 1, o) for c, p, o in rows]


def due_reasks(session: Session, now: datetime, limit: int = 500) -> list[Due]:
    rows = session.execute(
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
            ChatParticipant.checkins_sent < MAX_CHECKINS,
            _pending(),
            _reachable(now),
        )
        .order_by(ChatParticipant.next_checkin_at)
        .limit(limit)
    )
    return [Due(int(c), int(p), int(n) + 1, o) for c, p, n, o in rows]


def due_no_answers(session: Session, now: datetime, limit: int = 500) -> list[Due]:
    """Asked three times and three days have passed — or gone for good — and still no answer."""
    rows = session.execute(
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
            or_(ChatParticipant.checkins_sent >= MAX_CHECKINS, _gone()),
            _pending(),
        )
        .order_by(ChatParticipant.next_checkin_at)
        .limit(limit)
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


# -- what I learned --------------------------------------------------------------------------


@dataclass(frozen=True)
class LearningInput:
    text: str = ""
    usefulness: int | None = None
    topics: list[str] = field(default_factory=list)
    share: str = Share.ME.value
    show_name: bool = False
    thanks: str = ""
    referral: str | None = None  # a Slack user id


def validate_learning(
    submitted: LearningInput, *, full: bool, author_slack_id: str, participant_slack_ids: set[str]
) -> dict[str, str]:
    """Field errors keyed by the learned modal's block ids."""
    errors: dict[str, str] = {}
    text = submitted.text.strip()
    if full and len(text) < MIN_TAKEAWAY:
        errors["learned"] = "Note at least a sentence about what you learned — it's for future you."
    elif text and len(text) < MIN_TAKEAWAY:
        errors["learned"] = "Write a sentence, or leave this empty."
    elif len(submitted.text) > MAX_TAKEAWAY:
        errors["learned"] = f"Keep it under {MAX_TAKEAWAY} characters ({len(submitted.text)} now)."
    if submitted.usefulness is not None and not 1 <= submitted.usefulness <= 5:
        errors["useful"] = "Pick 1 to 5."
    if submitted.share not in {s.value for s in Share}:
        errors["share"] = "Choose who may read it."
    if len(submitted.thanks) > MAX_THANKS:
        errors["thanks"] = f"Keep your note under {MAX_THANKS} characters ({len(submitted.thanks)} now)."
    if submitted.topics:
        problem = topic_service.validate_topic_list(submitted.topics)
        if problem is None and len(submitted.topics) > MAX_TOPICS:
            problem = f"At most {MAX_TOPICS} topics."
        if problem:
            errors["topics"] = problem
    if submitted.referral:
        if submitted.referral == author_slack_id:
            errors["referral"] = "Pick someone other than yourself."
        elif submitted.referral in participant_slack_ids:
            errors["referral"] = "You've just talked to them! Who else did they suggest?"
        elif not submitted.referral.startswith(("U", "W")):
            errors["referral"] = "Pick a colleague."
    return errors


def check_learning(
    session: Session, author: ChatParticipant, submitted: LearningInput, *, full: bool
) -> dict[str, str]:
    """`validate_learning`, and a referral must be someone infochat can reach."""
    chat = author.chat
    errors = validate_learning(
        submitted,
        full=full,
        author_slack_id=author.person.slack_user_id,
        participant_slack_ids={p.person.slack_user_id for p in chat.participants},
    )
    if submitted.referral and "referral" not in errors:
        referred = session.scalar(select(Person).where(Person.slack_user_id == submitted.referral))
        if referred is not None and not referred.can_be_messaged:
            errors["referral"] = f"{referred.display_name} can't be reached through infochat."
    return errors


def canonical_topics(session: Session, names: list[str]) -> list[str]:
    """Catalogue spellings where a topic exists ("k8s" -> "Kubernetes"); tidy free text otherwise."""
    result: list[str] = []
    seen: set[str] = set()
    for name in names:
        topic = topic_service.find_topic(session, name)
        shown = topic.name if topic is not None else topic_service.tidy_name(name)
        key = topic_service.topic_key(shown)
        if shown and key not in seen:
            seen.add(key)
            result.append(shown)
    return result


@dataclass
class SavedLearning:
    takeaway: Takeaway | None
    thanked: list[Person]  # partners thanked for the first time by this submission
    referral: Person | None  # a colleague referred for the first time by this submission


def save_learning(
    session: Session, chat: Chat, author: Person, submitted: LearningInput, now: datetime
) -> SavedLearning:
    """Store what `author` learned in `chat` (editing replaces it), their thanks and referral.

    Submitting the form means they met, so it also records `We met`.
    """
    chats.record_met(session, chat, author.id, now)
    author_role = chats.participant(chat, author.slack_user_id).role
    text = submitted.text.strip()
    takeaway = session.scalar(
        select(Takeaway).where(Takeaway.chat_id == chat.id, Takeaway.author_id == author.id)
    )
    if text:
        values = {
            "text": text[:MAX_TAKEAWAY],
            "usefulness": submitted.usefulness,
            "topics": canonical_topics(session, submitted.topics),
            "share": Share(submitted.share),
            "show_name": submitted.show_name,
        }
        if takeaway is None:
            try:
                # The unique (chat, author) index settles a double submission.
                with session.begin_nested():
                    takeaway = Takeaway(chat_id=chat.id, author_id=author.id, created_at=now, **values)
                    session.add(takeaway)
                    session.flush()
            except IntegrityError:
                takeaway = session.scalar(
                    select(Takeaway).where(Takeaway.chat_id == chat.id, Takeaway.author_id == author.id)
                )
        if takeaway is not None:
            for key, value in values.items():
                setattr(takeaway, key, value)
    elif takeaway is not None and author_role == ChatRole.EXPERT:
        # The short form's takeaway is optional: emptying it deletes it.
        session.delete(takeaway)
        takeaway = None

    thanked: list[Person] = []
    note = submitted.thanks.strip()
    if note:
        for partner in chats.partners_of(chat, author.id):
            if _insert_once(
                session,
                Thanks(chat_id=chat.id, from_id=author.id, to_id=partner.id, text=note, created_at=now),
            ):
                thanked.append(partner)

    referral: Person | None = None
    if submitted.referral:
        referred = directory.person_or_stub(session, submitted.referral)
        if _insert_once(
            session, Referral(chat_id=chat.id, by_id=author.id, referred_id=referred.id, created_at=now)
        ):
            referral = referred
    session.flush()
    return SavedLearning(takeaway=takeaway, thanked=thanked, referral=referral)


def _insert_once(session: Session, row: Thanks | Referral) -> bool:
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return False
    return True


def existing_learning(session: Session, chat_id: int, author_id: int) -> LearningInput | None:
    """What the author already wrote for this chat, to prefill the modal when they edit it."""
    takeaway = session.scalar(
        select(Takeaway).where(Takeaway.chat_id == chat_id, Takeaway.author_id == author_id)
    )
    if takeaway is None:
        return None
    return LearningInput(
        text=takeaway.text,
        usefulness=takeaway.usefulness,
        topics=list(takeaway.topics or []),
        share=str(takeaway.share),
        show_name=takeaway.show_name,
    )


# -- reading takeaways -----------------------------------------------------------------------
# Privacy: Share.ME takeaways are read by their author only (home_learnings);
# the library and anything aggregate read Share.EVERYONE only.


@dataclass(frozen=True)
class LearningCard:
    """A takeaway as the library shows it: no author unless they chose to show their name."""

    text: str
    topics: list[str]
    created_at: datetime
    usefulness: int | None
    author_name: str | None


@dataclass(frozen=True)
class MyTakeaway:
    chat_id: int
    text: str
    topics: list[str]
    created_at: datetime
    usefulness: int | None
    share: str
    partners: list[str]


@dataclass(frozen=True)
class ThanksCard:
    from_name: str
    text: str
    created_at: datetime


def _matches(takeaway: Takeaway, chat_topic_id: int | None, topic_id: int | None, keys: set[str]) -> bool:
    if topic_id is not None and chat_topic_id == topic_id:
        return True
    return any(topic_service.topic_key(name) in keys for name in takeaway.topics or [])


def shared_learnings(
    session: Session, query: str = "", limit: int = 10, scan: int = 2000
) -> tuple[str | None, list[LearningCard]]:
    """Takeaways shared with everyone, newest first; only those on `query`'s topic when given.

    Returns (the topic's catalogue name if it has one, cards). Topics live in a
    JSON list, which neither backend indexes portably, so the newest `scan`
    shared takeaways are filtered here; a library page only needs the newest few.
    """
    topic = topic_service.find_topic(session, query) if query.strip() else None
    keys: set[str] = set()
    if query.strip():
        keys = {topic_service.topic_key(query)}
        if topic is not None:
            keys.add(topic.key)
    rows = session.execute(
        select(Takeaway, Chat.topic_id)
        .join(Chat, Chat.id == Takeaway.chat_id)
        # Erased or purged (blanked) notes are not shown as empty cards.
        .where(Takeaway.share == Share.EVERYONE, Takeaway.text != "")
        .order_by(Takeaway.created_at.desc(), Takeaway.id.desc())
        .limit(scan)
    )
    cards: list[LearningCard] = []
    for takeaway, chat_topic_id in rows:
        if keys and not _matches(takeaway, chat_topic_id, topic.id if topic else None, keys):
            continue
        cards.append(
            LearningCard(
                text=takeaway.text,
                topics=list(takeaway.topics or []),
                created_at=takeaway.created_at,
                usefulness=takeaway.usefulness,
                author_name=takeaway.author.display_name if takeaway.show_name else None,
            )
        )
        if len(cards) >= limit:
            break
    return (topic.name if topic else None), cards


def home_learnings(
    session: Session, person_id: int, limit: int = 5
) -> tuple[list[MyTakeaway], list[ThanksCard]]:
    """(my takeaways, thanks I received), newest first, for my own App Home only."""
    mine: list[MyTakeaway] = []
    for takeaway in session.scalars(
        select(Takeaway)
        .where(Takeaway.author_id == person_id, Takeaway.text != "")
        .order_by(Takeaway.created_at.desc(), Takeaway.id.desc())
        .limit(limit)
    ):
        chat = session.get(Chat, takeaway.chat_id)
        partners = [p.display_name for p in chats.partners_of(chat, person_id)] if chat else []
        mine.append(
            MyTakeaway(
                chat_id=takeaway.chat_id,
                text=takeaway.text,
                topics=list(takeaway.topics or []),
                created_at=takeaway.created_at,
                usefulness=takeaway.usefulness,
                share=str(takeaway.share),
                partners=partners,
            )
        )
    thanks = [
        ThanksCard(from_name=t.sender.display_name, text=t.text, created_at=t.created_at)
        for t in session.scalars(
            select(Thanks)
            .where(Thanks.to_id == person_id, Thanks.text != "")
            .order_by(Thanks.created_at.desc(), Thanks.id.desc())
            .limit(limit)
        )
    ]
    return mine, thanks


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
