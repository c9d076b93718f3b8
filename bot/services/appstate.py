"""Workspace-wide state: events already seen, and whether sending is stopped."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from bot.db import insert_once
from bot.models import AppState, SlackEvent

SENDING_STOPPED = "sending_stopped"
EVENT_MEMORY = timedelta(days=7)  # Slack retries within minutes; a week is plenty


def record_event(session: Session, event_id: str, event_type: str, now: datetime) -> bool:
    """Record an Events API delivery on arrival; False when this event_id was seen before."""
    values = {"event_id": event_id[:64], "event_type": event_type[:64], "received_at": now}
    return insert_once(session, SlackEvent, values)


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


def sending_stopped(session: Session) -> str | None:
    """Why sending is stopped (app uninstalled, tokens revoked), or None. Cached briefly per process."""
    cached = _cache.get(SENDING_STOPPED)
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    state = session.get(AppState, SENDING_STOPPED)
    value = state.value if state is not None else None
    _cache[SENDING_STOPPED] = (time.monotonic(), value)
    return value
