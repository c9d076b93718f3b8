"""The outbox: every DM infochat sends is written here first, then delivered exactly once.

- `enqueue` stores a message in the caller's transaction, keyed by a dedupe
  key: a double click, a retried event or a second replica enqueuing the same
  message stores it once.
- `OutboxSender.drain` claims due rows one at a time with a conditional UPDATE
  (a lease in `claimed_until`), opens the (group) DM, posts, and records the
  result. Two senders never hold the same row.
- Transient failures (429 after the client's own retries, 5xx, timeouts) put
  the row back with a backoff; permanent ones (`user_disabled`,
  `channel_not_found`, …) mark it failed, log it, and call the failure hooks
  so the other side can be told.
- Slack has no idempotency key for `chat.postMessage`. Each message carries
  its dedupe key in Slack message metadata; a row whose previous attempt was
  interrupted (a crash between the API call and the commit) is reconciled by
  reading the channel's recent history for that key before posting again.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.context import AppContext
from bot.models import OutboxMessage, OutboxStatus
from bot.services import appstate

log = logging.getLogger(__name__)

HOLDER = f"{socket.gethostname()}:{os.getpid()}"
LEASE = timedelta(minutes=2)
METADATA_EVENT = "infochat_message"
MAX_ATTEMPTS = 12

# Errors that retrying cannot fix: record them and tell someone.
PERMANENT_ERRORS = frozenset(
    {
        "user_disabled",
        "account_inactive",
        "user_not_found",
        "users_not_found",
        "channel_not_found",
        "cannot_dm_bot",
        "is_archived",
        "not_in_channel",
        "invalid_blocks",
        "invalid_arguments",
        "msg_too_long",
        "no_text",
        "restricted_action",
        "too_many_users",
    }
)

FailureHook = Callable[[AppContext, OutboxMessage], None]
_failure_hooks: dict[str, FailureHook] = {}


def on_permanent_failure(subject_prefix: str, hook: FailureHook) -> None:
    """Register what to do when a message about `subject_prefix…` can never be delivered."""
    _failure_hooks[subject_prefix] = hook


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
    if (users is None) == (channel is None):
        raise ValueError("give either users (to open a DM) or a channel")
    values = {
        "dedupe_key": dedupe_key[:200],
        "users": ",".join(sorted(set(users))) if users is not None else None,
        "channel": channel,
        "text": text[:4000],
        "blocks": blocks,
        "not_before": not_before or utcnow(),
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "created_at": utcnow(),
        "subject": subject,
    }
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    # RETURNING tells whether the row was inserted: rowcount is -1 for this on psycopg 3.
    statement = (
        dialect.insert(OutboxMessage).values(**values).on_conflict_do_nothing().returning(OutboxMessage.id)
    )
    return session.execute(statement).first() is not None


@dataclass
class DrainReport:
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    reconciled: int = 0

    def __str__(self) -> str:
        return (
            f"sent {self.sent}, failed {self.failed}, retrying {self.retrying}, reconciled {self.reconciled}"
        )


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


class OutboxSender:
    def __init__(self, ctx: AppContext, *, holder: str = HOLDER, lease: timedelta = LEASE) -> None:
        self.ctx = ctx
        self.holder = holder
        self.lease = lease

    def drain(
        self, *, keys: Iterable[str] | None = None, limit: int = 500, as_of: datetime | None = None
    ) -> DrainReport:
        """Deliver due messages (only `keys` when given) until none is left or `limit` is reached.

        `as_of` treats messages held until then as due (the demo's fast-forward to the morning).
        """
        report = DrainReport()
        with self.ctx.db.session() as session:
            stopped = appstate.sending_stopped(session)
        if stopped:
            log.warning("not sending: %s (messages stay queued)", stopped)
            return report
        wanted = list(keys) if keys is not None else None
        for _ in range(limit):
            message_id = self._claim_next(wanted, as_of)
            if message_id is None:
                break
            self._deliver(message_id, report)
        return report

    def _due(self, now: datetime, wanted: list[str] | None, due_by: datetime | None = None) -> Any:
        condition = and_(
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.not_before <= (due_by or now),
            # Leases always run on the real clock, whatever `due_by` says.
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
        )
        if wanted is not None:
            condition = and_(condition, OutboxMessage.dedupe_key.in_(wanted))
        return condition

    def _claim_next(self, wanted: list[str] | None, as_of: datetime | None = None) -> int | None:
        """Claim one due row; the conditional UPDATE makes the claim exclusive across senders."""
        if wanted is not None and not wanted:
            return None
        for _ in range(5):
            now = utcnow()
            due_by = max(now, as_of) if as_of is not None else now
            with self.ctx.db.session() as session:
                candidate = session.scalar(
                    select(OutboxMessage.id)
                    .where(self._due(now, wanted, due_by))
                    .order_by(OutboxMessage.not_before, OutboxMessage.id)
                    .limit(1)
                )
                if candidate is None:
                    return None
                claimed = session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == candidate, self._due(now, None, due_by))
                    .values(
                        claimed_by=self.holder,
                        claimed_until=now + self.lease,
                        attempts=OutboxMessage.attempts + 1,
                    )
                    .execution_options(synchronize_session=False)
                )
                if claimed.rowcount == 1:
                    return int(candidate)
        return None  # lost every race: another sender is draining the same rows

    def _deliver(self, message_id: int, report: DrainReport) -> None:
        with self.ctx.db.session() as session:
            message = session.get(OutboxMessage, message_id)
            assert message is not None
            session.expunge(message)
        try:
            if message.attempts > 1 and message.sent_channel:
                posted_ts = self._already_posted(message)
                if posted_ts is not None:
                    self._finish(message_id, status=OutboxStatus.SENT, ts=posted_ts)
                    report.reconciled += 1
                    return
            channel = message.channel or message.sent_channel
            if channel is None:
                channel = self.ctx.slack.open_dm((message.users or "").split(","))
                with self.ctx.db.session() as session:
                    session.execute(
                        update(OutboxMessage)
                        .where(OutboxMessage.id == message_id)
                        .values(sent_channel=channel)
                    )
            response = self.ctx.slack.post_message(
                channel,
                message.text,
                message.blocks,
                metadata={"event_type": METADATA_EVENT, "event_payload": {"key": message.dedupe_key}},
            )
        except SlackApiError as exc:
            error = str(exc.response.get("error", "")) if exc.response is not None else "unknown"
            status_code = getattr(exc.response, "status_code", None)
            self._failed(message, error or f"http_{status_code}", report)
            return
        except Exception as exc:  # timeouts, connection errors: retry later
            log.warning("sending outbox message %s raised", message.dedupe_key, exc_info=True)
            self._failed(message, exc.__class__.__name__, report)
            return
        self._finish(message_id, status=OutboxStatus.SENT, ts=str(response.get("ts")), channel=channel)
        report.sent += 1

    def _already_posted(self, message: OutboxMessage) -> str | None:
        """The ts of this message if an interrupted attempt already posted it (found by its key)."""
        try:
            history = self.ctx.slack.history(str(message.sent_channel), oldest=message.created_at.timestamp())
        except SlackApiError:
            return None
        for posted in history:
            payload = (posted.get("metadata") or {}).get("event_payload") or {}
            if payload.get("key") == message.dedupe_key:
                log.warning("outbox message %s was already posted; not sending again", message.dedupe_key)
                return str(posted.get("ts"))
        return None

    def _finish(
        self, message_id: int, *, status: OutboxStatus, ts: str | None = None, channel: str | None = None
    ) -> None:
        values: dict[str, Any] = {"status": status, "claimed_until": None, "sent_at": utcnow(), "sent_ts": ts}
        if channel is not None:
            values["sent_channel"] = channel
        with self.ctx.db.session() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id).values(**values))

    def _failed(self, message: OutboxMessage, error: str, report: DrainReport) -> None:
        permanent = error in PERMANENT_ERRORS or message.attempts >= MAX_ATTEMPTS
        context = {"outbox_key": message.dedupe_key, "error": error, "attempts": message.attempts}
        with self.ctx.db.session() as session:
            values: dict[str, Any] = {"last_error": error[:255], "claimed_until": None}
            if permanent:
                values["status"] = OutboxStatus.FAILED
            else:
                values["not_before"] = utcnow() + backoff(message.attempts)
            session.execute(update(OutboxMessage).where(OutboxMessage.id == message.id).values(**values))
        if permanent:
            report.failed += 1
            log.error("outbox message %s failed permanently: %s", message.dedupe_key, error, extra=context)
            self._run_failure_hook(message)
        else:
            report.retrying += 1
            log.warning("outbox message %s will be retried: %s", message.dedupe_key, error, extra=context)

    def _run_failure_hook(self, message: OutboxMessage) -> None:
        subject = message.subject or ""
        for prefix, hook in _failure_hooks.items():
            if subject.startswith(prefix):
                try:
                    hook(self.ctx, message)
                except Exception:
                    log.exception("failure hook for %s failed", message.dedupe_key)


def deliver(
    ctx: AppContext, keys: Iterable[str] | None = None, *, as_of: datetime | None = None
) -> DrainReport:
    """Send what is due now (the lazy step after a listener enqueued messages)."""
    return OutboxSender(ctx).drain(keys=keys, as_of=as_of)


def pending_count(session: Session) -> int:
    from sqlalchemy import func

    return int(
        session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.PENDING)
        )
        or 0
    )
