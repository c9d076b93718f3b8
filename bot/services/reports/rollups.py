"""The report's roll-ups: per local day of the report's zone, kept right by marks and rebuilt on read.

What is rolled up (tables in bot/models_rollups.py), per day of a time zone:

* `report_rollup_held`: chats held that day, how many across functions, and the
  distinct learner-side and expert-side people of that day;
* `report_rollup_flow`: the same chats by (learner's function, expert's function);
* `report_rollup_intros`: chats introduced that day, by function of their people;
* `report_rollup_people`: who held a chat that day, who learned (asked for a
  chat, or joined one on the learner's side) and who was introduced that day.

`report_rollup_days` lists the days built. A report first calls `ensure` for the
days it reads: days not built, or marked since, are rebuilt from the raw rows in
the report's transaction (a day is a few thousand rows at most), so a report is
always as current as the rows it would otherwise have read; nothing is stale.

Marks: every flush that adds, deletes or re-dates a chat, a participant or a chat
request, or changes someone's function, records the instants involved (old and new
created_at / done_at) in `report_rollup_marks`, in the same transaction; bulk
UPDATE/DELETE statements run through a Session are marked the same way
(`_bulk_statement`). Writes made with Core are not seen: call `mark(session, instants)` in
the same transaction (a weekly round does, for its chats' instant), or
`invalidate(session)` after bulk loads, as bench/reports.py does after seeding.

Erasure keeps every row reports count, with the person's function (services/privacy_erase.py),
and the retention purge blanks free text only; neither changes a roll-up, and
tests/test_report_rollups.py checks both, and a re-dated chat, against the raw rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, event, func, insert, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import ORMExecuteState, Session

from bot.clock import utcnow
from bot.db import write_lock_now
from bot.models import Chat, ChatParticipant, ChatRequest, Person, Search, Takeaway
from bot.models_rollups import (
    ASKED,
    EXPERT,
    FLOW_EXPERT,
    FLOW_LEARNER,
    HELD,
    INTRO,
    LEARNED,
    report_days,
    report_flow,
    report_held,
    report_intros,
    report_marks,
    report_months,
    report_people,
    report_person_years,
    report_search_months,
    report_takeaway_topics,
    report_years,
)
from bot.services.reports import rollup_counts, rollup_searches, rollup_takeaways, rollup_years, sql
from bot.services.reports.periods import DEFAULT_WEEKS, local_midnight
from bot.services.scheduling.figures import ALL, NO_FUNCTION

ROLLUP_TABLES = (
    report_days,
    report_held,
    report_flow,
    report_intros,
    report_people,
    report_years,
    report_person_years,
    report_search_months,
    report_months,
    report_takeaway_topics,
    *rollup_counts.TABLES,
)
CHUNK_DAYS = 31  # days built per pass: bounds the rows read at once during a backfill
_LOCK = 71_017_017  # pg_advisory_xact_lock key: one builder at a time
_PENDING = "infochat_rollup_marks"


# -- building ----------------------------------------------------------------------------------


def days_between(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def ensure(session: Session, zone: str, first: date, last: date) -> int:
    """Make the roll-ups of `zone` current for first..last: rebuild the days not built or
    marked since. Returns how many days were built."""
    if not _has_marks(session) and not _missing(session, zone, first, last):
        return 0
    lock(session)
    consume_marks(session)
    missing = _missing(session, zone, first, last)
    if missing:
        rollup_years.begin(session)
        for start, end in _runs(missing):
            build(session, zone, start, end)
        rollup_years.finish(session, zone, whole=len(missing) > CHUNK_DAYS)
    return len(missing)


def lock(session: Session) -> None:
    """One builder at a time, for the rest of the transaction."""
    if sql.dialect(session) == "postgresql":
        # Two reports building the same days would both insert them.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
    else:
        # The build reads the raw rows, then rewrites the days: on SQLite it must hold the
        # write lock from the start, or a write committed meanwhile fails it (db.write_lock_now).
        write_lock_now(session)


def keep_current(session: Session, zone: str, now: datetime) -> int:
    """Rebuild the marked or missing days of the default report and the period it is compared
    with (the scheduler's `report-rollups` job, hourly), so the report HR opens, and the
    dashboard's first view, seldom rebuild a day themselves. Returns how many days were built."""
    today = now.astimezone(ZoneInfo(zone)).date()
    built = ensure(session, zone, today - timedelta(days=2 * 7 * DEFAULT_WEEKS - 1), today)
    rollup_searches.keep_current(session, partial(lock, session))
    return built


def _has_marks(session: Session) -> bool:
    return session.execute(select(report_marks.c.id).limit(1)).first() is not None


def _missing(session: Session, zone: str, first: date, last: date) -> list[date]:
    built = set(
        session.scalars(
            select(report_days.c.day).where(
                report_days.c.zone == zone, report_days.c.day.between(first, last)
            )
        )
    )
    return [day for day in days_between(first, last) if day not in built]


def _runs(days: list[date]) -> Iterator[tuple[date, date]]:
    """Consecutive days as (first, last) runs of at most CHUNK_DAYS."""
    run: list[date] = []
    for day in sorted(days):
        if run and (day - run[-1] != timedelta(days=1) or len(run) == CHUNK_DAYS):
            yield run[0], run[-1]
            run = []
        run.append(day)
    if run:
        yield run[0], run[-1]


def consume_marks(session: Session) -> None:
    """Forget the built days that marked instants fall on, in every zone built, then the marks."""
    marks = session.execute(select(report_marks.c.id, report_marks.c.at)).all()
    if not marks:
        return
    zones = list(session.scalars(select(report_days.c.zone).distinct()))
    for zone in zones:
        tz = ZoneInfo(zone)
        stale = sorted({at.astimezone(tz).date() for _, at in marks})
        for start in range(0, len(stale), 500):
            session.execute(
                delete(report_days).where(
                    report_days.c.zone == zone, report_days.c.day.in_(stale[start : start + 500])
                )
            )
    ids = [mark_id for mark_id, _ in marks]
    for start in range(0, len(ids), 500):
        session.execute(delete(report_marks).where(report_marks.c.id.in_(ids[start : start + 500])))


def invalidate(session: Session, zone: str | None = None) -> None:
    """Forget every built day (of `zone`, or all): after writes the marks cannot see."""
    condition = [] if zone is None else [report_days.c.zone == zone]
    session.execute(delete(report_days).where(*condition))
    rollup_searches.forget(session)  # searches written with Core are unchained: the next report chains them
    rollup_takeaways.build_all(session.connection())  # kept by flushes only: rebuilt from the takeaways


def build(session: Session, zone: str, first: date, last: date) -> None:
    """Rebuild the roll-ups of first..last (local days of `zone`) from the raw rows; the year
    rows' bits are staged, for `ensure` to merge once every run is built (rollup_years)."""
    tz = ZoneInfo(zone)
    start, end = local_midnight(first, zone), local_midnight(last + timedelta(days=1), zone)
    bits = rollup_years.Bits()
    p = report_people.c
    for pid, day, n in session.execute(
        select(p.person_id, p.day, p.chats).where(
            p.zone == zone, p.kind == EXPERT, p.day.between(first, last)
        )
    ):
        bits.count(pid, day, -n)  # the experts' chats these days held so far
    for table in (report_held, report_flow, report_intros, report_people, *rollup_counts.TABLES):
        session.execute(delete(table).where(table.c.zone == zone, table.c.day.between(first, last)))
    session.execute(
        delete(report_days).where(report_days.c.zone == zone, report_days.c.day.between(first, last))
    )
    held, flow, late = _held_rows(session, zone, tz, start, end, bits)
    intros, expert_chats = _created_rows(session, zone, tz, start, end, bits)
    _insert(session, report_held, held)
    _insert(session, report_flow, flow)
    _insert(session, report_intros, intros)
    for table, rows in rollup_counts.count_rows(session, zone, start, end).items():
        _insert(session, table, rows)
    _insert(
        session,
        report_people,
        [
            {"zone": zone, "person_id": p, "kind": HELD, "day": d, "cday": c, "chats": 1}
            for p, d, c in sorted(late)
        ]
        + [
            {"zone": zone, "person_id": p, "kind": EXPERT, "day": d, "cday": d, "chats": n}
            for (p, d), n in sorted(expert_chats.items())
        ],
    )
    for (pid, day), n in expert_chats.items():
        bits.count(pid, day, n)
    rollup_years.stage(session, zone, first, last, bits)
    now = utcnow()
    session.execute(
        insert(report_days), [{"zone": zone, "day": d, "built_at": now} for d in days_between(first, last)]
    )


def _insert(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    rollup_years.write_rows(session, table.name, rows)


def _held_rows(
    session: Session, zone: str, tz: ZoneInfo, start: datetime, end: datetime, bits: rollup_years.Bits
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], set[tuple[int, date, date]]]:
    """Rows of report_rollup_held and _flow for chats done in [start, end); their people as
    HELD and FLOW bits, but those of a chat held before the day it was created on, returned
    as (person, day, cday)."""
    stmt = (
        select(
            Chat.id,
            Chat.created_at,
            Chat.done_at,
            ChatParticipant.person_id,
            ChatParticipant.role,
            Person.function,
        )
        .join(ChatParticipant, ChatParticipant.chat_id == Chat.id)
        .join(Person, Person.id == ChatParticipant.person_id)
        .where(Chat.done_at >= start, Chat.done_at < end)
        .order_by(Chat.id)
    )
    held: dict[tuple[date, date], list[Any]] = defaultdict(lambda: [0, 0, set(), set()])
    flow: dict[tuple[date, date, str | None, str | None], list[Any]] = defaultdict(lambda: [0, set(), set()])
    late: set[tuple[int, date, date]] = set()
    for chat in _by_chat(session.execute(stmt)):
        created, done = chat[0][1], chat[0][2]
        day = done.astimezone(tz).date()
        cday = max(day, created.astimezone(tz).date())
        learners = [(pid, fn) for _, _, _, pid, role, fn in chat if role in sql.LEARNER_SIDE]
        experts = [(pid, fn) for _, _, _, pid, role, fn in chat if role in sql.EXPERT_SIDE]
        totals = held[(day, cday)]
        totals[0] += 1
        totals[1] += len({fn or "" for *_, fn in chat}) > 1
        totals[2].update(pid for pid, _ in learners)
        totals[3].update(pid for pid, _ in experts)
        pairs: set[tuple[str | None, str | None]] = set()
        for lpid, lf in learners:
            for epid, ef in experts:
                if epid != lpid:
                    pairs.add((lf, ef))
                    cell = flow[(day, cday, lf, ef)]
                    cell[1].add(lpid)
                    cell[2].add(epid)
                    if cday == day:
                        bits.add(FLOW_LEARNER, lpid, day, lf, ef)
                        bits.add(FLOW_EXPERT, epid, day, lf, ef)
        for pair in pairs:
            flow[(day, cday, *pair)][0] += 1
        for _, _, _, pid, _, _ in chat:
            if cday == day:
                bits.add(HELD, pid, day)
            else:
                late.add((pid, day, cday))
    held_rows = [
        {"zone": zone, "day": d, "cday": c, "chats": n, "cross_chats": x, "lside": len(ls), "eside": len(es)}
        for (d, c), (n, x, ls, es) in held.items()
    ]
    flow_rows = [
        {
            "zone": zone,
            "day": d,
            "cday": c,
            "lf": lf,
            "ef": ef,
            "chats": n,
            "learners": len(ls),
            "experts": len(es),
        }
        for (d, c, lf, ef), (n, ls, es) in flow.items()
    ]
    return held_rows, flow_rows, late


def _by_chat(rows: Iterable[Any]) -> Iterator[list[Any]]:
    """Rows ordered by chat id, grouped per chat."""
    group: list[Any] = []
    for row in rows:
        if group and row[0] != group[0][0]:
            yield group
            group = []
        group.append(row)
    if group:
        yield group


def _created_rows(
    session: Session, zone: str, tz: ZoneInfo, start: datetime, end: datetime, bits: rollup_years.Bits
) -> tuple[list[dict[str, Any]], dict[tuple[int, date], int]]:
    """Intros by function label; LEARNED, INTRO and ASKED bits; each person's chats on the
    expert's side per day (EXPERT): of what was created in [start, end)."""
    expert_chats: dict[tuple[int, date], int] = defaultdict(int)
    asked = select(ChatRequest.learner_id, ChatRequest.expert_id, ChatRequest.created_at).where(
        ChatRequest.created_at >= start, ChatRequest.created_at < end
    )
    for learner, expert, at in session.execute(asked):
        day = at.astimezone(tz).date()
        bits.add(LEARNED, learner, day)
        bits.add(ASKED, expert, day)
    introduced = (
        select(Chat.id, Chat.created_at, ChatParticipant.person_id, ChatParticipant.role, Person.function)
        .join(ChatParticipant, ChatParticipant.chat_id == Chat.id)
        .join(Person, Person.id == ChatParticipant.person_id)
        .where(Chat.created_at >= start, Chat.created_at < end)
        .order_by(Chat.id)
    )
    intros: dict[tuple[date, str], int] = defaultdict(int)
    for chat in _by_chat(session.execute(introduced)):
        day = chat[0][1].astimezone(tz).date()
        for label in {fn or NO_FUNCTION for *_, fn in chat} | {ALL}:
            intros[(day, label)] += 1
        for _, _, pid, role, _ in chat:
            bits.add(INTRO, pid, day)
            if role in sql.LEARNER_SIDE:
                bits.add(LEARNED, pid, day)
            if role in sql.EXPERT_SIDE:
                expert_chats[(pid, day)] += 1
    rows = [{"zone": zone, "day": d, "fn": fn, "chats": n} for (d, fn), n in intros.items()]
    return rows, expert_chats


def build_all(session: Session, zone: str, now: datetime | None = None) -> int:
    """Build every day of `zone` from the first chat or request to today; returns the days built."""
    first = session.scalar(select(func.min(ChatRequest.created_at)))
    first_chat = session.scalar(select(func.min(Chat.created_at)))
    starts = [at for at in (first, first_chat) if at is not None]
    if not starts:
        return 0
    tz = ZoneInfo(zone)
    built = ensure(session, zone, min(starts).astimezone(tz).date(), (now or utcnow()).astimezone(tz).date())
    rollup_searches.build_all(session, zone, now or utcnow())
    # The planner must know the tables' new sizes before a report probes them once per person
    # (PostgreSQL's autovacuum would, minutes later; until then reports after a backfill crawled).
    names = ", ".join(t.name for t in (*ROLLUP_TABLES, Search.__table__))
    session.execute(text(f"ANALYZE {names}" if sql.dialect(session) == "postgresql" else "ANALYZE"))
    return built


# -- marks: every write that changes what a day rolls up --------------------------------------------


def _values(obj: Any, *names: str) -> set[datetime]:
    """Current and previous values of these datetime attributes."""
    state = sa_inspect(obj)
    found: set[datetime] = set()
    for name in names:
        history = state.attrs[name].history
        for value in (*history.added, *history.unchanged, *history.deleted):
            if isinstance(value, datetime):
                found.add(value)
    return found


def _changed(obj: Any, *names: str) -> bool:
    state = sa_inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def _chat_instants(session: Session, chat_ids: set[int]) -> set[datetime]:
    if not chat_ids:
        return set()
    found: set[datetime] = set()
    for created, done in session.connection().execute(
        select(Chat.created_at, Chat.done_at).where(Chat.id.in_(sorted(chat_ids)))
    ):
        found.update(at for at in (created, done) if at is not None)
    return found


def _people_instants(session: Session, person_ids: set[int]) -> set[datetime]:
    """Instants of every chat these people took part in (their function is in the flow)."""
    if not person_ids:
        return set()
    chat_ids = select(ChatParticipant.chat_id).where(ChatParticipant.person_id.in_(sorted(person_ids)))
    found: set[datetime] = set()
    for created, done in session.connection().execute(
        select(Chat.created_at, Chat.done_at).where(Chat.id.in_(chat_ids))
    ):
        found.update(at for at in (created, done) if at is not None)
    return found


def _request_chat_instants(session: Session, request_ids: set[int]) -> set[datetime]:
    """Instants of the chats these requests became (hours from request to chat)."""
    if not request_ids:
        return set()
    found: set[datetime] = set()
    for created, done in session.connection().execute(
        select(Chat.created_at, Chat.done_at).where(Chat.request_id.in_(sorted(request_ids)))
    ):
        found.update(at for at in (created, done) if at is not None)
    return found


_REQUEST_COLUMNS = ("created_at", "learner_id", "expert_id", "status")
_PARTICIPANT_COLUMNS = ("role", "person_id", "chat_id", "checkins_sent", "answered_at", "outcome")


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    marks: set[datetime] = session.info.setdefault(_PENDING, set())
    chat_ids: set[int] = set()
    people: set[int] = set()
    requests: set[int] = set()
    # session.new and .deleted build a new set on every read: read them once, or a flush of
    # n objects costs n² (a round's 75,000 rows took minutes).
    added, deleted = session.new, session.deleted
    for obj in (*added, *session.dirty, *deleted):
        new = obj in added or obj in deleted
        if isinstance(obj, Chat) and (new or _changed(obj, "created_at", "done_at", "request_id")):
            marks |= _values(obj, "created_at", "done_at")
        elif isinstance(obj, ChatRequest) and (new or _changed(obj, *_REQUEST_COLUMNS)):
            marks |= _values(obj, "created_at")
            if obj.id is not None:
                requests.add(obj.id)
        elif isinstance(obj, Takeaway) and (new or _changed(obj, "created_at", "usefulness", "author_id")):
            marks |= _values(obj, "created_at")
        elif isinstance(obj, ChatParticipant) and (new or _changed(obj, *_PARTICIPANT_COLUMNS)):
            chat = sa_inspect(obj).attrs.chat.loaded_value
            if isinstance(chat, Chat):
                marks |= _values(chat, "created_at", "done_at")
            for chat_id in (obj.chat_id, *(sa_inspect(obj).attrs.chat_id.history.deleted or ())):
                if chat_id is not None:
                    chat_ids.add(chat_id)
        elif isinstance(obj, Person) and obj.id is not None and (obj in deleted or _changed(obj, "function")):
            people.add(obj.id)
    marks |= _chat_instants(session, chat_ids) | _people_instants(session, people)
    marks |= _request_chat_instants(session, requests)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    mark(session, session.info.pop(_PENDING, set()))


def mark_people(session: Session, person_ids: set[int]) -> None:
    """The days these people's chats fall on changed (their function did, written with Core)."""
    mark(session, _people_instants(session, person_ids))


def mark(session: Session, instants: Iterable[datetime]) -> None:
    """Record, in the caller's transaction, that the days these instants fall on changed:
    for a bulk Core insert the flush hooks do not see (a weekly round's chats)."""
    marks = sorted(set(instants))
    if marks:
        session.connection().execute(insert(report_marks), [{"at": at} for at in marks])


_BULK_PERSON_COLUMNS = {"function", "id"}


def _statement_columns(state: ORMExecuteState) -> set[str]:
    """Names of the columns an UPDATE sets (its values and any per-row parameters)."""
    names: set[str] = set()
    for key in getattr(state.statement, "_values", None) or {}:
        names.add(str(getattr(key, "key", key)))
    params = state.parameters
    for row in params if isinstance(params, list) else [params or {}]:
        names.update(str(k) for k in row)
    return names


@event.listens_for(Session, "do_orm_execute")
def _bulk_statement(state: ORMExecuteState) -> Any:
    """Bulk UPDATE/DELETE of chats, participants, requests or people's functions: mark the
    instants of the rows it touches, before (old values) and after (new values)."""
    if not (state.is_update or state.is_delete) or state.bind_mapper is None:
        return None
    entity = state.bind_mapper.class_
    where = state.statement.whereclause
    session = state.session
    if entity is Person and (state.is_delete or _statement_columns(state) & _BULK_PERSON_COLUMNS):
        ids = set(session.connection().execute(select(Person.id).where(*_where(where))).scalars())
        marks = _people_instants(session, ids)
        result = state.invoke_statement()
    elif entity in (Chat, ChatParticipant, ChatRequest, Takeaway):
        key = {
            Chat: Chat.id,
            ChatParticipant: ChatParticipant.chat_id,
            ChatRequest: ChatRequest.id,
            Takeaway: Takeaway.id,
        }[entity]
        ids = set(session.connection().execute(select(key).where(*_where(where))).scalars())
        marks = _entity_instants(session, entity, ids)
        result = state.invoke_statement()
        marks |= _entity_instants(session, entity, ids)  # the values it wrote
    else:
        return None
    mark(session, marks)
    return result


def _where(clause: Any) -> list[Any]:
    return [] if clause is None else [clause]


def _entity_instants(session: Session, entity: type, ids: set[int]) -> set[datetime]:
    if entity is Chat or entity is ChatParticipant:
        return _chat_instants(session, ids)
    column = ChatRequest.created_at if entity is ChatRequest else Takeaway.created_at
    key = ChatRequest.id if entity is ChatRequest else Takeaway.id
    found: set[datetime] = set()
    for start in range(0, len(ids), 500):
        batch = sorted(ids)[start : start + 500]
        found.update(session.connection().execute(select(column).where(key.in_(batch))).scalars())
    if entity is ChatRequest:
        found |= _request_chat_instants(session, ids)
    return found
