"""Chats held, participation and intros read from the roll-ups (bot.services.reports.rollups).

The same figures as `aggregates.held`, `aggregates.participation` and the scheduling
table's people and intros (bot.services.scheduling.figures) from the raw rows:
chat counts are sums of days; the people a count describes are exact wherever the
report shows them (participation: one indexed probe per person and period).

The smallest group of people behind a chat count (`people` of a cell) serves only
to decide suppression: 1 to k-1 people hides the cell. It is bounded from the days:
at least the largest day's distinct people, at most the sum of the days' (and at most
the people of that function). When the bounds do not settle the question for k, the
cell's people are counted from the raw rows (`aggregates.held`), so what a report
shows and hides is exactly what it would from the raw rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from bot.models import ChatRequest, Person, PersonTopic, TopicKind
from bot.models_rollups import (
    ASKED,
    EXPERT,
    HELD,
    INTRO,
    LEARNED,
    report_answers,
    report_flow,
    report_held,
    report_intros,
    report_notes,
    report_people,
    report_requests,
    report_waits,
)
from bot.services.reports import aggregates, sql
from bot.services.reports.periods import Period, week_starts
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
    for (lf, ef), side in flow.items():
        people = side.people(k, (sizes.get(lf, 0), sizes.get(ef, 0)))
        # A per-pair count from the two functions' people measured 27 s for a month on
        # PostgreSQL (bench/reports.py): the one raw pass below is far cheaper.
        unsettled |= people is None
        out.flow[(lf, ef)] = (side.chats, people or 0)
    if unsettled:
        _settle(out, exact())
    return out


def _settle(out: aggregates.Held, raw: aggregates.Held) -> None:
    """Take the people of every cell from the raw rows (the chat counts are the same)."""
    for mine, theirs in ((out.totals, raw.totals), (out.weeks, raw.weeks), (out.flow, raw.flow)):
        for key, (chats, _) in list(mine.items()):  # type: ignore[attr-defined]
            mine[key] = (chats, theirs.get(key, (chats, 0))[1])  # type: ignore[index]


def _flow(session: Session, cur: Period) -> dict[tuple[str | None, str | None], _Side]:
    f = report_flow.c
    stmt = select(f.lf, f.ef, f.chats, f.learners, f.experts).where(
        f.zone == cur.zone, f.day >= cur.first_day, f.day <= cur.last_day, f.cday <= cur.last_day
    )
    found: dict[tuple[str | None, str | None], _Side] = defaultdict(_Side)
    for lf, ef, chats, learners, experts in session.execute(stmt):
        found[(lf, ef)].add(chats, 0, learners, experts)
    return found


def _function_sizes(session: Session) -> dict[str | None, int]:
    return {
        fn: int(n)
        for fn, n in session.execute(select(Person.function, func.count()).group_by(Person.function))
    }


def _took_part(zone: str, kind: int, period: Period) -> Any:
    p = report_people.c
    return exists().where(
        p.zone == zone,
        p.person_id == Person.id,
        p.kind == kind,
        p.day >= period.first_day,
        p.day <= period.last_day,
        p.cday <= period.last_day,
    )


def participation(
    session: Session, cur: Period, prev: Period
) -> tuple[aggregates.Participation, aggregates.Participation]:
    """(previous, current) participation by function, as `aggregates.participation`."""
    speakers = select(PersonTopic.person_id).where(PersonTopic.kind == TopicKind.SPEAK)
    member = (sql.joined_at(prev.end), sql.joined_at(cur.end))
    columns = []
    for m, period in zip(member, (prev, cur), strict=True):
        columns += [
            func.count(case((m, 1))),
            func.count(case((and_(m, Person.id.in_(speakers)), 1))),
            func.count(case((and_(m, _took_part(cur.zone, LEARNED, period)), 1))),
            func.count(case((and_(m, Person.weekly_pairing.is_(True)), 1))),
            func.count(case((and_(m, _took_part(cur.zone, HELD, period)), 1))),
        ]
    stmt = select(Person.function, *columns).where(or_(member[0], member[1])).group_by(Person.function)
    by_function: tuple[dict[str, tuple[int, int, int, int, int]], ...] = ({}, {})
    for function, *counts in session.execute(stmt):
        key = function or ""
        for c in (0, 1):
            values = [int(v) for v in counts[5 * c : 5 * c + 5]]
            if values[0] == 0:
                continue
            old = by_function[c].get(key, (0, 0, 0, 0, 0))
            by_function[c][key] = tuple(a + b for a, b in zip(old, values, strict=True))  # type: ignore[assignment]
    return aggregates.Participation(by_function[0]), aggregates.Participation(by_function[1])


def intro_counts(session: Session, period: Period) -> dict[str, tuple[int, int]]:
    """Per function label and ALL: (people introduced, chats introduced) in the period, as
    `bot.services.scheduling.figures` counts them from the raw rows."""
    i = report_intros.c
    intros = session.execute(
        select(i.fn, func.sum(i.chats))
        .where(i.zone == period.zone, i.day >= period.first_day, i.day <= period.last_day)
        .group_by(i.fn)
    )
    found = {str(fn): int(n) for fn, n in intros if n}
    people: dict[str, int] = defaultdict(int)
    stmt = (
        select(Person.function, func.count())
        .where(_took_part(period.zone, INTRO, period))
        .group_by(Person.function)
    )
    for function, n in session.execute(stmt):
        people[function or NO_FUNCTION] += int(n)
        people[ALL] += int(n)
    return {label: (people.get(label, 0), n) for label, n in found.items()}


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
    """`aggregates.days_to_chat` from the roll-ups: the same hour histogram, summed."""
    w = report_waits.c
    histogram: dict[int, list[tuple[float, int]]] = {0: [], 1: []}
    sides: dict[int, _Side] = defaultdict(_Side)
    stmt = select(w.day, w.hours, w.chats, w.learners, w.experts).where(
        *_span(report_waits, cur, prev), w.cday <= cur.last_day
    )
    for day, hours, chats, learners, experts in session.execute(stmt):
        for c in _periods(day, cur, prev):
            histogram[c].append(((float(hours) + 0.5) / 24, int(chats)))
            sides[c].add(chats, 0, learners, experts)
    smallest = {}
    for c, side in sides.items():
        people = side.people(k)
        if people is None:
            return exact()
        smallest[c] = people
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


def expert_load_counts(session: Session, period: Period) -> dict[str, tuple[int, int, int, int]]:
    """`tables.expert_load_counts` from the roll-ups: per function label (experts, over
    capacity, not asked in period, never asked), each person's chats summed from their days."""
    p = report_people.c
    chats = (
        select(func.coalesce(func.sum(p.chats), 0))
        .where(
            p.zone == period.zone,
            p.person_id == Person.id,
            p.kind == EXPERT,
            p.day >= period.first_day,
            p.day <= period.last_day,
        )
        .scalar_subquery()
    )
    ever_asked = select(ChatRequest.id).where(ChatRequest.expert_id == Person.id).exists()
    speakers = select(PersonTopic.person_id).where(PersonTopic.kind == TopicKind.SPEAK)
    over = chats * sql.DAYS_PER_MONTH > Person.chats_per_month * period.days
    stmt = (
        select(
            Person.function,
            func.count(),
            func.count(case((over, 1))),
            func.count(case((~_took_part(period.zone, ASKED, period), 1))),
            func.count(case((~ever_asked, 1))),
        )
        .where(sql.joined_at(period.end), Person.id.in_(speakers))
        .group_by(Person.function)
    )
    found: dict[str, tuple[int, int, int, int]] = {}
    for function, *counts in session.execute(stmt):
        found[sql.function_label(function)] = tuple(int(c) for c in counts)  # type: ignore[assignment]
    return found
