"""HR reports: participation, request outcomes, cross-function flow, topics, expert load.

Everything is computed with SQL aggregates (GROUP BY, COUNT DISTINCT, CASE
buckets): the database returns at most a few hundred summary rows, never the
people, chats or searches themselves, so a report over 50,000 people and a
million chats stays within seconds (bench/reports.py, docs/reports.md).

Privacy (PRODUCT.md §5, docs/reports.md) is applied here, before anything is
rendered, exported or charted, so no surface can show a raw small number:

- every cell carries the size of the smallest group of people it describes
  (`Cell.people`); a cell describing 1 to k-1 people (k = MIN_GROUP_SIZE) is
  suppressed; zero describes nobody and is shown;
- complementary suppression: while a row or column of a table has exactly one
  suppressed cell, the smallest visible cell of that line is suppressed too, so
  a total shown elsewhere minus the visible cells cannot reveal it;
- topics are listed only when at least k people stand behind them, and
  takeaways appear only as counts; the topics of private takeaways (share
  "me") are never read.

Nothing here knows about Slack payloads; `is_admin` asks Slack for user-group
membership through the gateway and caches the answer.
"""

from __future__ import annotations

import calendar
import csv
import io
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from slack_sdk.errors import SlackApiError
from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    distinct,
    extract,
    func,
    literal,
    null,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from bot.gateway.slack import SlackGateway
from bot.models import (
    AuditEntry,
    Chat,
    ChatParticipant,
    ChatRequest,
    ChatRole,
    Person,
    PersonTopic,
    RequestStatus,
    Search,
    Share,
    Takeaway,
    Topic,
    TopicKind,
    UTCDateTime,
)
from bot.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_MIN_GROUP_SIZE = 5
DEFAULT_WEEKS = 4
MAX_PERIOD_DAYS = 3 * 366 + 1
TREND_MIN_WEEKS = 8
TREND_MAX_WEEKS = 53
TOPIC_ROWS = 25  # per topic table in exports; Slack shows fewer
SUPPLY_DEMAND_ROWS = 12
NO_FUNCTION = "(no function)"
DAYS_PER_MONTH = 30.4375

LEARNER_SIDE = (ChatRole.LEARNER, ChatRole.PEER)
EXPERT_SIDE = (ChatRole.EXPERT, ChatRole.PEER)

AUDIT_VIEW = "report.view"
AUDIT_EXPORT = "report.export"


# -- periods -------------------------------------------------------------------------


class PeriodError(ValueError):
    """The period text could not be read; the message says what is accepted."""


PERIOD_HELP = (
    "Periods: `this month`, `last month`, `this quarter`, `last quarter`, `this year`, `last year`, "
    "`last 12 weeks`, `last 90 days`, `last 2 years`, `2026-Q3`, `2026-03`, `2026`, "
    "or `2026-01-01..2026-03-31`. "
    "Without one, the last 4 weeks."
)

Unit = Literal["days", "month", "quarter", "year"]


@dataclass(frozen=True)
class Period:
    """Whole local days `first_day`..`last_day` (inclusive) in `zone`."""

    first_day: date
    last_day: date
    zone: str = "UTC"
    unit: Unit = "days"

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            raise PeriodError(f"The period ends before it starts. {PERIOD_HELP}")
        if self.days > MAX_PERIOD_DAYS:
            raise PeriodError(f"Reports cover at most three years. {PERIOD_HELP}")

    @property
    def start(self) -> datetime:
        return local_midnight(self.first_day, self.zone)

    @property
    def end(self) -> datetime:
        """Exclusive: local midnight after the last day."""
        return local_midnight(self.last_day + timedelta(days=1), self.zone)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def spec(self) -> str:
        """Canonical text that parses back to this period (button values, audit details)."""
        return f"{self.first_day.isoformat()}..{self.last_day.isoformat()}"

    @property
    def label(self) -> str:
        a, b = self.first_day, self.last_day
        if a.year == b.year:
            return f"{a.day} {a:%b} – {b.day} {b:%b %Y}"
        return f"{a.day} {a:%b %Y} – {b.day} {b:%b %Y}"

    def previous(self) -> Period:
        """The period to compare with: the previous month/quarter/year (the same days of
        it when this one is to date), otherwise the same number of days just before."""
        months = {"month": 1, "quarter": 3, "year": 12}.get(self.unit)
        if months is None:
            last = self.first_day - timedelta(days=1)
            return Period(last - timedelta(days=self.days - 1), last, self.zone, "days")
        first = _shift_months(self.first_day, -months)
        unit_end = _shift_months(self.first_day, months) - timedelta(days=1)
        if self.last_day == unit_end:  # a whole unit: compare with the whole previous one
            last = self.first_day - timedelta(days=1)
        else:
            last = min(_shift_months(self.last_day, -months), self.first_day - timedelta(days=1))
        return Period(first, last, self.zone, self.unit)


def local_midnight(day: date, zone: str) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _shift_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


_RANGE = re.compile(r"^(\d{4}-\d{1,2}-\d{1,2})\s*(?:\.\.\.?|…|to|–|—|/)\s*(\d{4}-\d{1,2}-\d{1,2})$")
_QUARTER = re.compile(r"^(?:(\d{4})\s*-?\s*q([1-4])|q([1-4])\s*-?\s*(\d{4}))$")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_YEAR = re.compile(r"^(\d{4})$")
_LAST_N = re.compile(r"^(?:last|past)\s+(\d{1,4})\s*(day|week|month|year)s?$")


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat("-".join(part.zfill(2) for part in text.split("-")))
    except ValueError:
        raise PeriodError(f"`{text}` is not a date (YYYY-MM-DD). {PERIOD_HELP}") from None


def parse_period(text: str | None, now: datetime, zone: str = "UTC") -> Period:
    """Read a period as admins type it; empty means the last 4 weeks up to today."""
    spec = " ".join((text or "").strip().lower().split())
    today = now.astimezone(ZoneInfo(zone)).date()

    def to_date(first: date, unit: Unit) -> Period:
        return Period(first, today, zone, unit)

    if spec in ("", "last 4 weeks", "last four weeks", "4w"):
        return Period(today - timedelta(days=7 * DEFAULT_WEEKS - 1), today, zone)
    if spec == "this month":
        return to_date(today.replace(day=1), "month")
    if spec == "last month":
        first = _shift_months(today.replace(day=1), -1)
        return Period(first, today.replace(day=1) - timedelta(days=1), zone, "month")
    if spec == "this quarter":
        return to_date(_quarter_start(today), "quarter")
    if spec == "last quarter":
        this = _quarter_start(today)
        return Period(_shift_months(this, -3), this - timedelta(days=1), zone, "quarter")
    if spec == "this year":
        return to_date(date(today.year, 1, 1), "year")
    if spec == "last year":
        return Period(date(today.year - 1, 1, 1), date(today.year - 1, 12, 31), zone, "year")
    if match := _LAST_N.match(spec):
        amount, unit = int(match.group(1)), match.group(2)
        days = amount * {"day": 1, "week": 7, "month": 30, "year": 365}[unit]
        if amount < 1:
            raise PeriodError(f"A period needs at least one day. {PERIOD_HELP}")
        if days > MAX_PERIOD_DAYS:
            raise PeriodError(f"Reports cover at most three years. {PERIOD_HELP}")
        return Period(today - timedelta(days=days - 1), today, zone)
    if match := _RANGE.match(spec):
        return Period(_parse_day(match.group(1)), _parse_day(match.group(2)), zone)
    if match := _QUARTER.match(spec):
        year = int(match.group(1) or match.group(4))
        quarter = int(match.group(2) or match.group(3))
        first = date(year, 3 * (quarter - 1) + 1, 1)
        return Period(first, _shift_months(first, 3) - timedelta(days=1), zone, "quarter")
    if match := _MONTH.match(spec):
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            raise PeriodError(f"`{text}` is not a month. {PERIOD_HELP}")
        first = date(year, month, 1)
        return Period(first, _shift_months(first, 1) - timedelta(days=1), zone, "month")
    if match := _YEAR.match(spec):
        year = int(match.group(1))
        return Period(date(year, 1, 1), date(year, 12, 31), zone, "year")
    raise PeriodError(f"I can't read `{(text or '').strip()[:40]}` as a period. {PERIOD_HELP}")


# -- cells, tables and suppression -------------------------------------------------------

Fmt = Literal["count", "percent", "number"]
SUPPRESSED = "*"


@dataclass
class Cell:
    """One figure and the size of the smallest group of people it describes.

    `text` holds a category instead of a number (e.g. "none"); such cells are
    never counts of people and take no part in suppression.
    """

    value: float | None
    people: int
    fmt: Fmt = "count"
    suppressed: bool = False
    text: str | None = None

    @property
    def visible(self) -> float | None:
        """The value as anyone may see it: None when suppressed or unknown."""
        return None if self.suppressed or self.text is not None else self.value

    def show(self) -> str:
        if self.text is not None:
            return self.text
        if self.suppressed:
            return SUPPRESSED
        if self.value is None:
            return "–"
        if self.fmt == "count":
            return f"{round(self.value):,}"
        if self.fmt == "percent":
            return f"{self.value:.0f}%"
        return f"{self.value:.1f}"

    def export(self) -> str | float | int | None:
        """The value for CSV/JSON: a number, the category text, or None when suppressed/unknown."""
        if self.text is not None:
            return self.text
        if self.suppressed or self.value is None:
            return None
        if self.fmt == "count":
            return round(self.value)
        return round(self.value, 1)


def count_cell(value: int, people: int | None = None) -> Cell:
    """A count; by default a count of people (so it describes `value` people)."""
    return Cell(float(value), value if people is None else people)


Lines = Literal["both", "columns", "none"]


@dataclass
class Table:
    """A report table: `columns[0]` names the row labels; each row has len(columns)-1 cells."""

    key: str  # file name in exports
    title: str
    columns: list[str]
    rows: list[tuple[str, list[Cell]]]
    note: str = ""
    # Which lines complementary suppression protects. Topic lists are "columns":
    # their cells across a row are different measures of one topic, not parts of a whole.
    lines: Lines = "both"

    def cell(self, row: str, column: str) -> Cell:
        index = self.columns.index(column) - 1
        return next(cells[index] for label, cells in self.rows if label == row)


def suppress_cells(grid: Sequence[Sequence[Cell]], k: int, lines: Lines = "both") -> None:
    """Primary suppression (1..k-1 people), then complementary suppression per row/column.

    While any line has exactly one suppressed cell, the smallest visible
    numeric cell of that line is suppressed as well: with two unknowns a line
    total (or a figure shown elsewhere) minus the visible cells no longer
    reveals either. Repeats until stable, since each new suppression can leave
    another line with a single hidden cell.
    """
    for row in grid:
        for cell in row:
            if cell.text is None and cell.value is not None and 0 < cell.people < k:
                cell.suppressed = True
    if lines == "none":
        return
    width = max((len(row) for row in grid), default=0)
    all_lines: list[list[Cell]] = []
    if lines == "both":
        all_lines += [list(row) for row in grid]
    all_lines += [[row[i] for row in grid if i < len(row)] for i in range(width)]
    changed = True
    while changed:
        changed = False
        for line in all_lines:
            numeric = [c for c in line if c.text is None and c.value is not None]
            if sum(c.suppressed for c in numeric) != 1:
                continue
            visible = [c for c in numeric if not c.suppressed]
            if visible:
                min(visible, key=lambda c: (c.value or 0.0, c.people)).suppressed = True
                changed = True


def suppress_table(table: Table, k: int) -> Table:
    suppress_cells([cells for _, cells in table.rows], k, table.lines)
    return table


# -- the report -----------------------------------------------------------------------------


@dataclass
class Metric:
    key: str
    label: str
    current: Cell
    previous: Cell

    @property
    def change(self) -> str:
        """The change against the previous period; "–" when either side is hidden or unknown."""
        a, b = self.current.visible, self.previous.visible
        if a is None or b is None:
            return "–"
        diff = a - b
        if self.current.fmt == "percent":
            return f"{diff:+.0f} pp"
        if self.current.fmt == "number":
            return f"{diff:+.1f}"
        pct = f" ({diff / b:+.0%})" if b else ""
        return f"{round(diff):+,}{pct}"


@dataclass
class Summary:
    """Headline figures of one period against the previous one."""

    period: Period
    previous: Period
    metrics: list[Metric]
    min_group_size: int
    generated_at: datetime

    def metric(self, key: str) -> Metric:
        return next(m for m in self.metrics if m.key == key)

    def table(self) -> Table:
        rows = [(m.label, [m.current, m.previous, Cell(None, 0, text=m.change)]) for m in self.metrics]
        return Table(
            "summary",
            "Summary",
            ["figure", "this period", "previous period", "change"],
            rows,
            note=f"This period {self.period.label}; previous period {self.previous.label}.",
            lines="none",  # suppression was applied per metric group already
        )


@dataclass
class Report:
    summary: Summary
    tables: list[Table]
    min_group_size: int
    generated_at: datetime

    @property
    def period(self) -> Period:
        return self.summary.period

    def table(self, key: str) -> Table:
        if key == "summary":
            return self.summary.table()
        return next(t for t in self.tables if t.key == key)

    def all_tables(self) -> list[Table]:
        return [self.summary.table(), *self.tables]

    @property
    def footer(self) -> str:
        return privacy_rules(self.min_group_size)


def privacy_rules(k: int) -> str:
    return (
        f"Privacy: every figure is an aggregate. A cell describing fewer than {k} people shows "
        f"{SUPPRESSED}, and when one cell of a row or column is hidden the next smallest is hidden "
        "too, so subtraction cannot reveal it. Topics are listed only when at least "
        f"{k} people stand behind them. No report shows anyone's participation, ratings or "
        "takeaways: takeaways appear only as counts and shared topics, and private takeaways "
        "only in the overall count. Every view and export is recorded in the audit log."
    )


# -- SQL helpers ------------------------------------------------------------------------------


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _between(column: Any, period: Period) -> ColumnElement[bool]:
    return and_(column >= period.start, column < period.end)


def _span(column: Any, current: Period, previous: Period) -> ColumnElement[bool]:
    """In either period. A to-date period ("this month" on the 18th) is compared with the
    same days of the previous one, so the days between the two belong to neither."""
    if previous.end >= current.start:
        return and_(column >= previous.start, column < current.end)
    return or_(_between(column, previous), _between(column, current))


def _is_current(column: Any, current: Period) -> ColumnElement[int]:
    # Labelled and grouped through a subquery: PostgreSQL cannot match a GROUP BY
    # expression to the SELECT one when each carries its own bound parameter.
    return case((column >= current.start, 1), else_=0).label("cur")


def _joined_at(end: datetime) -> ColumnElement[bool]:
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


def _hours_between(later: Any, earlier: Any, dialect: str) -> ColumnElement[Any]:
    """Whole hours from `earlier` to `later` (non-negative spans), in SQL."""
    if dialect == "sqlite":
        # SQLite keeps UTC datetimes as ISO text; julianday() reads them. CAST truncates.
        return cast((func.julianday(later) - func.julianday(earlier)) * 24, Integer).label("h")
    return cast(func.floor(extract("epoch", later - earlier) / 3600), Integer).label("h")


def _bucket(column: Any, bounds: Sequence[datetime]) -> ColumnElement[int]:
    """The index i of the interval bounds[i] <= column < bounds[i + 1] (the last one open-ended),
    for values at or after bounds[0], as a CASE nested like a binary search."""

    def node(lo: int, hi: int) -> Any:
        if lo == hi:
            return literal(lo)
        mid = (lo + hi + 1) // 2
        return case((column < bounds[mid], node(lo, mid - 1)), else_=node(mid, hi))

    return node(0, len(bounds) - 1)


def _tune_for_reports(session: Session) -> None:
    """PostgreSQL, for this transaction only: the report's aggregates over a year of chats
    sort and hash in memory rather than spilling to disk, and are not JIT-compiled
    (compiling cost 0.2–0.3 s per statement and saved nothing)."""
    if _dialect(session) == "postgresql":
        session.execute(text("SET LOCAL work_mem = '32MB'"))
        session.execute(text("SET LOCAL jit = off"))


def _median(histogram: Sequence[tuple[float, int]]) -> float | None:
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


def _function_order(settings_functions: Sequence[str], seen: Iterable[str | None]) -> list[str]:
    order = list(settings_functions)
    extra = sorted({f for f in seen if f and f not in order}, key=str.casefold)
    order += extra
    if any(f is None or f == "" for f in seen):
        order.append(NO_FUNCTION)
    return order


def _fn(value: str | None) -> str:
    return value or NO_FUNCTION


# -- the queries --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ranges:
    """Id bounds of the rows a report reads: chats created in [previous.start, current.end),
    chats done from the earlier of previous.start and the first trend week up to current.end,
    and the requests those held chats came from. Ids grow with time, so `id BETWEEN lo AND hi`
    on chat_participants (by its primary key) and chat_requests reads about the period's rows
    instead of the whole table; the bounds are taken from the rows themselves, so the extra
    condition never drops a row (it only tells the planner where to look)."""

    created: tuple[int, int] | None = None
    done: tuple[int, int] | None = None
    requests: tuple[int, int] | None = None


def _ranges(session: Session, cur: Period, prev: Period) -> _Ranges:
    if _dialect(session) != "postgresql":
        # SQLite already drives these joins from the chats' time indexes, one chat at a
        # time; an id range would lead it to scan chats by rowid instead (slower).
        return _Ranges()
    since = min(prev.start, local_midnight(_week_starts(cur)[0], cur.zone))
    # `id + 0`: a bare min(id)/max(id) lets PostgreSQL walk the primary key from one end,
    # filtering on the time column, which for the recent past reads most of the table; an
    # expression makes it range over the time index instead (0.11 s -> 0.03 s).
    chat_id, request_id = Chat.id + 0, Chat.request_id + 0
    created = select(func.min(chat_id), func.max(chat_id)).where(_span(Chat.created_at, cur, prev))
    done = select(func.min(chat_id), func.max(chat_id), func.min(request_id), func.max(request_id)).where(
        Chat.done_at >= since, Chat.done_at < cur.end
    )
    c_lo, c_hi = session.execute(created).one()
    d_lo, d_hi, r_lo, r_hi = session.execute(done).one()

    def bounds(lo: int | None, hi: int | None) -> tuple[int, int]:
        return (0, -1) if lo is None or hi is None else (int(lo), int(hi))

    return _Ranges(bounds(c_lo, c_hi), bounds(d_lo, d_hi), bounds(r_lo, r_hi))


def _ids_in(column: Any, bounds: tuple[int, int] | None) -> ColumnElement[bool]:
    return true() if bounds is None else column.between(bounds[0], bounds[1])


@dataclass
class _Participation:
    by_function: dict[str, tuple[int, int, int, int, int]]  # joined, experts, learners, weekly, held

    def total(self, index: int) -> int:
        return sum(row[index] for row in self.by_function.values())


def _participation(
    session: Session, cur: Period, prev: Period, ranges: _Ranges | None = None
) -> tuple[_Participation, _Participation]:
    """(previous, current) participation by function, from one statement: each set of people
    is gathered once over both periods with a flag per period, then LEFT JOINed to people."""
    ranges = ranges or _ranges(session, cur, prev)
    # Each set of people is a subquery of distinct ids, LEFT JOINed: `id IN (subquery)`
    # inside a CASE is a subplan in PostgreSQL, rescanned per person once the set
    # outgrows work_mem (a year of chats).
    speakers = (
        select(PersonTopic.person_id.label("pid"))
        .where(PersonTopic.kind == TopicKind.SPEAK)
        .distinct()
        .subquery()
    )

    def flags(column: Any) -> tuple[Any, Any]:
        return (
            case((_between(column, prev), 1), else_=0).label("p0"),
            case((_between(column, cur), 1), else_=0).label("p1"),
        )

    learner_rows = union_all(
        select(ChatRequest.learner_id.label("pid"), *flags(ChatRequest.created_at)).where(
            _span(ChatRequest.created_at, cur, prev)
        ),
        select(ChatParticipant.person_id.label("pid"), *flags(Chat.created_at))
        .join(Chat, Chat.id == ChatParticipant.chat_id)
        .where(
            _span(Chat.created_at, cur, prev),
            _ids_in(ChatParticipant.chat_id, ranges.created),
            ChatParticipant.role.in_(LEARNER_SIDE),
        ),
    ).subquery()
    learners = (
        select(
            learner_rows.c.pid,
            func.max(learner_rows.c.p0).label("p0"),
            func.max(learner_rows.c.p1).label("p1"),
        )
        .group_by(learner_rows.c.pid)
        .subquery()
    )
    held_rows = (
        select(
            ChatParticipant.person_id.label("pid"),
            case((and_(_between(Chat.done_at, prev), Chat.created_at < prev.end), 1), else_=0).label("p0"),
            case((Chat.done_at >= cur.start, 1), else_=0).label("p1"),
        )
        .join(Chat, Chat.id == ChatParticipant.chat_id)
        .where(
            Chat.done_at >= min(prev.start, cur.start),
            Chat.done_at < cur.end,
            Chat.created_at < cur.end,
            _ids_in(ChatParticipant.chat_id, ranges.done),
        )
        .subquery()
    )
    held = (
        select(held_rows.c.pid, func.max(held_rows.c.p0).label("p0"), func.max(held_rows.c.p1).label("p1"))
        .group_by(held_rows.c.pid)
        .subquery()
    )
    member = (_joined_at(prev.end), _joined_at(cur.end))
    columns = []
    for m, ls, hs in ((member[0], learners.c.p0, held.c.p0), (member[1], learners.c.p1, held.c.p1)):
        columns += [
            func.count(case((m, 1))),
            func.count(case((and_(m, speakers.c.pid.is_not(None)), 1))),
            func.count(case((and_(m, ls == 1), 1))),
            func.count(case((and_(m, Person.weekly_pairing.is_(True)), 1))),
            func.count(case((and_(m, hs == 1), 1))),
        ]
    stmt = (
        select(Person.function, *columns)
        .outerjoin(speakers, speakers.c.pid == Person.id)
        .outerjoin(learners, learners.c.pid == Person.id)
        .outerjoin(held, held.c.pid == Person.id)
        .where(or_(member[0], member[1]))
        .group_by(Person.function)
    )
    by_function: tuple[dict[str, tuple[int, int, int, int, int]], ...] = ({}, {})
    for function, *counts in session.execute(stmt):
        key = function or ""
        for c in (0, 1):
            values = [int(v) for v in counts[5 * c : 5 * c + 5]]
            if values[0] == 0:
                continue  # no members of this function at the end of that period
            old = by_function[c].get(key, (0, 0, 0, 0, 0))
            by_function[c][key] = tuple(a + b for a, b in zip(old, values, strict=True))  # type: ignore[assignment]
    return _Participation(by_function[0]), _Participation(by_function[1])


def _participation_table(part: _Participation, functions: Sequence[str], k: int) -> Table:
    order = _function_order(functions, [f or None for f in part.by_function])
    rows = []
    for label in order:
        values = part.by_function.get("" if label == NO_FUNCTION else label, (0, 0, 0, 0, 0))
        rows.append((label, [count_cell(v) for v in values]))
    table = Table(
        "participation_by_function",
        "Participation by function",
        ["function", "members", "experts", "active learners", "weekly pairing", "held a chat"],
        rows,
        note="Members at the end of the period; active learners asked for or joined a chat in it.",
    )
    return suppress_table(table, k)


def _chats_held(
    session: Session, cur: Period, prev: Period, ranges: _Ranges | None = None
) -> dict[int, tuple[int, int]]:
    """cur flag -> (chats held, smallest side: distinct learners or distinct experts)."""
    ranges = ranges or _ranges(session, cur, prev)
    inner = (
        select(
            _is_current(Chat.done_at, cur),
            Chat.id.label("chat_id"),
            case((ChatParticipant.role.in_(LEARNER_SIDE), ChatParticipant.person_id)).label("lp"),
            case((ChatParticipant.role.in_(EXPERT_SIDE), ChatParticipant.person_id)).label("ep"),
        )
        .join(ChatParticipant, ChatParticipant.chat_id == Chat.id)
        .where(
            _span(Chat.done_at, cur, prev),
            Chat.created_at < cur.end,
            _ids_in(ChatParticipant.chat_id, ranges.done),
        )
        .subquery()
    )
    stmt = select(
        inner.c.cur,
        func.count(distinct(inner.c.chat_id)),
        func.count(distinct(inner.c.lp)),
        func.count(distinct(inner.c.ep)),
    ).group_by(inner.c.cur)
    return {int(c): (int(n), min(int(lp), int(ep))) for c, n, lp, ep in session.execute(stmt)}


@dataclass
class _Held:
    """Chats held, from one statement: per cur flag (chats, smallest side) and
    (chats, of which across functions); per trend week (chats, smallest side); per
    (learner's function, expert's function) of the period (chats, smallest side)."""

    totals: dict[int, tuple[int, int]]
    cross: dict[int, tuple[int, int]]
    weeks: dict[int, tuple[int, int]]
    flow: dict[tuple[str | None, str | None], tuple[int, int]]


def _held(session: Session, cur: Period, prev: Period, ranges: _Ranges | None = None) -> _Held:
    """The participants of every chat held since the earlier of the previous period and the
    first trend week, joined to their functions once (a MATERIALIZED CTE), then aggregated
    four ways in one UNION ALL, instead of four passes over chats x participants x people."""
    ranges = ranges or _ranges(session, cur, prev)
    bounds = [local_midnight(m, cur.zone) for m in _week_starts(cur)]
    since = min(prev.start, bounds[0])
    rows = (
        select(
            Chat.id.label("chat_id"),
            Chat.done_at.label("done_at"),
            ChatParticipant.person_id.label("pid"),
            ChatParticipant.role.label("role"),
            Person.function.label("fn"),
        )
        .join(ChatParticipant, ChatParticipant.chat_id == Chat.id)
        .join(Person, Person.id == ChatParticipant.person_id)
        .where(
            Chat.done_at >= since,
            Chat.done_at < cur.end,
            Chat.created_at < cur.end,
            _ids_in(ChatParticipant.chat_id, ranges.done),
        )
        .cte("held")
        .prefix_with("MATERIALIZED")
    )
    no_text = cast(null(), String)
    no_number = cast(null(), Integer)

    def sides(source: Any) -> Any:
        lp = case((source.c.role.in_(LEARNER_SIDE), source.c.pid))
        ep = case((source.c.role.in_(EXPERT_SIDE), source.c.pid))
        return (
            func.count(distinct(source.c.chat_id)),
            func.count(distinct(lp)),
            func.count(distinct(ep)),
        )

    # Summary: chats held in either period, by period.
    by_cur = (
        select(_is_current(rows.c.done_at, cur), rows.c.chat_id, rows.c.pid, rows.c.role)
        .where(_span(rows.c.done_at, cur, prev))
        .subquery()
    )
    totals = select(
        literal("total").label("part"),
        by_cur.c.cur.label("g"),
        no_text.label("lf"),
        no_text.label("ef"),
        *sides(by_cur),
    ).group_by(by_cur.c.cur)
    # Cross-function share: per chat, how many functions (no function counts as one).
    per_chat = (
        select(
            _is_current(rows.c.done_at, cur),
            func.count(distinct(func.coalesce(rows.c.fn, ""))).label("nf"),
        )
        .where(_span(rows.c.done_at, cur, prev))
        .group_by(rows.c.chat_id, rows.c.done_at)
        .subquery()
    )
    cross = select(
        literal("cross").label("part"),
        per_chat.c.cur,
        no_text,
        no_text,
        func.count(),
        func.count(case((per_chat.c.nf > 1, 1))),
        no_number,
    ).group_by(per_chat.c.cur)
    # Trend: per local week, up to the end of the period.
    by_week = (
        select(_bucket(rows.c.done_at, bounds).label("w"), rows.c.chat_id, rows.c.pid, rows.c.role)
        .where(rows.c.done_at >= bounds[0])
        .subquery()
    )
    weeks = select(literal("week"), by_week.c.w, no_text, no_text, *sides(by_week)).group_by(by_week.c.w)
    # Flow: learner's function by expert's function, this period only.
    learner, expert = rows.alias("l"), rows.alias("e")
    flow = (
        select(
            literal("flow"),
            no_number,
            learner.c.fn,
            expert.c.fn,
            func.count(distinct(learner.c.chat_id)),
            func.count(distinct(learner.c.pid)),
            func.count(distinct(expert.c.pid)),
        )
        .select_from(learner)
        .join(
            expert,
            and_(
                expert.c.chat_id == learner.c.chat_id,
                expert.c.role.in_([r.value for r in EXPERT_SIDE]),
                expert.c.pid != learner.c.pid,
            ),
        )
        .where(learner.c.role.in_([r.value for r in LEARNER_SIDE]), learner.c.done_at >= cur.start)
        .group_by(learner.c.fn, expert.c.fn)
    )
    out = _Held({}, {}, {}, {})
    for part, g, lf, ef, n, a, b in session.execute(union_all(totals, cross, weeks, flow)):
        if part == "total":
            out.totals[int(g)] = (int(n), min(int(a), int(b)))
        elif part == "cross":
            out.cross[int(g)] = (int(n), int(a))
        elif part == "week":
            out.weeks[int(g)] = (int(n), min(int(a), int(b)))
        else:
            out.flow[(lf, ef)] = (int(n), min(int(a), int(b)))
    return out


def _requests(session: Session, cur: Period, prev: Period) -> dict[int, dict[str, tuple[int, int]]]:
    """cur flag -> {"sent"|"accepted"|"declined"|"expired": (requests, smallest side)}: one
    statement, the period's requests read once (a MATERIALIZED CTE) and counted two ways."""
    out: dict[int, dict[str, tuple[int, int]]] = {0: {}, 1: {}}
    groups = {
        "accepted": (RequestStatus.ACCEPTED,),
        "declined": (RequestStatus.DECLINED, RequestStatus.REDIRECTED),
        "expired": (RequestStatus.EXPIRED,),
    }
    outcome = case(
        *[(ChatRequest.status.in_(statuses), name) for name, statuses in groups.items()],
        else_="other",
    )
    inner = (
        select(
            _is_current(ChatRequest.created_at, cur),
            outcome.label("outcome"),
            ChatRequest.learner_id.label("lid"),
            ChatRequest.expert_id.label("eid"),
        )
        .where(_span(ChatRequest.created_at, cur, prev))
        .cte("requests_in_span")
        .prefix_with("MATERIALIZED")
    )

    def counts() -> tuple[Any, ...]:
        return func.count(), func.count(distinct(inner.c.lid)), func.count(distinct(inner.c.eid))

    by_outcome = select(inner.c.cur, inner.c.outcome, *counts()).group_by(inner.c.cur, inner.c.outcome)
    sent = select(inner.c.cur, literal("sent"), *counts()).group_by(inner.c.cur)
    for c, name, n, lids, eids in session.execute(union_all(by_outcome, sent)):
        out[int(c)][str(name)] = (int(n), min(int(lids), int(eids)))
    return out


def _answer_rate(
    session: Session, cur: Period, prev: Period, ranges: _Ranges | None = None
) -> dict[int, tuple[int, int, int]]:
    """cur flag -> (participants asked, of whom answered, distinct people asked); by chat introduced."""
    ranges = ranges or _ranges(session, cur, prev)
    inner = (
        select(
            _is_current(Chat.created_at, cur),
            ChatParticipant.person_id.label("pid"),
            ChatParticipant.answered_at.label("answered"),
        )
        .join(ChatParticipant, ChatParticipant.chat_id == Chat.id)
        .where(
            _span(Chat.created_at, cur, prev),
            _ids_in(ChatParticipant.chat_id, ranges.created),
            ChatParticipant.checkins_sent > 0,
        )
        .subquery()
    )
    stmt = select(
        inner.c.cur, func.count(), func.count(inner.c.answered), func.count(distinct(inner.c.pid))
    ).group_by(inner.c.cur)
    return {int(c): (int(n), int(a), int(p)) for c, n, a, p in session.execute(stmt)}


def _days_to_chat(
    session: Session, cur: Period, prev: Period, ranges: _Ranges | None = None
) -> dict[int, tuple[float | None, int]]:
    """cur flag -> (median days from request to chat held, smallest side): one statement, a
    histogram of whole hours and the distinct sides, over one MATERIALIZED CTE."""
    ranges = ranges or _ranges(session, cur, prev)
    hours = _hours_between(Chat.done_at, ChatRequest.created_at, _dialect(session))
    inner = (
        select(
            _is_current(Chat.done_at, cur),
            hours,
            ChatRequest.learner_id.label("lid"),
            ChatRequest.expert_id.label("eid"),
        )
        .join(ChatRequest, ChatRequest.id == Chat.request_id)
        .where(
            _span(Chat.done_at, cur, prev),
            Chat.created_at < cur.end,
            _ids_in(ChatRequest.id, ranges.requests),
        )
        .cte("chats_from_requests")
        .prefix_with("MATERIALIZED")
    )
    no_number = cast(null(), Integer)
    by_hour = select(
        literal("hours").label("part"), inner.c.cur, inner.c.h, func.count(), no_number
    ).group_by(inner.c.cur, inner.c.h)
    sides = select(
        literal("sides"),
        inner.c.cur,
        no_number,
        func.count(distinct(inner.c.lid)),
        func.count(distinct(inner.c.eid)),
    ).group_by(inner.c.cur)
    histogram: dict[int, list[tuple[float, int]]] = {0: [], 1: []}
    smallest: dict[int, int] = {}
    for part, c, h, a, b in session.execute(union_all(by_hour, sides)):
        if part == "hours":
            histogram[int(c)].append(((float(h or 0) + 0.5) / 24, int(a)))
        else:
            smallest[int(c)] = min(int(a), int(b))
    return {c: (_median(histogram[c]), smallest.get(c, 0)) for c in (0, 1)}


def _takeaways(session: Session, cur: Period, prev: Period) -> dict[int, tuple[int, int, float | None, int]]:
    """cur flag -> (takeaways, distinct authors, median usefulness, distinct raters): one
    statement, totals and a usefulness histogram over one MATERIALIZED CTE."""
    inner = (
        select(
            _is_current(Takeaway.created_at, cur),
            Takeaway.author_id.label("aid"),
            Takeaway.usefulness.label("u"),
            case((Takeaway.usefulness.is_not(None), Takeaway.author_id)).label("rater"),
        )
        .where(_span(Takeaway.created_at, cur, prev))
        .cte("takeaways_in_span")
        .prefix_with("MATERIALIZED")
    )
    no_number = cast(null(), Integer)
    totals_q = select(
        literal("totals").label("part"),
        inner.c.cur,
        no_number,
        func.count(),
        func.count(distinct(inner.c.aid)),
        func.count(distinct(inner.c.rater)),
    ).group_by(inner.c.cur)
    by_value = (
        select(literal("useful"), inner.c.cur, inner.c.u, func.count(), no_number, no_number)
        .where(inner.c.u.is_not(None))
        .group_by(inner.c.cur, inner.c.u)
    )
    totals: dict[int, tuple[int, int, int]] = {}
    histogram: dict[int, list[tuple[float, int]]] = {0: [], 1: []}
    for part, c, u, n, a, r in session.execute(union_all(totals_q, by_value)):
        if part == "totals":
            totals[int(c)] = (int(n), int(a), int(r))
        else:
            histogram[int(c)].append((float(u), int(n)))
    out = {}
    for c in (0, 1):
        n, authors, raters = totals.get(c, (0, 0, 0))
        out[c] = (n, authors, _median(histogram[c]), raters)
    return out


def _week_starts(period: Period) -> list[date]:
    """Mondays of the weeks shown in the trend: those of the period, at least 8, at most 53."""
    last_monday = period.last_day - timedelta(days=period.last_day.weekday())
    first_monday = period.first_day - timedelta(days=period.first_day.weekday())
    weeks = (last_monday - first_monday).days // 7 + 1
    weeks = max(TREND_MIN_WEEKS, min(TREND_MAX_WEEKS, weeks))
    return [last_monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


def _trend_table(held: _Held, period: Period, k: int) -> Table:
    mondays = _week_starts(period)
    found = held.weeks
    rows = []
    for i, monday in enumerate(mondays):
        n, people = found.get(i, (0, 0))
        rows.append((monday.isoformat(), [count_cell(n, people)]))
    table = Table(
        "chats_per_week",
        "Chats held per week",
        ["week starting", "chats held"],
        rows,
        note="Weeks start on Monday; the last one ends with the period.",
    )
    return suppress_table(table, k)


def _matrix_table(held: _Held, functions: Sequence[str], k: int) -> Table:
    found: dict[tuple[str, str], tuple[int, int]] = {}
    seen: list[str | None] = []
    for (lf, ef), counts in held.flow.items():
        found[(_fn(lf), _fn(ef))] = counts
        seen += [lf, ef]
    order = _function_order(functions, seen)
    rows = [(row, [count_cell(*found.get((row, col), (0, 0))) for col in order]) for row in order]
    table = Table(
        "function_flow",
        "Chats held: learner's function (rows) × expert's function (columns)",
        ["learner's function", *order],
        rows,
        note="A weekly pairing counts in both directions: both sides teach and learn.",
    )
    return suppress_table(table, k)


def _search_groups() -> tuple[Any, Any]:
    """(group key, label) of searches: the matched topic, else the normalised query text."""
    free = case((Search.topic_id.is_(None), func.lower(func.trim(Search.query))), else_="")
    return Search.topic_id, free


def _topics_searched(session: Session, period: Period, k: int) -> Table:
    topic_id, free = _search_groups()
    people = func.count(distinct(Search.person_id))
    inner = (
        select(topic_id.label("tid"), free.label("q"), func.count().label("n"), people.label("p"))
        .where(_between(Search.created_at, period))
        .group_by(topic_id, free)
        .having(people >= k)
        .subquery()
    )
    stmt = (
        select(func.coalesce(Topic.name, inner.c.q), inner.c.n, inner.c.p)
        .select_from(inner)
        .outerjoin(Topic, Topic.id == inner.c.tid)
        .order_by(inner.c.p.desc(), inner.c.n.desc(), func.coalesce(Topic.name, inner.c.q))
        .limit(TOPIC_ROWS)
    )
    rows = [(str(label), [count_cell(n, p), count_cell(p)]) for label, n, p in session.execute(stmt)]
    table = Table(
        "topics_searched",
        "Topics most searched",
        ["topic", "searches", "people searching"],
        rows,
        note=f"Searches for a topic in the catalogue count under its name; listed when {k}+ people searched.",
        lines="columns",
    )
    return suppress_table(table, k)


def _wanted_not_offered(session: Session, period: Period, k: int) -> Table:
    topic_id, free = _search_groups()
    people = func.count(distinct(Search.person_id))
    inner = (
        select(
            topic_id.label("tid"),
            free.label("q"),
            func.count().label("n"),
            people.label("p"),
            func.max(Search.results).label("found"),
        )
        .where(_between(Search.created_at, period), Search.results < k)
        .group_by(topic_id, free)
        .having(people >= k)
        .subquery()
    )
    stmt = (
        select(func.coalesce(Topic.name, inner.c.q), inner.c.n, inner.c.p, inner.c.found)
        .select_from(inner)
        .outerjoin(Topic, Topic.id == inner.c.tid)
        .order_by(inner.c.p.desc(), inner.c.n.desc(), func.coalesce(Topic.name, inner.c.q))
        .limit(TOPIC_ROWS)
    )
    rows = []
    for label, n, p, found in session.execute(stmt):
        # A category, not a count: how many experts exist is below k by definition here.
        experts = Cell(None, 0, text="none" if not found else f"fewer than {k}")
        rows.append((str(label), [count_cell(n, p), count_cell(p), experts]))
    table = Table(
        "wanted_not_offered",
        "Wanted but not offered",
        ["topic", "searches", "people searching", "experts found"],
        rows,
        note=f"Searches that found fewer than {k} experts; listed when {k}+ people searched.",
        lines="columns",
    )
    return suppress_table(table, k)


def _topic_people(period: Period) -> Any:
    """Per topic: experts offering it and people wanting to learn it, among members at the end."""
    return (
        select(
            PersonTopic.topic_id.label("tid"),
            func.count(case((PersonTopic.kind == TopicKind.SPEAK, 1))).label("experts"),
            func.count(case((PersonTopic.kind == TopicKind.LEARN, 1))).label("learners"),
        )
        .join(Person, Person.id == PersonTopic.person_id)
        .where(_joined_at(period.end))
        .group_by(PersonTopic.topic_id)
        .subquery()
    )


def _topics_offered(session: Session, period: Period, k: int) -> Table:
    tp = _topic_people(period)
    stmt = (
        select(Topic.name, tp.c.experts, tp.c.learners)
        .join(tp, tp.c.tid == Topic.id)
        .where(tp.c.experts >= k)
        .order_by(tp.c.experts.desc(), tp.c.learners.desc(), Topic.name)
        .limit(TOPIC_ROWS)
    )
    rows = [(str(name), [count_cell(e), count_cell(w)]) for name, e, w in session.execute(stmt)]
    table = Table(
        "topics_offered",
        "Topics most offered",
        ["topic", "experts offering", "people wanting to learn"],
        rows,
        note=f"Members at the end of the period; listed when {k}+ experts offer the topic.",
        lines="columns",
    )
    return suppress_table(table, k)


def _supply_demand(session: Session, period: Period, k: int) -> Table:
    tp = _topic_people(period)
    searched = (
        select(Search.topic_id.label("tid"), func.count(distinct(Search.person_id)).label("searchers"))
        .where(_between(Search.created_at, period), Search.topic_id.is_not(None))
        .group_by(Search.topic_id)
        .subquery()
    )
    experts = func.coalesce(tp.c.experts, 0)
    learners = func.coalesce(tp.c.learners, 0)
    searchers = func.coalesce(searched.c.searchers, 0)
    stmt = (
        select(Topic.name, experts, searchers, learners)
        .outerjoin(tp, tp.c.tid == Topic.id)
        .outerjoin(searched, searched.c.tid == Topic.id)
        .where(or_(experts >= k, searchers >= k, learners >= k))
        .order_by((searchers + learners).desc(), experts.desc(), Topic.name)
        .limit(SUPPLY_DEMAND_ROWS)
    )
    rows = [
        (str(name), [count_cell(e), count_cell(s), count_cell(w)]) for name, e, s, w in session.execute(stmt)
    ]
    table = Table(
        "topic_supply_demand",
        "Topic supply vs demand",
        ["topic", "experts offering", "people searching", "people wanting to learn"],
        rows,
        note=f"The topics most in demand; listed when {k}+ people stand behind one of the figures.",
        lines="columns",
    )
    return suppress_table(table, k)


def _learnings_by_topic(session: Session, period: Period, k: int) -> Table:
    """Topics of *shared* takeaways only: a private takeaway's topics are never read."""
    dialect = _dialect(session)
    params = {"start": period.start, "end": period.end, "k": k, "limit": TOPIC_ROWS, "me": Share.ME.value}
    if dialect == "sqlite":
        sql = """
            SELECT t.value AS topic, count(*) AS n, count(DISTINCT k.author_id) AS authors
            FROM takeaways AS k, json_each(k.topics) AS t
            WHERE k.share != :me AND k.created_at >= :start AND k.created_at < :end
              AND json_type(k.topics) = 'array' AND t.type = 'text'
            GROUP BY t.value HAVING count(DISTINCT k.author_id) >= :k
            ORDER BY authors DESC, n DESC, topic LIMIT :limit
        """
    else:
        sql = """
            SELECT t.topic, count(*) AS n, count(DISTINCT k.author_id) AS authors
            FROM takeaways AS k
            CROSS JOIN LATERAL json_array_elements_text(
                CASE WHEN json_typeof(k.topics::json) = 'array' THEN k.topics::json ELSE '[]'::json END
            ) AS t(topic)
            WHERE k.share != :me AND k.created_at >= :start AND k.created_at < :end
            GROUP BY t.topic HAVING count(DISTINCT k.author_id) >= :k
            ORDER BY authors DESC, n DESC, t.topic LIMIT :limit
        """
    stmt = text(sql).bindparams(
        bindparam("start", type_=UTCDateTime()), bindparam("end", type_=UTCDateTime())
    )
    rows = [
        (str(topic), [count_cell(n, authors), count_cell(authors)])
        for topic, n, authors in session.execute(stmt, params)
    ]
    table = Table(
        "learnings_by_topic",
        "What people learned about (shared takeaways)",
        ["topic", "shared takeaways", "authors"],
        rows,
        note=f"Takeaways shared with the expert or everyone; listed when {k}+ authors wrote about a topic.",
        lines="columns",
    )
    return suppress_table(table, k)


def _expert_load(
    session: Session, period: Period, functions: Sequence[str], k: int, ranges: _Ranges | None = None
) -> Table:
    ranges = ranges or _ranges(session, period, period.previous())
    load = (
        select(ChatParticipant.person_id.label("pid"), func.count().label("n"))
        .join(Chat, Chat.id == ChatParticipant.chat_id)
        .where(
            _between(Chat.created_at, period),
            _ids_in(ChatParticipant.chat_id, ranges.created),
            ChatParticipant.role.in_(EXPERT_SIDE),
        )
        .group_by(ChatParticipant.person_id)
        .subquery()
    )
    asked = (
        select(ChatRequest.expert_id.label("pid"))
        .where(_between(ChatRequest.created_at, period))
        .distinct()
        .subquery()
    )
    # NOT EXISTS, not NOT IN: PostgreSQL runs `id NOT IN (subquery)` as a plain subplan,
    # rescanning every request per expert, once the ids outgrow work_mem.
    ever_asked = select(ChatRequest.id).where(ChatRequest.expert_id == Person.id).exists()
    speakers = select(PersonTopic.person_id).where(PersonTopic.kind == TopicKind.SPEAK)
    chats = func.coalesce(load.c.n, 0)
    # Over capacity: more chats in the period than chats_per_month allows for its length.
    over = chats * DAYS_PER_MONTH > Person.chats_per_month * period.days
    stmt = (
        select(
            Person.function,
            func.count(),
            func.count(case((over, 1))),
            func.count(case((asked.c.pid.is_(None), 1))),
            func.count(case((~ever_asked, 1))),
        )
        .outerjoin(load, load.c.pid == Person.id)
        .outerjoin(asked, asked.c.pid == Person.id)
        .where(_joined_at(period.end), Person.id.in_(speakers))
        .group_by(Person.function)
    )
    found: dict[str, tuple[int, int, int, int]] = {}
    for function, *counts in session.execute(stmt):
        found[_fn(function)] = tuple(int(c) for c in counts)  # type: ignore[assignment]
    order = _function_order(functions, [None if f == NO_FUNCTION else f for f in found])
    rows = [(label, [count_cell(v) for v in found.get(label, (0, 0, 0, 0))]) for label in order]
    table = Table(
        "expert_load",
        "Expert load",
        ["function", "experts", "over capacity", "not asked in period", "never asked"],
        rows,
        note="Over capacity: more chats in the period than their chats-per-month allows; "
        "asked: received a chat request.",
    )
    return suppress_table(table, k)


# -- summary --------------------------------------------------------------------------------


def _rate(part: int, whole: int, people: int) -> Cell:
    return Cell(100.0 * part / whole if whole else None, people, fmt="percent")


def _summary(
    session: Session,
    cur: Period,
    prev: Period,
    k: int,
    now: datetime,
    part: tuple[_Participation, _Participation] | None = None,
    full: bool = True,
    held_chats: _Held | None = None,
    ranges: _Ranges | None = None,
) -> Summary:
    ranges = ranges or _ranges(session, cur, prev)
    parts = part or _participation(session, cur, prev, ranges)
    metrics: list[Metric] = []
    for key, label, index in (
        ("experts", "Experts (offer topics)", 1),
        ("learners", "Active learners", 2),
        ("weekly", "Weekly pairing opt-ins", 3),
    ):
        cells = [count_cell(p.total(index)) for p in parts]
        metrics.append(Metric(key, label, cells[1], cells[0]))

    requests = _requests(session, cur, prev)
    request_metrics = [
        ("requests_sent", "Requests sent", "sent"),
        ("requests_accepted", "Requests accepted", "accepted"),
        ("requests_declined", "Requests declined or redirected", "declined"),
        ("requests_expired", "Requests expired", "expired"),
    ]
    if not full:
        request_metrics = request_metrics[:1]
    req_cells = {
        c: [count_cell(*requests[c].get(name, (0, 0))) for _, _, name in request_metrics] for c in (0, 1)
    }
    for c in (0, 1):
        # Accepted + declined + expired + still open = sent: one line for subtraction.
        suppress_cells([req_cells[c]], k, "both")
    for i, (key, label, _) in enumerate(request_metrics):
        metrics.append(Metric(key, label, req_cells[1][i], req_cells[0][i]))

    held = held_chats.totals if held_chats else _chats_held(session, cur, prev, ranges)
    held_cells = {c: count_cell(*held.get(c, (0, 0))) for c in (0, 1)}
    metrics.append(Metric("chats_held", "Chats held", held_cells[1], held_cells[0]))

    if full:
        rate = _answer_rate(session, cur, prev, ranges)
        cells = {}
        for c in (0, 1):
            asked, answered, people = rate.get(c, (0, 0, 0))
            cells[c] = _rate(answered, asked, people)
        metrics.append(Metric("followup_rate", "Follow-up answer rate", cells[1], cells[0]))

        cross = (held_chats or _held(session, cur, prev, ranges)).cross
        cells = {}
        for c in (0, 1):
            chats, across = cross.get(c, (0, 0))
            cells[c] = _rate(across, chats, held_cells[c].people)
        metrics.append(Metric("cross_function", "Chats across functions", cells[1], cells[0]))

        days = _days_to_chat(session, cur, prev, ranges)
        cells = {c: Cell(days[c][0], days[c][1], fmt="number") for c in (0, 1)}
        metrics.append(Metric("days_to_chat", "Median days from request to chat", cells[1], cells[0]))

        notes = _takeaways(session, cur, prev)
        useful = {c: Cell(notes[c][2], notes[c][3], fmt="number") for c in (0, 1)}
        metrics.append(Metric("usefulness", "Median usefulness (1–5)", useful[1], useful[0]))
        written = {c: count_cell(notes[c][0], notes[c][1]) for c in (0, 1)}
        metrics.append(Metric("takeaways", "Takeaways written", written[1], written[0]))

    for metric in metrics:
        for cell in (metric.current, metric.previous):
            if cell.value is not None and 0 < cell.people < k:
                cell.suppressed = True
    return Summary(cur, prev, metrics, k, now)


# -- entry points -------------------------------------------------------------------------------


def compute_report(
    session: Session, period: Period, *, functions: Sequence[str], min_group_size: int, now: datetime
) -> Report:
    """The full report for `period` (compared with `period.previous()`), suppressed."""
    k = min_group_size
    prev = period.previous()
    started = time.perf_counter()
    _tune_for_reports(session)
    ranges = _ranges(session, period, prev)
    part_prev, part_cur = _participation(session, period, prev, ranges)
    held = _held(session, period, prev, ranges)
    summary = _summary(
        session, period, prev, k, now, part=(part_prev, part_cur), held_chats=held, ranges=ranges
    )
    tables = [
        _participation_table(part_cur, functions, k),
        _matrix_table(held, functions, k),
        _trend_table(held, period, k),
        _topics_searched(session, period, k),
        _topics_offered(session, period, k),
        _wanted_not_offered(session, period, k),
        _supply_demand(session, period, k),
        _learnings_by_topic(session, period, k),
        _expert_load(session, period, functions, k, ranges),
    ]
    log.info(
        "report computed",
        extra={"period": period.spec, "seconds": round(time.perf_counter() - started, 3)},
    )
    return Report(summary, tables, k, now)


def report_for(session: Session, period: Period, settings: Settings, now: datetime) -> Report:
    return compute_report(
        session, period, functions=settings.functions, min_group_size=settings.min_group_size, now=now
    )


def headline(
    session: Session,
    now: datetime,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    zone: str = "UTC",
) -> Summary:
    """The admin App Home's figures: the last 4 weeks against the 4 before (a few cheap queries)."""
    period = parse_period("", now, zone)
    _tune_for_reports(session)
    return _summary(session, period, period.previous(), min_group_size, now, full=False)


def record_access(session: Session, actor: str, action: str, detail: str) -> None:
    """One audit row per report view or export (HR data access is audited)."""
    session.add(AuditEntry(actor=actor[:64], action=action[:64], detail=detail[:500]))


# -- who may see reports ----------------------------------------------------------------------

GROUP_TTL_SECONDS = 300.0
_group_lock = threading.Lock()
_group_cache: dict[str, tuple[float, frozenset[str]]] = {}


def cached_admin(
    settings: Settings, user_id: str, *, clock: Callable[[], float] = time.monotonic
) -> bool | None:
    """True/False when known without calling Slack; None when the user-group cache is cold.

    Fast enough for an ack: no database, no network.
    """
    if user_id in settings.admins:
        return True
    group = settings.admin_usergroup
    if not group:
        return False
    with _group_lock:
        entry = _group_cache.get(group)
    if entry is None or clock() - entry[0] > GROUP_TTL_SECONDS:
        return None
    return user_id in entry[1]


def refresh_admin_group(settings: Settings, slack: SlackGateway) -> frozenset[str] | None:
    """Fetch the admin user group's members (usergroups.users.list) into the cache."""
    group = settings.admin_usergroup
    if not group:
        return None
    try:
        members = frozenset(slack.usergroup_members(group))
    except SlackApiError:
        # Fail closed: without an answer from Slack nobody new becomes an admin.
        log.warning("could not read the admin user group", extra={"usergroup": group})
        return None
    with _group_lock:
        _group_cache[group] = (time.monotonic(), members)
    return members


def is_admin(settings: Settings, slack: SlackGateway, user_id: str) -> bool:
    """May `user_id` see reports? INFOCHAT_ADMINS, or the admin user group (cached for 5 minutes)."""
    known = cached_admin(settings, user_id)
    if known is not None:
        return known
    members = refresh_admin_group(settings, slack)
    return members is not None and user_id in members


def clear_admin_cache() -> None:
    with _group_lock:
        _group_cache.clear()


# -- exports ------------------------------------------------------------------------------------


def export_name(table: Table, period: Period, ext: str) -> str:
    return f"infochat_{table.key}_{period.first_day:%Y%m%d}-{period.last_day:%Y%m%d}.{ext}"


def to_csv(table: Table) -> bytes:
    """One table as UTF-8 CSV with a header row; a hidden cell is written as `*`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.columns)
    for label, cells in table.rows:
        writer.writerow(
            [label, *(SUPPRESSED if c.suppressed and c.text is None else _blank(c.export()) for c in cells)]
        )
    return buffer.getvalue().encode("utf-8")


def _blank(value: str | float | int | None) -> str | float | int:
    return "" if value is None else value


def to_json(table: Table, report: Report) -> bytes:
    """One table as JSON: rows keyed by column; a hidden cell is null and named in `suppressed`."""
    rows = []
    for label, cells in table.rows:
        row: dict[str, Any] = {table.columns[0]: label}
        hidden = []
        for name, cell in zip(table.columns[1:], cells, strict=True):
            row[name] = cell.export()
            if cell.suppressed and cell.text is None:
                hidden.append(name)
        if hidden:
            row["suppressed"] = hidden
        rows.append(row)
    document = {
        "table": table.key,
        "title": table.title,
        "note": table.note,
        "period": {
            "first_day": report.period.first_day.isoformat(),
            "last_day": report.period.last_day.isoformat(),
        },
        "previous_period": {
            "first_day": report.summary.previous.first_day.isoformat(),
            "last_day": report.summary.previous.last_day.isoformat(),
        },
        "min_group_size": report.min_group_size,
        "generated_at": report.generated_at.isoformat(),
        "columns": table.columns,
        "rows": rows,
        "privacy": report.footer,
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
