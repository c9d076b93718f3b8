"""The additive roll-ups of a run of days, from the raw rows: requests by outcome, follow-up
answers, whole hours from request to chat, takeaways by usefulness (bot/models_rollups.py).

Each row keeps the distinct people of that row only; bot.services.reports.rolled bounds
the people of a period from them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, or_, select
from sqlalchemy.orm import Session

from bot.models import Chat, ChatParticipant, ChatRequest, RequestStatus, Takeaway
from bot.models_rollups import report_answers, report_notes, report_outcomes, report_requests, report_waits
from bot.services.reports import sql

OUTCOMES = {
    RequestStatus.ACCEPTED: "accepted",
    RequestStatus.DECLINED: "declined",
    RequestStatus.REDIRECTED: "declined",
    RequestStatus.EXPIRED: "expired",
}  # anything else: "other", as aggregates.requests groups them
TABLES = (report_requests, report_answers, report_waits, report_notes, report_outcomes)
NOT_ANSWERED = "none"  # a participant asked who has not answered (bot.services.reports.outcomes)
DAY = -1  # report_rollup_waits.hours of a day's row (its distinct learners and experts)

Groups = dict[Any, list[Any]]


def _groups(size: int) -> Groups:
    return defaultdict(lambda: [0] * size)


def count_rows(
    session: Session, zone: str, start: datetime, end: datetime
) -> dict[Table, list[dict[str, Any]]]:
    """The rows of TABLES for the local days of `zone` in [start, end)."""
    tz = ZoneInfo(zone)

    def day(at: datetime) -> date:
        return at.astimezone(tz).date()

    return {
        report_requests: _requests(session, zone, day, start, end),
        report_answers: _answers(session, zone, day, start, end),
        report_waits: _waits(session, zone, day, start, end),
        report_notes: _notes(session, zone, day, start, end),
        report_outcomes: _outcomes(session, zone, day, start, end),
    }


def _requests(session: Session, zone: str, day: Any, start: datetime, end: datetime) -> list[dict[str, Any]]:
    stmt = select(
        ChatRequest.created_at, ChatRequest.status, ChatRequest.learner_id, ChatRequest.expert_id
    ).where(ChatRequest.created_at >= start, ChatRequest.created_at < end)
    found: dict[tuple[date, str], list[Any]] = defaultdict(lambda: [0, set(), set()])
    for created, status, learner, expert in session.execute(stmt):
        group = found[(day(created), OUTCOMES.get(status, "other"))]
        group[0] += 1
        group[1].add(learner)
        group[2].add(expert)
    return [
        {"zone": zone, "day": d, "outcome": o, "requests": n, "learners": len(ls), "experts": len(es)}
        for (d, o), (n, ls, es) in found.items()
    ]


def _answers(session: Session, zone: str, day: Any, start: datetime, end: datetime) -> list[dict[str, Any]]:
    stmt = (
        select(Chat.created_at, ChatParticipant.person_id, ChatParticipant.answered_at)
        .join(ChatParticipant, ChatParticipant.chat_id == Chat.id)
        .where(Chat.created_at >= start, Chat.created_at < end, ChatParticipant.checkins_sent > 0)
    )
    found: dict[date, list[Any]] = defaultdict(lambda: [0, 0, set(), set()])
    for created, person, answered in session.execute(stmt):
        group = found[day(created)]
        group[0] += 1
        group[1] += answered is not None
        group[2].add(person)
        if answered is not None:
            group[3].add(person)
    return [
        {"zone": zone, "day": d, "asked": n, "answered": a, "people": len(ps), "answerers": len(qs)}
        for d, (n, a, ps, qs) in found.items()
    ]


def _waits(session: Session, zone: str, day: Any, start: datetime, end: datetime) -> list[dict[str, Any]]:
    # The hours as the raw report computes them, in SQL, so both round alike.
    hours = sql.hours_between(Chat.done_at, ChatRequest.created_at, sql.dialect(session))
    stmt = (
        select(Chat.created_at, Chat.done_at, hours, ChatRequest.learner_id, ChatRequest.expert_id)
        .join(ChatRequest, ChatRequest.id == Chat.request_id)
        .where(Chat.done_at >= start, Chat.done_at < end)
    )
    found: dict[tuple[date, date, int], list[Any]] = defaultdict(lambda: [0, set(), set()])
    for created, done, h, learner, expert in session.execute(stmt):
        held = day(done)
        for hours in (int(h or 0), DAY):
            group = found[(held, max(held, day(created)), hours)]
            group[0] += 1
            group[1].add(learner)
            group[2].add(expert)
    return [
        {"zone": zone, "day": d, "cday": c, "hours": h, "chats": n, "learners": len(ls), "experts": len(es)}
        for (d, c, h), (n, ls, es) in found.items()
    ]


def _notes(session: Session, zone: str, day: Any, start: datetime, end: datetime) -> list[dict[str, Any]]:
    stmt = select(Takeaway.created_at, Takeaway.author_id, Takeaway.usefulness).where(
        Takeaway.created_at >= start, Takeaway.created_at < end
    )
    found: dict[tuple[date, int], list[Any]] = defaultdict(lambda: [0, set()])
    for created, author, usefulness in session.execute(stmt):
        group = found[(day(created), int(usefulness or 0))]
        group[0] += 1
        group[1].add(author)
    return [
        {"zone": zone, "day": d, "usefulness": u, "notes": n, "authors": len(a)}
        for (d, u), (n, a) in found.items()
    ]


def _outcomes(session: Session, zone: str, day: Any, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Participants asked how their chat went (or who answered anyway), by latest answer."""
    stmt = (
        select(Chat.created_at, ChatParticipant.person_id, ChatParticipant.outcome)
        .join(ChatParticipant, ChatParticipant.chat_id == Chat.id)
        .where(
            Chat.created_at >= start,
            Chat.created_at < end,
            or_(ChatParticipant.checkins_sent > 0, ChatParticipant.outcome.is_not(None)),
        )
    )
    found: dict[tuple[date, str], list[Any]] = defaultdict(lambda: [0, set()])
    for created, person, outcome in session.execute(stmt):
        group = found[(day(created), outcome.value if outcome is not None else NOT_ANSWERED)]
        group[0] += 1
        group[1].add(person)
    return [
        {"zone": zone, "day": d, "outcome": o, "participants": n, "people": len(ps)}
        for (d, o), (n, ps) in found.items()
    ]
