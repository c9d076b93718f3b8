"""Weekly pairing rounds: who takes part, the round keyed by ISO week, its chats and intros.

A round is idempotent by construction:
- its row is keyed by ISO week (`%G-W%V`, so the week of 31 Dec 2026 is
  2026-W53 and that of 1 Jan 2029 is 2029-W01): a second run, a second replica
  or a restart finds it and creates nothing;
- the round row, its chats and every intro are written in ONE transaction, so a
  crash mid-planning leaves nothing behind, and a crash mid-delivery leaves
  outbox rows that the next run (or the outbox job) delivers exactly once;
- the matching itself is a pure function (services.matching) with a seed stored
  on the round, so a round can be replayed.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, ColumnElement, func, insert, or_, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, lazyload

from bot import clock
from bot.db import insert_ignoring_duplicates, one_of
from bot.models import (
    Chat,
    ChatKind,
    ChatParticipant,
    ChatRole,
    OutboxMessage,
    OutboxStatus,
    PairingBlock,
    PairingRound,
    Person,
    PersonTopic,
    RoundUnmatched,
    Topic,
    TopicKind,
)
from bot.services import chats, profiles, usage
from bot.services.reports import rollups
from bot.services.requests import chats_this_month

if TYPE_CHECKING:
    from bot.services import matching

log = logging.getLogger(__name__)

QUIET_START, QUIET_END = time(18, 0), time(8, 0)  # intros wait for 08:00 local outside 08:00–18:00


def iso_week(now: datetime, zone: ZoneInfo) -> str:
    return now.astimezone(zone).strftime("%G-W%V")


def previous_week(week: str) -> str:
    year, number = week.split("-W")
    monday = datetime.strptime(f"{year}-W{number}-1", "%G-W%V-%u")
    return (monday - timedelta(weeks=1)).strftime("%G-W%V")


# -- who takes part ------------------------------------------------------------------------


def eligible_people(session: Session, now: datetime) -> list[Person]:
    """Weekly pairing on, available (active, joined, not paused, not left, not a guest or
    bot), and under their monthly chat capacity."""
    people = list(
        session.scalars(
            select(Person)
            .where(
                profiles.available_clause(now), Person.weekly_pairing.is_(True), Person.chats_per_month > 0
            )
            .order_by(Person.id)
            # Topics are read by build_input in one statement; loading them per person
            # here (selectin) costs seconds at 50,000 people (bench/round.py).
            .options(lazyload(Person.topics))
        )
    )
    used = chats_this_month(session, [p.id for p in people], now)
    return [p for p in people if used.get(p.id, 0) < p.chats_per_month]


def met_pairs(session: Session, person_ids: list[int], since: datetime | None) -> set[frozenset[int]]:
    """Pairs who really met (a chat marked done) since `since` (all time when None)."""
    if not person_ids:
        return set()
    query = (
        select(ChatParticipant.chat_id, ChatParticipant.person_id)
        .join(Chat, Chat.id == ChatParticipant.chat_id)
        .where(Chat.done_at.is_not(None), Chat.cancelled_at.is_(None))
    )
    if since is not None:
        query = query.where(Chat.done_at >= since)
    members: dict[int, list[int]] = {}
    wanted = set(person_ids)
    for chat_id, person_id in session.execute(query):
        members.setdefault(chat_id, []).append(person_id)
    pairs: set[frozenset[int]] = set()
    for people in members.values():
        inside = [p for p in people if p in wanted]
        pairs.update(frozenset((a, b)) for i, a in enumerate(inside) for b in inside[i + 1 :])
    return pairs


def _met_pairs_split(
    session: Session, person_ids: list[int], since: datetime
) -> tuple[set[frozenset[int]], set[frozenset[int]]]:
    """`met_pairs` for all time and since `since`, from one read of the chats held."""
    if not person_ids:
        return set(), set()
    members: dict[int, list[int]] = {}
    held: dict[int, datetime] = {}
    wanted = set(person_ids)
    for chat_id, person_id, done_at in session.execute(
        select(ChatParticipant.chat_id, ChatParticipant.person_id, Chat.done_at)
        .join(Chat, Chat.id == ChatParticipant.chat_id)
        .where(Chat.done_at.is_not(None), Chat.cancelled_at.is_(None))
    ):
        if person_id in wanted:
            members.setdefault(chat_id, []).append(person_id)
            held[chat_id] = done_at
    ever: set[frozenset[int]] = set()
    lately: set[frozenset[int]] = set()
    for chat_id, people in members.items():
        pairs = {frozenset((a, b)) for i, a in enumerate(people) for b in people[i + 1 :]}
        ever |= pairs
        if held[chat_id] >= since:
            lately |= pairs
    return ever, lately


RECENT_INTRO = timedelta(days=14)


def introduced_pairs(session: Session, person_ids: list[int], since: datetime) -> set[frozenset[int]]:
    """Pairs introduced since `since` (a request or a pairing) whose chat was not cancelled.

    Their chat may not have happened yet, so it does not count as a meeting for
    the cooldown; but introducing the same two people again a week later
    would be a duplicate, so they are left out of this round.
    """
    if not person_ids:
        return set()
    members: dict[int, list[int]] = {}
    wanted = set(person_ids)
    for chat_id, person_id in session.execute(
        select(ChatParticipant.chat_id, ChatParticipant.person_id)
        .join(Chat, Chat.id == ChatParticipant.chat_id)
        .where(Chat.created_at >= since, Chat.cancelled_at.is_(None))
    ):
        if person_id in wanted:
            members.setdefault(chat_id, []).append(person_id)
    return {
        frozenset((a, b))
        for people in members.values()
        for i, a in enumerate(people)
        for b in people[i + 1 :]
    }


def blocked_pairs(session: Session) -> set[frozenset[int]]:
    return {
        frozenset((a, b)) for a, b in session.execute(select(PairingBlock.person_id, PairingBlock.blocked_id))
    }


def _work_start_utc(person: Person, day: datetime) -> float:
    here = clock.zone(person.tz)
    local_nine = datetime.combine(day.astimezone(here).date(), time(9, 0), here).astimezone(UTC)
    return local_nine.hour + local_nine.minute / 60


def build_input(
    session: Session,
    people: list[Person],
    now: datetime,
    *,
    cooldown_weeks: int,
    week: str,
    seed: int,
) -> matching.MatchInput:
    # Imported here, not at the top: matching brings numpy and scipy (~40 MB), which
    # a serving process needs only while a round is planned (docs/performance.md, Memory).
    from bot.services import matching

    ids = [p.id for p in people]
    topics: dict[int, tuple[set[int], set[int]]] = {pid: (set(), set()) for pid in ids}
    for person_id, topic_id, kind in session.execute(
        select(PersonTopic.person_id, PersonTopic.topic_id, PersonTopic.kind).where(
            _among(session, PersonTopic.person_id)
        ),
        {"person_ids": ids},
    ):
        topics[person_id][0 if kind == TopicKind.SPEAK else 1].add(topic_id)
    left_out = set(
        session.scalars(
            select(RoundUnmatched.person_id)
            .join(PairingRound, PairingRound.id == RoundUnmatched.round_id)
            .where(PairingRound.week == previous_week(week))
        )
    )
    candidates = [
        matching.Candidate(
            id=p.id,
            function=p.function or "",
            speaks=frozenset(topics[p.id][0]),
            learns=frozenset(topics[p.id][1]),
            work_start_utc=_work_start_utc(p, now),
            priority=p.id in left_out,
        )
        for p in people
    ]
    met, met_recently = _met_pairs_split(session, ids, now - timedelta(weeks=cooldown_weeks))
    recent = met_recently if cooldown_weeks else set()
    recent |= introduced_pairs(session, ids, now - RECENT_INTRO)
    past = met - recent
    return matching.MatchInput(
        candidates=candidates,
        recent_pairs=frozenset(recent),
        past_pairs=frozenset(past),
        blocked_pairs=frozenset(blocked_pairs(session)),
        allow_same_function=False,
        seed=seed,
    )


def topic_names(session: Session, people: list[Person]) -> dict[int, str]:
    """Names of the topics these people speak about or want to learn (each once)."""
    used = select(PersonTopic.topic_id).where(_among(session, PersonTopic.person_id))
    rows = session.execute(
        select(Topic.id, Topic.name).where(Topic.id.in_(used)), {"person_ids": [p.id for p in people]}
    )
    return {int(topic_id): str(name) for topic_id, name in rows}


def _among(session: Session, column: Any) -> ColumnElement[bool]:
    """`column` is one of the :person_ids given with the statement: one array parameter on
    PostgreSQL, not 50,000 rendered into the SQL (bot.db.one_of)."""
    return one_of(column, "person_ids", BigInteger, session.get_bind().dialect.name == "postgresql")


# -- when intros go out -----------------------------------------------------------------------


def not_before(now: datetime, zones: list[ZoneInfo]) -> datetime:
    """Now, unless it is outside 08:00–18:00 for someone: then their next 08:00 (the latest of those)."""
    earliest = now
    for zone in zones:
        local = now.astimezone(zone)
        if QUIET_END <= local.time() < QUIET_START:
            continue
        day = local.date() if local.time() < QUIET_END else local.date() + timedelta(days=1)
        earliest = max(earliest, datetime.combine(day, QUIET_END, zone).astimezone(UTC))
    return earliest


# -- the round ---------------------------------------------------------------------------------


@dataclass
class PlannedGroup:
    person_ids: tuple[int, ...]
    names: list[str]
    score: float
    reasons: list[str]
    deliver_at: datetime
    topics: list[str] = field(default_factory=list)  # what they can teach each other
    topic_id: int | None = None
    people: list[Person] = field(default_factory=list, repr=False)  # for the intro's cards


@dataclass
class RoundReport:
    week: str
    seed: int = 0
    created: bool = False
    existed: bool = False
    participants: int = 0
    groups: list[PlannedGroup] = field(default_factory=list)
    unmatched: list[tuple[str, str]] = field(default_factory=list)
    top_topics: list[tuple[str, int]] = field(default_factory=list)

    @property
    def pairs(self) -> int:
        return sum(1 for g in self.groups if len(g.person_ids) == 2)

    @property
    def trios(self) -> int:
        return sum(1 for g in self.groups if len(g.person_ids) == 3)


def plan(
    session: Session, now: datetime, *, cooldown_weeks: int, zone: ZoneInfo, seed: int | None
) -> tuple[RoundReport, matching.Matching, list[Person], dict[int, str]]:
    """Compute this week's groups without writing anything (also `--dry-run`)."""
    week = iso_week(now, zone)
    report = RoundReport(week=week, seed=seed if seed is not None else random.SystemRandom().randrange(2**31))
    people = eligible_people(session, now)
    report.participants = len(people)
    names = topic_names(session, people)
    inp = build_input(
        session,
        people,
        now,
        cooldown_weeks=cooldown_weeks,
        week=week,
        seed=report.seed,
    )
    from bot.services import matching  # numpy and scipy: see build_input

    result = matching.match(inp, topic_names=names)
    by_id = {p.id: p for p in people}
    candidates = {c.id: c for c in inp.candidates}
    shared: Counter[str] = Counter()
    for group in result.groups:
        members = [by_id[i] for i in group.members]
        zones = [clock.zone(p.tz) for p in members]
        taught = [
            topic_id
            for a in group.members
            for b in group.members
            if a != b
            for topic_id in sorted(candidates[a].speaks & candidates[b].learns)
        ]
        topics = list(dict.fromkeys(names[t] for t in taught if t in names))
        shared.update(topics)
        report.groups.append(
            PlannedGroup(
                person_ids=group.members,
                names=[p.display_name for p in members],
                score=group.score,
                reasons=list(group.reasons),
                deliver_at=not_before(now, zones),
                topics=topics,
                topic_id=taught[0] if taught else None,
                people=members,
            )
        )
    report.unmatched = [(by_id[pid].display_name, reason) for pid, reason in sorted(result.unmatched.items())]
    report.top_topics = shared.most_common(5)
    return report, result, people, names


class RoundInProgress(Exception):
    """Another process is planning this week's round right now."""


def create_round(
    session: Session, now: datetime, *, cooldown_weeks: int, zone: ZoneInfo, seed: int | None
) -> tuple[RoundReport, PairingRound | None, list[tuple[int, PlannedGroup]], list[tuple[Person, str]]]:
    """Plan and store this week's round in the caller's transaction: (report, round, [(chat id,
    planned group)], [(person, why unmatched)]); (report, None, [], []) if it exists."""
    week = iso_week(now, zone)
    existing = session.scalar(select(PairingRound).where(PairingRound.week == week))
    if existing is not None:
        return (
            RoundReport(week=week, seed=existing.seed, existed=True, participants=existing.participants),
            None,
            [],
            [],
        )
    # Insert the round row first: its unique week makes a concurrent planner wait
    # here (PostgreSQL) or fail to take the write lock (SQLite) instead of both
    # computing a round. No SAVEPOINT: pysqlite runs one outside the transaction, so
    # its RELEASE would commit the round row alone and a crash mid-round would leave
    # an empty round that later runs skip.
    round_seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
    try:
        round_id = session.execute(
            insert_ignoring_duplicates(session, PairingRound.__table__, "week")
            .values(week=week, seed=round_seed, created_at=now, participants=0)
            .returning(PairingRound.id)
        ).scalar()
    except OperationalError as exc:  # SQLite: another planner holds the write lock
        raise RoundInProgress(week) from exc
    if round_id is None:  # another planner inserted this week's round first
        raise RoundInProgress(week)
    pairing_round = session.get_one(PairingRound, round_id)
    report, result, people, _ = plan(session, now, cooldown_weeks=cooldown_weeks, zone=zone, seed=round_seed)
    report.created = True
    pairing_round.participants = report.participants
    chat_ids = _write_groups(session, round_id, now, report.groups, result.groups)
    by_id = {p.id: p for p in people}
    unmatched = [(by_id[person_id], reason) for person_id, reason in sorted(result.unmatched.items())]
    if unmatched:
        session.execute(
            insert(RoundUnmatched.__table__),
            [{"round_id": round_id, "person_id": p.id, "reason": reason[:255]} for p, reason in unmatched],
        )
    pairing_round.summary = {
        "participants": report.participants,
        "pairs": report.pairs,
        "trios": report.trios,
        "unmatched": len(report.unmatched),
        "total_score": round(result.total_score, 2),
        "top_topics": report.top_topics,
    }
    session.flush()
    return report, pairing_round, list(zip(chat_ids, report.groups, strict=True)), unmatched


def _write_groups(
    session: Session,
    round_id: int,
    now: datetime,
    planned: list[PlannedGroup],
    groups: Sequence[matching.Group],
) -> list[int]:
    """Store the round's chats and their participants in bulk; returns the chat ids in order.

    Core statements, not the ORM's unit of work: at 50,000 people the flush of 25,000
    chats and 50,000 participants with its hooks was most of the round (docs/performance.md).
    What the hooks would have done is done here, set-based, in the same transaction: the
    report roll-ups' mark for the day the chats are introduced, and the recount of every
    participant's person_usage row."""
    if not planned:
        return []
    chats_table = Chat.__table__
    chat_ids = list(
        session.execute(
            insert(chats_table).returning(chats_table.c.id, sort_by_parameter_order=True),
            [
                {
                    "kind": ChatKind.PAIRING,
                    "round_id": round_id,
                    "topic_id": plan.topic_id,
                    "created_at": now,
                    "score": group.score,
                    "reasons": list(group.reasons),
                }
                for plan, group in zip(planned, groups, strict=True)
            ],
        ).scalars()
    )
    session.execute(
        insert(ChatParticipant.__table__),
        [
            {"chat_id": chat_id, "person_id": person_id, "role": ChatRole.PEER}
            for chat_id, group in zip(chat_ids, groups, strict=True)
            for person_id in group.members
        ],
    )
    rollups.mark(session, [now])
    cp, c = ChatParticipant.__table__.c, chats_table.c
    usage.recount(
        session,
        select(cp.person_id)
        .join_from(ChatParticipant.__table__, chats_table, c.id == cp.chat_id)
        .where(c.round_id == round_id),
        now,
    )
    return chat_ids


def delivery_progress(session: Session, week: str) -> dict[str, int]:
    """How many of a round's messages are sent, waiting or failed (admins see this)."""
    rows = session.execute(
        select(OutboxMessage.status, func.count())
        .where(or_(OutboxMessage.dedupe_key.like(f"round:{week}:%")))
        .group_by(OutboxMessage.status)
    )
    counts = {str(status): int(count) for status, count in rows}
    return {s.value: counts.get(s.value, 0) for s in OutboxStatus}


# -- after the intro ----------------------------------------------------------------------------


def block_partners(session: Session, chat: Chat, slack_user_id: str) -> None:
    me = chats.participant(chat, slack_user_id, chats.PAIRING_REFUSAL).person
    for participant in chat.participants:
        if (
            participant.person_id != me.id
            and session.get(PairingBlock, (me.id, participant.person_id)) is None
        ):
            session.add(PairingBlock(person_id=me.id, blocked_id=participant.person_id))
