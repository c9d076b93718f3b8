"""What people learned about: the topics of shared takeaways, one row each, and each author's chain.

The report's "What people learned about" counts, per topic of the period's *shared*
takeaways, the takeaways and their distinct authors. From the takeaways themselves that is a
JSON list per row and a `COUNT(DISTINCT)` (0.27 s for two years at 50,000 people); here each
topic of a shared takeaway is a row of `report_rollup_takeaway_topics` with the instant of
its author's previous shared takeaway on the same topic (`prev_at`), so the distinct authors
of a period are its rows minus those whose previous one lies in it too: one pass over an
index of narrow rows, exact.

Kept in the transaction that writes a takeaway: a flush that adds, deletes or changes a
takeaway's topics, sharing, date or author rewrites its rows and re-chains its author's
(`_takeaway_flush`); so does a bulk UPDATE/DELETE of takeaways through a Session that sets
any of those (an erasure blanks the topics; the retention purge blanks text only and is
not concerned). Private takeaways have no rows: their topics are never read.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, case, delete, event, func, insert, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import ORMExecuteState, Session

from bot.models import Share, Takeaway
from bot.models_rollups import report_takeaway_topics
from bot.services.reports.periods import Period

_CHUNK = 500
_COLUMNS = {"topics", "share", "created_at", "author_id"}  # what a takeaway's rows are made of
_PENDING = "infochat_takeaway_changes"
_TABLE = report_takeaway_topics.name


def rows_of(
    takeaway_id: int, author_id: int, topics: Any, share: Any, created_at: Any
) -> list[dict[str, Any]]:
    """The rows of one takeaway: none unless shared; one per text topic, in the list's order."""
    if share is None or Share(share) == Share.ME or not isinstance(topics, list):
        return []
    return [
        {
            "takeaway_id": takeaway_id,
            "pos": pos,
            "topic": topic,
            "author_id": author_id,
            "created_at": created_at,
        }
        for pos, topic in enumerate(topics)
        if isinstance(topic, str)
    ]


def refresh(connection: Connection, takeaway_ids: Iterable[int], authors: Iterable[int]) -> None:
    """Rewrite the rows of these takeaways from the takeaways table, then re-chain these authors
    and the takeaways' own."""
    ids = sorted(set(takeaway_ids))
    people = set(authors)
    t = report_takeaway_topics.c
    for start in range(0, len(ids), _CHUNK):
        batch = ids[start : start + _CHUNK]
        connection.execute(delete(report_takeaway_topics).where(t.takeaway_id.in_(batch)))
        found = connection.execute(
            select(
                Takeaway.id, Takeaway.author_id, Takeaway.topics, Takeaway.share, Takeaway.created_at
            ).where(Takeaway.id.in_(batch))
        ).all()
        rows = [row for found_row in found for row in rows_of(*found_row)]
        people.update(author for _, author, *_ in found)
        if rows:
            connection.execute(insert(report_takeaway_topics), rows)
    rechain(connection, people)


def rechain(connection: Connection, authors: Iterable[int] | None) -> None:
    """Set `prev_at` on the rows of these authors (None: everyone's)."""
    scope = ""
    params: dict[str, Any] = {}
    statement_params: list[Any] = []
    if authors is not None:
        people = sorted(set(authors))
        if not people:
            return
        scope = "WHERE author_id IN :authors"
        params["authors"] = people
        statement_params.append(bindparam("authors", expanding=True))
    statement = text(
        f"UPDATE {_TABLE} SET prev_at = c.prev_at FROM (SELECT takeaway_id, pos, lag(created_at) OVER "
        "(PARTITION BY author_id, topic ORDER BY created_at, takeaway_id, pos) AS prev_at "
        f"FROM {_TABLE} {scope}) AS c "
        f"WHERE {_TABLE}.takeaway_id = c.takeaway_id AND {_TABLE}.pos = c.pos "
        f"AND {_TABLE}.prev_at IS DISTINCT FROM c.prev_at"
    )
    if statement_params:
        statement = statement.bindparams(*statement_params)
    connection.execute(statement, params)


def build_all(connection: Connection) -> int:
    """Every shared takeaway's rows, from scratch (a backfill); returns how many rows."""
    connection.execute(delete(report_takeaway_topics))
    written = 0
    batch: list[dict[str, Any]] = []
    stmt = select(
        Takeaway.id, Takeaway.author_id, Takeaway.topics, Takeaway.share, Takeaway.created_at
    ).where(Takeaway.share != Share.ME)
    for found in connection.execute(stmt.execution_options(yield_per=20_000)):
        batch.extend(rows_of(*found))
        if len(batch) >= 20_000:
            connection.execute(insert(report_takeaway_topics), batch)
            written += len(batch)
            batch = []
    if batch:
        connection.execute(insert(report_takeaway_topics), batch)
        written += len(batch)
    rechain(connection, None)
    return written


def learned(session: Session, period: Period, k: int, limit: int) -> list[tuple[str, int, int]]:
    """(topic, shared takeaways, distinct authors) of the period with k+ authors, the most first."""
    t = report_takeaway_topics.c
    authors = func.count() - func.count(case((t.prev_at >= period.start, 1)))
    stmt = (
        select(t.topic, func.count(), authors)
        .where(t.created_at >= period.start, t.created_at < period.end)
        .group_by(t.topic)
        .having(authors >= k)
        .order_by(authors.desc(), func.count().desc(), t.topic)
        .limit(limit)
    )
    return [(str(topic), int(n), int(a)) for topic, n, a in session.execute(stmt)]


# -- changes ---------------------------------------------------------------------------------------


@event.listens_for(Session, "before_flush")
def _takeaway_flush(session: Session, _context: Any, _instances: Any) -> None:
    pending: dict[str, set[Any]] = session.info.setdefault(_PENDING, {"objects": set(), "authors": set()})
    added, deleted = session.new, session.deleted
    for obj in (*added, *session.dirty, *deleted):
        if not isinstance(obj, Takeaway):
            continue
        state = sa_inspect(obj)
        if obj in added or obj in deleted or any(state.attrs[c].history.has_changes() for c in _COLUMNS):
            pending["objects"].add(obj)
            history = state.attrs.author_id.history
            pending["authors"].update(a for a in (*history.added, *history.unchanged, *history.deleted) if a)


@event.listens_for(Session, "after_flush")
def _takeaway_flushed(session: Session, _context: Any) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending or not pending["objects"]:
        return
    ids = [obj.id for obj in pending["objects"] if obj.id is not None]
    refresh(session.connection(), ids, pending["authors"])


@event.listens_for(Session, "do_orm_execute")
def _bulk_takeaways(state: ORMExecuteState) -> Any:
    """A bulk UPDATE setting what a takeaway's rows are made of, or a bulk DELETE, of takeaways
    through a Session: rewrite the rows of those it touched once it ran."""
    if not (state.is_update or state.is_delete):
        return None
    if getattr(getattr(state.statement, "table", None), "name", None) != Takeaway.__tablename__:
        return None
    values = {str(getattr(key, "key", key)) for key in getattr(state.statement, "_values", None) or {}}
    if state.is_update and not values & _COLUMNS:
        return None
    where = state.statement.whereclause
    connection = state.session.connection()
    matched = select(Takeaway.id, Takeaway.author_id)
    if where is not None:
        matched = matched.where(where)
    touched = connection.execute(matched).all()
    result = state.invoke_statement()
    refresh(connection, [tid for tid, _ in touched], [author for _, author in touched])
    return result
