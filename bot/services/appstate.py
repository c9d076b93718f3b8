"""Workspace-wide state: events already seen, and whether sending is stopped."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from bot.db import insert_ignoring_duplicates
from bot.models import AppState, SlackEvent

SENDING_STOPPED = "sending_stopped"
EVENT_MEMORY = timedelta(days=7)  # Slack retries within minutes; a week is plenty


def record_event(connection: Connection, event_id: str, event_type: str, now: datetime) -> bool:
    """Record an Events API delivery on arrival; False when this event_id was seen before.

    One Core statement on a connection (`Database.run_statements`), built once per backend:
    30 % of people's requests are Home opens, and each is recorded before its ack."""
    statement = _RECORD_EVENT.get(connection.dialect.name)
    if statement is None:
        table = SlackEvent.__table__
        statement = insert_ignoring_duplicates(connection, table).returning(table.c.event_id)
        _RECORD_EVENT[connection.dialect.name] = statement
    values = {"event_id": event_id[:64], "event_type": event_type[:64], "received_at": now}
    return connection.execute(statement, values).first() is not None


_RECORD_EVENT: dict[str, Any] = {}


def forget_old_events(session: Session, now: datetime) -> int:
    return int(
        session.execute(delete(SlackEvent).where(SlackEvent.received_at < now - EVENT_MEMORY)).rowcount or 0
    )


def stop_sending(session: Session, reason: str) -> None:
    state = session.get(AppState, SENDING_STOPPED)
    if state is None:
        session.add(AppState(key=SENDING_STOPPED, value=reason[:500]))
    else:
        state.value = reason[:500]
    _cache.clear()


def resume_sending(session: Session) -> bool:
    state = session.get(AppState, SENDING_STOPPED)
    _cache.clear()
    if state is None:
        return False
    session.delete(state)
    return True


_cache: dict[str, tuple[float, str | None]] = {}
CACHE_SECONDS = 30.0


def known_to_be_sending() -> bool:
    """True when this process read, within the last CACHE_SECONDS, that sending is not stopped
    (a slash command then needs no unit of work to tell the app is installed)."""
    cached = _cache.get(SENDING_STOPPED)
    return cached is not None and cached[1] is None and time.monotonic() - cached[0] < CACHE_SECONDS


def sending_stopped(session: Session) -> str | None:
    """Why sending is stopped (app uninstalled, tokens revoked), or None. Cached briefly per process."""
    cached = _cache.get(SENDING_STOPPED)
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    state = session.get(AppState, SENDING_STOPPED)
    value = state.value if state is not None else None
    _cache[SENDING_STOPPED] = (time.monotonic(), value)
    return value
