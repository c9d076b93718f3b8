"""What people learned in a chat: takeaways, thank-you notes and referrals, and who may read them.

Submitting the "What I learned" form means the author met their partners
(`chats.record_met`). Privacy: a takeaway shared with "me" is read by its
author only (their App Home, services/home.py); the library (`/infochat learnings`) and
anything aggregate read takeaways shared with everyone only. Messages the
answers cause are queued by `bot.flows.followups`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db import insert_once
from bot.models import Chat, ChatParticipant, ChatRole, Person, Referral, Share, Takeaway, Thanks
from bot.services import chats, directory
from bot.services import topics as topic_service

MIN_TAKEAWAY = 10
MAX_TAKEAWAY = 3000
MAX_THANKS = 1000
MAX_TOPICS = 5


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


def as_asked(submitted: LearningInput, *, full: bool) -> LearningInput:
    """What the form asked for: the expert's short form has no referral or topics, so
    anything posted for them is ignored."""
    if full:
        return submitted
    return LearningInput(
        text=submitted.text,
        usefulness=submitted.usefulness,
        share=submitted.share,
        show_name=submitted.show_name,
        thanks=submitted.thanks,
    )


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
            if insert_once(
                session,
                Thanks,
                {
                    "chat_id": chat.id,
                    "from_id": author.id,
                    "to_id": partner.id,
                    "text": note,
                    "created_at": now,
                },
            ):
                thanked.append(partner)

    referral: Person | None = None
    if submitted.referral:
        referred = directory.person_or_stub(session, submitted.referral)
        if insert_once(
            session,
            Referral,
            {"chat_id": chat.id, "by_id": author.id, "referred_id": referred.id, "created_at": now},
        ):
            referral = referred
    session.flush()
    return SavedLearning(takeaway=takeaway, thanked=thanked, referral=referral)


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
# Privacy: Share.ME takeaways are read by their author only (services/home.py);
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
