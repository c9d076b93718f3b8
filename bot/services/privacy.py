"""Privacy: export everything stored about a person, erase it, and purge old free text.

PRODUCT.md §5: people who leave can have their data exported and erased, and
reports aggregate. Erasure therefore removes a person's profile and every text
they wrote but keeps the rows that reports count (requests, chats, their
participation, takeaway ratings), re-pointed at an anonymous placeholder
person, so a report run after an erasure shows the same numbers as before.

Nothing here calls Slack. The only message an erasure causes (a neutral note to
learners whose open request to the erased person it closes) goes through the
outbox like every other DM.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, cast, delete, false, func, null, or_, select, update
from sqlalchemy.orm import Session

from bot.blocks import escape, section
from bot.clock import utcnow
from bot.db import Database
from bot.models import (
    AuditEntry,
    Chat,
    ChatParticipant,
    ChatRequest,
    OutboxMessage,
    OutboxStatus,
    PairingBlock,
    PairingRound,
    Person,
    PersonTopic,
    Referral,
    RequestStatus,
    RoundUnmatched,
    Search,
    Takeaway,
    Thanks,
    TopicKind,
)
from bot.services import outbox

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
        .where(OutboxMessage.status == OutboxStatus.PENDING, _addressed_to(person.slack_user_id))
        .order_by(OutboxMessage.created_at)
    ).all()
    actions = session.scalars(
        select(AuditEntry).where(AuditEntry.actor == person.slack_user_id).order_by(AuditEntry.created_at)
    ).all()

    ids = _slack_ids(
        session,
        [r.expert_id for r in sent]
        + [r.learner_id for r in received]
        + [r.redirect_to_id for r in (*sent, *received)]
        + [p.person_id for cp in mine for p in cp.chat.participants]
        + [t.from_id for t in thanks]
        + [t.to_id for t in thanks]
        + [r.referred_id for r in referrals]
        + [b.blocked_id for b in blocks],
    )

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
        "format": EXPORT_FORMAT,
        "exported_at": _iso(now or utcnow()),
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
        "requests_sent": [request_row(r, "to", r.expert_id) for r in sent],
        "requests_received": [request_row(r, "from", r.learner_id) for r in received],
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
            for cp in mine
        ],
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
            for t in takeaways
        ],
        "thanks_sent": [
            {"chat_id": t.chat_id, "to": ids.get(t.to_id), "text": t.text, "created_at": _iso(t.created_at)}
            for t in thanks
            if t.from_id == pid
        ],
        "thanks_received": [
            {
                "chat_id": t.chat_id,
                "from": ids.get(t.from_id),
                "text": t.text,
                "created_at": _iso(t.created_at),
            }
            for t in thanks
            if t.to_id == pid
        ],
        "referrals_made": [
            {"chat_id": r.chat_id, "referred": ids.get(r.referred_id), "created_at": _iso(r.created_at)}
            for r in referrals
        ],
        # Who suggested them is the suggester's private answer; the count is theirs.
        "times_referred_by_others": int(times_referred or 0),
        "searches": [
            {"query": s.query, "results": s.results, "created_at": _iso(s.created_at)} for s in searches
        ],
        "pairing_blocks_set": [
            {"never_pair_with": ids.get(b.blocked_id), "created_at": _iso(b.created_at)} for b in blocks
        ],
        "weeks_not_paired": [{"week": week, "reason": reason} for week, reason in unmatched],
        "messages_waiting_to_be_sent": [
            {
                "text": m.text,
                "subject": m.subject,
                "not_before": _iso(m.not_before),
                "created_at": _iso(m.created_at),
            }
            for m in pending
        ],
        "audited_actions": [
            {"action": a.action, "detail": a.detail, "created_at": _iso(a.created_at)} for a in actions
        ],
    }


# -- erase ---------------------------------------------------------------------------------------


@dataclass
class EraseReport:
    person_id: int
    placeholder: str
    already_erased: bool = False
    topics_removed: int = 0
    requests_closed: int = 0
    request_texts_blanked: int = 0  # requests they sent, and decline notes they wrote
    mentions_redacted: int = 0  # their name in texts other people wrote about them
    takeaways_blanked: int = 0
    thanks_blanked: int = 0
    searches_anonymised: int = 0
    pairing_blocks_deleted: int = 0
    messages_deleted: int = 0  # not yet sent: to them, from them, or about them
    messages_blanked: int = 0  # sent or failed: only the delivery record is kept
    audit_entries_rewritten: int = 0
    learners_told: int = 0

    def lines(self) -> list[str]:
        """What the CLI prints: one line per kind of data touched."""
        labels = {
            "topics_removed": "topic links removed",
            "requests_closed": "open requests closed",
            "request_texts_blanked": "request texts blanked",
            "mentions_redacted": "mentions redacted in others' texts",
            "takeaways_blanked": "takeaways blanked",
            "thanks_blanked": "thank-you notes blanked",
            "searches_anonymised": "searches anonymised",
            "pairing_blocks_deleted": "pairing blocks deleted",
            "messages_deleted": "unsent messages deleted",
            "messages_blanked": "sent messages blanked",
            "audit_entries_rewritten": "audit entries rewritten",
            "learners_told": "learners told their request is closed",
        }
        values = asdict(self)
        return [f"{values[key]} {label}" for key, label in labels.items()]


def _addressed_to(slack_user_id: str) -> ColumnElement[bool]:
    """`outbox.users` (sorted, comma-separated Slack ids) includes this one."""
    users = OutboxMessage.users
    return or_(
        users == slack_user_id,
        users.startswith(f"{slack_user_id},", autoescape=True),
        users.endswith(f",{slack_user_id}", autoescape=True),
        users.contains(f",{slack_user_id},", autoescape=True),
    )


def _identifiers(person: Person) -> list[str]:
    """Strings that identify the person wherever they appear (case-insensitive, whole words)."""
    found = [person.slack_user_id, person.email or "", person.real_name, person.name]
    return sorted({s.strip() for s in found if len(s.strip()) >= 3}, key=len, reverse=True)


def _strong_identifiers(person: Person) -> list[str]:
    """Identifiers safe to search other people's messages for: Slack id, email, a full name.

    Not the handle or a one-word name: "sam" would also find every other Sam,
    and deleting someone else's unsent message by mistake is worse than missing
    a rare mention (the retention purge blanks those in time).
    """
    name = person.real_name.strip()
    found = [person.slack_user_id, person.email or "", name if len(name.split()) >= 2 else ""]
    return sorted({s.strip() for s in found if len(s.strip()) >= 3}, key=len, reverse=True)


def _name_words(person: Person) -> list[str]:
    """First and last names, which others write on their own ("Thanks Zoe!"): case-sensitive."""
    words = re.findall(r"[^\W\d_][\w'-]*", person.real_name)
    return sorted({w for w in words if len(w) >= 3 and w[0].isupper()}, key=len, reverse=True)


def _redactor(person: Person) -> Callable[[str], str]:
    """Replace this person's identifiers in someone else's text with REDACTED."""
    patterns: list[re.Pattern[str]] = []
    idents = _identifiers(person)
    if idents:
        alternatives = "|".join(re.escape(s) for s in idents)
        patterns.append(re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE))
    words = _name_words(person)
    if words:
        patterns.append(re.compile(rf"(?<!\w)(?:{'|'.join(re.escape(w) for w in words)})(?!\w)"))

    def redact(text: str) -> str:
        for pattern in patterns:
            text = pattern.sub(REDACTED, text)
        return text

    return redact


def _identifier_pattern(person: Person) -> re.Pattern[str] | None:
    """Their Slack id, email or full name as a whole word, any case (also as Block Kit escapes them)."""
    spellings = {s for ident in _strong_identifiers(person) for s in (ident, escape(ident))}
    if not spellings:
        return None
    alternatives = "|".join(re.escape(s) for s in sorted(spellings, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def _might_mention(column: Any, person: Person) -> ColumnElement[bool]:
    """SQL prefilter: the column's text contains one of the person's identifiers (any case).

    JSON columns store non-ASCII as \\u escapes and Block Kit text is escaped,
    so those spellings are looked for too; `_identifier_pattern` then confirms.
    Both the exact spelling and lower() are tried: SQLite's lower() folds ASCII only.
    """
    needles: set[str] = set()
    for ident in _strong_identifiers(person):
        for spelling in (ident, escape(ident)):
            needles.update({spelling, json.dumps(spelling)[1:-1]})
    if not needles:
        return false()
    lowered = func.lower(column)
    return or_(
        *(column.contains(n, autoescape=True) for n in sorted(needles)),
        *(lowered.contains(n.lower(), autoescape=True) for n in sorted(needles)),
    )


def _erase_messages(
    session: Session, person: Person, placeholder: str, subjects: set[str], report: EraseReport
) -> None:
    """Delete unsent messages to, from or about them; blank sent ones; rewrite their Slack id.

    Found by recipient, by subject (their requests and chats), or — a backstop
    for messages that name them without being about them, such as an admin's
    round summary or someone's referral offer — by their identifiers in the text.
    """
    original_id = person.slack_user_id
    pattern = _identifier_pattern(person)
    own_id = re.compile(rf"(?<![A-Za-z0-9]){re.escape(original_id)}(?![A-Za-z0-9])")
    candidates = session.scalars(
        select(OutboxMessage).where(
            or_(
                _addressed_to(original_id),
                OutboxMessage.subject.in_(sorted(subjects)),
                _might_mention(OutboxMessage.text, person),
                _might_mention(cast(OutboxMessage.blocks, String), person),
                OutboxMessage.dedupe_key.contains(original_id, autoescape=True),
            ),
            # Our own notes (below) name no one; a second erasure must not delete them.
            ~OutboxMessage.dedupe_key.startswith(NOTE_PREFIX, autoescape=True),
        )
    ).all()
    for message in candidates:
        recipients = (message.users or "").split(",")
        body = message.text + "\n" + json.dumps(message.blocks, ensure_ascii=False)
        about_them = (
            original_id in recipients
            or message.subject in subjects
            or (pattern is not None and pattern.search(body) is not None)
        )
        if about_them and message.status == OutboxStatus.PENDING:
            session.delete(message)
            report.messages_deleted += 1
            continue
        if about_them and (message.text or message.blocks is not None):
            message.text = ""
            # SQL NULL: an ORM None on a JSON column would store JSON 'null'.
            message.blocks = null()  # type: ignore[assignment]
            report.messages_blanked += 1
        if original_id != placeholder:
            # Kept rows must not keep their Slack id (e.g. "round:…:summary:<admin id>").
            if original_id in recipients:
                message.users = ",".join(sorted(placeholder if u == original_id else u for u in recipients))
            message.dedupe_key = own_id.sub(placeholder, message.dedupe_key)
    session.flush()


def erase_person(session: Session, slack_user_id: str, now: datetime) -> EraseReport:
    """Remove a person's profile and free text; anonymise their side of past chats.

    Kept, because reports count them: the person row itself (as `erased:<id>`,
    with their function, join date and participation flags), their requests,
    chats and chat outcomes, takeaway ratings and sharing choices, thanks and
    referral rows (without text), searches (without query or person). Idempotent:
    erasing `erased:<id>` again changes nothing. Raises UnknownPerson.
    """
    person = session.scalar(select(Person).where(Person.slack_user_id == slack_user_id))
    if person is None:
        raise UnknownPerson(f"no one with Slack user id {slack_user_id} is stored")
    pid = person.id
    placeholder = placeholder_id(pid)
    report = EraseReport(person_id=pid, placeholder=placeholder, already_erased=is_erased(person))
    redact = _redactor(person)

    request_ids = set(
        session.scalars(
            select(ChatRequest.id).where(
                or_(
                    ChatRequest.learner_id == pid,
                    ChatRequest.expert_id == pid,
                    ChatRequest.redirect_to_id == pid,
                )
            )
        )
    )
    chat_ids = set(session.scalars(select(ChatParticipant.chat_id).where(ChatParticipant.person_id == pid)))

    # 1. Open requests can no longer be answered (or are no longer wanted).
    to_tell = _close_open_requests(session, pid, now, report)

    # 2. What they wrote: blanked. The rows stay so every count stays.
    report.request_texts_blanked += _rowcount(
        session,
        update(ChatRequest)
        .where(
            ChatRequest.learner_id == pid,
            or_(ChatRequest.intro != "", ChatRequest.goal != "", ChatRequest.questions != ""),
        )
        .values(intro="", goal="", questions=""),
    )
    report.request_texts_blanked += _rowcount(
        session,
        update(ChatRequest)
        .where(ChatRequest.expert_id == pid, ChatRequest.decline_reason != "")
        .values(decline_reason=""),
    )
    report.takeaways_blanked = _rowcount(
        session,
        update(Takeaway)
        .where(
            Takeaway.author_id == pid,
            or_(Takeaway.text != "", Takeaway.topics.is_not(None), Takeaway.show_name.is_(True)),
        )
        # SQL NULL rather than JSON null, so "no topics" looks the same on both backends.
        .values(text="", topics=null(), show_name=False),
    )
    report.thanks_blanked = _rowcount(
        session, update(Thanks).where(Thanks.from_id == pid, Thanks.text != "").values(text="")
    )
    report.searches_anonymised = _rowcount(
        session, update(Search).where(Search.person_id == pid).values(person_id=None, query="")
    )
    session.expire_all()  # objects loaded above must not write stale text back

    # 3. What others wrote to or about them is theirs and stays, minus the erased person's name.
    report.mentions_redacted = _redact_others(session, pid, request_ids, chat_ids, redact)

    # 4. Messages: nothing carrying their name or words is sent after this;
    #    sent ones keep only their delivery record (dedupe key, status, timestamps).
    subjects = (
        {f"request:{rid}" for rid in request_ids}
        | {f"{kind}:{cid}" for cid in chat_ids for kind in ("chat", "followup")}
        | {f"ghost:{pid}"}
    )
    _erase_messages(session, person, placeholder, subjects, report)

    # 5. Pairing blocks they set are their private wish; blocks naming them protect no one now.
    report.pairing_blocks_deleted = _rowcount(
        session,
        delete(PairingBlock).where(or_(PairingBlock.person_id == pid, PairingBlock.blocked_id == pid)),
    )

    # 6. Pairing reasons may name them ("Zoe can tell Sam about …").
    for chat in session.scalars(select(Chat).where(Chat.id.in_(chat_ids), Chat.reasons.is_not(None))).all():
        reasons = [redact(r) for r in chat.reasons or []]
        if reasons != chat.reasons:
            chat.reasons = reasons

    # 7. The audit log keeps who did what, with the placeholder instead of their id or email.
    if not report.already_erased:
        report.audit_entries_rewritten = _rewrite_audit(session, person, placeholder)

    # 8. The profile itself.
    report.topics_removed = _rowcount(session, delete(PersonTopic).where(PersonTopic.person_id == pid))
    if not report.already_erased:
        person.slack_user_id = placeholder
        person.name = person.real_name = person.title = person.ask_me_about = ""
        person.email = None
        person.tz = None
        person.is_deleted = True
        person.left_at = person.left_at or now
        person.weekly_pairing = False
        person.paused_until = None
    session.flush()

    # 9. Last, so step 4 cannot catch them: a note to each learner whose request just closed.
    for request_id, learner_slack_id, topic in to_tell:
        report.learners_told += _tell_learner(session, request_id, learner_slack_id, topic)

    session.expire_all()  # the bulk statements above bypassed the identity map
    return report


def _rowcount(session: Session, statement: Any) -> int:
    result = session.execute(statement.execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _close_open_requests(
    session: Session, pid: int, now: datetime, report: EraseReport
) -> list[tuple[int, str, str]]:
    """Close their open requests, both ways; (request id, learner Slack id, topic) for learners to tell."""
    to_tell: list[tuple[int, str, str]] = []
    for request in session.scalars(
        select(ChatRequest).where(
            ChatRequest.status == RequestStatus.OPEN,
            or_(ChatRequest.learner_id == pid, ChatRequest.expert_id == pid),
        )
    ).all():
        # Conditional, like services.requests: an answer racing the erasure wins once.
        closed = _rowcount(
            session,
            update(ChatRequest)
            .where(ChatRequest.id == request.id, ChatRequest.status == RequestStatus.OPEN)
            .values(status=RequestStatus.CLOSED, responded_at=now),
        )
        report.requests_closed += closed
        if closed and request.expert_id == pid and request.learner.can_be_messaged:
            to_tell.append((request.id, request.learner.slack_user_id, request.topic_text))
    return to_tell


def _tell_learner(session: Session, request_id: int, learner_slack_id: str, topic: str) -> int:
    # Names no one: the expert's name is exactly what was just erased.
    about = f" about *{escape(topic)}*" if topic else ""
    find = f"`/infochat find {escape(topic)}`" if topic else "`/infochat find`"
    text = (
        f"Your infochat request{about} is closed: the person you asked is no longer on infochat. "
        f"{find} shows who else can help."
    )
    return int(
        outbox.enqueue(
            session,
            f"{NOTE_PREFIX}request:{request_id}:closed",
            users=[learner_slack_id],
            text=text,
            blocks=[section(text)],
            subject="privacy",
        )
    )


def _redact_others(
    session: Session, pid: int, request_ids: set[int], chat_ids: set[int], redact: Callable[[str], str]
) -> int:
    """Redact the person's name in texts others wrote to or about them; returns rows changed."""
    changed = 0

    def fix(row: object, *columns: str) -> None:
        nonlocal changed
        touched = False
        for column in columns:
            before = getattr(row, column)
            after = redact(before)
            if after != before:
                setattr(row, column, after)
                touched = True
        changed += touched

    for request in session.scalars(select(ChatRequest).where(ChatRequest.id.in_(request_ids))).all():
        if request.learner_id != pid:
            fix(request, "intro", "goal", "questions")
        if request.expert_id != pid:
            fix(request, "decline_reason")
    for thanks in session.scalars(select(Thanks).where(Thanks.to_id == pid)).all():
        fix(thanks, "text")
    for takeaway in session.scalars(
        select(Takeaway).where(Takeaway.chat_id.in_(chat_ids), Takeaway.author_id != pid)
    ).all():
        fix(takeaway, "text")
    session.flush()
    return changed


def _rewrite_audit(session: Session, person: Person, placeholder: str) -> int:
    """Their Slack id or email in the audit log becomes the placeholder; returns entries changed."""
    idents = [i for i in (person.slack_user_id, person.email or "") if i]
    # Whole ids only: U123 must not rewrite part of U1234.
    pattern = re.compile(
        rf"(?<![\w.@-])(?:{'|'.join(re.escape(i) for i in idents)})(?![\w.@-])", re.IGNORECASE
    )
    entries = session.scalars(
        select(AuditEntry).where(
            or_(
                AuditEntry.actor == person.slack_user_id,
                *(func.lower(AuditEntry.detail).contains(i.lower(), autoescape=True) for i in idents),
            )
        )
    ).all()
    rewritten = 0
    for entry in entries:
        actor = placeholder if entry.actor == person.slack_user_id else entry.actor
        detail = pattern.sub(placeholder, entry.detail)
        if (actor, detail) != (entry.actor, entry.detail):
            entry.actor, entry.detail = actor, detail
            rewritten += 1
    session.flush()
    return rewritten


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
    report.request_texts = _rowcount(
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
    report.decline_notes = _rowcount(
        session,
        update(ChatRequest)
        .where(ChatRequest.responded_at < cutoff, ChatRequest.decline_reason != "")
        .values(decline_reason=""),
    )
    # Ratings, topics and sharing choices stay: reports aggregate them.
    report.takeaways = _rowcount(
        session, update(Takeaway).where(Takeaway.created_at < cutoff, Takeaway.text != "").values(text="")
    )
    report.thanks = _rowcount(
        session, update(Thanks).where(Thanks.created_at < cutoff, Thanks.text != "").values(text="")
    )
    report.searches = _rowcount(
        session, update(Search).where(Search.created_at < cutoff, Search.query != "").values(query="")
    )
    report.messages = _rowcount(
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
