"""Scheduling figures for HR reports (#15 item 8), by function, with small-group suppression.

For the intros of a period (chats introduced in it, requests and weekly
pairings): how many got a confirmed time, the median number of working days
(Monday–Friday) from the intro to the chat's time, and how many were
rescheduled or cancelled. A chat counts once in each function of its
people. A row describing fewer than `min_group` people shows no figures, as
every report cell does (bot.services.reports); "All" is never suppressed
unless the whole period has fewer people than that.
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
NO_FUNCTION = "No function set"


@dataclass(frozen=True)
class SchedulingRow:
    function: str
    people: int
    intros: int | None  # None: suppressed
    confirmed: int | None
    median_working_days: float | None
    rescheduled: int | None
    cancelled: int | None

    @property
    def confirmed_share(self) -> float | None:
        if self.intros is None or self.confirmed is None or not self.intros:
            return None
        return self.confirmed / self.intros


@dataclass
class _Tally:
    people: set[int]
    chats: set[int]
    confirmed: set[int]
    days: dict[int, int]
    rescheduled: set[int]
    cancelled: set[int]


def scheduling_figures(
    session: Session, start: datetime, end: datetime, min_group: int
) -> list[SchedulingRow]:
    rows = session.execute(
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
        .outerjoin(ChatSchedule, ChatSchedule.chat_id == Chat.id)
        .where(Chat.created_at >= start, Chat.created_at < end)
    )
    tallies: dict[str, _Tally] = defaultdict(lambda: _Tally(set(), set(), set(), {}, set(), set()))
    for chat_id, created, person_id, function, status, first_confirmed, slot_start, reschedules in rows:
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
    result = []
    for name in sorted(tallies, key=lambda n: (n == ALL, n == NO_FUNCTION, n.casefold())):
        tally = tallies[name]
        hidden = len(tally.people) < min_group
        result.append(
            SchedulingRow(
                function=name,
                people=len(tally.people),
                intros=None if hidden else len(tally.chats),
                confirmed=None if hidden else len(tally.confirmed),
                median_working_days=None if hidden or not tally.days else float(median(tally.days.values())),
                rescheduled=None if hidden else len(tally.rescheduled),
                cancelled=None if hidden else len(tally.cancelled),
            )
        )
    return result
