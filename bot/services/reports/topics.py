"""Topic tables: most searched, most offered, wanted but not offered, supply vs demand,
and the topics of takeaways shared with others (never those of private ones).

A topic is listed only when at least MIN_GROUP_SIZE people stand behind it. The three
search tables share one pass over the period's searches (with roll-ups: over their whole
months and chains, bot.services.reports.rollup_searches; shared takeaways' topics likewise,
rollup_takeaways), and the two about who offers
or wants a topic one pass over people's topics (`Scope.shared`): a table then sorts the
few thousand groups itself, stably over the database's order of names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, case, distinct, func, select, text
from sqlalchemy.orm import Session

from bot.models import Person, PersonTopic, Search, Share, Topic, TopicKind, UTCDateTime
from bot.services.reports import rollup_searches, rollup_takeaways, sql
from bot.services.reports.periods import Period
from bot.services.reports.scope import Scope
from bot.services.reports.suppression import Cell, Table, count_cell, suppress_table

TOPIC_ROWS = 25  # per topic table in exports; Slack shows fewer
SUPPLY_DEMAND_ROWS = 12


def search_groups() -> tuple[Any, Any]:
    """(group key, label) of searches: the matched topic, else the normalised query text."""
    free = case((Search.topic_id.is_(None), func.lower(func.trim(Search.query))), else_="")
    return Search.topic_id, free


@dataclass(frozen=True)
class SearchGroup:
    """A group of the period's searches (`search_groups`) with what the search tables show."""

    label: str
    topic_id: int | None
    searches: int
    people: int
    few: int  # searches that found fewer than k experts
    few_people: int
    found: int | None  # the most experts one of those found


def searched(session: Session, period: Period, k: int) -> list[SearchGroup]:
    """Every group of the period's searches, from one pass over them, ordered by label as the
    database orders it (the tables then sort stably by their figures, so ties fall as
    `ORDER BY figures, label` would have them)."""
    topic_id, free = search_groups()
    few = Search.results < k
    inner = (
        select(
            topic_id.label("tid"),
            free.label("q"),
            func.count().label("n"),
            func.count(distinct(Search.person_id)).label("p"),
            func.count(case((few, 1))).label("nf"),
            func.count(distinct(case((few, Search.person_id)))).label("pf"),
            func.max(case((few, Search.results))).label("found"),
        )
        .where(sql.between(Search.created_at, period))
        .group_by(topic_id, free)
        .subquery()
    )
    label = func.coalesce(Topic.name, inner.c.q)
    stmt = (
        select(label, inner.c.tid, inner.c.n, inner.c.p, inner.c.nf, inner.c.pf, inner.c.found)
        .select_from(inner)
        .outerjoin(Topic, Topic.id == inner.c.tid)
        .order_by(label)
    )
    return [
        SearchGroup(str(name), tid, int(n), int(p), int(nf), int(pf), None if found is None else int(found))
        for name, tid, n, p, nf, pf, found in session.execute(stmt)
    ]


def _searched(scope: Scope) -> list[SearchGroup]:
    if scope.rolled():
        months = scope.search_months
        return scope.shared(
            "searches",
            lambda: [
                SearchGroup(*row)
                for row in rollup_searches.searched_rows(scope.session, scope.period, scope.k, months)
            ],
        )
    return scope.shared("searches", lambda: searched(scope.session, scope.period, scope.k))


def topics_searched(scope: Scope) -> Table:
    k = scope.k
    groups = sorted((g for g in _searched(scope) if g.people >= k), key=lambda g: (-g.people, -g.searches))[
        :TOPIC_ROWS
    ]
    rows = [(g.label, [count_cell(g.searches, g.people), count_cell(g.people)]) for g in groups]
    table = Table(
        "topics_searched",
        "Topics most searched",
        ["topic", "searches", "people searching"],
        rows,
        note=f"Searches for a topic in the catalogue count under its name; listed when {k}+ people searched.",
        lines="columns",
    )
    return suppress_table(table, k)


def wanted_not_offered(scope: Scope) -> Table:
    k = scope.k
    groups = sorted(
        (g for g in _searched(scope) if g.few_people >= k), key=lambda g: (-g.few_people, -g.few)
    )[:TOPIC_ROWS]
    rows = []
    for g in groups:
        # A category, not a count: how many experts exist is below k by definition here.
        experts = Cell(None, 0, text="none" if not g.found else f"fewer than {k}")
        rows.append((g.label, [count_cell(g.few, g.few_people), count_cell(g.few_people), experts]))
    table = Table(
        "wanted_not_offered",
        "Wanted but not offered",
        ["topic", "searches", "people searching", "experts found"],
        rows,
        note=f"Searches that found fewer than {k} experts; listed when {k}+ people searched.",
        lines="columns",
    )
    return suppress_table(table, k)


def topic_people(period: Period) -> Any:
    """Per topic: experts offering it and people wanting to learn it, among members at the end.
    `IN (members)`, not a join to people: SQLite probed each link's person row (0.6 s at
    50,000 people, 0.2 s this way; PostgreSQL about the same either way)."""
    members = select(Person.id).where(sql.joined_at(period.end))
    return (
        select(
            PersonTopic.topic_id.label("tid"),
            func.count(case((PersonTopic.kind == TopicKind.SPEAK, 1))).label("experts"),
            func.count(case((PersonTopic.kind == TopicKind.LEARN, 1))).label("learners"),
        )
        .where(PersonTopic.person_id.in_(members))
        .group_by(PersonTopic.topic_id)
        .subquery()
    )


def offered(session: Session, period: Period) -> list[tuple[int, str, int, int]]:
    """Every topic as (id, name, experts offering it, people wanting to learn it), members at
    the end of the period, ordered by name as the database orders it."""
    tp = topic_people(period)
    stmt = (
        select(Topic.id, Topic.name, func.coalesce(tp.c.experts, 0), func.coalesce(tp.c.learners, 0))
        .outerjoin(tp, tp.c.tid == Topic.id)
        .order_by(Topic.name)
    )
    return [(int(tid), str(name), int(e), int(w)) for tid, name, e, w in session.execute(stmt)]


def _offered(scope: Scope) -> list[tuple[int, str, int, int]]:
    return scope.shared("topic_people", lambda: offered(scope.session, scope.period))


def topics_offered(scope: Scope) -> Table:
    k = scope.k
    found = sorted((t for t in _offered(scope) if t[2] >= k), key=lambda t: (-t[2], -t[3]))[:TOPIC_ROWS]
    rows = [(name, [count_cell(e), count_cell(w)]) for _, name, e, w in found]
    table = Table(
        "topics_offered",
        "Topics most offered",
        ["topic", "experts offering", "people wanting to learn"],
        rows,
        note=f"Members at the end of the period; listed when {k}+ experts offer the topic.",
        lines="columns",
    )
    return suppress_table(table, k)


def supply_demand(scope: Scope) -> Table:
    k = scope.k
    searchers = {g.topic_id: g.people for g in _searched(scope) if g.topic_id is not None}
    figures = [(name, e, searchers.get(tid, 0), w) for tid, name, e, w in _offered(scope)]
    found = sorted(
        (f for f in figures if f[1] >= k or f[2] >= k or f[3] >= k), key=lambda f: (-(f[2] + f[3]), -f[1])
    )[:SUPPLY_DEMAND_ROWS]
    rows = [(name, [count_cell(e), count_cell(s), count_cell(w)]) for name, e, s, w in found]
    table = Table(
        "topic_supply_demand",
        "Topic supply vs demand",
        ["topic", "experts offering", "people searching", "people wanting to learn"],
        rows,
        note=f"The topics most in demand; listed when {k}+ people stand behind one of the figures.",
        lines="columns",
    )
    return suppress_table(table, k)


def learnings_by_topic(scope: Scope) -> Table:
    """Topics of *shared* takeaways only: a private takeaway's topics are never read."""
    session, period, k = scope.session, scope.period, scope.k
    if scope.rolled():
        found = rollup_takeaways.learned(session, period, k, TOPIC_ROWS)
    else:
        found = _learned_raw(session, period, k)
    rows = [(topic, [count_cell(n, authors), count_cell(authors)]) for topic, n, authors in found]
    table = Table(
        "learnings_by_topic",
        "What people learned about (shared takeaways)",
        ["topic", "shared takeaways", "authors"],
        rows,
        note=f"Takeaways shared with the expert or everyone; listed when {k}+ authors wrote about a topic.",
        lines="columns",
    )
    return suppress_table(table, k)


def _learned_raw(session: Session, period: Period, k: int) -> list[tuple[str, int, int]]:
    """(topic, shared takeaways, distinct authors) from the takeaways' JSON lists."""
    dialect = sql.dialect(session)
    params = {"start": period.start, "end": period.end, "k": k, "limit": TOPIC_ROWS, "me": Share.ME.value}
    if dialect == "sqlite":
        query = """
            SELECT t.value AS topic, count(*) AS n, count(DISTINCT k.author_id) AS authors
            FROM takeaways AS k, json_each(k.topics) AS t
            WHERE k.share != :me AND k.created_at >= :start AND k.created_at < :end
              AND json_type(k.topics) = 'array' AND t.type = 'text'
            GROUP BY t.value HAVING count(DISTINCT k.author_id) >= :k
            ORDER BY authors DESC, n DESC, topic LIMIT :limit
        """
    else:
        query = """
            SELECT t.topic, count(*) AS n, count(DISTINCT k.author_id) AS authors
            FROM takeaways AS k
            CROSS JOIN LATERAL json_array_elements_text(
                CASE WHEN json_typeof(k.topics::json) = 'array' THEN k.topics::json ELSE '[]'::json END
            ) AS t(topic)
            WHERE k.share != :me AND k.created_at >= :start AND k.created_at < :end
            GROUP BY t.topic HAVING count(DISTINCT k.author_id) >= :k
            ORDER BY authors DESC, n DESC, t.topic LIMIT :limit
        """
    stmt = text(query).bindparams(
        bindparam("start", type_=UTCDateTime()), bindparam("end", type_=UTCDateTime())
    )
    return [(str(topic), int(n), int(authors)) for topic, n, authors in session.execute(stmt, params)]
