"""The roll-ups' year rows (`report_rollup_years`): who took part, a bit per local day, one row
per person, kind and calendar year; experts' chats as sums per month.

Writing (bot.services.reports.rollups.ensure): `begin`, then per run of days rebuilt `stage`
(clears the days' bits in the year rows, stages the new ones and the change in each
expert's chats in a temporary table), then `finish`: one `INSERT … SELECT … GROUP BY …
ON CONFLICT DO UPDATE` (both databases) merges it all, so a backfill writes each year row
once (monthly merges left PostgreSQL's table 3× bloated).

Reading: `took_part(period)` is the condition "a bit of the period is set" on a year row, and
`expert_chats(period)` each expert's chats in the period (whole months from the year rows,
partial ones from the per-day rows), so the distinct people of any period are one pass over
at most one row per person and year, whatever its length.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, literal, or_, select, text, union_all
from sqlalchemy.orm import Session

from bot.models_rollups import ACTIVITY, EXPERT, MONTHS, report_people, report_person_years, report_years
from bot.services.reports.periods import Period

FULL = (1 << 31) - 1  # every day of a month
STAGE = "report_rollup_stage"
_CHANGED = "report_rollup_changed"  # (year, person) whose per-person year row is made again
_TOUCHED = "infochat_rollup_touched"
_KEY = ("kind", "lf", "ef", "year", "person_id")
_ACTIVITY_KINDS = frozenset(ACTIVITY.values())

Key = tuple[int, str, str, int, int]  # kind, lf, ef, year, person_id


class Bits:
    """Year rows being built: per key, twelve month masks."""

    def __init__(self) -> None:
        self.rows: dict[Key, list[int]] = defaultdict(lambda: [0] * 12)

    def add(self, kind: int, person_id: int, day: date, lf: str | None = "", ef: str | None = "") -> None:
        self.rows[(kind, lf or "", ef or "", day.year, person_id)][day.month - 1] |= 1 << (day.day - 1)

    def count(self, person_id: int, day: date, change: int) -> None:
        """EXPERT rows hold counts: add `change` to the person's chats of that month."""
        self.rows[(EXPERT, "", "", day.year, person_id)][day.month - 1] += change


def months(first: date, last: date) -> Iterator[tuple[int, int, date, date]]:
    """(year, month, first day, last day) of each month first..last touches, cut to first..last."""
    day = first
    while day <= last:
        following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        end = min(last, following - timedelta(days=1))
        yield day.year, day.month, day, end
        day = following


def _span_mask(first: date, last: date) -> int:
    """The bits of days first..last of one month."""
    return ((1 << (last.day - first.day + 1)) - 1) << (first.day - 1)


def begin(session: Session) -> None:
    """An empty staging table for this transaction's builds (a temporary table, indexed for the
    clearing's look-ups)."""
    session.execute(
        text(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE} (kind INTEGER, year INTEGER, "
            f"lf VARCHAR(100), ef VARCHAR(100), person_id BIGINT, "
            + ", ".join(f"{m} INTEGER" for m in MONTHS)
            + ")"
        )
    )
    session.execute(
        text(f"CREATE INDEX IF NOT EXISTS {STAGE}_key ON {STAGE} (person_id, kind, year, lf, ef)")
    )
    session.execute(text(f"DELETE FROM {STAGE}"))
    session.info[_TOUCHED] = set()


def stage(session: Session, zone: str, first: date, last: date, bits: Bits) -> None:
    """Stage the bits of first..last, and clear those days' bits (every kind but EXPERT) in the
    year rows whose bits for them change: a row the rebuilt days set the same is not written
    (a day rebuilt after a write changes a few rows; clearing all of them, then merging them
    back, rewrote ~15,000 rows twice at 50,000 people)."""
    _stage(session, bits.rows)
    clear: dict[int, dict[int, int]] = defaultdict(dict)
    for year, month, start, end in months(first, last):
        clear[year][month] = _span_mask(start, end)
    table = report_years.name
    touched: set[tuple[int, int]] = session.info.setdefault(_TOUCHED, set())
    for year, masks in clear.items():
        sets = ", ".join(f"m{m} = m{m} & {FULL & ~mask}" for m, mask in masks.items())
        bits_set = " OR ".join(f"(m{m} & {mask}) <> 0" for m, mask in masks.items())
        same = " AND ".join(f"(s.m{m} & {mask}) = ({table}.m{m} & {mask})" for m, mask in masks.items())
        cleared = session.execute(
            text(
                f"UPDATE {table} SET {sets} "
                f"WHERE zone = :zone AND year = :year AND kind <> {EXPERT} AND ({bits_set}) "
                f"AND NOT EXISTS (SELECT 1 FROM {STAGE} AS s WHERE s.person_id = {table}.person_id "
                f"AND s.kind = {table}.kind AND s.year = {table}.year AND s.lf = {table}.lf "
                f"AND s.ef = {table}.ef AND {same}) "
                "RETURNING kind, person_id"
            ),
            {"zone": zone, "year": year},
        ).all()
        touched.update((year, int(pid)) for kind, pid in cleared if kind in _ACTIVITY_KINDS)


def _stage(session: Session, rows: dict[Key, list[int]]) -> None:
    write_rows(
        session,
        STAGE,
        [
            dict(zip((*_KEY, *MONTHS), (*key, *masks), strict=True))
            for key, masks in rows.items()
            if any(masks)  # an expert whose chats did not change
        ],
    )


def finish(session: Session, zone: str, *, whole: bool = False) -> None:
    """After `stage` for each run of days rebuilt: merge what was staged into the year rows.
    Each day was built once, so its bits are staged once and summing the staged masks is
    OR-ing them; experts' chats are staged as changes (new minus old per-day counts) and
    added, so a day rebuilt touches its own experts' rows only. Rows the merge would not
    change are not written. Then the per-person year rows of the people whose rows changed
    are made again from the year rows (`whole`, for a backfill: every person's)."""
    columns = ", ".join([*_KEY, *MONTHS])
    key = ", ".join(_KEY)
    summed = ", ".join(f"SUM({m})" for m in MONTHS)
    table = report_years.name
    merged = ", ".join(
        f"{m} = CASE WHEN {table}.kind = {EXPERT} THEN {table}.{m} + excluded.{m} "
        f"ELSE {table}.{m} | excluded.{m} END"
        for m in MONTHS
    )
    counts = " OR ".join(f"excluded.{m} <> 0" for m in MONTHS)
    new_bits = " OR ".join(f"({table}.{m} | excluded.{m}) <> {table}.{m}" for m in MONTHS)
    changes = f"({table}.kind = {EXPERT} AND ({counts})) OR ({table}.kind <> {EXPERT} AND ({new_bits}))"
    statement = (
        f"INSERT INTO {table} (zone, {columns}) "
        f"SELECT :zone, {key}, {summed} FROM {STAGE} WHERE true GROUP BY {key} "
        f"ON CONFLICT (zone, {key}) DO UPDATE SET {merged} WHERE {changes}"
    )
    touched: set[tuple[int, int]] = session.info.pop(_TOUCHED, set())
    if whole:
        session.execute(text(statement), {"zone": zone})
    else:
        merged_rows = session.execute(text(statement + " RETURNING kind, year, person_id"), {"zone": zone})
        touched.update((int(y), int(pid)) for kind, y, pid in merged_rows if kind in _ACTIVITY_KINDS)
    session.execute(text(f"DELETE FROM {STAGE}"))
    _remake_person_years(session, zone, None if whole else touched)


def _remake_person_years(session: Session, zone: str, touched: set[tuple[int, int]] | None) -> None:
    """report_rollup_person_years from the year rows, for these (year, person) or all of `zone`."""
    pivot = report_person_years.name
    names = [f"{prefix}{m}" for prefix in ACTIVITY for m in range(1, 13)]
    summed = ", ".join(
        f"SUM(CASE WHEN kind = {kind} THEN m{m} ELSE 0 END)"
        for kind in ACTIVITY.values()
        for m in range(1, 13)
    )
    kinds = ", ".join(str(kind) for kind in ACTIVITY.values())
    which = ""
    if touched is not None:
        if not touched:
            return
        session.execute(
            text(f"CREATE TEMPORARY TABLE IF NOT EXISTS {_CHANGED} (year INTEGER, person_id BIGINT)")
        )
        session.execute(text(f"DELETE FROM {_CHANGED}"))
        write_rows(session, _CHANGED, [{"year": y, "person_id": p} for y, p in sorted(touched)])
        which = f" AND (year, person_id) IN (SELECT year, person_id FROM {_CHANGED})"
    session.execute(text(f"DELETE FROM {pivot} WHERE zone = :zone{which}"), {"zone": zone})
    session.execute(
        text(
            f"INSERT INTO {pivot} (zone, year, person_id, {', '.join(names)}) "
            f"SELECT :zone, year, person_id, {summed} FROM {report_years.name} "
            f"WHERE zone = :of_zone AND kind IN ({kinds}) AND lf = '' AND ef = ''{which} "
            "GROUP BY year, person_id"
        ),
        {"zone": zone, "of_zone": zone},  # two names: PostgreSQL cannot type one as text and varchar
    )


def write_rows(session: Session, name: str, rows: list[dict[str, Any]]) -> None:
    """Write rows into table `name` straight through the driver (COPY on PostgreSQL,
    executemany on SQLite): a backfill writes millions, and SQLAlchemy's per-row parameter
    handling was most of its time."""
    if not rows:
        return
    columns = list(rows[0])
    connection = session.connection()
    driver = connection.connection.driver_connection
    names = ", ".join(columns)
    if connection.dialect.name == "postgresql":
        with driver.cursor() as cursor, cursor.copy(f"COPY {name} ({names}) FROM STDIN") as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row([row[c] for c in columns])
        return
    # SQLite stores dates as ISO text, as the column types write them (roll-ups hold no instants).
    marks = ", ".join("?" for _ in columns)
    values = [tuple(_sqlite_value(row[c]) for c in columns) for row in rows]
    connection.exec_driver_sql(f"INSERT INTO {name} ({names}) VALUES ({marks})", values)


def _sqlite_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


# -- reading ---------------------------------------------------------------------------------------


def took_part(period: Period, y: Any = report_years.c) -> ColumnElement[bool]:
    """On a report_rollup_years row (or a subquery's `y` of its year and months): a bit of a
    day of `period` is set."""
    per_year: dict[int, list[ColumnElement[bool]]] = defaultdict(list)
    for year, month, start, end in months(period.first_day, period.last_day):
        column = y[f"m{month}"]
        if (start, end) == _whole(year, month):
            per_year[year].append(column != 0)
        else:
            per_year[year].append(column.op("&")(_span_mask(start, end)) != 0)
    if not per_year:
        return false()
    return or_(*(and_(y.year == year, or_(*conditions)) for year, conditions in per_year.items()))


def _whole(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)


def expert_chats(zone: str, period: Period) -> Any:
    """A subquery of (pid, n): each expert's chats on the expert's side created in `period`."""
    y, p = report_years.c, report_people.c
    whole: dict[int, list[str]] = defaultdict(list)
    parts: list[Any] = []
    for year, month, start, end in months(period.first_day, period.last_day):
        if (start, end) == _whole(year, month):
            whole[year].append(f"m{month}")
        else:
            parts.append(
                select(p.person_id.label("pid"), p.chats.label("n")).where(
                    p.zone == zone, p.kind == EXPERT, p.day >= start, p.day <= end
                )
            )
    for year, columns in whole.items():
        total = sum((y[c] for c in columns[1:]), y[columns[0]])
        parts.append(
            select(y.person_id.label("pid"), total.label("n")).where(
                y.zone == zone, y.kind == EXPERT, y.lf == "", y.ef == "", y.year == year
            )
        )
    if not parts:
        parts.append(select(literal(0).label("pid"), literal(0).label("n")).where(false()))
    rows = union_all(*parts).subquery()
    return select(rows.c.pid, func.sum(rows.c.n).label("n")).group_by(rows.c.pid).subquery()
