"""The SQL side of a search: everyone who matches, classified, counted and ranked in one statement.

A popular topic can have thousands of experts. Fetching them all to rank in
Python cost more than the query itself, so the database does it: the matched
people are a CTE, their chat counts are read from person_usage (counted from
chats only where a row does not answer, bot/services/usage.py), each is given
a status (shown, departed, paused, at capacity, own function), window sums
count every status, and only the first MAX_HITS rows come back, joined to what
a hit shows of each person (so no second query is needed for the details, and
the window keeps narrow rows).

Ranking: other functions before the searcher's own (which is hidden unless
asked for), then exact > fuzzy > ask, then more spare capacity this month,
then fewer chats in the last 90 days, so one popular expert is not flooded.
Capacity counts chats in the current *UTC* calendar month in which the person
was the expert or a peer.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    false,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from bot.db import none_of, one_of
from bot.models import Chat, ChatParticipant, ChatRole, Person, PersonTopic, PersonUsage, Topic, TopicKind
from bot.services import usage as usage_service
from bot.services.find.index import Matches
from bot.services.profiles import available_clause

# Ranked hits kept (ten pages of five). Nobody pages further; keeping the list
# short bounds the detail query however popular a topic is. `total` has the rest.
MAX_HITS = 50
RECENT = usage_service.RECENT  # "recent chats": the last 90 days

# How a person matched, best first.
EXACT, FUZZY, ASK = range(3)
# Why a matching person is not listed; SHOWN sorts first.
SHOWN, DEPARTED, PAUSED, AT_CAPACITY, OWN_FUNCTION = range(5)

_people = Person.__table__
_links = PersonTopic.__table__
_chats = Chat.__table__
_participants = ChatParticipant.__table__
_usage = PersonUsage.__table__


def _n(value: int) -> Any:
    """An integer written into the SQL rather than bound: the ranking statement's
    constants would otherwise be ~30 parameters to convert on every run, and
    its text would pass psycopg's 4,096-character limit for caching the
    conversion of its placeholders (~0.6 ms of Python per search when it did)."""
    return literal_column(str(int(value)), Integer)


def _listed(postgres: bool) -> Any:
    """Who may appear in results or in the hidden counts.

    `available_clause` without its pause and leave conditions: paused and
    departed experts are fetched so they can be counted as hidden. The
    deactivated, bots, guests and those who never joined are not experts at all.
    The searcher and the `excluded` ids are left out entirely.
    """
    p = _people.c
    return and_(
        p.is_deleted == false(),
        p.is_bot == false(),
        p.is_restricted == false(),
        p.is_ultra_restricted == false(),
        p.joined_at.is_not(None),
        p.chats_per_month > _n(0),
        none_of(p.slack_user_id, "excluded", String, postgres),
    )


def next_month(start: datetime) -> datetime:
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)


@dataclass(frozen=True)
class Candidate:
    person_id: int
    function: str | None
    tier: int
    same_function: bool
    spare: int  # chats left this UTC month
    recent: int  # chats in any role in the last 90 days
    # What a hit shows, read by the same statement.
    slack_user_id: str = ""
    name: str = ""
    title: str = ""
    tz: str | None = None
    ask_me_about: str = ""
    topic_ids: tuple[int, ...] = ()  # the matched topics they speak about


@dataclass(frozen=True)
class Ranked:
    top: list[Candidate]  # the best MAX_HITS shown ones
    counts: dict[int, int]  # SHOWN/DEPARTED/… -> how many


def _candidates(has_exact: bool, has_topics: bool, has_ask: bool, postgres: bool) -> Any:
    """(person_id, tier) of everyone matched: by a topic they speak about, or by their ask line."""
    t, p = _links.c, _people.c
    parts: list[Any] = []
    if has_topics:
        exact = case((t.topic_id == bindparam("exact_id"), _n(EXACT)), else_=_n(FUZZY))
        tier = exact if has_exact else _n(FUZZY)
        parts.append(
            select(t.person_id.label("person_id"), tier.label("tier")).where(
                t.kind == TopicKind.SPEAK, one_of(t.topic_id, "topic_ids", BigInteger, postgres)
            )
        )
    if has_ask:
        parts.append(
            select(p.id.label("person_id"), _n(ASK).label("tier")).where(
                one_of(p.id, "ask_ids", BigInteger, postgres)
            )
        )
    matched = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("matched")
    return (
        select(matched.c.person_id, func.min(matched.c.tier).label("tier"))
        .group_by(matched.c.person_id)
        .cte("cand")
    )


def _chat_counts() -> tuple[Any, Any]:
    """(chats this month as expert or peer, chats since `since`) of each person `p`.

    Read from person_usage (bot/services/usage.py says when a row answers);
    only where it does not are the person's chats counted here, in a
    correlated subquery that CASE reaches for them alone.
    """
    u, p, cp, c = _usage.c, _people.c, _participants.c, _chats.c
    month_first, month_next, since = bindparam("month_first"), bindparam("month_next"), bindparam("since")
    counted_used = (
        select(func.count())
        .select_from(_participants.join(_chats, c.id == cp.chat_id))
        .where(
            cp.person_id == p.id,
            cp.role.in_([literal_column(f"'{role.value}'") for role in (ChatRole.EXPERT, ChatRole.PEER)]),
            c.created_at >= month_first,
            c.created_at < month_next,
        )
        .scalar_subquery()
    )
    counted_recent = (
        select(func.count())
        .select_from(_participants.join(_chats, c.id == cp.chat_id))
        .where(cp.person_id == p.id, c.created_at >= since)
        .scalar_subquery()
    )
    used = case(
        (or_(u.month.is_(None), u.month < month_first), _n(0)),
        (u.month == month_first, u.month_chats),
        else_=counted_used,
    )
    recent = case(
        (u.person_id.is_(None), _n(0)),
        (
            and_(
                or_(u.recent_before.is_(None), u.recent_before < since),
                or_(u.recent_oldest.is_(None), u.recent_oldest >= since),
            ),
            u.recent,
        ),
        else_=counted_recent,
    )
    return used, recent


def _classified(cand: Any, hide_own: bool, postgres: bool) -> Any:
    """One narrow row per candidate: (id, function, tier, same, spare, recent, status)."""
    p, u = _people.c, _usage.c
    used, recent = _chat_counts()
    # Narrow rows for all candidates (the window sums keep every row in
    # memory); what a hit shows is joined for the best MAX_HITS only.
    base = (
        select(
            p.id.label("id"),
            p.function.label("function"),
            p.left_at.label("left_at"),
            p.paused_until.label("paused_until"),
            p.chats_per_month.label("chats_per_month"),
            cand.c.tier.label("tier"),
            used.label("used"),
            recent.label("recent"),
        )
        .select_from(cand.join(_people, p.id == cand.c.person_id))
        .outerjoin(_usage, u.person_id == p.id)
        .where(_listed(postgres))
        # OFFSET 0 keeps PostgreSQL from pulling this subquery up into the
        # next one, which would copy `used` (and its subquery) into each
        # expression that reads it: each figure is computed once per person.
        .offset(_n(0))
        .subquery("base")
    )
    b = base.c
    spare = b.chats_per_month - b.used
    whens: list[Any] = [
        (b.left_at.is_not(None), _n(DEPARTED)),
        (b.paused_until > bindparam("now"), _n(PAUSED)),
        (spare <= _n(0), _n(AT_CAPACITY)),
    ]
    if hide_own:
        whens.append((b.function == bindparam("my_function"), _n(OWN_FUNCTION)))
    return select(
        b.id.label("id"),
        b.function.label("function"),
        b.tier.label("tier"),
        case((b.function == bindparam("my_function"), _n(1)), else_=_n(0)).label("same"),
        spare.label("spare"),
        b.recent.label("recent"),
        case(*whens, else_=_n(SHOWN)).label("status"),
    ).subquery("rows")


def _spoken_topics(person_id: Any, postgres: bool) -> Any:
    """The matched topics `person_id` speaks about, as "id,id,…" (one round trip fewer than a query)."""
    spoken = _links.alias("spoken")
    ids = spoken.c.topic_id
    return (
        select(func.string_agg(cast(ids, String), ",") if postgres else func.group_concat(ids))
        .where(
            spoken.c.person_id == person_id,
            spoken.c.kind == TopicKind.SPEAK,
            one_of(ids, "topic_ids", BigInteger, postgres),
        )
        .scalar_subquery()
    )


@lru_cache(maxsize=32)
def _rank_statement(has_exact: bool, has_topics: bool, has_ask: bool, hide_own: bool, postgres: bool) -> Any:
    """The ranking statement for one shape of search, built once (see the module docstring).

    Building this statement costs more than running it for a small topic
    (~3 ms of SQLAlchemy construction), so each of its few shapes is built once
    and run with bound parameters: exact_id, topic_ids, ask_ids, excluded,
    my_function and the instants now, month_first, month_next and since.
    """
    r = _classified(_candidates(has_exact, has_topics, has_ask, postgres), hide_own, postgres).c
    per_status = [
        func.sum(case((r.status == _n(code), _n(1)), else_=_n(0))).over().label(f"n{code}")
        for code in range(5)
    ]
    top = (
        select(r.id, r.function, r.tier, r.same, r.spare, r.recent, r.status, *per_status)
        .order_by(r.status, r.same, r.tier, r.spare.desc(), r.recent, r.id)
        .limit(_n(MAX_HITS))
        .subquery("top")
    )
    t2, p = top.c, _people.c
    topics = _spoken_topics(t2.id, postgres) if has_topics else null()
    return (
        select(
            t2.id,
            t2.function,
            t2.tier,
            t2.same,
            t2.spare,
            t2.recent,
            t2.status,
            *(t2[f"n{code}"] for code in range(5)),
            p.slack_user_id,
            p.real_name,
            p.name,
            p.title,
            p.tz,
            p.ask_me_about,
            topics.label("topics"),
        )
        .join_from(top, _people, p.id == t2.id)
        .order_by(t2.status, t2.same, t2.tier, t2.spare.desc(), t2.recent, t2.id)
    )


def rank(
    session: Session,
    matches: Matches,
    excluded: Collection[str],
    now: datetime,
    my_function: str | None,
    include_own_function: bool,
) -> Ranked:
    """Everyone matching, classified, counted and ranked in one statement; the best MAX_HITS."""
    topic_ids = list(matches.fuzzy)
    if matches.exact_id is not None:
        topic_ids.append(matches.exact_id)
    if not topic_ids and not matches.ask_people:
        return Ranked([], {})
    stmt = _rank_statement(
        matches.exact_id is not None,
        bool(topic_ids),
        bool(matches.ask_people),
        my_function is not None and not include_own_function,
        session.get_bind().dialect.name == "postgresql",
    )
    first = usage_service.month_start(now)
    params: dict[str, Any] = {
        "exact_id": matches.exact_id,
        "topic_ids": topic_ids,
        "ask_ids": sorted(matches.ask_people),
        "excluded": sorted(excluded),
        # NULL never equals a function: without one, nobody is "same function".
        "my_function": my_function,
        "now": now,
        "month_first": first,
        "month_next": next_month(first),
        "since": now - RECENT,
    }
    top: list[Candidate] = []
    counts: dict[int, int] = {}
    # Plain tuples, unpacked by position: named access on 50 rows is measurable.
    for row in session.connection().execute(stmt, params):
        (id_, function, tier, same, spare, recent, status, *per_status) = row[:12]
        if not counts:  # the window sums are the same on every row
            counts = {code: int(n or 0) for code, n in enumerate(per_status)}
        if status != SHOWN:
            continue
        slack_user_id, real_name, name, title, tz, ask_me_about, topics = row[12:]
        top.append(
            Candidate(
                id_,
                function,
                tier,
                bool(same),
                int(spare),
                int(recent),
                slack_user_id,
                real_name or name or slack_user_id,
                title or "",
                tz,
                ask_me_about or "",
                tuple(int(t) for t in str(topics).split(",")) if topics else (),
            )
        )
    return Ranked(top, counts)


@lru_cache(maxsize=2)
def offered_statement(postgres: bool) -> Any:
    """Which of `topic_ids` an available expert (not `excluded`) speaks about.

    One EXISTS per topic, which stops at the first such expert, rather than
    joining every link of the (often popular) nearby topics; built once, run
    with bound topic_ids, now and excluded.
    """
    t, links, p = Topic.__table__.c, _links.c, _people.c
    now = bindparam("now", type_=Person.__table__.c.paused_until.type)
    expert = (
        select(literal(1))
        .select_from(_links.join(_people, p.id == links.person_id))
        .where(
            links.topic_id == t.id,
            links.kind == TopicKind.SPEAK,
            available_clause(now),  # type: ignore[arg-type]  # a bound instant, not a datetime
            p.chats_per_month > 0,
            none_of(p.slack_user_id, "excluded", String, postgres),
        )
        .exists()
    )
    return select(t.id).where(one_of(t.id, "topic_ids", BigInteger, postgres), expert)
