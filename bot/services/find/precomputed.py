"""One matched topic's experts read from the precomputed ranking (`expert_ranks`).

A search takes the experts of one matched topic, the one with the most
experts, from `expert_ranks` (bot/services/expert_ranks.py) instead of ranking
them live. For it, two statements read

* the rows per status (and how many of the shown are in the searcher's
  function), plus the rows to take back out: the ones that do not hold at the
  search's instant and those of people who match better through the exact
  topic (both ranked live instead), and the searcher's and left-out people's
  (never counted);
* the best MAX_HITS shown rows that hold, in index order, with what a hit
  shows of each.

Whether a row holds is the person's person_ranks row's say (`stale_ids`, the
people whose rows do not hold at the search's instant, read first).

Everyone else who matches (other topics, "ask me about" lines, rows that do
not hold) is ranked live by bot/services/find/ranking.py, leaving out anyone
with a row here that holds; the two are disjoint and merged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    func,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from bot.db import none_of, one_of
from bot.models import Person, PersonTopic, TopicKind
from bot.models_ranks import expert_ranks, person_ranks
from bot.services.expert_ranks import SHOWN

_r = expert_ranks.c
_people = Person.__table__


def _n(value: int) -> Any:
    return literal_column(str(int(value)), Integer)


def holds() -> Any:
    """The person_ranks row holds at the search's instant (bound `now`)."""
    r = person_ranks.c
    now = bindparam("now", type_=r.valid_from.type)
    return and_(
        or_(r.valid_from.is_(None), r.valid_from <= now),
        or_(r.valid_until.is_(None), r.valid_until > now),
    )


def excluded_ids(postgres: bool) -> Any:
    p = _people.c
    return select(p.id).where(one_of(p.slack_user_id, "excluded", String, postgres))


def _better_ids() -> Any:
    """Who speaks about `better_id`, a topic matched better than `b` (None: nobody): ranked live."""
    t = PersonTopic.__table__.c
    return select(t.person_id).where(t.topic_id == bindparam("better_id"), t.kind == TopicKind.SPEAK)


@lru_cache(maxsize=4)
def counts_statement(postgres: bool) -> Any:
    """(kind, status, rows, of them in my function, person).

    Kind 0: rows per status; 1: a row of someone whose rows do not hold at
    the search's instant (`stale_ids`, from person_ranks); 2: a row
    of someone left out (the searcher, `excluded`) or ranked live because they
    match better (`better_id`).
    """
    own = case((_r.function == bindparam("my_function"), _n(1)), else_=_n(0))
    counted = (
        select(_n(0), _r.status, func.count(), func.sum(own), null().label("person_id"))
        .where(_r.topic_id == bindparam("b"))
        .group_by(_r.status)
    )
    stale = select(_n(1), _r.status, _n(1), own, _r.person_id).where(
        _r.topic_id == bindparam("b"), one_of(_r.person_id, "stale_ids", BigInteger, postgres)
    )
    left_out = [
        select(_n(2), _r.status, _n(1), own, _r.person_id).where(_r.topic_id == bindparam("b"), cond)
        for cond in (_r.person_id.in_(excluded_ids(postgres)), _r.person_id.in_(_better_ids()))
    ]
    return union_all(counted, stale, *left_out)


def spoken_topics(person_id: Any, postgres: bool) -> Any:
    """The matched topics (`topic_ids`) `person_id` speaks about, as "id,id,…" (no round trip of its own)."""
    spoken = PersonTopic.__table__.alias("spoken")
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


@lru_cache(maxsize=8)
def top_statement(same: bool | None, postgres: bool, limit: int) -> Any:
    """The best `limit` shown rows that hold, and what a hit shows of each.

    `same`: None for everyone, False for other functions than the searcher's, True for theirs.
    """
    conditions = [
        _r.topic_id == bindparam("b"),
        _r.status == _n(SHOWN),
        none_of(_r.person_id, "stale_ids", BigInteger, postgres),
        _r.person_id.not_in(excluded_ids(postgres)),
        _r.person_id.not_in(_better_ids()),
    ]
    mine = bindparam("my_function")
    if same is True:
        conditions.append(_r.function == mine)
    elif same is False:
        conditions.append(or_(_r.function.is_(None), _r.function != mine))
    top = (
        select(_r.person_id, _r.function, _r.spare, _r.recent)
        .where(*conditions)
        .order_by(_r.status, _r.spare.desc(), _r.recent, _r.person_id)
        .limit(_n(limit))
        .subquery("best")
    )
    p, t = _people.c, top.c
    return select(
        t.person_id,
        t.function,
        t.spare,
        t.recent,
        p.slack_user_id,
        p.real_name,
        p.name,
        p.title,
        p.tz,
        p.ask_me_about,
        spoken_topics(t.person_id, postgres),
    ).join_from(top, _people, p.id == t.person_id)


@dataclass
class Part:
    """What the precomputed rows of topic `b` contribute to a search."""

    counts: dict[int, int] = field(default_factory=dict)  # SHOWN/DEPARTED/… -> rows that hold
    own: int = 0  # shown rows that hold, in the searcher's function
    stale: list[int] = field(default_factory=list)  # people whose row does not hold: ranked live
    top: list[tuple[bool, Any]] = field(default_factory=list)  # (in my function, row of top_statement)


def read(session: Session, params: dict[str, Any], has_function: bool, include_own: bool, limit: int) -> Part:
    """Topic `b`'s rows that hold at `now`, counted, and its best `limit` shown (see the module docstring).

    `params` are the search's bound parameters: b, better_id, stale_ids, excluded, my_function, topic_ids.
    """
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    part = Part()
    own_total = 0
    removed: dict[int, tuple[int, int]] = {}
    stale: set[int] = set()
    for kind, status, n, own, person_id in connection.execute(counts_statement(postgres), params):
        if kind == 0:
            part.counts[status] = int(n)
            if status == SHOWN:
                own_total = int(own or 0)
            continue
        removed[person_id] = (status, int(own or 0))
        if kind == 1:
            stale.add(person_id)
    for status, own in removed.values():
        part.counts[status] -= 1
        if status == SHOWN:
            own_total -= own
    part.stale = sorted(stale)  # the searcher and the left-out among them: the live ranking drops them
    part.own = own_total if has_function else 0
    if part.counts.get(SHOWN, 0) <= 0:
        return part
    # Other functions and the searcher's in two index-ordered reads: each is one slice of the index.
    shapes: list[bool | None] = [None] if not has_function else [False, True] if include_own else [False]
    for same in shapes:
        rows = connection.execute(top_statement(same, postgres, limit), params)
        part.top += [(bool(same), row) for row in rows]
    return part
