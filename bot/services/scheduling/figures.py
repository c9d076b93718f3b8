"""Scheduling figures for HR reports (#15 item 8), by function.

For the intros of a period (chats introduced in it, requests and weekly
pairings): how many got a confirmed time, the working days (Monday–Friday)
from the intro to the chat's time, and how many were rescheduled or
cancelled. A chat counts once in each function of its people. These are raw
counts; the report table (bot.services.reports.scheduling) suppresses small
groups like every other report table.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from statistics import median

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Chat, ChatParticipant, ChatSchedule, Person, ScheduleStatus
from bot.services.scheduling.slots import working_days_between

ALL = "All functions"
NO_FUNCTION = "(no function)"  # as bot.services.reports labels it


@dataclass(frozen=True)
class SchedulingFigures:
    """One function's (or everyone's) figures, before suppression."""

    function: str
    people: int  # distinct people in the intros counted
    intros: int
    confirmed: int  # intros that got a time (even if moved or cancelled later)
    working_days: list[int]  # intro -> chat, per chat with a time
    rescheduled: int
    cancelled: int

    @property
    def median_working_days(self) -> float | None:
        return float(median(self.working_days)) if self.working_days else None


@dataclass
class _Tally:
    people: set[int]
    chats: set[int]
    confirmed: set[int]
    days: dict[int, int]
    rescheduled: set[int]
    cancelled: set[int]


def scheduling_figures(
    session: Session,
    start: datetime,
    end: datetime,
    counted: dict[str, tuple[int, int]] | None = None,
) -> dict[str, SchedulingFigures]:
    """Figures per function label (NO_FUNCTION for people without one) and ALL, unsuppressed.

    `counted`, when given, holds each label's (people, intros) already counted (the report's
    roll-ups do): then only the intros that have a schedule are read here.
    """
    stmt = (
        select(
            Chat.id,
            Chat.created_at,
            ChatParticipant.person_id,
            Person.function,
            ChatSchedule.status,
            ChatSchedule.first_confirmed_at,
            ChatSchedule.start_at,
            ChatSchedule.reschedules,
        )
        .join(ChatParticipant, ChatParticipant.chat_id == Chat.id)
        .join(Person, Person.id == ChatParticipant.person_id)
        .where(Chat.created_at >= start, Chat.created_at < end)
    )
    if counted is None:
        stmt = stmt.outerjoin(ChatSchedule, ChatSchedule.chat_id == Chat.id)
    else:
        stmt = stmt.join(ChatSchedule, ChatSchedule.chat_id == Chat.id)
    tallies: dict[str, _Tally] = defaultdict(lambda: _Tally(set(), set(), set(), {}, set(), set()))
    for (
        chat_id,
        created,
        person_id,
        function,
        status,
        first_confirmed,
        slot_start,
        reschedules,
    ) in session.execute(stmt):
        for name in (function or NO_FUNCTION, ALL):
            tally = tallies[name]
            tally.people.add(person_id)
            tally.chats.add(chat_id)
            if first_confirmed is not None:
                tally.confirmed.add(chat_id)
                if slot_start is not None:
                    tally.days[chat_id] = working_days_between(created.date(), slot_start.date())
            if reschedules:
                tally.rescheduled.add(chat_id)
            if status == ScheduleStatus.CANCELLED:
                tally.cancelled.add(chat_id)
    if counted is None:
        counted = {name: (len(t.people), len(t.chats)) for name, t in tallies.items()}
    return {
        name: SchedulingFigures(
            function=name,
            people=people,
            intros=intros,
            confirmed=len(t.confirmed),
            working_days=sorted(t.days.values()),
            rescheduled=len(t.rescheduled),
            cancelled=len(t.cancelled),
        )
        for name, (people, intros) in counted.items()
        for t in [tallies[name]]
    }
