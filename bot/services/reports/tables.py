"""Tables by function and by week: participation, who learns from whom, the weekly trend,
expert load. Each builder takes the report's Scope and returns a suppressed Table."""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from bot.models import Chat, ChatParticipant, ChatRequest, Person, PersonTopic, TopicKind
from bot.services.reports import sql
from bot.services.reports.periods import Period, week_starts
from bot.services.reports.scope import Scope
from bot.services.reports.suppression import Cell, Table, count_cell, part_of, suppress_table


def participation_table(scope: Scope) -> Table:
    part = scope.participation[1]
    order = sql.function_order(scope.functions, [f or None for f in part.by_function])
    rows = []
    for label in order:
        values = part.by_function.get("" if label == sql.NO_FUNCTION else label, (0, 0, 0, 0, 0))
        rows.append((label, _within_first([count_cell(v) for v in values])))
    table = Table(
        "participation_by_function",
        "Participation by function",
        ["function", "members", "experts", "active learners", "weekly pairing", "held a chat"],
        rows,
        note="Members at the end of the period; active learners asked for or joined a chat in it.",
    )
    return suppress_table(table, scope.k)


def _within_first(cells: list[Cell]) -> list[Cell]:
    """A row whose first cell is the row's group (a function's members, its experts) and
    whose other cells count parts of it: when the group is hidden, so are its parts, so
    a row never shows "members hidden" beside "experts 6"."""
    return [cells[0], *(part_of(cell, cells[0]) for cell in cells[1:])]


def trend_table(scope: Scope) -> Table:
    found = scope.held.weeks
    rows = []
    for i, monday in enumerate(week_starts(scope.period)):
        n, people = found.get(i, (0, 0))
        rows.append((monday.isoformat(), [count_cell(n, people)]))
    table = Table(
        "chats_per_week",
        "Chats held per week",
        ["week starting", "chats held"],
        rows,
        note="Weeks start on Monday; the last one ends with the period.",
    )
    return suppress_table(table, scope.k)


def matrix_table(scope: Scope) -> Table:
    found: dict[tuple[str, str], tuple[int, int]] = {}
    seen: list[str | None] = []
    for (lf, ef), counts in scope.held.flow.items():
        found[(sql.function_label(lf), sql.function_label(ef))] = counts
        seen += [lf, ef]
    order = sql.function_order(scope.functions, seen)
    rows = [(row, [count_cell(*found.get((row, col), (0, 0))) for col in order]) for row in order]
    table = Table(
        "function_flow",
        "Chats held: learner's function (rows) × expert's function (columns)",
        ["learner's function", *order],
        rows,
        note="A weekly pairing counts in both directions: both sides teach and learn.",
    )
    return suppress_table(table, scope.k)


def expert_load_counts(
    session: Session, period: Period, ranges: sql.Ranges
) -> dict[str, tuple[int, int, int, int]]:
    """Per function label: (experts, over capacity, not asked in period, never asked)."""
    load = (
        select(ChatParticipant.person_id.label("pid"), func.count().label("n"))
        .join(Chat, Chat.id == ChatParticipant.chat_id)
        .where(
            sql.between(Chat.created_at, period),
            sql.ids_in(ChatParticipant.chat_id, ranges.created),
            ChatParticipant.role.in_(sql.EXPERT_SIDE),
        )
        .group_by(ChatParticipant.person_id)
        .subquery()
    )
    asked = (
        select(ChatRequest.expert_id.label("pid"))
        .where(sql.between(ChatRequest.created_at, period))
        .distinct()
        .subquery()
    )
    # NOT EXISTS, not NOT IN: PostgreSQL runs `id NOT IN (subquery)` as a plain subplan,
    # rescanning every request per expert, once the ids outgrow work_mem.
    ever_asked = select(ChatRequest.id).where(ChatRequest.expert_id == Person.id).exists()
    speakers = select(PersonTopic.person_id).where(PersonTopic.kind == TopicKind.SPEAK)
    chats = func.coalesce(load.c.n, 0)
    over = sql.over_capacity(chats, Person.chats_per_month, period.days)
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
        .where(sql.joined_at(period.end), Person.id.in_(speakers))
        .group_by(Person.function)
    )
    found: dict[str, tuple[int, int, int, int]] = {}
    for function, *counts in session.execute(stmt):
        found[sql.function_label(function)] = tuple(int(c) for c in counts)  # type: ignore[assignment]
    return found


def expert_load(scope: Scope) -> Table:
    if scope.rolled():
        found = scope.people.expert_load
    else:
        found = scope.timed(
            "expert_load", lambda: expert_load_counts(scope.session, scope.period, scope.ranges)
        )
    order = sql.function_order(scope.functions, [None if f == sql.NO_FUNCTION else f for f in found])
    rows = [
        (label, _within_first([count_cell(v) for v in found.get(label, (0, 0, 0, 0))])) for label in order
    ]
    table = Table(
        "expert_load",
        "Expert load",
        ["function", "experts", "over capacity", "not asked in period", "never asked"],
        rows,
        note="Over capacity: more chats in the period than their chats-per-month allows; "
        "asked: received a chat request.",
    )
    return suppress_table(table, scope.k)
