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
from bot.models_ranks import expert_ranks, person_ranks
from bot.services import usage as usage_service
from bot.services.expert_ranks import AT_CAPACITY, DEPARTED, OWN_FUNCTION, PAUSED, SHOWN, next_month
from bot.services.find import precomputed
from bot.services.find.index import MAX_STALE, Matches
from bot.services.profiles import available_clause

# Ranked hits kept (ten pages of five). Nobody pages further; keeping the list
# short bounds the detail query however popular a topic is. `total` has the rest.
MAX_HITS = 50
RECENT = usage_service.RECENT  # "recent chats": the last 90 days
# A matched topic with fewer experts than this (roughly: index.Cache.sizes) is not
# worth its own two statements: its experts are read with the rest (HELD).
PRECOMPUTED_MIN = 400

# How a person matched, best first.
EXACT, FUZZY, ASK = range(3)
# Why a matching person is not listed (SHOWN sorts first): bot.services.expert_ranks.
__all__ = ["AT_CAPACITY", "DEPARTED", "OWN_FUNCTION", "PAUSED", "SHOWN"]

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


# Who a ranking statement ranks, and from what (see `rank`).
LIVE = "live"  # everyone matched, counted from people and person_usage (too many rows do not hold)
HELD = "held"  # matched through other topics or ask lines, with a person_ranks row that holds
STALE = "stale"  # matched, but their rows do not hold at the search's instant: counted live


def _candidates(mode: str, has_links: bool, has_ask: bool, postgres: bool) -> Any:
    """(person_id, tier) of everyone a statement of this `mode` ranks.

    HELD leaves out the precomputed topic `b` (`_held` its experts); STALE
    keeps only `stale_ids`.
    """
    t, p = _links.c, _people.c
    parts: list[Any] = []
    if has_links and mode == HELD:
        # expert_ranks' primary key: index-only, and listed experts alone.
        e = expert_ranks.c
        tier = case((e.topic_id == bindparam("exact_id"), _n(EXACT)), else_=_n(FUZZY))
        parts.append(
            select(e.person_id.label("person_id"), tier.label("tier")).where(
                one_of(e.topic_id, "other_ids", BigInteger, postgres)
            )
        )
    elif has_links:
        tier = case((t.topic_id == bindparam("exact_id"), _n(EXACT)), else_=_n(FUZZY))
        linked = select(t.person_id.label("person_id"), tier.label("tier")).where(
            t.kind == TopicKind.SPEAK, one_of(t.topic_id, "topic_ids", BigInteger, postgres)
        )
        if mode == STALE:
            linked = linked.where(one_of(t.person_id, "stale_ids", BigInteger, postgres))
        parts.append(linked)
    if has_ask:
        who = person_ranks.c.person_id if mode == HELD else p.id  # HELD: listed experts alone
        asked = select(who.label("person_id"), _n(ASK).label("tier")).where(
            one_of(who, "ask_ids", BigInteger, postgres)
        )
        if mode == STALE:
            asked = asked.where(one_of(p.id, "stale_ids", BigInteger, postgres))
        parts.append(asked)
    matched = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("matched")
    tier = func.min(matched.c.tier)
    return select(matched.c.person_id, tier.label("tier")).group_by(matched.c.person_id).cte("cand")


def _held(has_links: bool, has_ask: bool, hide_own: bool, b_tier: int | None, postgres: bool) -> Any:
    """`_classified`'s rows from the precomputed ranking: people whose rows hold, not left out.

    On PostgreSQL, those matched through topics other than `b` are read from
    their expert_ranks rows alone, which carry the person's figures and hold
    unless the person is in `stale_ids`: joined to person_ranks instead,
    PostgreSQL scanned all of it (45,000 rows at 50,000 people) for a few
    hundred candidates. Those matched by an "ask me about" line are read from
    person_ranks by id. A person in both, or with several matched topics, has
    the same figures in every row: grouping on them leaves one row, with the
    best tier. SQLite reads the candidates joined to person_ranks faster (with
    no covering index, each expert_ranks row is a second lookup): bench/search.py's
    p95 at 50,000 people was 7.6-8.6 ms that way and 9.6-13.3 ms this way.
    """
    if not postgres:
        cand = _candidates(HELD, has_links, has_ask, postgres)
        r = person_ranks.c
        joined = cand.join(person_ranks, r.person_id == cand.c.person_id)
        figures = (r.person_id, r.function, r.status, r.spare, r.recent, cand.c.tier)
        return _held_rows(joined, figures, [precomputed.holds()], hide_own, b_tier, postgres)
    e, r = expert_ranks.c, person_ranks.c
    parts: list[Any] = []
    if has_links:
        tier = case((e.topic_id == bindparam("exact_id"), _n(EXACT)), else_=_n(FUZZY))
        parts.append(
            select(e.person_id, e.function, e.status, e.spare, e.recent, tier.label("tier")).where(
                one_of(e.topic_id, "other_ids", BigInteger, postgres),
                none_of(e.person_id, "stale_ids", BigInteger, postgres),
            )
        )
    if has_ask:
        parts.append(
            select(r.person_id, r.function, r.status, r.spare, r.recent, _n(ASK).label("tier")).where(
                one_of(r.person_id, "ask_ids", BigInteger, postgres), precomputed.holds()
            )
        )
    matched = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("matched")
    m = matched.c
    grouped = (m.person_id, m.function, m.status, m.spare, m.recent)
    cand = select(*grouped, func.min(m.tier).label("tier")).group_by(*grouped).cte("cand")
    c = cand.c
    return _held_rows(
        cand, (c.person_id, c.function, c.status, c.spare, c.recent, c.tier), [], hide_own, b_tier, postgres
    )


def _held_rows(
    source: Any,
    figures: tuple[Any, ...],
    conditions: list[Any],
    hide_own: bool,
    b_tier: int | None,
    postgres: bool,
) -> Any:
    """`_held`'s rows from `source`, whose `figures` are (person_id, function, status, spare, recent, tier).

    With a precomputed topic `b` (`b_tier` not None), those with a row of it
    are precomputed.py's, unless they match better than `b` does (the exact
    topic, when `b` is a fuzzy one); rows of `b` that do not hold are STALE's.
    A join probing `b` per candidate, not a subquery PostgreSQL would hash
    whole (15,000 rows for the largest topic).
    """
    person_id, function, status, spare, recent, tier = figures
    mine = bindparam("my_function")
    if hide_own:
        status = case((and_(status == _n(SHOWN), function == mine), _n(OWN_FUNCTION)), else_=status)
    conditions = [*conditions, person_id.not_in(precomputed.excluded_ids(postgres))]
    if b_tier is not None:
        in_b = expert_ranks.alias("in_b")
        source = source.outerjoin(
            in_b, and_(in_b.c.topic_id == bindparam("b"), in_b.c.person_id == person_id)
        )
        conditions.append(or_(in_b.c.person_id.is_(None), tier < _n(b_tier)))
    return (
        select(
            person_id.label("id"),
            function.label("function"),
            tier.label("tier"),
            case((function == mine, _n(1)), else_=_n(0)).label("same"),
            spare.label("spare"),
            recent.label("recent"),
            status.label("status"),
        )
        .select_from(source)
        .where(*conditions)
        .subquery("rows")
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


@lru_cache(maxsize=128)
def _rank_statement(
    mode: str,
    has_links: bool,
    has_ask: bool,
    b_tier: int | None,
    has_topics: bool,
    hide_own: bool,
    postgres: bool,
) -> Any:
    """The ranking statement for one shape of search, built once (see the module docstring).

    Building this statement costs more than running it for a small topic
    (~3 ms of SQLAlchemy construction), so each of its few shapes is built once
    and run with bound parameters: b, exact_id, topic_ids (every matched
    topic), other_ids, ask_ids, stale_ids, excluded, my_function and the
    instants now, month_first, month_next and since.
    """
    if mode == HELD:
        rows = _held(has_links, has_ask, hide_own, b_tier, postgres)
    else:
        rows = _classified(_candidates(mode, has_links, has_ask, postgres), hide_own, postgres)
    r = rows.c
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
    topics = precomputed.spoken_topics(t2.id, postgres) if has_topics else null()
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


def _precomputed_topic(matches: Matches) -> tuple[int | None, int | None]:
    """(topic, tier) read from the precomputed ranking: the matched topic with the most experts.

    Ties go to the exact topic, then to the closer spelling. Which topic it is
    changes only the speed: the rest are ranked live.
    """
    best: tuple[int, int, float, int] | None = None
    for topic_id, score in matches.fuzzy.items():
        key = (matches.sizes.get(topic_id, 0), 0, score, -topic_id)
        best = key if best is None or key > best else best
    if matches.exact_id is not None:
        key = (matches.sizes.get(matches.exact_id, 0), 1, 0.0, -matches.exact_id)
        best = key if best is None or key > best else best
    if best is None:
        return None, None
    b = -best[3]
    return b, EXACT if b == matches.exact_id else FUZZY


def _candidate(row: Any, tier: int, same: bool, spare: Any, recent: Any) -> Candidate:
    """A shown person from a row ending (slack_user_id, real_name, name, title, tz, ask_me_about, topics)."""
    slack_user_id, real_name, name, title, tz, ask_me_about, topics = row[-7:]
    return Candidate(
        row[0],
        row[1],
        tier,
        same,
        int(spare),
        int(recent),
        slack_user_id,
        real_name or name or slack_user_id,
        title or "",
        tz,
        ask_me_about or "",
        tuple(int(t) for t in str(topics).split(",")) if topics else (),
    )


def _ranked(session: Session, stmt: Any, params: dict[str, Any]) -> Ranked:
    top: list[Candidate] = []
    counts: dict[int, int] = {}
    # Plain tuples, unpacked by position: named access on 50 rows is measurable.
    for row in session.connection().execute(stmt, params):
        (_id, _function, tier, same, spare, recent, status, *per_status) = row[:12]
        if not counts:  # the window sums are the same on every row
            counts = {code: int(n or 0) for code, n in enumerate(per_status)}
        if status == SHOWN:
            top.append(_candidate(row, tier, bool(same), spare, recent))
    return Ranked(top, counts)


def rank(
    session: Session,
    matches: Matches,
    excluded: Collection[str],
    now: datetime,
    my_function: str | None,
    include_own_function: bool,
    stale: list[int],
) -> Ranked:
    """Everyone matching, classified, counted and ranked; the best MAX_HITS.

    From the precomputed ranking wherever its rows hold at `now`: the largest
    matched topic's experts by index (bot/services/find/precomputed.py), the
    others matched by person_ranks rows (HELD); only people whose rows do not
    hold are counted from people and person_usage (STALE), or everyone when
    too many do not (LIVE: just after midnight on the 1st, until the hourly
    job). `stale`: the people whose rows do not hold at `now`, at most
    index.MAX_STALE + 1 (index.read_stamps reads them). The parts are
    disjoint; their counts add up and their best merge.
    """
    topic_ids = list(matches.fuzzy)
    if matches.exact_id is not None:
        topic_ids.append(matches.exact_id)
    if not topic_ids and not matches.ask_people:
        return Ranked([], {})
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    hide_own = my_function is not None and not include_own_function
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
    shape = (bool(topic_ids), hide_own, postgres)
    if len(stale) > MAX_STALE:
        return _ranked(
            session, _rank_statement(LIVE, bool(topic_ids), bool(matches.ask_people), None, *shape), params
        )
    b, b_tier = _precomputed_topic(matches)
    if b is not None and matches.sizes.get(b, 0) < PRECOMPUTED_MIN:
        b = b_tier = None
    params |= {
        "b": b,
        # Those who match better than `b` (the exact topic's experts, when `b` is fuzzy).
        "better_id": matches.exact_id if b != matches.exact_id else None,
        "other_ids": [t for t in topic_ids if t != b],
        "stale_ids": stale,
    }
    parts: list[Ranked] = []
    if params["other_ids"] or params["ask_ids"]:
        stmt = _rank_statement(HELD, bool(params["other_ids"]), bool(params["ask_ids"]), b_tier, *shape)
        parts.append(_ranked(session, stmt, params))
    if stale:
        stmt = _rank_statement(STALE, bool(topic_ids), bool(params["ask_ids"]), None, *shape)
        parts.append(_ranked(session, stmt, params))
    counts: dict[int, int] = {}
    top: list[Candidate] = []
    for ranked in parts:
        top += ranked.top
        for status, n in ranked.counts.items():
            counts[status] = counts.get(status, 0) + n
    if b is not None and b_tier is not None:
        part = precomputed.read(session, params, my_function is not None, include_own_function, MAX_HITS)
        for status, n in part.counts.items():
            if status == SHOWN and hide_own:
                counts[SHOWN] = counts.get(SHOWN, 0) + n - part.own
                counts[OWN_FUNCTION] = counts.get(OWN_FUNCTION, 0) + part.own
            else:
                counts[status] = counts.get(status, 0) + n
        top += [_candidate(row, b_tier, same, row[2], row[3]) for same, row in part.top]
    top.sort(key=lambda c: (c.same_function, c.tier, -c.spare, c.recent, c.person_id))
    return Ranked(top[:MAX_HITS], counts)


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
