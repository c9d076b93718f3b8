"""The report's figures read from the roll-ups (bot.services.reports.rollups).

The same figures as `aggregates` (chats held, requests, answers, days to chat,
takeaways), participation, expert load, follow-up answers and the scheduling table's
people and intros (bot.services.scheduling.figures) from the raw rows: counts are sums
of days; the people a count shows are exact (`people`: one statement over people and
their year rows, a row per person and calendar year with a bit per day).

The smallest group of people behind a count (`people` of a cell) serves only to
decide suppression: 1 to k-1 people hides the cell. It is bounded from the days: at
least the largest day's distinct people, at most the sum of the days' (and at most the
people of that function). When the bounds do not settle the question for k, a flow
cell's people are counted exactly from the year rows, any other figure's from the raw
rows, so what a report shows and hides is exactly what it would from the raw rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, case, distinct, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from bot.models import ChatRequest, Person, PersonTopic, TopicKind
from bot.models_rollups import (
    ASKED,
    FLOW_EXPERT,
    FLOW_LEARNER,
    HELD,
    INTRO,
    LEARNED,
    MONTHS,
    report_answers,
    report_flow,
    report_held,
    report_intros,
    report_notes,
    report_outcomes,
    report_people,
    report_person_years,
    report_requests,
    report_waits,
    report_years,
)
from bot.services.reports import aggregates, sql
from bot.services.reports.periods import Period, week_starts
from bot.services.reports.rollup_counts import DAY
from bot.services.reports.rollup_years import expert_chats, took_part
from bot.services.scheduling.figures import ALL, NO_FUNCTION

Bound = list[int]  # [chats, cross, min lower, max lower (per side), sum (per side)...]


def first_day(cur: Period, prev: Period) -> date:
    """The earliest day a report reads from the roll-ups: the previous period or the first trend week."""
    return min(prev.first_day, week_starts(cur)[0])


class _Side:
    """Chats and the bounds on distinct learner-side / expert-side people of a group of days."""

    def __init__(self) -> None:
        self.chats = 0
        self.extra = 0
        self.low = [0, 0]
        self.high = [0, 0]

    def add(self, chats: int, extra: int, learners: int, experts: int) -> None:
        self.chats += chats
        self.extra += extra
        self.low = [max(self.low[0], learners), max(self.low[1], experts)]
        self.high = [self.high[0] + learners, self.high[1] + experts]

    @classmethod
    def summed(cls, chats: Any, extra: Any, low: tuple[Any, Any], high: tuple[Any, Any]) -> _Side:
        """A group of days already aggregated in SQL: sums, and the per-side max and sum."""
        side = cls()
        side.chats, side.extra = int(chats or 0), int(extra or 0)
        side.low = [int(low[0] or 0), int(low[1] or 0)]
        side.high = [int(high[0] or 0), int(high[1] or 0)]
        return side

    def people(self, k: int, caps: tuple[int, int] | None = None) -> int | None:
        """min(learners, experts), or a stand-in with the same suppression; None: unsettled."""
        high = list(self.high)
        if caps is not None:
            high = [min(high[0], caps[0]), min(high[1], caps[1])]
        low, top = min(self.low), min(high)
        if low >= k:
            return low
        if top < k:
            return top
        return None


def held(
    session: Session, cur: Period, prev: Period, k: int, exact: Callable[[], aggregates.Held]
) -> aggregates.Held:
    """`aggregates.held` from the roll-ups; `exact` computes it from the raw rows when needed."""
    zone, last = cur.zone, cur.last_day
    mondays = week_starts(cur)
    totals: dict[int, _Side] = defaultdict(_Side)
    weeks: dict[int, _Side] = defaultdict(_Side)
    stmt = select(
        report_held.c.day,
        report_held.c.chats,
        report_held.c.cross_chats,
        report_held.c.lside,
        report_held.c.eside,
    ).where(
        report_held.c.zone == zone,
        report_held.c.day >= first_day(cur, prev),
        report_held.c.day <= last,
        report_held.c.cday <= last,
    )
    for day, chats, cross, lside, eside in session.execute(stmt):
        for c, period in ((0, prev), (1, cur)):
            if period.first_day <= day <= period.last_day:
                totals[c].add(chats, cross, lside, eside)
        if day >= mondays[0]:
            weeks[min((day - mondays[0]).days // 7, len(mondays) - 1)].add(chats, 0, lside, eside)
    flow = _flow(session, cur)
    sizes = _function_sizes(session) if flow else {}
    out = aggregates.Held({}, {}, {}, {})
    unsettled = False
    for c, side in totals.items():
        out.cross[c] = (side.chats, side.extra)
        people = side.people(k)
        unsettled |= people is None
        out.totals[c] = (side.chats, people or 0)
    for i, side in weeks.items():
        people = side.people(k)
        unsettled |= people is None
        out.weeks[i] = (side.chats, people or 0)
    open_cells = []
    for (lf, ef), side in flow.items():
        people = side.people(k, (sizes.get(lf, 0), sizes.get(ef, 0)))
        out.flow[(lf, ef)] = (side.chats, people or 0)
        if people is None:
            open_cells.append((lf, ef))
    if open_cells and _late_chats(session, cur):
        unsettled = True  # their people are not in the year rows: the raw pass counts them
    elif open_cells:
        # The bounds left these cells open: count their people exactly from the year rows.
        sides = _flow_people(session, cur, open_cells)
        for lf, ef in open_cells:
            learners = sides.get((lf or "", ef or "", FLOW_LEARNER), 0)
            experts = sides.get((lf or "", ef or "", FLOW_EXPERT), 0)
            out.flow[(lf, ef)] = (out.flow[(lf, ef)][0], min(learners, experts))
    if unsettled:
        _settle(out, exact())
    return out


def _late_chats(session: Session, period: Period) -> bool:
    """Whether a chat held in `period` was held before the day it was created on."""
    h = report_held.c
    stmt = select(h.day).where(
        h.zone == period.zone,
        h.day >= period.first_day,
        h.cday <= period.last_day,
        h.cday > h.day,
    )
    return session.execute(stmt.limit(1)).first() is not None


def _flow_people(
    session: Session, period: Period, cells: list[tuple[str | None, str | None]]
) -> dict[tuple[str, str, int], int]:
    """Per (learner's function, expert's function, side) of these cells: the distinct people on
    that side of the chats held in `period` (functions "" for none), from the year rows."""
    y = report_years.c
    stmt = (
        select(y.lf, y.ef, y.kind, func.count(distinct(y.person_id)))
        .where(
            y.zone == period.zone,
            # One index range per side and cell (the key starts zone, kind, lf, ef, year).
            or_(
                *(
                    and_(y.kind == kind, y.lf == (lf or ""), y.ef == (ef or ""))
                    for kind in (FLOW_LEARNER, FLOW_EXPERT)
                    for lf, ef in cells
                )
            ),
            y.year.between(period.first_day.year, period.last_day.year),
            took_part(period),
        )
        .group_by(y.lf, y.ef, y.kind)
    )
    return {(lf, ef, int(kind)): int(n) for lf, ef, kind, n in session.execute(stmt)}


def _settle(out: aggregates.Held, raw: aggregates.Held) -> None:
    """Take the people of every cell from the raw rows (the chat counts are the same)."""
    for mine, theirs in ((out.totals, raw.totals), (out.weeks, raw.weeks), (out.flow, raw.flow)):
        for key, (chats, _) in list(mine.items()):  # type: ignore[attr-defined]
            mine[key] = (chats, theirs.get(key, (chats, 0))[1])  # type: ignore[index]


def _flow(session: Session, cur: Period) -> dict[tuple[str | None, str | None], _Side]:
    """Per function pair: the period's days summed in SQL (a day has a row per pair)."""
    f = report_flow.c
    stmt = (
        select(f.lf, f.ef, *_bounds(f.chats, None, f.learners, f.experts))
        .where(f.zone == cur.zone, f.day >= cur.first_day, f.day <= cur.last_day, f.cday <= cur.last_day)
        .group_by(f.lf, f.ef)
    )
    return {
        (lf, ef): _Side.summed(n, x, (a, b), (c, d)) for lf, ef, n, x, a, b, c, d in session.execute(stmt)
    }


def _bounds(chats: Any, extra: Any, learners: Any, experts: Any) -> list[Any]:
    """Sums of chats (and extra), max and sum of each side's people: what _Side.summed takes."""
    return [
        func.sum(chats),
        func.sum(extra) if extra is not None else literal(0),
        func.max(learners),
        func.max(experts),
        func.sum(learners),
        func.sum(experts),
    ]


def _flag(day: Any, cur: Period, prev: Period) -> Any:
    """1 for a day of the period, 0 for one of the previous period (they never overlap)."""
    return case(
        (and_(day >= cur.first_day, day <= cur.last_day), 1),
        (and_(day >= prev.first_day, day <= prev.last_day), 0),
    ).label("c")


def _function_sizes(session: Session) -> dict[str | None, int]:
    return {
        fn: int(n)
        for fn, n in session.execute(select(Person.function, func.count()).group_by(Person.function))
    }


def _years(*periods: Period) -> Any:
    y = report_years.c
    return y.year.between(min(p.first_day.year for p in periods), max(p.last_day.year for p in periods))


@dataclass
class People:
    """What one pass over people and their year rows gives: participation of both periods,
    expert load and the people introduced per function label (and ALL) in the period."""

    participation: tuple[aggregates.Participation, aggregates.Participation]
    expert_load: dict[str, tuple[int, int, int, int]]
    introduced: dict[str, int]


FLAGS = ("l0", "l1", "h0", "h1", "i1", "a1")


def _flags(cur: Period, prev: Period) -> tuple[dict[str, Any], list[tuple[Any, Any]]]:
    """Per person, conditions learned (l0, l1) or held a chat (h0, h1) in the previous /
    current period, introduced (i1) or asked (a1) in the current one; and the subqueries to
    LEFT JOIN to people for them (with their ON clauses)."""
    if any(p.first_day.year != p.last_day.year for p in (cur, prev)):
        acts = _activity(cur, prev)
        return {name: acts.c[name] == 1 for name in FLAGS}, [(acts, acts.c.pid == Person.id)]
    # Each period within one calendar year: a person has at most one row per kind and
    # period, so each kind's rows are joined to people as they are (no grouping by person).
    y, p = report_years.c, report_people.c
    joins: list[tuple[Any, Any]] = []
    found: dict[tuple[int, int], Any] = {}

    def rows(kind: int, period: Period) -> Any:
        key = (kind, period.first_day.year)
        if key not in found:
            found[key] = (
                select(y.person_id, y.year, *(y[m] for m in MONTHS))
                .where(y.zone == cur.zone, y.kind == kind, y.lf == "", y.ef == "", y.year == key[1])
                .subquery(f"k{kind}_{key[1]}")
            )
            joins.append((found[key], found[key].c.person_id == Person.id))
        return found[key].c

    late = (
        select(
            p.person_id.label("pid"),
            *(_late_held(period).label(f"h{c}") for c, period in enumerate((prev, cur))),
        )
        .where(*_late_rows(cur, prev))
        .group_by(p.person_id)
        .subquery()
    )
    flags = {
        "l0": took_part(prev, rows(LEARNED, prev)),
        "l1": took_part(cur, rows(LEARNED, cur)),
        "h0": or_(took_part(prev, rows(HELD, prev)), late.c.h0 == 1),
        "h1": or_(took_part(cur, rows(HELD, cur)), late.c.h1 == 1),
        "i1": took_part(cur, rows(INTRO, cur)),
        "a1": took_part(cur, rows(ASKED, cur)),
    }
    return flags, [*joins, (late, late.c.pid == Person.id)]


class _Kind:
    """A report_rollup_person_years row seen as one kind's year row (`year`, `m1`…`m12`), for `took_part`."""

    def __init__(self, columns: Any, kind: str) -> None:
        self.columns, self.kind, self.year = columns, kind, columns.year

    def __getitem__(self, name: str) -> Any:
        return self.columns[f"{self.kind}{name[1:]}"]


def _late_rows(cur: Period, prev: Period) -> list[Any]:
    """The per-day HELD rows (late-created chats) either period may count: a range of days
    on (zone, kind, day) that SQLite's planner takes over a scan of the whole table."""
    p = report_people.c
    first = min(prev.first_day, cur.first_day)
    return [p.zone == cur.zone, p.kind == HELD, p.day.between(first, cur.last_day), p.cday >= first]


def _late_held(period: Period) -> Any:
    """Max over a person's late-created chats (report_rollup_people): one counted in `period`."""
    p = report_people.c
    return func.max(case((and_(p.day >= period.first_day, p.cday <= period.last_day), 1), else_=0))


def _activity(cur: Period, prev: Period) -> Any:
    """Per person, flags: learned (l0, l1) or held a chat (h0, h1) in the previous / current
    period, introduced (i1) or asked (a1) in the current one: from a row per person and year
    holding the four kinds side by side (report_rollup_person_years), grouped by person."""
    y, p = report_person_years.c, report_people.c
    wanted = (
        ("l", prev, "l0"),
        ("l", cur, "l1"),
        ("h", prev, "h0"),
        ("h", cur, "h1"),
        ("i", cur, "i1"),
        ("a", cur, "a1"),
    )
    bits = select(
        y.person_id.label("pid"),
        *(case((took_part(period, _Kind(y, kind)), 1), else_=0).label(name) for kind, period, name in wanted),
    ).where(
        y.zone == cur.zone,
        y.year.between(
            min(cur.first_day.year, prev.first_day.year), max(cur.last_day.year, prev.last_day.year)
        ),
    )

    def late_held(period: Period) -> Any:
        return case((and_(p.day >= period.first_day, p.cday <= period.last_day), 1), else_=0)

    # Chats held before the day they were created on: per day (report_rollup_people), rare.
    late = select(
        p.person_id, literal(0), literal(0), late_held(prev), late_held(cur), literal(0), literal(0)
    ).where(*_late_rows(cur, prev))
    rows = union_all(bits, late).subquery()
    names = [name for _, _, name in wanted]
    return select(rows.c.pid, *(func.max(rows.c[n]).label(n) for n in names)).group_by(rows.c.pid).subquery()


def people(session: Session, cur: Period, prev: Period) -> People:
    """Participation (as `aggregates.participation`), expert load (as
    `tables.expert_load_counts`) and the scheduling table's people introduced, in one
    statement: people LEFT JOINed to their flags from the year rows, grouped by function."""
    speakers = (
        select(PersonTopic.person_id.label("pid"))
        .where(PersonTopic.kind == TopicKind.SPEAK)
        .distinct()
        .subquery()
    )
    flags, joins = _flags(cur, prev)
    load = expert_chats(cur.zone, cur)
    member = (sql.joined_at(prev.end), sql.joined_at(cur.end))
    speaker = speakers.c.pid.is_not(None)
    columns = []
    for c, m in enumerate(member):
        columns += [
            func.count(case((m, 1))),
            func.count(case((and_(m, speaker), 1))),
            func.count(case((and_(m, flags[f"l{c}"]), 1))),
            func.count(case((and_(m, Person.weekly_pairing.is_(True)), 1))),
            func.count(case((and_(m, flags[f"h{c}"]), 1))),
        ]
    expert = and_(member[1], speaker)
    over = sql.over_capacity(func.coalesce(load.c.n, 0), Person.chats_per_month, cur.days)
    ever_asked = select(ChatRequest.id).where(ChatRequest.expert_id == Person.id).exists()
    columns += [
        func.count(case((expert, 1))),
        func.count(case((and_(expert, over), 1))),
        func.count(case((and_(expert, case((flags["a1"], 1), else_=0) == 0), 1))),
        func.count(case((and_(expert, ~ever_asked), 1))),
        func.count(case((flags["i1"], 1))),
    ]
    stmt = select(Person.function, *columns).outerjoin(speakers, speakers.c.pid == Person.id)
    for subquery, on in joins:
        stmt = stmt.outerjoin(subquery, on)
    stmt = stmt.outerjoin(load, load.c.pid == Person.id).group_by(Person.function)
    by_function: tuple[dict[str, tuple[int, int, int, int, int]], ...] = ({}, {})
    load_by: dict[str, tuple[int, int, int, int]] = {}
    introduced: dict[str, int] = defaultdict(int)
    for function, *counts in session.execute(stmt):
        values = [int(v) for v in counts]
        key = function or ""
        for c in (0, 1):
            part = values[5 * c : 5 * c + 5]
            if part[0]:
                old = by_function[c].get(key, (0, 0, 0, 0, 0))
                by_function[c][key] = tuple(a + b for a, b in zip(old, part, strict=True))  # type: ignore[assignment]
        if values[10]:
            label = sql.function_label(function)
            old_load = load_by.get(label, (0, 0, 0, 0))
            load_by[label] = tuple(a + b for a, b in zip(old_load, values[10:14], strict=True))  # type: ignore[assignment]
        if values[14]:
            introduced[function or NO_FUNCTION] += values[14]
            introduced[ALL] += values[14]
    participation = (aggregates.Participation(by_function[0]), aggregates.Participation(by_function[1]))
    return People(participation, load_by, dict(introduced))


def intro_counts(session: Session, period: Period, introduced: dict[str, int]) -> dict[str, tuple[int, int]]:
    """Per function label and ALL: (people introduced, chats introduced) in the period, as
    `bot.services.scheduling.figures` counts them from the raw rows; the people from `people`."""
    i = report_intros.c
    intros = session.execute(
        select(i.fn, func.sum(i.chats))
        .where(i.zone == period.zone, i.day >= period.first_day, i.day <= period.last_day)
        .group_by(i.fn)
    )
    found = {str(fn): int(n) for fn, n in intros if n}
    return {label: (introduced.get(label, 0), n) for label, n in found.items()}


def _periods(day: date, cur: Period, prev: Period) -> list[int]:
    return [c for c, p in ((0, prev), (1, cur)) if p.first_day <= day <= p.last_day]


def _span(table: Any, cur: Period, prev: Period) -> list[Any]:
    return [
        table.c.zone == cur.zone,
        table.c.day >= min(prev.first_day, cur.first_day),
        table.c.day <= cur.last_day,
    ]


def requests(
    session: Session,
    cur: Period,
    prev: Period,
    k: int,
    exact: Callable[[], dict[int, dict[str, tuple[int, int]]]],
) -> dict[int, dict[str, tuple[int, int]]]:
    """`aggregates.requests` from the roll-ups."""
    r = report_requests.c
    sides: dict[tuple[int, str], _Side] = defaultdict(_Side)
    stmt = select(r.day, r.outcome, r.requests, r.learners, r.experts).where(
        *_span(report_requests, cur, prev)
    )
    for day, outcome, n, learners, experts in session.execute(stmt):
        for c in _periods(day, cur, prev):
            sides[(c, outcome)].add(n, 0, learners, experts)
            sides[(c, "sent")].add(n, 0, learners, experts)
    out: dict[int, dict[str, tuple[int, int]]] = {0: {}, 1: {}}
    for (c, name), side in sides.items():
        people = side.people(k)
        if people is None:
            return exact()
        out[c][name] = (side.chats, people)
    return out


def answer_rate(
    session: Session,
    cur: Period,
    prev: Period,
    k: int,
    exact: Callable[[], dict[int, tuple[int, int, int, int]]],
) -> dict[int, tuple[int, int, int, int]]:
    """`aggregates.answer_rate` from the roll-ups: (asked, answered, people asked, people who answered)."""
    a = report_answers.c
    sides: dict[int, _Side] = defaultdict(_Side)
    answering: dict[int, _Side] = defaultdict(_Side)
    for day, asked, answered, people, answerers in session.execute(
        select(a.day, a.asked, a.answered, a.people, a.answerers).where(*_span(report_answers, cur, prev))
    ):
        for c in _periods(day, cur, prev):
            sides[c].add(asked, answered, people, people)
            answering[c].add(0, 0, answerers, answerers)
    out = {}
    for c, side in sides.items():
        people, answerers = side.people(k), answering[c].people(k)
        if people is None or answerers is None:
            return exact()
        out[c] = (side.chats, side.extra, people, answerers)
    return out


def days_to_chat(
    session: Session,
    cur: Period,
    prev: Period,
    k: int,
    exact: Callable[[], dict[int, tuple[float | None, int]]],
) -> dict[int, tuple[float | None, int]]:
    """`aggregates.days_to_chat` from the roll-ups: the same hour histogram, summed in SQL."""
    w = report_waits.c
    rows = (
        select(_flag(w.day, cur, prev), w.hours, w.chats, w.learners, w.experts)
        .where(*_span(report_waits, cur, prev), w.cday <= cur.last_day)
        .subquery()
    )
    in_period = rows.c.c.is_not(None)
    by_hour = (
        select(rows.c.c, rows.c.hours, func.sum(rows.c.chats))
        .where(in_period, rows.c.hours != DAY)
        .group_by(rows.c.c, rows.c.hours)
    )
    histogram: dict[int, list[tuple[float, int]]] = {0: [], 1: []}
    for c, hours, chats in session.execute(by_hour):
        histogram[int(c)].append(((float(hours) + 0.5) / 24, int(chats)))
    by_day = (
        select(rows.c.c, *_bounds(rows.c.chats, None, rows.c.learners, rows.c.experts))
        .where(in_period, rows.c.hours == DAY)
        .group_by(rows.c.c)
    )
    smallest = {}
    for c, n, x, a, b, lsum, esum in session.execute(by_day):
        people = _Side.summed(n, x, (a, b), (lsum, esum)).people(k)
        if people is None:
            return exact()
        smallest[int(c)] = people
    return {c: (sql.median(histogram[c]), smallest.get(c, 0)) for c in (0, 1)}


def takeaways(
    session: Session, cur: Period, prev: Period, k: int, exact: Callable[[], dict[int, Any]]
) -> dict[int, tuple[int, int, float | None, int]]:
    """`aggregates.takeaways` from the roll-ups: (takeaways, authors, median usefulness, raters)."""
    n = report_notes.c
    written: dict[int, _Side] = defaultdict(_Side)
    rated: dict[int, _Side] = defaultdict(_Side)
    histogram: dict[int, list[tuple[float, int]]] = {0: [], 1: []}
    for day, usefulness, notes, authors in session.execute(
        select(n.day, n.usefulness, n.notes, n.authors).where(*_span(report_notes, cur, prev))
    ):
        for c in _periods(day, cur, prev):
            written[c].add(notes, 0, authors, authors)
            if usefulness:
                rated[c].add(notes, 0, authors, authors)
                histogram[c].append((float(usefulness), int(notes)))
    out = {}
    for c in (0, 1):
        authors, raters = written[c].people(k), rated[c].people(k)
        if authors is None or raters is None:
            return exact()  # type: ignore[no-any-return]
        out[c] = (written[c].chats, authors, sql.median(histogram[c]), raters)
    return out


def outcome_counts(
    session: Session,
    cur: Period,
    prev: Period,
    k: int,
    exact: Callable[[], dict[tuple[int, str], tuple[int, int]]],
) -> dict[tuple[int, str], tuple[int, int]]:
    """`outcomes.outcome_counts` from the roll-ups: (cur flag, answer) -> (participants, people)."""
    o = report_outcomes.c
    sides: dict[tuple[int, str], _Side] = defaultdict(_Side)
    stmt = select(o.day, o.outcome, o.participants, o.people).where(*_span(report_outcomes, cur, prev))
    for day, outcome, n, people in session.execute(stmt):
        for c in _periods(day, cur, prev):
            sides[(c, str(outcome))].add(n, 0, people, people)
    found = {}
    for key, side in sides.items():
        people = side.people(k)
        if people is None:
            return exact()
        found[key] = (side.chats, people)
    return found
