"""Erasing a person: their profile and every text they wrote go; the rows reports count stay.

Erasure removes a person's profile and every text they wrote but keeps the rows
that reports count (requests, chats, their participation, takeaway ratings),
re-pointed at an anonymous placeholder person, so a report run after an erasure
shows the same numbers as before. Nothing here calls Slack or renders a message:
the notes the erasure causes (to learners whose open request to the erased person
it closes) are queued by `bot.flows.privacy`, after everything here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, cast, delete, false, func, null, or_, select, update
from sqlalchemy.orm import Session

from bot.models import (
    AuditEntry,
    Chat,
    ChatParticipant,
    ChatRequest,
    ChatSchedule,
    OutboxMessage,
    OutboxStatus,
    PairingBlock,
    Person,
    PersonTopic,
    Search,
    Takeaway,
    Thanks,
)
from bot.models_home import home_views
from bot.services import expert_ranks
from bot.services.privacy import (
    NOTE_PREFIX,
    REDACTED,
    UnknownPerson,
    addressed_to,
    is_erased,
    placeholder_id,
    rowcount,
)
from bot.services.requests import close_open_requests


def _mrkdwn_escaped(text: str) -> str:
    """`text` as stored in a message: Slack's mrkdwn escapes exactly these three characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class ClosedRequest:
    """An open request the erasure closed, whose learner is to be told (names no one)."""

    request_id: int
    learner_slack_id: str
    topic: str


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
    # Filled by erase_person, told by bot.flows.privacy (which counts learners_told).
    to_tell: list[ClosedRequest] = field(default_factory=list)

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
    spellings = {s for ident in _strong_identifiers(person) for s in (ident, _mrkdwn_escaped(ident))}
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
        for spelling in (ident, _mrkdwn_escaped(ident)):
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
                addressed_to(original_id),
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
    erasing `erased:<id>` again changes nothing. Raises UnknownPerson. The
    learners to tell that their request closed are in `report.to_tell`.
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
    closed = close_open_requests(session, now, experts=[pid], learners=[pid])
    report.requests_closed = len(closed)
    report.to_tell = [
        ClosedRequest(r.id, r.learner.slack_user_id, r.topic_text)
        for r in closed
        if r.expert_id == pid and r.learner.can_be_messaged
    ]
    # 2. What they wrote: blanked. The rows stay so every count stays.
    _blank_their_text(session, pid, report)
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
    # 5.–6. Pairing blocks and the reasons pairings give.
    _forget_pairing(session, pid, chat_ids, redact, report)
    # 7. The audit log keeps who did what, with the placeholder instead of their id or email.
    if not report.already_erased:
        report.audit_entries_rewritten = _rewrite_audit(session, person, placeholder)
    # 8. The profile itself.
    _erase_profile(session, person, placeholder, now, report)
    session.expire_all()  # the bulk statements above bypassed the identity map
    return report


def _blank_their_text(session: Session, pid: int, report: EraseReport) -> None:
    report.request_texts_blanked += rowcount(
        session,
        update(ChatRequest)
        .where(
            ChatRequest.learner_id == pid,
            or_(ChatRequest.intro != "", ChatRequest.goal != "", ChatRequest.questions != ""),
        )
        .values(intro="", goal="", questions=""),
    )
    report.request_texts_blanked += rowcount(
        session,
        update(ChatRequest)
        .where(ChatRequest.expert_id == pid, ChatRequest.decline_reason != "")
        .values(decline_reason=""),
    )
    # A note given when cancelling a scheduled chat (bot.services.scheduling) is theirs too.
    session.execute(
        update(ChatSchedule)
        .where(ChatSchedule.cancelled_by_id == pid, ChatSchedule.cancel_reason != "")
        .values(cancel_reason="")
    )
    report.takeaways_blanked = rowcount(
        session,
        update(Takeaway)
        .where(
            Takeaway.author_id == pid,
            or_(Takeaway.text != "", Takeaway.topics.is_not(None), Takeaway.show_name.is_(True)),
        )
        # SQL NULL rather than JSON null, so "no topics" looks the same on both backends.
        .values(text="", topics=null(), show_name=False),
    )
    report.thanks_blanked = rowcount(
        session, update(Thanks).where(Thanks.from_id == pid, Thanks.text != "").values(text="")
    )
    report.searches_anonymised = rowcount(
        session, update(Search).where(Search.person_id == pid).values(person_id=None, query="")
    )
    session.expire_all()  # objects loaded above must not write stale text back


def _forget_pairing(
    session: Session, pid: int, chat_ids: set[int], redact: Callable[[str], str], report: EraseReport
) -> None:
    # Pairing blocks they set are their private wish; blocks naming them protect no one now.
    report.pairing_blocks_deleted = rowcount(
        session,
        delete(PairingBlock).where(or_(PairingBlock.person_id == pid, PairingBlock.blocked_id == pid)),
    )
    # Pairing reasons may name them ("Zoe can tell Sam about …").
    for chat in session.scalars(select(Chat).where(Chat.id.in_(chat_ids), Chat.reasons.is_not(None))).all():
        reasons = [redact(r) for r in chat.reasons or []]
        if reasons != chat.reasons:
            chat.reasons = reasons


def _erase_profile(
    session: Session, person: Person, placeholder: str, now: datetime, report: EraseReport
) -> None:
    report.topics_removed = rowcount(session, delete(PersonTopic).where(PersonTopic.person_id == person.id))
    session.execute(delete(home_views).where(home_views.c.slack_user_id == person.slack_user_id))
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
    expert_ranks.refresh(session, [person.id], now)  # the links went by a Core DELETE


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
