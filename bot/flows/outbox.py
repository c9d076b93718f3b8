"""Delivering the outbox: claim a due message (services.outbox), post it through the
gateway, record the result. Every DM infochat sends goes out here, exactly once.

- `OutboxSender.drain` claims due rows one at a time (a lease in `claimed_until`),
  opens the (group) DM, posts, and records the result. Two senders never hold the
  same row.
- Transient failures (429 after the client's own retries, 5xx, timeouts) put
  the row back with a backoff; permanent ones (`user_disabled`,
  `channel_not_found`, …) mark it failed and log it with its key, so it is
  recorded, never lost silently.
- Slack has no idempotency key for `chat.postMessage`. Each message carries
  its dedupe key in Slack message metadata; a row whose previous attempt was
  interrupted (a crash between the API call and the commit) is reconciled by
  reading the channel's recent history for that key before posting again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_sdk.errors import SlackApiError

from bot.context import AppContext
from bot.models import OutboxMessage
from bot.services import appstate, outbox
from bot.services.outbox import HOLDER, LEASE

log = logging.getLogger(__name__)

METADATA_EVENT = "infochat_message"

# Errors that retrying cannot fix: record them at once.
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
            message = outbox.claim_next(
                self.ctx.db, holder=self.holder, lease=self.lease, wanted=wanted, as_of=as_of
            )
            if message is None:
                break
            self._deliver(message, report)
        return report

    def _deliver(self, message: OutboxMessage, report: DrainReport) -> None:
        db, slack = self.ctx.db, self.ctx.slack
        try:
            if message.attempts > 1 and message.sent_channel:
                posted_ts = self._already_posted(message)
                if posted_ts is not None:
                    outbox.mark_sent(db, message.id, posted_ts)
                    report.reconciled += 1
                    return
            channel = message.channel or message.sent_channel
            if channel is None:
                channel = slack.open_dm((message.users or "").split(","))
                outbox.record_channel(db, message.id, channel)
            response = slack.post_message(
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
        outbox.mark_sent(db, message.id, str(response.get("ts")), channel)
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

    def _failed(self, message: OutboxMessage, error: str, report: DrainReport) -> None:
        context = {"outbox_key": message.dedupe_key, "error": error, "attempts": message.attempts}
        if outbox.mark_failed(self.ctx.db, message, error, permanent=error in PERMANENT_ERRORS):
            report.failed += 1
            log.error("outbox message %s failed permanently: %s", message.dedupe_key, error, extra=context)
        else:
            report.retrying += 1
            log.warning("outbox message %s will be retried: %s", message.dedupe_key, error, extra=context)


def deliver(
    ctx: AppContext, keys: Iterable[str] | None = None, *, as_of: datetime | None = None
) -> DrainReport:
    """Send what is due now (the lazy step after a listener enqueued messages)."""
    return OutboxSender(ctx).drain(keys=keys, as_of=as_of)
