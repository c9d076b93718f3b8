"""Events API de-duplication and the app's lifecycle events.

Slack re-delivers an event it thinks was missed (`X-Slack-Retry-Num` over
HTTP, `retry_attempt` in Socket Mode) with the same `event_id`. The first
delivery is recorded on arrival, atomically; a later delivery of a recorded
event is acked and dropped. A retry whose original never arrived is simply the
first delivery, and is processed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt.response import BoltResponse
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.context import AppContext
from bot.listeners import on_event
from bot.retry import ACK_BUDGET_SECONDS
from bot.services import appstate, home

log = logging.getLogger(__name__)


def resume_after_reinstall(ctx: AppContext) -> None:
    """A slash command reaching us proves the app is installed again: resume sending.
    (The state is cached per process for 30 s, so this rarely reaches the database, and while
    the cache says "sending" it opens no unit of work at all.)"""
    if appstate.known_to_be_sending():
        return

    def resume(session: Session) -> bool:
        return appstate.sending_stopped(session) is not None and appstate.resume_sending(session)

    if ctx.db.run(resume, label="resume_after_reinstall", budget=ACK_BUDGET_SECONDS):
        log.warning("app in use again: sending resumed")


def drop_repeated_events(
    ctx: AppContext, body: dict[str, Any], next: Callable[[], BoltResponse]
) -> BoltResponse | None:
    """Middleware (registered before every listener): a repeated event is acked and dropped."""
    event_id = body.get("event_id") if body.get("type") == "event_callback" else None
    if not event_id:
        if "command" in body:
            resume_after_reinstall(ctx)
        return next()
    event_type = str((body.get("event") or {}).get("type", ""))
    first = ctx.db.run_statements(
        lambda connection: appstate.record_event(connection, str(event_id), event_type, utcnow()),
        label="record_event",
        budget=ACK_BUDGET_SECONDS,
    )
    if not first:
        log.info("event %s (%s) already handled; dropping the retry", event_id, event_type)
        return BoltResponse(status=200, body="")
    return next()


def stop(ctx: AppContext, event: dict[str, Any], ack: Callable[..., None]) -> None:
    # Nothing can be delivered any more; pending messages stay queued and
    # nothing is lost if the app is installed again.
    with ctx.db.session() as session:
        appstate.stop_sending(session, str(event.get("type")))
        home.forget_everyone(session)  # an uninstalled app's Home tabs are gone from Slack
    log.warning("Slack says %s: sending stopped", event.get("type"))
    ack()


LISTENERS = (on_event("app_uninstalled", stop), on_event("tokens_revoked", stop))
