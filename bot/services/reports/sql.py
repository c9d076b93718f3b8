"""SQL building blocks shared by the report's queries: period conditions, membership,
hours between instants, week buckets, per-transaction tuning and id bounds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.orm import Session

from bot.models import Chat, ChatRole, Person
from bot.services.reports.periods import Period, local_midnight, week_starts

NO_FUNCTION = "(no function)"
DAYS_PER_MONTH = 30.4375  # expert load: a period's chats against chats_per_month
LEARNER_SIDE = (ChatRole.LEARNER, ChatRole.PEER)
EXPERT_SIDE = (ChatRole.EXPERT, ChatRole.PEER)


def over_capacity(chats: Any, chats_per_month: Any, days: int) -> ColumnElement[bool]:
    """More chats in a period of `days` than chats_per_month allows for it, rounded up to a
    whole chat: someone at 2 a month with 2 chats in four weeks is at capacity, not over it
    (2 × 28 / 30.4 = 1.84 allowed). `chats > ceil(allowed)` is `(chats - 1) ≥ allowed` for a
    whole number of chats, written without ceil, which SQLite lacks."""
    return (chats - 1) * DAYS_PER_MONTH >= chats_per_month * days


def dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def between(column: Any, period: Period) -> ColumnElement[bool]:
    return and_(column >= period.start, column < period.end)


def span(column: Any, current: Period, previous: Period) -> ColumnElement[bool]:
    """In either period. A to-date period ("this month" on the 18th) is compared with the
    same days of the previous one, so the days between the two belong to neither."""
    if previous.end >= current.start:
        return and_(column >= previous.start, column < current.end)
    return or_(between(column, previous), between(column, current))


def is_current(column: Any, current: Period) -> ColumnElement[int]:
    # Labelled and grouped through a subquery: PostgreSQL cannot match a GROUP BY
    # expression to the SELECT one when each carries its own bound parameter.
    return case((column >= current.start, 1), else_=0).label("cur")


def joined_at(end: datetime) -> ColumnElement[bool]:
    """Members taking part at `end`: joined before it, not left by then, reachable now."""
    return and_(
        Person.joined_at.is_not(None),
        Person.joined_at < end,
        or_(Person.left_at.is_(None), Person.left_at >= end),
        Person.is_deleted.is_(False),
        Person.is_bot.is_(False),
        Person.is_restricted.is_(False),
        Person.is_ultra_restricted.is_(False),
    )


def hours_between(later: Any, earlier: Any, dialect_name: str) -> ColumnElement[Any]:
    """Whole hours from `earlier` to `later` (non-negative spans), in SQL."""
    if dialect_name == "sqlite":
        # SQLite keeps UTC datetimes as ISO text; julianday() reads them. CAST truncates.
        return cast((func.julianday(later) - func.julianday(earlier)) * 24, Integer).label("h")
    return cast(func.floor(extract("epoch", later - earlier) / 3600), Integer).label("h")


def bucket(column: Any, bounds: Sequence[datetime]) -> ColumnElement[int]:
    """The index i of the interval bounds[i] <= column < bounds[i + 1] (the last one open-ended),
    for values at or after bounds[0], as a CASE nested like a binary search."""

    def node(lo: int, hi: int) -> Any:
        if lo == hi:
            return literal(lo)
        mid = (lo + hi + 1) // 2
        return case((column < bounds[mid], node(lo, mid - 1)), else_=node(mid, hi))

    return node(0, len(bounds) - 1)


def tune_for_reports(session: Session) -> None:
    """PostgreSQL, for this transaction only: the report's aggregates over a year of chats
    sort and hash in memory rather than spilling to disk, and are not JIT-compiled
    (compiling cost 0.2–0.3 s per statement and saved nothing)."""
    if dialect(session) == "postgresql":
        session.execute(text("SET LOCAL work_mem = '32MB'"))
        session.execute(text("SET LOCAL jit = off"))


def median(histogram: Sequence[tuple[float, int]]) -> float | None:
    """The median of values given as (value, how many) pairs."""
    pairs = sorted((v, n) for v, n in histogram if n)
    total = sum(n for _, n in pairs)
    if total == 0:
        return None
    wanted = [(total - 1) // 2, total // 2]
    found: list[float] = []
    seen = 0
    for value, n in pairs:
        while wanted and wanted[0] < seen + n:
            found.append(value)
            wanted.pop(0)
        seen += n
    return sum(found) / len(found)


def function_order(settings_functions: Sequence[str], seen: Iterable[str | None]) -> list[str]:
    """The configured functions in their order, then others alphabetically, then no function."""
    order = list(settings_functions)
    extra = sorted({f for f in seen if f and f not in order}, key=str.casefold)
    order += extra
    if any(f is None or f == "" for f in seen):
        order.append(NO_FUNCTION)
    return order


def function_label(value: str | None) -> str:
    return value or NO_FUNCTION


@dataclass(frozen=True)
class Ranges:
    """Id bounds of the rows a report reads: chats created in [previous.start, current.end),
    chats done from the earlier of previous.start and the first trend week up to current.end,
    and the requests those held chats came from. Ids grow with time, so `id BETWEEN lo AND hi`
    on chat_participants (by its primary key) and chat_requests reads about the period's rows
    instead of the whole table; the bounds are taken from the rows themselves, so the extra
    condition never drops a row (it only tells the planner where to look)."""

    created: tuple[int, int] | None = None
    done: tuple[int, int] | None = None
    requests: tuple[int, int] | None = None


def ranges(session: Session, cur: Period, prev: Period) -> Ranges:
    if dialect(session) != "postgresql":
        # SQLite already drives these joins from the chats' time indexes, one chat at a
        # time; an id range would lead it to scan chats by rowid instead (slower).
        return Ranges()
    since = min(prev.start, local_midnight(week_starts(cur)[0], cur.zone))
    # `id + 0`: a bare min(id)/max(id) lets PostgreSQL walk the primary key from one end,
    # filtering on the time column, which for the recent past reads most of the table; an
    # expression makes it range over the time index instead (0.11 s -> 0.03 s).
    chat_id, request_id = Chat.id + 0, Chat.request_id + 0
    created = select(func.min(chat_id), func.max(chat_id)).where(span(Chat.created_at, cur, prev))
    done = select(func.min(chat_id), func.max(chat_id), func.min(request_id), func.max(request_id)).where(
        Chat.done_at >= since, Chat.done_at < cur.end
    )
    c_lo, c_hi = session.execute(created).one()
    d_lo, d_hi, r_lo, r_hi = session.execute(done).one()

    def bounds(lo: int | None, hi: int | None) -> tuple[int, int]:
        return (0, -1) if lo is None or hi is None else (int(lo), int(hi))

    return Ranges(bounds(c_lo, c_hi), bounds(d_lo, d_hi), bounds(r_lo, r_hi))


def ids_in(column: Any, bounds: tuple[int, int] | None) -> ColumnElement[bool]:
    return true() if bounds is None else column.between(bounds[0], bounds[1])
