"""The report's SQL aggregates over chats, requests and takeaways, for a period and the
one it is compared with, each in as few statements as the figures allow.

Each returns small summary rows keyed by a "cur" flag (1: the period, 0: the
previous one) with the size of the smallest group of people behind every
count, which suppression needs; none returns people, chats or requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    and_,
    case,
    cast,
    distinct,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from bot.models import (
    Chat,
    ChatParticipant,
    ChatRequest,
    Person,
    PersonTopic,
    RequestStatus,
    Takeaway,
    TopicKind,
)
from bot.services.reports import sql
from bot.services.reports.periods import Period, local_midnight, week_starts


@dataclass
class Participation:
    by_function: dict[str, tuple[int, int, int, int, int]]  # joined, experts, learners, weekly, held

    def total(self, index: int) -> int:
        return sum(row[index] for row in self.by_function.values())


def _people_sets(cur: Period, prev: Period, ranges: sql.Ranges) -> tuple[Any, Any, Any]:
    """(speakers, learners, held): subqueries of distinct person ids, the last two with a
    flag per period (p0: previous, p1: current)."""
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
            case((sql.between(column, prev), 1), else_=0).label("p0"),
            case((sql.between(column, cur), 1), else_=0).label("p1"),
        )

    learner_rows = union_all(
        select(ChatRequest.learner_id.label("pid"), *flags(ChatRequest.created_at)).where(
            sql.span(ChatRequest.created_at, cur, prev)
        ),
        select(ChatParticipant.person_id.label("pid"), *flags(Chat.created_at))
        .join(Chat, Chat.id == ChatParticipant.chat_id)
        .where(
            sql.span(Chat.created_at, cur, prev),
            sql.ids_in(ChatParticipant.chat_id, ranges.created),
            ChatParticipant.role.in_(sql.LEARNER_SIDE),
        ),
    ).subquery()
    held_rows = (
        select(
            ChatParticipant.person_id.label("pid"),
            case((and_(sql.between(Chat.done_at, prev), Chat.created_at < prev.end), 1), else_=0).label("p0"),
            case((Chat.done_at >= cur.start, 1), else_=0).label("p1"),
        )
        .join(Chat, Chat.id == ChatParticipant.chat_id)
        .where(
            Chat.done_at >= min(prev.start, cur.start),
            Chat.done_at < cur.end,
            Chat.created_at < cur.end,
            sql.ids_in(ChatParticipant.chat_id, ranges.done),
        )
        .subquery()
    )

    def per_person(rows: Any) -> Any:
        return (
            select(rows.c.pid, func.max(rows.c.p0).label("p0"), func.max(rows.c.p1).label("p1"))
            .group_by(rows.c.pid)
            .subquery()
        )

    return speakers, per_person(learner_rows), per_person(held_rows)


def participation(
    session: Session, cur: Period, prev: Period, ranges: sql.Ranges | None = None
) -> tuple[Participation, Participation]:
    """(previous, current) participation by function, from one statement: each set of people
    is gathered once over both periods with a flag per period, then LEFT JOINed to people."""
    ranges = ranges or sql.ranges(session, cur, prev)
    speakers, learners, held = _people_sets(cur, prev, ranges)
    member = (sql.joined_at(prev.end), sql.joined_at(cur.end))
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
    return Participation(by_function[0]), Participation(by_function[1])


def chats_held(
    session: Session, cur: Period, prev: Period, ranges: sql.Ranges | None = None
) -> dict[int, tuple[int, int]]:
    """cur flag -> (chats held, smallest side: distinct learners or distinct experts)."""
    ranges = ranges or sql.ranges(session, cur, prev)
    inner = (
        select(
            sql.is_current(Chat.done_at, cur),
            Chat.id.label("chat_id"),
            case((ChatParticipant.role.in_(sql.LEARNER_SIDE), ChatParticipant.person_id)).label("lp"),
            case((ChatParticipant.role.in_(sql.EXPERT_SIDE), ChatParticipant.person_id)).label("ep"),
        )
        .join(ChatParticipant, ChatParticipant.chat_id == Chat.id)
        .where(
            sql.span(Chat.done_at, cur, prev),
            Chat.created_at < cur.end,
            sql.ids_in(ChatParticipant.chat_id, ranges.done),
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
class Held:
    """Chats held, from one statement: per cur flag (chats, smallest side) and
    (chats, of which across functions); per trend week (chats, smallest side); per
    (learner's function, expert's function) of the period (chats, smallest side)."""

    totals: dict[int, tuple[int, int]]
    cross: dict[int, tuple[int, int]]
    weeks: dict[int, tuple[int, int]]
    flow: dict[tuple[str | None, str | None], tuple[int, int]]


def held(session: Session, cur: Period, prev: Period, ranges: sql.Ranges | None = None) -> Held:
    """The participants of every chat held since the earlier of the previous period and the
    first trend week, joined to their functions once (a MATERIALIZED CTE), then aggregated
    four ways in one UNION ALL, instead of four passes over chats x participants x people."""
    ranges = ranges or sql.ranges(session, cur, prev)
    bounds = [local_midnight(m, cur.zone) for m in week_starts(cur)]
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
            sql.ids_in(ChatParticipant.chat_id, ranges.done),
        )
        .cte("held")
        .prefix_with("MATERIALIZED")
    )
    out = Held({}, {}, {}, {})
    parts = union_all(*_held_totals(rows, cur, prev), _held_weeks(rows, bounds), _held_flow(rows, cur))
    for part, g, lf, ef, n, a, b in session.execute(parts):
        if part == "total":
            out.totals[int(g)] = (int(n), min(int(a), int(b)))
        elif part == "cross":
            out.cross[int(g)] = (int(n), int(a))
        elif part == "week":
            out.weeks[int(g)] = (int(n), min(int(a), int(b)))
        else:
            out.flow[(lf, ef)] = (int(n), min(int(a), int(b)))
    return out


_NO_TEXT = cast(null(), String)
_NO_NUMBER = cast(null(), Integer)


def _sides(source: Any) -> tuple[Any, Any, Any]:
    """Distinct chats, distinct learner-side and distinct expert-side people."""
    lp = case((source.c.role.in_(sql.LEARNER_SIDE), source.c.pid))
    ep = case((source.c.role.in_(sql.EXPERT_SIDE), source.c.pid))
    return func.count(distinct(source.c.chat_id)), func.count(distinct(lp)), func.count(distinct(ep))


def _held_totals(rows: Any, cur: Period, prev: Period) -> tuple[Any, Any]:
    """Chats held in either period by period, and the share across functions."""
    by_cur = (
        select(sql.is_current(rows.c.done_at, cur), rows.c.chat_id, rows.c.pid, rows.c.role)
        .where(sql.span(rows.c.done_at, cur, prev))
        .subquery()
    )
    totals = select(
        literal("total").label("part"),
        by_cur.c.cur.label("g"),
        _NO_TEXT.label("lf"),
        _NO_TEXT.label("ef"),
        *_sides(by_cur),
    ).group_by(by_cur.c.cur)
    # Cross-function share: per chat, how many functions (no function counts as one).
    per_chat = (
        select(
            sql.is_current(rows.c.done_at, cur),
            func.count(distinct(func.coalesce(rows.c.fn, ""))).label("nf"),
        )
        .where(sql.span(rows.c.done_at, cur, prev))
        .group_by(rows.c.chat_id, rows.c.done_at)
        .subquery()
    )
    cross = select(
        literal("cross").label("part"),
        per_chat.c.cur,
        _NO_TEXT,
        _NO_TEXT,
        func.count(),
        func.count(case((per_chat.c.nf > 1, 1))),
        _NO_NUMBER,
    ).group_by(per_chat.c.cur)
    return totals, cross


def _held_weeks(rows: Any, bounds: list[datetime]) -> Any:
    """Trend: per local week, up to the end of the period."""
    by_week = (
        select(sql.bucket(rows.c.done_at, bounds).label("w"), rows.c.chat_id, rows.c.pid, rows.c.role)
        .where(rows.c.done_at >= bounds[0])
        .subquery()
    )
    return select(literal("week"), by_week.c.w, _NO_TEXT, _NO_TEXT, *_sides(by_week)).group_by(by_week.c.w)


def _held_flow(rows: Any, cur: Period) -> Any:
    """Flow: learner's function by expert's function, this period only."""
    learner, expert = rows.alias("l"), rows.alias("e")
    return (
        select(
            literal("flow"),
            _NO_NUMBER,
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
                expert.c.role.in_([r.value for r in sql.EXPERT_SIDE]),
                expert.c.pid != learner.c.pid,
            ),
        )
        .where(learner.c.role.in_([r.value for r in sql.LEARNER_SIDE]), learner.c.done_at >= cur.start)
        .group_by(learner.c.fn, expert.c.fn)
    )


def requests(session: Session, cur: Period, prev: Period) -> dict[int, dict[str, tuple[int, int]]]:
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
            sql.is_current(ChatRequest.created_at, cur),
            outcome.label("outcome"),
            ChatRequest.learner_id.label("lid"),
            ChatRequest.expert_id.label("eid"),
        )
        .where(sql.span(ChatRequest.created_at, cur, prev))
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


def answer_rate(
    session: Session, cur: Period, prev: Period, ranges: sql.Ranges | None = None
) -> dict[int, tuple[int, int, int, int]]:
    """cur flag -> (participants asked, of whom answered, distinct people asked, distinct people
    who answered); by chat introduced."""
    ranges = ranges or sql.ranges(session, cur, prev)
    inner = (
        select(
            sql.is_current(Chat.created_at, cur),
            ChatParticipant.person_id.label("pid"),
            ChatParticipant.answered_at.label("answered"),
        )
        .join(ChatParticipant, ChatParticipant.chat_id == Chat.id)
        .where(
            sql.span(Chat.created_at, cur, prev),
            sql.ids_in(ChatParticipant.chat_id, ranges.created),
            ChatParticipant.checkins_sent > 0,
        )
        .subquery()
    )
    answerer = case((inner.c.answered.is_not(None), inner.c.pid))
    stmt = select(
        inner.c.cur,
        func.count(),
        func.count(inner.c.answered),
        func.count(distinct(inner.c.pid)),
        func.count(distinct(answerer)),
    ).group_by(inner.c.cur)
    return {int(c): (int(n), int(a), int(p), int(q)) for c, n, a, p, q in session.execute(stmt)}


def days_to_chat(
    session: Session, cur: Period, prev: Period, ranges: sql.Ranges | None = None
) -> dict[int, tuple[float | None, int]]:
    """cur flag -> (median days from request to chat held, smallest side): one statement, a
    histogram of whole hours and the distinct sides, over one MATERIALIZED CTE."""
    ranges = ranges or sql.ranges(session, cur, prev)
    hours = sql.hours_between(Chat.done_at, ChatRequest.created_at, sql.dialect(session))
    inner = (
        select(
            sql.is_current(Chat.done_at, cur),
            hours,
            ChatRequest.learner_id.label("lid"),
            ChatRequest.expert_id.label("eid"),
        )
        .join(ChatRequest, ChatRequest.id == Chat.request_id)
        .where(
            sql.span(Chat.done_at, cur, prev),
            Chat.created_at < cur.end,
            sql.ids_in(ChatRequest.id, ranges.requests),
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
    return {c: (sql.median(histogram[c]), smallest.get(c, 0)) for c in (0, 1)}


def takeaways(session: Session, cur: Period, prev: Period) -> dict[int, tuple[int, int, float | None, int]]:
    """cur flag -> (takeaways, distinct authors, median usefulness, distinct raters): one
    statement, totals and a usefulness histogram over one MATERIALIZED CTE."""
    inner = (
        select(
            sql.is_current(Takeaway.created_at, cur),
            Takeaway.author_id.label("aid"),
            Takeaway.usefulness.label("u"),
            case((Takeaway.usefulness.is_not(None), Takeaway.author_id)).label("rater"),
        )
        .where(sql.span(Takeaway.created_at, cur, prev))
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
        out[c] = (n, authors, sql.median(histogram[c]), raters)
    return out
