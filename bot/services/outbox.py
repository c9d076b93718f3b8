"""The outbox: every DM infochat sends is written here first, then delivered exactly once.

This module is the storage: `enqueue` stores a message in the caller's
transaction, keyed by a dedupe key, so a double click, a retried event or a
second replica enqueuing the same message stores it once; `claim_next`,
`mark_sent` and `mark_failed` are the delivery's bookkeeping, each a
conditional UPDATE, so two senders never hold the same row. Sending (opening
the DM, posting, reconciling an interrupted attempt) is `bot.flows.outbox`.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.db import Database, insert_ignoring_duplicates, insert_once
from bot.models import OutboxMessage, OutboxStatus

HOLDER = f"{socket.gethostname()}:{os.getpid()}"
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 12


def enqueue(
    session: Session,
    dedupe_key: str,
    *,
    text: str,
    users: Iterable[str] | None = None,
    channel: str | None = None,
    blocks: list[dict[str, Any]] | None = None,
    not_before: datetime | None = None,
    subject: str | None = None,
) -> bool:
    """Store a message to send; False when one with this key already exists."""
    values = message(
        dedupe_key,
        text=text,
        users=users,
        channel=channel,
        blocks=blocks,
        not_before=not_before,
        subject=subject,
    )
    return insert_once(session, OutboxMessage, values)


def message(
    dedupe_key: str,
    *,
    text: str,
    users: Iterable[str] | None = None,
    channel: str | None = None,
    blocks: list[dict[str, Any]] | None = None,
    not_before: datetime | None = None,
    subject: str | None = None,
) -> dict[str, Any]:
    """The outbox row for a message (`enqueue`'s arguments), for `enqueue_many`."""
    if (users is None) == (channel is None):
        raise ValueError("give either users (to open a DM) or a channel")
    now = utcnow()
    return {
        "dedupe_key": dedupe_key[:200],
        "users": ",".join(sorted(set(users))) if users is not None else None,
        "channel": channel,
        "text": text[:4000],
        "blocks": blocks,
        "not_before": not_before or now,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "created_at": now,
        "subject": subject,
    }


def enqueue_many(session: Session, rows: Iterable[dict[str, Any]]) -> None:
    """Store many messages (rows from `message`) in the caller's transaction as one
    executemany (SQLAlchemy sends PostgreSQL a few hundred rows per statement); a row whose
    key already exists is skipped, as with `enqueue`. A weekly round queues one intro per
    group: tens of thousands, one round trip each otherwise."""
    batch = list(rows)
    if batch:
        session.execute(insert_ignoring_duplicates(session, OutboxMessage), batch)


def withdraw(session: Session, dedupe_key: str) -> bool:
    """Take back a message not sent yet (a reminder for a time that changed), in the caller's
    transaction. False when there is none, or it is already sent or being sent."""
    now = utcnow()
    result = session.execute(
        delete(OutboxMessage)
        .where(
            OutboxMessage.dedupe_key == dedupe_key,
            OutboxMessage.status == OutboxStatus.PENDING,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def _due(now: datetime, wanted: list[str] | None, due_by: datetime) -> Any:
    condition = and_(
        OutboxMessage.status == OutboxStatus.PENDING,
        OutboxMessage.not_before <= due_by,
        # Leases always run on the real clock, whatever `due_by` says.
        or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
    )
    if wanted is not None:
        condition = and_(condition, OutboxMessage.dedupe_key.in_(wanted))
    return condition


def claim_next(
    db: Database,
    *,
    holder: str = HOLDER,
    lease: timedelta = LEASE,
    wanted: list[str] | None = None,
    as_of: datetime | None = None,
) -> OutboxMessage | None:
    """Claim one due message (only those keyed `wanted`, when given) and return it detached.

    The conditional UPDATE makes the claim exclusive across senders; the claim is a
    lease of `lease`, after which another sender may take the message over. `as_of`
    treats messages held until then as due (the demo's fast-forward to the morning).
    """
    if wanted is not None and not wanted:
        return None
    for _ in range(5):
        now = utcnow()
        due_by = max(now, as_of) if as_of is not None else now
        with db.session() as session:
            candidate = session.scalar(
                select(OutboxMessage.id)
                .where(_due(now, wanted, due_by))
                .order_by(OutboxMessage.not_before, OutboxMessage.id)
                .limit(1)
            )
            if candidate is None:
                return None
            claimed = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == candidate, _due(now, None, due_by))
                .values(claimed_by=holder, claimed_until=now + lease, attempts=OutboxMessage.attempts + 1)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount == 1:
                message = session.get(OutboxMessage, candidate)
                assert message is not None
                session.expunge(message)
                return message
    return None  # lost every race: another sender is draining the same rows


def _set(db: Database, message_id: int, values: dict[str, Any]) -> None:
    with db.session() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id).values(**values))


def record_channel(db: Database, message_id: int, channel: str) -> None:
    """Where the message is going, stored before posting so a retry can look there first."""
    _set(db, message_id, {"sent_channel": channel})


def mark_sent(db: Database, message_id: int, ts: str | None, channel: str | None = None) -> None:
    values: dict[str, Any] = {
        "status": OutboxStatus.SENT,
        "claimed_until": None,
        "sent_at": utcnow(),
        "sent_ts": ts,
    }
    if channel is not None:
        values["sent_channel"] = channel
    _set(db, message_id, values)


def mark_failed(db: Database, message: OutboxMessage, error: str, *, permanent: bool) -> bool:
    """Record a failed attempt: failed for good when `permanent` or out of attempts, else due
    again after a backoff. Returns whether it failed for good."""
    permanent = permanent or message.attempts >= MAX_ATTEMPTS
    values: dict[str, Any] = {"last_error": error[:255], "claimed_until": None}
    if permanent:
        values["status"] = OutboxStatus.FAILED
    else:
        values["not_before"] = utcnow() + backoff(message.attempts)
    _set(db, message.id, values)
    return permanent
