"""Privacy: export everything stored about a person, and purge old free text.

docs/product.md ("Privacy"): people who leave can have their data exported
and erased (`bot.services.privacy_erase`), private takeaways are their
author's, and reports aggregate. Nothing here calls Slack.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, null, or_, select, update
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.db import Database
from bot.models import (
    AuditEntry,
    Chat,
    ChatParticipant,
    ChatRequest,
    ChatSchedule,
    OutboxMessage,
    OutboxStatus,
    PairingBlock,
    PairingRound,
    Person,
    Referral,
    RequestStatus,
    RoundUnmatched,
    Search,
    Takeaway,
    Thanks,
    TopicKind,
)

ERASED_PREFIX = "erased:"
# What replaces an erased person's name where someone else's text mentions them.
REDACTED = "[erased]"
EXPORT_FORMAT = "infochat-export/1"
# Our own notes are keyed under this prefix so a second erasure never deletes them.
NOTE_PREFIX = "privacy:"


class PrivacyError(Exception):
    """The privacy request can't be carried out; the message is for the operator."""


class UnknownPerson(PrivacyError):
    """No one stored matches the Slack user id (or email)."""


def placeholder_id(person_id: int) -> str:
    """The Slack id an erased person keeps: unique, and says nothing about who they were."""
    return f"{ERASED_PREFIX}{person_id}"


def is_erased(person: Person) -> bool:
    return person.slack_user_id.startswith(ERASED_PREFIX)


def find_person(session: Session, user: str) -> Person:
    """The person a Slack user id, an `erased:<id>` placeholder or an email address names.

    Raises UnknownPerson when there is none, PrivacyError when an email is shared
    by several people (the operator must then give the Slack id).
    """
    user = user.strip()
    if not user:
        raise UnknownPerson("give a Slack user id (U…) or an email address")
    if "@" not in user:
        person = session.scalar(select(Person).where(Person.slack_user_id == user))
        if person is None:
            raise UnknownPerson(f"no one with Slack user id {user} is stored")
        return person
    people = session.scalars(select(Person).where(func.lower(Person.email) == user.lower())).all()
    if not people:
        raise UnknownPerson(f"no one with email {user} is stored")
    if len(people) > 1:
        ids = ", ".join(sorted(p.slack_user_id for p in people))
        raise PrivacyError(f"{len(people)} people have the email {user} ({ids}); give the Slack user id")
    return people[0]


def addressed_to(slack_user_id: str) -> ColumnElement[bool]:
    """`outbox.users` (sorted, comma-separated Slack ids) includes this one."""
    users = OutboxMessage.users
    return or_(
        users == slack_user_id,
        users.startswith(f"{slack_user_id},", autoescape=True),
        users.endswith(f",{slack_user_id}", autoescape=True),
        users.contains(f",{slack_user_id},", autoescape=True),
    )


def rowcount(session: Session, statement: Any) -> int:
    result = session.execute(statement.execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# -- export --------------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _slack_ids(session: Session, person_ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {pid for pid in person_ids if pid is not None}
    if not wanted:
        return {}
    rows = session.execute(select(Person.id, Person.slack_user_id).where(Person.id.in_(wanted)))
    return {int(pid): str(sid) for pid, sid in rows}


def export_person(session: Session, slack_user_id: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything stored about one person, as JSON-serialisable data (ISO 8601 datetimes).

    Other people appear by Slack user id only. Left out on purpose, because they
    are someone else's private data: other people's takeaways (private unless
    their author shares them), pairing blocks others set on this person, and
    who referred them (only how often).
    """
    person = session.scalar(select(Person).where(Person.slack_user_id == slack_user_id))
    if person is None:
        raise UnknownPerson(f"no one with Slack user id {slack_user_id} is stored")
    stored = _stored_about(session, person)
    ids = _slack_ids(
        session,
        [r.expert_id for r in stored.sent]
        + [r.learner_id for r in stored.received]
        + [r.redirect_to_id for r in (*stored.sent, *stored.received)]
        + [p.person_id for cp in stored.mine for p in cp.chat.participants]
        + [t.from_id for t in stored.thanks]
        + [t.to_id for t in stored.thanks]
        + [r.referred_id for r in stored.referrals]
        + [b.blocked_id for b in stored.blocks],
    )
    return {
        "format": EXPORT_FORMAT,
        "exported_at": _iso(now or utcnow()),
        **_about_them(person),
        **_requests_and_chats(stored, ids, person.id),
        **_what_they_did(stored, ids, person.id),
    }


@dataclass
class _Stored:
    """The rows an export reads, oldest first."""

    sent: Sequence[ChatRequest]
    received: Sequence[ChatRequest]
    mine: Sequence[ChatParticipant]
    takeaways: Sequence[Takeaway]
    thanks: Sequence[Thanks]
    referrals: Sequence[Referral]
    times_referred: int
    searches: Sequence[Search]
    blocks: Sequence[PairingBlock]
    unmatched: Sequence[Any]
    pending: Sequence[OutboxMessage]
    actions: Sequence[AuditEntry]


def _stored_about(session: Session, person: Person) -> _Stored:
    pid = person.id
    sent = session.scalars(
        select(ChatRequest).where(ChatRequest.learner_id == pid).order_by(ChatRequest.created_at)
    ).all()
    received = session.scalars(
        select(ChatRequest).where(ChatRequest.expert_id == pid).order_by(ChatRequest.created_at)
    ).all()
    mine = session.scalars(
        select(ChatParticipant)
        .join(Chat, Chat.id == ChatParticipant.chat_id)
        .where(ChatParticipant.person_id == pid)
        .order_by(Chat.created_at)
    ).all()
    takeaways = session.scalars(
        select(Takeaway).where(Takeaway.author_id == pid).order_by(Takeaway.created_at)
    ).all()
    thanks = session.scalars(
        select(Thanks).where(or_(Thanks.from_id == pid, Thanks.to_id == pid)).order_by(Thanks.created_at)
    ).all()
    referrals = session.scalars(
        select(Referral).where(Referral.by_id == pid).order_by(Referral.created_at)
    ).all()
    times_referred = session.scalar(
        select(func.count()).select_from(Referral).where(Referral.referred_id == pid)
    )
    searches = session.scalars(
        select(Search).where(Search.person_id == pid).order_by(Search.created_at)
    ).all()
    blocks = session.scalars(
        select(PairingBlock).where(PairingBlock.person_id == pid).order_by(PairingBlock.created_at)
    ).all()
    unmatched = session.execute(
        select(PairingRound.week, RoundUnmatched.reason)
        .join(PairingRound, PairingRound.id == RoundUnmatched.round_id)
        .where(RoundUnmatched.person_id == pid)
        .order_by(PairingRound.week)
    ).all()
    pending = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING, addressed_to(person.slack_user_id))
        .order_by(OutboxMessage.created_at)
    ).all()
    actions = session.scalars(
        select(AuditEntry).where(AuditEntry.actor == person.slack_user_id).order_by(AuditEntry.created_at)
    ).all()

    return _Stored(
        sent,
        received,
        mine,
        takeaways,
        thanks,
        referrals,
        int(times_referred or 0),
        searches,
        blocks,
        unmatched,
        pending,
        actions,
    )


def _about_them(person: Person) -> dict[str, Any]:
    return {
        "directory": {
            "slack_user_id": person.slack_user_id,
            "team_id": person.team_id,
            "name": person.name,
            "real_name": person.real_name,
            "title": person.title,
            "email": person.email,
            "tz": person.tz,
            "deactivated": person.is_deleted,
            "bot": person.is_bot,
            "guest": person.is_restricted or person.is_ultra_restricted,
            "first_seen_at": _iso(person.created_at),
            "updated_at": _iso(person.updated_at),
        },
        "profile": {
            "joined_at": _iso(person.joined_at),
            "left_at": _iso(person.left_at),
            "function": person.function,
            "function_source": person.function_source,
            "ask_me_about": person.ask_me_about,
            "chats_per_month": person.chats_per_month,
            "preferred_format": person.preferred_format,
            "weekly_pairing": person.weekly_pairing,
            "paused_until": _iso(person.paused_until),
            "no_reply_streak": person.no_show_streak,
            "topics_i_speak_about": person.topic_names(TopicKind.SPEAK),
            "topics_i_want_to_learn": person.topic_names(TopicKind.LEARN),
        },
    }


def _requests_and_chats(stored: _Stored, ids: dict[int, str], pid: int) -> dict[str, Any]:
    def request_row(request: ChatRequest, other: str, other_id: int) -> dict[str, Any]:
        return {
            "id": request.id,
            other: ids.get(other_id),
            "topic": request.topic_text,
            "intro": request.intro,
            "goal": request.goal,
            "questions": request.questions,
            "preferred_format": request.preferred_format,
            "duration_minutes": request.duration_minutes,
            "status": str(request.status),
            "decline_or_redirect_note": request.decline_reason,
            "redirected_to": ids.get(request.redirect_to_id) if request.redirect_to_id else None,
            "created_at": _iso(request.created_at),
            "responded_at": _iso(request.responded_at),
        }

    return {
        "requests_sent": [request_row(r, "to", r.expert_id) for r in stored.sent],
        "requests_received": [request_row(r, "from", r.learner_id) for r in stored.received],
        "chats": [
            {
                "id": cp.chat.id,
                "kind": str(cp.chat.kind),
                "topic": cp.chat.topic.name if cp.chat.topic is not None else None,
                "request_id": cp.chat.request_id,
                "created_at": _iso(cp.chat.created_at),
                "done_at": _iso(cp.chat.done_at),
                "cancelled_at": _iso(cp.chat.cancelled_at),
                "role": str(cp.role),
                "outcome": str(cp.outcome) if cp.outcome is not None else None,
                "outcome_reason": cp.outcome_reason,
                "answered_at": _iso(cp.answered_at),
                "checkins_sent": cp.checkins_sent,
                "partners": sorted(ids[p.person_id] for p in cp.chat.participants if p.person_id != pid),
            }
            for cp in stored.mine
        ],
    }


def _what_they_did(stored: _Stored, ids: dict[int, str], pid: int) -> dict[str, Any]:
    return {
        "takeaways": [
            {
                "chat_id": t.chat_id,
                "text": t.text,
                "usefulness": t.usefulness,
                "topics": list(t.topics or []),
                "shared_with": str(t.share),
                "show_name": t.show_name,
                "created_at": _iso(t.created_at),
            }
            for t in stored.takeaways
        ],
        "thanks_sent": [
            {"chat_id": t.chat_id, "to": ids.get(t.to_id), "text": t.text, "created_at": _iso(t.created_at)}
            for t in stored.thanks
            if t.from_id == pid
        ],
        "thanks_received": [
            {
                "chat_id": t.chat_id,
                "from": ids.get(t.from_id),
                "text": t.text,
                "created_at": _iso(t.created_at),
            }
            for t in stored.thanks
            if t.to_id == pid
        ],
        "referrals_made": [
            {"chat_id": r.chat_id, "referred": ids.get(r.referred_id), "created_at": _iso(r.created_at)}
            for r in stored.referrals
        ],
        # Who suggested them is the suggester's private answer; the count is theirs.
        "times_referred_by_others": stored.times_referred,
        "searches": [
            {"query": s.query, "results": s.results, "created_at": _iso(s.created_at)}
            for s in stored.searches
        ],
        "pairing_blocks_set": [
            {"never_pair_with": ids.get(b.blocked_id), "created_at": _iso(b.created_at)}
            for b in stored.blocks
        ],
        "weeks_not_paired": [{"week": week, "reason": reason} for week, reason in stored.unmatched],
        "messages_waiting_to_be_sent": [
            {
                "text": m.text,
                "subject": m.subject,
                "not_before": _iso(m.not_before),
                "created_at": _iso(m.created_at),
            }
            for m in stored.pending
        ],
        "audited_actions": [
            {"action": a.action, "detail": a.detail, "created_at": _iso(a.created_at)} for a in stored.actions
        ],
    }


# -- retention -----------------------------------------------------------------------------------


@dataclass
class PurgeReport:
    cutoff: datetime
    request_texts: int = 0
    decline_notes: int = 0
    takeaways: int = 0
    thanks: int = 0
    searches: int = 0
    messages: int = 0

    def __str__(self) -> str:
        return (
            f"blanked text older than {self.cutoff.date().isoformat()}: "
            f"{self.request_texts} requests, {self.decline_notes} decline notes, {self.takeaways} takeaways, "
            f"{self.thanks} thank-you notes, {self.searches} searches, {self.messages} sent messages"
        )


def purge_old_text(session: Session, now: datetime, retention_days: int) -> PurgeReport:
    """Blank free text older than `retention_days`, keeping every row (and so every count).

    One bulk UPDATE per table, each touching only rows that still have text, so
    a nightly run after the first is cheap. Open requests and undelivered
    messages are left alone: someone still has to read them.
    """
    if retention_days < 1:
        raise ValueError("retention_days must be at least 1")
    cutoff = now - timedelta(days=retention_days)
    report = PurgeReport(cutoff=cutoff)
    report.request_texts = rowcount(
        session,
        update(ChatRequest)
        .where(
            ChatRequest.created_at < cutoff,
            ChatRequest.status != RequestStatus.OPEN,
            or_(ChatRequest.intro != "", ChatRequest.goal != "", ChatRequest.questions != ""),
        )
        .values(intro="", goal="", questions=""),
    )
    # A decline note is as old as the answer, not the request.
    report.decline_notes = rowcount(
        session,
        update(ChatRequest)
        .where(ChatRequest.responded_at < cutoff, ChatRequest.decline_reason != "")
        .values(decline_reason=""),
    )
    # Cancellation notes of scheduled chats, as old as the cancellation.
    session.execute(
        update(ChatSchedule)
        .where(ChatSchedule.cancelled_at < cutoff, ChatSchedule.cancel_reason != "")
        .values(cancel_reason="")
    )
    # Ratings, topics and sharing choices stay: reports aggregate them.
    report.takeaways = rowcount(
        session, update(Takeaway).where(Takeaway.created_at < cutoff, Takeaway.text != "").values(text="")
    )
    report.thanks = rowcount(
        session, update(Thanks).where(Thanks.created_at < cutoff, Thanks.text != "").values(text="")
    )
    report.searches = rowcount(
        session, update(Search).where(Search.created_at < cutoff, Search.query != "").values(query="")
    )
    report.messages = rowcount(
        session,
        update(OutboxMessage)
        .where(
            OutboxMessage.created_at < cutoff,
            OutboxMessage.status.in_([OutboxStatus.SENT, OutboxStatus.FAILED]),
            or_(OutboxMessage.text != "", OutboxMessage.blocks.is_not(None)),
        )
        .values(text="", blocks=null()),
    )
    session.expire_all()
    return report


def nightly_purge(db: Database, retention_days: int | None, now: datetime) -> str:
    """The scheduled job's body: purge in one transaction; says so when retention is off."""
    if retention_days is None:
        return "retention off (INFOCHAT_RETENTION_DAYS not set)"
    with db.session() as session:
        report = purge_old_text(session, now, retention_days)
    return str(report)
