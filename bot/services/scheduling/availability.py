"""A person's availability as the profile shows and stores it: working hours typed as text
("10:00–17:00", "9-17", "9am - 5:30pm"), working days as a Monday=bit 0 mask, best times
and chat length. Pure functions; bot.services.scheduling.store turns a stored profile into
a slots.Availability."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import time

from bot.services.scheduling.slots import BEST_TIMES, CHAT_LENGTHS, DEFAULT_CHAT_MINUTES

__all__ = [
    "BEST_TIMES",
    "CHAT_LENGTHS",
    "DAY_NAMES",
    "DEFAULT_CHAT_MINUTES",
    "clock",
    "format_hours",
    "mask_of",
    "parse_working_hours",
    "work_days_of",
]

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def work_days_of(mask: int) -> frozenset[int]:
    return frozenset(day for day in range(7) if mask >> day & 1) or frozenset(range(5))


def mask_of(days: Sequence[int]) -> int:
    return sum(1 << day for day in set(days) if 0 <= day < 7)


def clock(minutes: int) -> time:
    minutes = max(0, min(minutes, 23 * 60 + 59))
    return time(minutes // 60, minutes % 60)


_HOURS = re.compile(
    r"^\s*(\d{1,2})(?:[:.h](\d{2}))?\s*(am|pm)?\s*(?:-|–|—|to|until)\s*(\d{1,2})(?:[:.h](\d{2}))?\s*(am|pm)?\s*$",
    re.IGNORECASE,
)


def parse_working_hours(text: str) -> tuple[time, time]:
    """ "10:00–17:00", "9-17", "9am - 5:30pm", "08.30 to 16.30" -> (start, end). ValueError says why."""
    match = _HOURS.match(text)
    if not match:
        raise ValueError("Write your working hours as start–end, e.g. 10:00–17:00.")
    h1, m1, p1, h2, m2, p2 = match.groups()

    def clock(hour: str, minute: str | None, half: str | None) -> time:
        h, m = int(hour), int(minute or 0)
        if half:
            if not 1 <= h <= 12:
                raise ValueError("With am/pm, hours go from 1 to 12.")
            h = h % 12 + (12 if half.lower() == "pm" else 0)
        if h > 23 or m > 59:
            raise ValueError("That isn't a time of day; use 00:00–23:59.")
        return time(h, m)

    start, end = clock(h1, m1, p1), clock(h2, m2, p2)
    if end <= start:
        raise ValueError("The end of your working hours must come after the start.")
    if (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute) < 60:
        raise ValueError("Give at least an hour, or infochat can't find a time for you.")
    return start, end


def format_hours(start: time, end: time) -> str:
    return f"{start:%H:%M}–{end:%H:%M}"
