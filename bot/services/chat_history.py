"""Someone's chats as capacity and search ranking count them, read from the raw rows.

Shared by `usage` (each person's counts, `person_usage`) and `expert_ranks` (search's
precomputed ranking, which `usage` refreshes after every recount): both read these
definitions, so neither has to import the other's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import BigInteger, select
from sqlalchemy.orm import Session

from bot.db import one_of
from bot.models import Chat, ChatParticipant, ChatRole

RECENT = timedelta(days=90)  # the same window as bot.services.find.RECENT
CAPACITY_ROLES = (ChatRole.EXPERT, ChatRole.PEER)


def month_start(at: datetime) -> datetime:
    """Midnight UTC on the first of `at`'s month: monthly capacity resets then, for everyone."""
    return at.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


@lru_cache(maxsize=4)
def _history_statement(among: bool, postgres: bool) -> Any:
    """Built once: a profile save reads one person's history, and building costs as much as reading."""
    cp, c = ChatParticipant.__table__.c, Chat.__table__.c
    stmt = select(cp.person_id, cp.role, c.created_at).join_from(
        ChatParticipant.__table__, Chat.__table__, c.id == cp.chat_id
    )
    return stmt.where(one_of(cp.person_id, "person_ids", BigInteger, postgres)) if among else stmt


def history(session: Session, person_ids: list[int] | None) -> dict[int, list[tuple[Any, datetime]]]:
    """Each person's (role, chat created_at); everyone's with None (what the rows count)."""
    connection = session.connection()
    stmt = _history_statement(person_ids is not None, connection.dialect.name == "postgresql")
    found: dict[int, list[tuple[Any, datetime]]] = {pid: [] for pid in person_ids or []}
    for person_id, role, created in connection.execute(stmt, {"person_ids": person_ids or []}):
        found.setdefault(person_id, []).append((role, created))
    return found
