"""Per-person chat counts for search ranking (`person_usage`), kept in step with the chats.

`/infochat find` ranks experts by spare capacity this UTC month (chats as
expert or peer) and then by chats in the last 90 days (any role). Counting
those through chat_participants and chats for every candidate cost a popular
topic (3,000 experts) most of its ranking time, so each person's counts are
stored in one row that the ranking statement reads by primary key.

What a row says, and when it is exact:

* `month`, `month_chats`: the UTC month of the person's latest chat as expert
  or peer and how many they have in it. For a search in month M: `month` = M
  gives the count; `month` before M (or None) means none in M, so 0; `month`
  after M (a search dated before the latest chat) is not answered by the row.
* `recent`, `recent_oldest`, `recent_before`: `recent` chats at or after
  `recent_oldest`, the newest older one at `recent_before`. For any instant
  `since` in (recent_before, recent_oldest] the number of chats at or after
  `since` is `recent`. As time passes `since` (now − 90 days) moves past
  `recent_oldest`; then the row no longer answers.

Where a row does not answer, the ranking statement counts that person's chats
as before (a correlated subquery reached only for them), so results are exact
whatever the row's age; `refresh_expired` (hourly, bot.scheduler's
"chat-usage") re-reads rows whose window moved on, so that stays rare.

The rows are refreshed in the same flush that inserts, deletes or re-dates a
ChatParticipant or a Chat through the ORM (requests, follow-ups, tests'
factories). Cancelling a chat changes nothing: cancelled chats count towards
capacity, as they always have. Bulk Core statements on those tables bypass the
hook: call `refresh(session, person_ids)`, `recount(session, select_of_ids)` or
`rebuild(session)` after them (a weekly round writes its chats so and recounts
its people with one `recount`; bench/search.py's seeding rebuilds). Every
recount is the same SQL (`_counts`): the database counts, set-based, for one
person or 50,000.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, String, and_, case, delete, event, func, insert, literal, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.models import Chat, ChatParticipant, Person, PersonUsage, UTCDateTime
from bot.services import expert_ranks
from bot.services.chat_history import CAPACITY_ROLES, RECENT, history, month_start

__all__ = [
    "CAPACITY_ROLES",
    "RECENT",
    "history",
    "month_start",
]  # usage.month_start etc. stay where callers look

_BATCH = 500


def refresh(session: Session, person_ids: Iterable[int], at: datetime | None = None) -> None:
    """Recount these people's rows from their chats (no row for someone without any)."""
    ids = sorted(set(person_ids))
    at = at or utcnow()
    person = Person.__table__
    for start in range(0, len(ids), _BATCH):
        _recount(session, select(person.c.id).where(person.c.id.in_(ids[start : start + _BATCH])), at)
    expert_ranks.refresh(session, ids, at)  # search's ranking reads these counts too


def recount(session: Session, people: Select[Any], at: datetime | None = None) -> None:
    """`refresh` for the people `people` selects (a SELECT of person ids that the recount
    itself does not change: not one reading person_usage): their counts in three
    statements however many they are (a weekly round recounts 50,000 people at once),
    then search's ranking rows."""
    at = at or utcnow()
    _recount(session, people, at)
    expert_ranks.refresh(session, list(session.connection().execute(people).scalars()), at)


def _recount(session: Session, people: Select[Any], at: datetime) -> None:
    connection = session.connection()
    table, person = PersonUsage.__table__, Person.__table__
    if connection.dialect.name == "postgresql":
        # Two transactions recounting one person (an expert accepting two
        # requests at once) take turns here, so the second counts the
        # first's chat once it commits, and its DELETE sees the first's row.
        # (SQLite writers are serialised already.)
        connection.execute(
            select(person.c.id)
            .where(person.c.id.in_(people.scalar_subquery()))
            .order_by(person.c.id)
            .with_for_update(key_share=True)
        )
    connection.execute(delete(table).where(table.c.person_id.in_(people.scalar_subquery())))
    connection.execute(insert(table).from_select(_COLUMNS, _counts(connection.dialect.name, people, at)))


def rebuild(session: Session, at: datetime | None = None) -> int:
    """Recount every row from scratch (after bulk loads); returns the rows written.

    Search's ranking rows are derived from these counts' chats too: after a bulk
    load call `expert_ranks.rebuild` as well.
    """
    connection = session.connection()
    table = PersonUsage.__table__
    connection.execute(delete(table))
    connection.execute(
        insert(table).from_select(_COLUMNS, _counts(connection.dialect.name, None, at or utcnow()))
    )
    # Counted, not the INSERT's rowcount: pysqlite reports none for a statement opening with WITH.
    return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


_COLUMNS = ["person_id", "month", "month_chats", "recent", "recent_oldest", "recent_before"]


def _counts(dialect: str, people: Select[Any] | None, at: datetime) -> Select[Any]:
    """A row per person with a chat (of those `people` selects, or everyone), as the
    module's docstring defines it, recounted at `at`."""
    cp, c = ChatParticipant.__table__.c, Chat.__table__.c
    history = select(cp.person_id, cp.role, c.created_at).join_from(
        ChatParticipant.__table__, Chat.__table__, c.id == cp.chat_id
    )
    if people is not None:
        history = history.where(cp.person_id.in_(people.scalar_subquery()))
    cte = history.cte("history")
    h = cte.c
    capacity = h.role.in_(CAPACITY_ROLES)
    latest = func.max(case((capacity, h.created_at)))
    if dialect == "postgresql":
        month_of_latest: Any = func.date_trunc("month", latest, "UTC")
    else:  # SQLite keeps instants as UTC text: '2026-12-07 09:30:00.000000'
        month_of_latest = func.substr(latest, 1, 7, type_=String).concat("-01 00:00:00.000000")
    months = select(h.person_id, month_of_latest.label("month")).group_by(h.person_id).subquery("months")
    m = months.c
    since = literal(at - RECENT, UTCDateTime())
    counted = h.created_at >= since
    return (
        select(
            h.person_id,
            m.month,
            # The month is that of the latest such chat: every one from its start is in it.
            func.sum(case((and_(capacity, h.created_at >= m.month), 1), else_=0)),
            func.sum(case((counted, 1), else_=0)),
            func.min(case((counted, h.created_at))),
            func.max(case((h.created_at < since, h.created_at))),
        )
        .join_from(cte, months, m.person_id == h.person_id)
        .group_by(h.person_id, m.month)
    )


def refresh_expired(session: Session, now: datetime) -> int:
    """Recount the rows whose 90-day window `now` has moved past (or will within the hour)."""
    u = PersonUsage.__table__.c
    horizon = now - RECENT + timedelta(hours=1)
    ids = list(session.connection().execute(select(u.person_id).where(u.recent_oldest < horizon)).scalars())
    refresh(session, ids, now)
    return len(ids)


# -- the flush hook ---------------------------------------------------------------------------

_PENDING = "infochat_usage_pending"


def _chat_people(session: Session, chat_ids: set[int]) -> set[int]:
    if not chat_ids:
        return set()
    cp = ChatParticipant.__table__.c
    stmt = select(cp.person_id).where(cp.chat_id.in_(sorted(chat_ids)))
    return set(session.connection().execute(stmt).scalars())


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    # Participants of chats about to be deleted or re-dated: read now, while
    # their rows are still there (a deleted chat cascades to them).
    chat_ids: set[int] = set()
    for obj in session.deleted:
        if isinstance(obj, Chat) and obj.id is not None:
            chat_ids.add(obj.id)
    for obj in session.dirty:
        if (
            isinstance(obj, Chat)
            and obj.id is not None
            and sa_inspect(obj).attrs.created_at.history.has_changes()
        ):
            chat_ids.add(obj.id)
    if chat_ids:
        session.info.setdefault(_PENDING, set()).update(_chat_people(session, chat_ids))


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    people: set[int] = session.info.pop(_PENDING, set())
    dirty = session.dirty  # a new set on every read: once, not once per object
    for obj in (*session.new, *session.deleted, *dirty):
        if isinstance(obj, ChatParticipant):
            state = sa_inspect(obj)
            if obj in dirty and not (
                state.attrs.role.history.has_changes()
                or state.attrs.person_id.history.has_changes()
                or state.attrs.chat_id.history.has_changes()
            ):
                continue  # follow-up answers and check-ins change no count
            if obj.person_id is not None:
                people.add(obj.person_id)
            for old in state.attrs.person_id.history.deleted or ():
                if old is not None:
                    people.add(old)
    if people:
        refresh(session, people)
