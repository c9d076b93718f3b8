"""The search tables' roll-ups: searches per whole month by group, and each search's chain.

The three search tables show, per group of a period's searches (the matched topic, else the
normalised query text), the searches, the distinct people searching, and the same for
searches that found fewer than k experts (bot.services.reports.topics). Reading 600,000
searches with two `COUNT(DISTINCT)` took half a second for two years; now:

* counts per whole local month of the report's zone that has ended, by group and results
  (`report_rollup_search_months`, built on first read, a few thousand rows a month); the
  rest of a period (its partial first and last months, the month under way) is read from
  the searches themselves, a few weeks at most;
* distinct people from each search's **chain** (`searches.prev_at`, `prev2_at`,
  `prev_results`): when the same person last searched the same group before it, the search
  before that, and what the previous one found. A
  person searched a group in [start, end) once per chain that has a search there, so the
  distinct people are the searches made by someone in the period minus the *repeats*, those
  whose previous search also lies in the period (`prev_at >= start`): an index range over
  the 10 % of searches that have a previous one. The people with a search finding fewer
  than k experts are counted the same way per chain, from the repeats alone: a chain's
  searches in the period are its first one there (whose results are `prev_results` of its
  earliest repeat, the one whose `prev2_at` is before the period) and its repeats.

Exact, for any period and any k: the figures are those of the raw rows (tests/test_report_rollups.py).

Kept right without a job on the write path: a search is stored unchained (`chained` false,
the column's default) and the next report, or the hourly `report-rollups` job, chains the
searches of the people who have unchained ones (`rechain`). A month is built only once it
has ended, so new searches never fall in a built month. Updates of searches (erasure, the
retention purge, a topic merge: bulk UPDATEs through a Session, or ORM flushes) unchain the
rows and their people's searches and forget the built months they fall in (`_bulk_search`,
`_search_flush`), in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    and_,
    case,
    delete,
    event,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import ORMExecuteState, Session

from bot.clock import utcnow
from bot.models import Search, Topic
from bot.models_rollups import RESULTS_CAP, report_months, report_search_months
from bot.services.reports.periods import Period, local_midnight

# The group of a search, as the report has always grouped them: (topic id or 0, query text
# lower-cased and trimmed by the database when no topic, else "").
GROUP_SQL = "coalesce(topic_id, 0), CASE WHEN topic_id IS NULL THEN lower(trim(query)) ELSE '' END"
_PENDING = "infochat_search_changes"
_EXACT_LIMIT = 5000  # more searches changed at once than this: forget the months of their span


def group_columns() -> tuple[Any, Any]:
    free = case((Search.topic_id.is_(None), func.lower(func.trim(Search.query))), else_="")
    return func.coalesce(Search.topic_id, 0), free


# -- chains ----------------------------------------------------------------------------------------


def rechain(session: Session, everyone: bool = False) -> int:
    """Set the chain of every search of the people who have an unchained one (`everyone`: of all
    searches), then mark the rest chained. Returns the searches whose people were chained."""
    scope = "" if everyone else "WHERE person_id IN (SELECT person_id FROM searches WHERE NOT chained)"
    connection = session.connection()
    result = connection.execute(
        text(
            "UPDATE searches SET prev_at = c.prev_at, prev2_at = c.prev2_at, prev_results = c.prev_results, "
            "chained = true FROM (SELECT id, lag(created_at) OVER w AS prev_at, "
            "lag(created_at, 2) OVER w AS prev2_at, lag(results) OVER w AS prev_results "
            f"FROM searches {scope} "
            f"WINDOW w AS (PARTITION BY {GROUP_SQL}, person_id ORDER BY created_at, id)) AS c "
            # Only the rows that change: an unchanged row rewritten is a dead row on PostgreSQL.
            "WHERE searches.id = c.id AND (NOT searches.chained "
            "OR searches.prev_at IS DISTINCT FROM c.prev_at OR searches.prev2_at IS DISTINCT FROM c.prev2_at "
            "OR searches.prev_results IS DISTINCT FROM c.prev_results)"
        )
    )
    # Searches by nobody (erased) are never counted as people: no chain.
    connection.execute(
        update(Search.__table__)
        .where(~Search.chained)
        .values(prev_at=None, prev2_at=None, prev_results=None, chained=True)
    )
    return int(result.rowcount or 0)


def keep_current(session: Session, lock: Any) -> None:
    """Chain what is unchained (the hourly `report-rollups` job), after `lock()`."""
    if _has_unchained(session):
        lock()
        rechain(session)


def _has_unchained(session: Session) -> bool:
    return session.execute(select(Search.id).where(~Search.chained).limit(1)).first() is not None


# -- months ----------------------------------------------------------------------------------------


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def rolled_months(first: date, last: date, zone: str, now: datetime) -> list[date]:
    """The whole local months of first..last that ended by `now` (and by the clock): a run,
    oldest first. A search is dated when it is made, so none is ever added to them."""
    ended_by = min(now, utcnow())
    found = []
    month = first.replace(day=1)
    if month < first:
        month = _next_month(month)
    while _next_month(month) - timedelta(days=1) <= last:
        if local_midnight(_next_month(month), zone) > ended_by:
            break
        found.append(month)
        month = _next_month(month)
    return found


def ensure(session: Session, period: Period, now: datetime, lock: Any) -> list[date]:
    """Chain what is unchained and build the months of `period` not built yet; `lock()` takes the
    builders' lock first (bot.services.reports.rollups). Returns the months to read."""
    months = rolled_months(period.first_day, period.last_day, period.zone, now)
    unchained = _has_unchained(session)
    missing = _missing(session, period.zone, months)
    if unchained or missing:
        lock()
        if _has_unchained(session):
            rechain(session)
        for month in _missing(session, period.zone, months):
            build_month(session, period.zone, month)
    return months


def _missing(session: Session, zone: str, months: list[date]) -> list[date]:
    if not months:
        return []
    m = report_months.c
    built = set(
        session.scalars(select(m.month).where(m.zone == zone, m.month.between(months[0], months[-1])))
    )
    return [month for month in months if month not in built]


def build_month(session: Session, zone: str, month: date) -> None:
    """Rebuild the rows of one local month of `zone` from the searches."""
    s = report_search_months.c
    connection = session.connection()
    connection.execute(delete(report_search_months).where(s.zone == zone, s.month == month))
    connection.execute(
        delete(report_months).where(report_months.c.zone == zone, report_months.c.month == month)
    )
    tid, q = group_columns()
    results = case((Search.results > RESULTS_CAP, RESULTS_CAP), else_=Search.results)
    rows = (
        select(
            literal(zone, s.zone.type),
            literal(month, s.month.type),
            tid,
            q,
            results,
            func.count(),
            func.count(Search.person_id),
        )
        .where(
            Search.created_at >= local_midnight(month, zone),
            Search.created_at < local_midnight(_next_month(month), zone),
        )
        .group_by(tid, q, results)
    )
    connection.execute(
        insert(report_search_months).from_select(
            ["zone", "month", "tid", "q", "results", "searches", "people"], rows
        )
    )
    connection.execute(insert(report_months), [{"zone": zone, "month": month, "built_at": utcnow()}])


def build_all(session: Session, zone: str, now: datetime) -> int:
    """Chain every search and build every ended month of the searches' history; returns the months."""
    rechain(session)
    first = session.scalar(select(func.min(Search.created_at)))
    if first is None:
        return 0
    tz = ZoneInfo(zone)
    months = rolled_months(first.astimezone(tz).date(), now.astimezone(tz).date(), zone, now)
    for month in _missing(session, zone, months):
        build_month(session, zone, month)
    return len(months)


def forget(session: Session, instants: Iterable[datetime] | None = None) -> None:
    """Forget the built months these instants fall on, in every zone (None: every month)."""
    m = report_months.c
    connection = session.connection()
    if instants is None:
        connection.execute(delete(report_months))
        return
    found = set(instants)
    if not found:
        return
    for zone in connection.execute(select(m.zone).distinct()).scalars().all():
        tz = ZoneInfo(zone)
        months = sorted({at.astimezone(tz).date().replace(day=1) for at in found})
        connection.execute(delete(report_months).where(m.zone == zone, m.month.in_(months)))


# -- reading ---------------------------------------------------------------------------------------


def searched_rows(session: Session, period: Period, k: int, months: list[date]) -> list[tuple[Any, ...]]:
    """Per group: (label, topic id or None, searches, people, searches finding fewer than k
    experts, people of those, the most experts one of those found), ordered by label as the
    database orders it; what `topics.searched` reads from the raw rows."""
    parts = []
    s = report_search_months.c
    few = s.results < k
    if months:
        parts.append(
            select(
                s.tid,
                s.q,
                s.searches.label("n"),
                s.people.label("np"),
                case((few, s.searches), else_=0).label("nf"),
                case((few, s.people), else_=0).label("nfp"),
                case((few, s.results)).label("found"),
            ).where(s.zone == period.zone, s.month.between(months[0], months[-1]))
        )
    for start, end in _raw_spans(period, months):
        parts.append(_raw_part(start, end, k))
    rows = union_all(*parts).subquery("parts")
    summed = (
        select(
            rows.c.tid,
            rows.c.q,
            func.sum(rows.c.n).label("n"),
            func.sum(rows.c.np).label("np"),
            func.sum(rows.c.nf).label("nf"),
            func.sum(rows.c.nfp).label("nfp"),
            func.max(rows.c.found).label("found"),
        )
        .group_by(rows.c.tid, rows.c.q)
        .subquery("summed")
    )
    repeats = _repeats(period, k)
    label = func.coalesce(Topic.name, summed.c.q)
    stmt = (
        select(
            label,
            summed.c.tid,
            summed.c.n,
            summed.c.np - func.coalesce(repeats.c.reps, 0),
            summed.c.nf,
            summed.c.nfp - func.coalesce(repeats.c.fewreps, 0),
            summed.c.found,
        )
        .select_from(summed)
        .outerjoin(repeats, and_(repeats.c.tid == summed.c.tid, repeats.c.q == summed.c.q))
        .outerjoin(Topic, Topic.id == summed.c.tid)
        .order_by(label)
    )
    return [
        (str(name), int(tid) or None, int(n), int(p), int(nf or 0), int(pf or 0), found)
        for name, tid, n, p, nf, pf, found in session.execute(stmt)
    ]


def _raw_spans(period: Period, months: list[date]) -> list[tuple[datetime, datetime]]:
    """The instants of `period` outside the rolled months (before and after them)."""
    if not months:
        return [(period.start, period.end)]
    first, after = (
        local_midnight(months[0], period.zone),
        local_midnight(_next_month(months[-1]), period.zone),
    )
    return [(a, b) for a, b in ((period.start, first), (after, period.end)) if a < b]


def _raw_part(start: datetime, end: datetime, k: int) -> Any:
    tid, q = group_columns()
    few = Search.results < k
    return (
        select(
            tid.label("tid"),
            q.label("q"),
            func.count().label("n"),
            func.count(Search.person_id).label("np"),
            func.count(case((few, 1))).label("nf"),
            func.count(case((and_(few, Search.person_id.is_not(None)), 1))).label("nfp"),
            func.max(case((few, Search.results))).label("found"),
        )
        .where(Search.created_at >= start, Search.created_at < end)
        .group_by(tid, q)
    )


def _repeats(period: Period, k: int) -> Any:
    """Per group, searches of the period by someone whose previous search of the group is in the
    period too (`reps`), and how many of the people's searches finding fewer than k experts
    are not their first such search in the period (`fewreps`)."""
    tid, q = group_columns()
    few = case((Search.results < k, 1), else_=0)
    # The earliest repeat of a chain follows its first search in the period: the one whose
    # previous search's own previous one is before the period (or none).
    earliest = or_(Search.prev2_at.is_(None), Search.prev2_at < period.start)
    first_few = case((and_(earliest, Search.prev_results < k), 1), else_=0)
    # Per chain: its repeats, and its searches finding few in the period (its first one there,
    # when it found few, and its repeats).
    chains = (
        select(
            tid.label("tid"),
            q.label("q"),
            func.count().label("reps"),
            (func.sum(few) + func.sum(first_few)).label("few"),
        )
        .where(
            Search.prev_at >= period.start,
            Search.prev_at < period.end,
            Search.created_at < period.end,
            Search.person_id.is_not(None),
        )
        .group_by(tid, q, Search.person_id)
        .subquery("chains")
    )
    return (
        select(
            chains.c.tid,
            chains.c.q,
            func.sum(chains.c.reps).label("reps"),
            func.sum(case((chains.c.few > 1, chains.c.few - 1), else_=0)).label("fewreps"),
        )
        .group_by(chains.c.tid, chains.c.q)
        .subquery("repeats")
    )


# -- changes: updates of searches unchain them and forget their months --------------------------------


def changed(session: Session, where: Any, *, redated: bool = False) -> None:
    """Before searches matching `where` change: unchain them and their people's other searches,
    and forget the months they fall in (`redated`: every month, their dates change)."""
    connection = session.connection()
    people = select(Search.person_id).where(where, Search.person_id.is_not(None)).distinct()
    connection.execute(
        update(Search.__table__)
        .where(Search.chained.is_(True), or_(where, Search.person_id.in_(people)))
        .values(chained=False)
    )
    if redated:
        forget(session)
        return
    instants = list(
        connection.execute(select(Search.created_at).where(where).limit(_EXACT_LIMIT + 1)).scalars()
    )
    if len(instants) > _EXACT_LIMIT:
        span = select(func.min(Search.created_at), func.max(Search.created_at)).where(where)
        low, high = connection.execute(span).one()
        instants = _month_starts(low, high)
    forget(session, instants)


def _month_starts(low: datetime, high: datetime) -> list[datetime]:
    """An instant in every UTC day from low to high: every local month between them, in any zone."""
    days = (high - low).days + 2
    return [low + timedelta(days=d) for d in range(days)] + [high]


@event.listens_for(Session, "do_orm_execute")
def _bulk_search(state: ORMExecuteState) -> None:
    """A bulk UPDATE/DELETE of searches through a Session (ORM `update(Search)`, or the searches
    table's own, as a topic merge runs it): `changed` before it runs."""
    if not (state.is_update or state.is_delete):
        return
    if getattr(getattr(state.statement, "table", None), "name", None) != Search.__tablename__:
        return
    where = state.statement.whereclause
    if where is None:
        where = literal(True)
    values = {str(getattr(key, "key", key)) for key in getattr(state.statement, "_values", None) or {}}
    changed(state.session, where, redated="created_at" in values)


@event.listens_for(Session, "before_flush")
def _search_flush(session: Session, _context: Any, _instances: Any) -> None:
    pending: dict[str, set[Any]] = session.info.setdefault(_PENDING, {"at": set(), "people": set()})
    for obj in (*session.new, *session.dirty, *session.deleted):
        if not isinstance(obj, Search):
            continue
        state = sa_inspect(obj)
        for name, key in (("created_at", "at"), ("person_id", "people")):
            history = state.attrs[name].history
            pending[key].update(
                v for v in (*history.added, *history.unchanged, *history.deleted) if v is not None
            )


@event.listens_for(Session, "after_flush")
def _search_flushed(session: Session, _context: Any) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending or not (pending["at"] or pending["people"]):
        return
    connection = session.connection()
    if pending["people"]:
        people = sorted(pending["people"])
        connection.execute(update(Search.__table__).where(Search.person_id.in_(people)).values(chained=False))
    instants = {at if at.tzinfo else at.replace(tzinfo=UTC) for at in pending["at"]}
    forget(session, instants)
