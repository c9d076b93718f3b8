"""HR dashboard sessions kept on the server, so that signing out ends one everywhere.

The browser's cookie (bot.dashboard.auth) is signed and carries a random token;
a request is signed in only while that token's row exists and has not expired.
Sessions are a handful of rows (admins × sign-ins within INFOCHAT_DASHBOARD_SESSION_HOURS),
kept in `app_state` under `dashboard_session:<SHA-256 of the token>` (only the hash
is stored: reading the table gives nobody a session) with the value
`<expiry, ISO 8601 UTC> <Slack user id>`, whose fixed-width timestamp sorts as text,
so expired rows are deleted with one comparison.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from bot.models import AppState

PREFIX = "dashboard_session:"


def _key(token: str) -> str:
    digest = hashlib.sha256(token.encode()).digest()
    return PREFIX + base64.urlsafe_b64encode(digest).decode().rstrip("=")  # 18 + 43 characters


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def start(session: Session, user_id: str, now: datetime, lifetime: timedelta) -> str:
    """A new session for `user_id`; returns the token for the cookie. Clears expired ones."""
    session.execute(delete(AppState).where(AppState.key.startswith(PREFIX), AppState.value <= _stamp(now)))
    token = secrets.token_urlsafe(32)
    session.add(AppState(key=_key(token), value=f"{_stamp(now + lifetime)} {user_id}", updated_at=now))
    return token


def user_of(session: Session, token: str, now: datetime) -> str | None:
    """Whose session `token` is, while it has been neither ended nor outlived."""
    if not token:
        return None
    row = session.get(AppState, _key(token))
    if row is None:
        return None
    expires, _, user_id = row.value.partition(" ")
    return user_id if expires > _stamp(now) else None


def end(session: Session, token: str) -> None:
    """Sign-out: the token no longer signs anyone in, wherever the cookie was copied."""
    if token:
        session.execute(delete(AppState).where(AppState.key == _key(token)))
