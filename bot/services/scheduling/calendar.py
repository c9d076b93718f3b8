"""The calendar seam: "busy times of these people in this window".

Slot proposal asks one `BusyTimes` provider. The built-in one knows only
working hours (already part of each person's `Availability`), so it reports
nobody busy. A Google Workspace or Microsoft 365 free/busy provider would
implement the same method (see docs/scheduling.md for scopes and settings)
and be chosen by a setting; nothing else in scheduling changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.services.scheduling.slots import Interval


@dataclass(frozen=True)
class Attendee:
    """Who a provider is asked about: the directory's identifiers for one person."""

    person_id: int
    slack_user_id: str
    email: str | None
    tz: str


class BusyTimes(Protocol):
    def busy(
        self, people: Sequence[Attendee], start: datetime, end: datetime
    ) -> Mapping[int, Sequence[Interval]]:
        """Busy intervals per person id between `start` and `end` (UTC).

        A person missing from the answer is treated as free (within their
        working hours). Providers must not raise for one unknown person; they
        may raise for an outage, and scheduling then proposes from working
        hours alone.
        """
        ...


class WorkingHoursOnly:
    """The built-in provider: no calendar is connected, so nobody is busy inside their hours."""

    def busy(
        self, people: Sequence[Attendee], start: datetime, end: datetime
    ) -> Mapping[int, Sequence[Interval]]:
        return {}
