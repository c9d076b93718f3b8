"""Search's precomputed ranking (`expert_ranks`), kept in step with what it is computed from.

Ranking a topic's experts means classifying each (departed, paused, at
capacity, shown) and ordering the shown by spare capacity this UTC month and
chats in the last 90 days. For a topic with 15,000 experts that cost a search
~100 ms, so each expert's figures are stored per topic they speak about, and a
search reads the top 50 rows of an index plus the counts
(bot/services/find/precomputed.py).

What a row says: the person's status, spare capacity and recent chats as a
search dated at any instant in [valid_from, valid_until) would compute them
(bot/services/find/ranking.py defines those). The figures change with time
alone at known instants (a pause ends, a month starts, a chat leaves the
90-day window); the interval stops at the first. A search dated outside it
ranks that person live, as before, so results never depend on a row's age;
the hourly "chat-usage" job (`refresh_expired`) recomputes rows that ran out.
What the searcher changes (their function, who is left out) is applied when
searching.

Only listed experts have rows: joined, not deactivated, not a bot or guest,
taking chats (`chats_per_month > 0`). Someone who stops being one loses theirs.

Rows are recomputed for a person, in the same transaction, by every write that
changes what they are computed from:

* a flush that adds, changes or removes a Person's ranking fields or a
  PersonTopic (the hook below: profile saves, pause, resume, leave, directory
  sync, erasure);
* `bot.services.usage.refresh`, which every change to someone's chats goes
  through (requests, pairing rounds, cancellations), and `usage.rebuild`;
* Core statements that bypass the ORM call `refresh` themselves (a follow-up's
  third "no reply" pausing someone, a topic merge, erasure's link delete).

On PostgreSQL a refresh locks the people it recomputes (FOR NO KEY UPDATE, as
usage does), so two transactions recomputing one person take turns and the
second reads what the first committed.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import BigInteger, bindparam, delete, event, false, select, union
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.db import insert_rows, one_of
from bot.models import Person, PersonTopic, TopicKind
from bot.models_ranks import expert_ranks, person_ranks
from bot.services.chat_history import CAPACITY_ROLES, RECENT, history, month_start

# How a matching person is classified; SHOWN sorts first. OWN_FUNCTION is the
# searcher's own function (hidden unless asked for), applied when searching.
SHOWN, DEPARTED, PAUSED, AT_CAPACITY, OWN_FUNCTION = range(5)

_BATCH = 500
_TICK = timedelta(microseconds=1)
# Person fields a row is computed from: a change to any of them recomputes the person.
RANKED_FIELDS = (
    "function",
    "chats_per_month",
    "paused_until",
    "left_at",
    "joined_at",
    "is_deleted",
    "is_bot",
    "is_restricted",
    "is_ultra_restricted",
)


def next_month(start: datetime) -> datetime:
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _sooner(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def figures(
    person: Any, chats: list[tuple[Any, datetime]], at: datetime
) -> tuple[int, int, int, datetime | None, datetime | None]:
    """(status, spare, recent, valid_from, valid_until) of a listed person at `at`.

    `person` has left_at, paused_until and chats_per_month; `chats` are their
    (role, created_at). The interval is the longest around `at` in which a
    search computes the same figures (bot/services/find/ranking.py).
    """
    if person.left_at is not None:
        return DEPARTED, 0, 0, None, None
    if person.paused_until is not None and person.paused_until > at:
        return PAUSED, 0, 0, None, person.paused_until
    lo: datetime | None = person.paused_until  # not paused from then on
    hi: datetime | None = None
    # Capacity: chats as expert or peer created in the search's UTC month.
    month = month_start(at)
    capacity = [created for role, created in chats if role in CAPACITY_ROLES]
    used = sum(1 for created in capacity if month_start(created) == month)
    if any(created >= month for created in capacity):
        lo, hi = _later(lo, month), _sooner(hi, next_month(month))
    elif capacity:  # none this month or later: none in any later month either
        lo = _later(lo, next_month(month_start(max(capacity))))
    # Recent: chats in any role created at or after the search's instant − 90 days;
    # the same count while that instant stays between the neighbouring chats.
    times = sorted(created for _, created in chats)
    since = at - RECENT
    first = bisect.bisect_left(times, since)
    recent = len(times) - first
    if first > 0:
        lo = _later(lo, times[first - 1] + RECENT + _TICK)
    if first < len(times):
        hi = _sooner(hi, times[first] + RECENT)
    spare = person.chats_per_month - used
    return (SHOWN if spare > 0 else AT_CAPACITY), spare, recent, lo, hi


def _listed() -> Any:
    p = Person.__table__.c
    return (
        (p.is_deleted == false())
        & (p.is_bot == false())
        & (p.is_restricted == false())
        & (p.is_ultra_restricted == false())
        & p.joined_at.is_not(None)
        & (p.chats_per_month > 0)
    )


Rows = tuple[list[dict[str, Any]], list[dict[str, Any]]]
History = dict[int, list[tuple[Any, datetime]]]  # person -> (role, chat created_at), chat_history.history


@dataclass(frozen=True)
class _Statements:
    """What `refresh` runs, built once per backend: a profile save or a pause refreshes one
    person, and building these five statements cost about as much as running them."""

    lock: Any  # the people, locked in id order (PostgreSQL)
    people: Any
    links: Any
    delete_experts: Any
    delete_people: Any


def _people_and_links(among: bool, postgres: bool) -> tuple[Any, Any]:
    p, links = Person.__table__.c, PersonTopic.__table__.c
    people_stmt = select(p.id, p.function, p.left_at, p.paused_until, p.chats_per_month).where(_listed())
    links_stmt = select(links.person_id, links.topic_id).where(links.kind == TopicKind.SPEAK)
    if among:
        people_stmt = people_stmt.where(_among(p.id, postgres))
        links_stmt = links_stmt.where(_among(links.person_id, postgres))
    return people_stmt, links_stmt


@lru_cache(maxsize=2)
def _statements(postgres: bool) -> _Statements:
    people = Person.__table__.c
    return _Statements(
        select(people.id)
        .where(_among(people.id, postgres))
        .order_by(people.id)
        .with_for_update(key_share=True),
        *_people_and_links(True, postgres),
        delete(expert_ranks).where(_among(expert_ranks.c.person_id, postgres)),
        delete(person_ranks).where(_among(person_ranks.c.person_id, postgres)),
    )


def _rows(session: Session, person_ids: list[int] | None, at: datetime, chats: History | None = None) -> Rows:
    """(person_ranks rows, expert_ranks rows) of these people (everyone's with None) at `at`."""
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    if person_ids is None:
        people_stmt, links_stmt = _people_and_links(False, postgres)
    else:
        prebuilt = _statements(postgres)
        people_stmt, links_stmt = prebuilt.people, prebuilt.links
    ids = {"person_ids": person_ids or []}
    people = {row.id: row for row in connection.execute(people_stmt, ids)}
    if not people:
        return [], []
    topics: dict[int, list[int]] = {}
    for person_id, topic_id in connection.execute(links_stmt, ids):
        if person_id in people:
            topics.setdefault(person_id, []).append(topic_id)
    if chats is None:
        chats = history(session, person_ids)
    person_rows, topic_rows = [], []
    for person_id, person in people.items():
        status, spare, recent, lo, hi = figures(person, chats.get(person_id, []), at)
        row = {
            "person_id": person_id,
            "function": person.function,
            "status": status,
            "spare": spare,
            "recent": recent,
            "valid_from": lo,
            "valid_until": hi,
        }
        person_rows.append(row)
        figures_only = {k: v for k, v in row.items() if k not in ("valid_from", "valid_until")}
        topic_rows += [{"topic_id": topic_id, **figures_only} for topic_id in topics.get(person_id, ())]
    return person_rows, topic_rows


def _write(session: Session, rows: Rows) -> None:
    connection = session.connection()
    for table, batch in zip((person_ranks, expert_ranks), rows, strict=True):
        for start in range(0, len(batch), 50_000):
            insert_rows(connection, table, batch[start : start + 50_000])


def _among(column: Any, postgres: bool) -> Any:
    """`column` is one of the statement's :person_ids (one array parameter on PostgreSQL)."""
    return one_of(column, "person_ids", BigInteger, postgres)


def refresh(
    session: Session, person_ids: Iterable[int], at: datetime | None = None, chats: History | None = None
) -> None:
    """Recompute these people's rows (none for someone who is not a listed expert).

    `chats`: their chats, when the caller has just read them (usage.refresh).
    """
    ids = sorted(set(person_ids))
    at = at or utcnow()
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    statements = _statements(postgres)
    # A weekly round recomputes 50,000 people: the ids go as one parameter (bot.db.one_of),
    # so batches are only there to bound memory. SQLite keeps 500 a batch: 10,000 measured
    # no faster there (11.6-15.7 s against 11.7-12.4 s for 50,000 people, a busy machine).
    size = 10_000 if postgres else _BATCH
    for start in range(0, len(ids), size):
        batch = {"person_ids": ids[start : start + size]}
        if postgres:
            # Take turns with another transaction recomputing one of them (module docstring).
            connection.execute(statements.lock, batch)
        rows = _rows(session, batch["person_ids"], at, chats)
        connection.execute(statements.delete_experts, batch)
        connection.execute(statements.delete_people, batch)
        _write(session, rows)


def rebuild(session: Session, at: datetime | None = None) -> int:
    """Recompute every row from scratch (after bulk loads, in the migration); returns the people ranked."""
    rows = _rows(session, None, at or utcnow())
    connection = session.connection()
    connection.execute(delete(expert_ranks))
    connection.execute(delete(person_ranks))
    _write(session, rows)
    return len(rows[0])


def disagreements(session: Session, limit: int = 10) -> list[str]:
    """How the stored rows differ from what people, topics and chats say (at most `limit`
    lines; empty when they agree). Every write that changes what a row is computed from must
    refresh it: the ORM's flush hook does, a Core write has to call `refresh`. The tests run
    this after each test (tests/conftest.py), so a write path that forgets fails there.

    A row's figures hold over its interval, so each is recomputed at the instants inside it
    where a forgotten write would show: its ends, the person's pause end and leaving, their
    latest chat, and now."""
    connection = session.connection()
    people_stmt, links_stmt = _people_and_links(False, connection.dialect.name == "postgresql")
    people = {row.id: row for row in connection.execute(people_stmt)}
    topics: dict[int, set[int]] = {}
    for person_id, topic_id in connection.execute(links_stmt):
        topics.setdefault(person_id, set()).add(topic_id)
    chats = history(session, None)
    stored = {row.person_id: row for row in connection.execute(select(person_ranks))}
    stored_topics: dict[int, dict[int, tuple[Any, ...]]] = {}
    for row in connection.execute(select(expert_ranks)):
        stored_topics.setdefault(row.person_id, {})[row.topic_id] = (
            row.function,
            row.status,
            row.spare,
            row.recent,
        )
    problems = [f"person {pid}: a listed expert without a row" for pid in sorted(set(people) - set(stored))]
    problems += [f"person {pid}: a row, not a listed expert" for pid in sorted(set(stored) - set(people))]
    problems += [
        f"person {pid}: topic rows, no person row" for pid in sorted(set(stored_topics) - set(stored))
    ]
    now = utcnow()
    for person_id in sorted(set(stored) & set(people)):
        row, person, own = stored[person_id], people[person_id], chats.get(person_id, [])
        had = (row.function, row.status, row.spare, row.recent)
        lo, hi = row.valid_from, row.valid_until
        probes = {lo, None if hi is None else hi - _TICK, now, person.left_at}
        probes |= {None if person.paused_until is None else person.paused_until - _TICK}
        probes |= {max((created for _, created in own), default=None)}
        for at in sorted(
            t for t in probes if t is not None and (lo is None or t >= lo) and (hi is None or t < hi)
        ):
            status, spare, recent, _, _ = figures(person, own, at)
            if had != (person.function, status, spare, recent):
                problems.append(
                    f"person {person_id} at {at.isoformat()}: stored {had}, "
                    f"recomputed {(person.function, status, spare, recent)}"
                )
                break
        want = dict.fromkeys(topics.get(person_id, ()), had)
        if stored_topics.get(person_id, {}) != want:
            problems.append(
                f"person {person_id}: topic rows {stored_topics.get(person_id, {})}, expected {want}"
            )
    return problems[:limit]


def stale_statement() -> Any:
    """People whose row does not hold at `now` (bound): searches rank them live."""
    r = person_ranks.c
    now = bindparam("now", type_=r.valid_from.type)
    return union(
        select(r.person_id).where(r.valid_until <= now), select(r.person_id).where(r.valid_from > now)
    )


def refresh_expired(session: Session, now: datetime) -> int:
    """Recompute the people whose row no longer holds at `now`; returns how many."""
    ids = list(session.connection().execute(stale_statement(), {"now": now}).scalars())
    refresh(session, ids, now)
    return len(ids)


# -- the flush hook ---------------------------------------------------------------------------


def _changed_people(session: Session) -> set[int]:
    people: set[int] = set()
    for obj in session.new:
        if isinstance(obj, Person) and obj.id is not None:
            people.add(obj.id)
    for obj in session.dirty:
        if isinstance(obj, Person) and obj.id is not None:
            attrs = sa_inspect(obj).attrs
            if any(attrs[name].history.has_changes() for name in RANKED_FIELDS):
                people.add(obj.id)
    for obj in (*session.new, *session.deleted, *session.dirty):
        if isinstance(obj, PersonTopic):
            state = sa_inspect(obj)
            if obj.person_id is not None:
                people.add(obj.person_id)
            for old in state.attrs.person_id.history.deleted or ():
                if old is not None:
                    people.add(old)
    return people


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    people = _changed_people(session)
    if people:
        refresh(session, people)
