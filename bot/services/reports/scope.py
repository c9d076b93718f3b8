"""What a report is computed from: the session, the period and the one it is compared
with, the minimum group size, and the aggregates several tables share (each run once)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TypeVar

from sqlalchemy.orm import Session

from bot.services.reports import aggregates, sql
from bot.services.reports.periods import Period

T = TypeVar("T")


@dataclass
class Scope:
    session: Session
    period: Period
    previous: Period
    k: int  # MIN_GROUP_SIZE
    functions: Sequence[str]  # the configured functions, in their order
    now: datetime
    # Seconds spent per named part (a query or a table), for logs and bench/reports.py --breakdown.
    timings: dict[str, float] = field(default_factory=dict)

    def timed(self, name: str, compute: Callable[[], T]) -> T:
        started = time.perf_counter()
        try:
            return compute()
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - started

    @cached_property
    def ranges(self) -> sql.Ranges:
        return self.timed("ranges", lambda: sql.ranges(self.session, self.period, self.previous))

    @cached_property
    def participation(self) -> tuple[aggregates.Participation, aggregates.Participation]:
        """(previous, current) participation by function."""
        return self.timed(
            "participation",
            lambda: aggregates.participation(self.session, self.period, self.previous, self.ranges),
        )

    @cached_property
    def held(self) -> aggregates.Held:
        """Chats held: totals, cross-function share, weekly trend and function flow."""
        return self.timed(
            "held", lambda: aggregates.held(self.session, self.period, self.previous, self.ranges)
        )
