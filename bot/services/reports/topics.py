"""Topic tables: most searched, most offered, wanted but not offered, supply vs demand,
and the topics of takeaways shared with others (never those of private ones).

A topic is listed only when at least MIN_GROUP_SIZE people stand behind it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, case, distinct, func, or_, select, text

from bot.models import Person, PersonTopic, Search, Share, Topic, TopicKind, UTCDateTime
from bot.services.reports import sql
from bot.services.reports.periods import Period
from bot.services.reports.scope import Scope
from bot.services.reports.suppression import Cell, Table, count_cell, suppress_table

TOPIC_ROWS = 25  # per topic table in exports; Slack shows fewer
SUPPLY_DEMAND_ROWS = 12


def search_groups() -> tuple[Any, Any]:
    """(group key, label) of searches: the matched topic, else the normalised query text."""
    free = case((Search.topic_id.is_(None), func.lower(func.trim(Search.query))), else_="")
    return Search.topic_id, free


def topics_searched(scope: Scope) -> Table:
    session, period, k = scope.session, scope.period, scope.k
    topic_id, free = search_groups()
    people = func.count(distinct(Search.person_id))
    inner = (
        select(topic_id.label("tid"), free.label("q"), func.count().label("n"), people.label("p"))
        .where(sql.between(Search.created_at, period))
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


def wanted_not_offered(scope: Scope) -> Table:
    session, period, k = scope.session, scope.period, scope.k
    topic_id, free = search_groups()
    people = func.count(distinct(Search.person_id))
    inner = (
        select(
            topic_id.label("tid"),
            free.label("q"),
            func.count().label("n"),
            people.label("p"),
            func.max(Search.results).label("found"),
        )
        .where(sql.between(Search.created_at, period), Search.results < k)
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


def topic_people(period: Period) -> Any:
    """Per topic: experts offering it and people wanting to learn it, among members at the end."""
    return (
        select(
            PersonTopic.topic_id.label("tid"),
            func.count(case((PersonTopic.kind == TopicKind.SPEAK, 1))).label("experts"),
            func.count(case((PersonTopic.kind == TopicKind.LEARN, 1))).label("learners"),
        )
        .join(Person, Person.id == PersonTopic.person_id)
        .where(sql.joined_at(period.end))
        .group_by(PersonTopic.topic_id)
        .subquery()
    )


def topics_offered(scope: Scope) -> Table:
    session, period, k = scope.session, scope.period, scope.k
    tp = topic_people(period)
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


def supply_demand(scope: Scope) -> Table:
    session, period, k = scope.session, scope.period, scope.k
    tp = topic_people(period)
    searched = (
        select(Search.topic_id.label("tid"), func.count(distinct(Search.person_id)).label("searchers"))
        .where(sql.between(Search.created_at, period), Search.topic_id.is_not(None))
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


def learnings_by_topic(scope: Scope) -> Table:
    """Topics of *shared* takeaways only: a private takeaway's topics are never read."""
    session, period, k = scope.session, scope.period, scope.k
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
