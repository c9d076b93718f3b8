"""What a report is computed from: the session, the period and the one it is compared
with, the minimum group size, and the aggregates several tables share (each run once)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property, partial
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from bot.services.reports import aggregates, rolled, rollup_searches, rollups, sql
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
    # Read the figures over chats, requests and people from the roll-ups (False: from the raw rows, as
    # tests compare); either way the figures are the same.
    use_rollups: bool = True
    # What several tables read, computed once per report (`shared`).
    results: dict[str, Any] = field(default_factory=dict)

    def shared(self, name: str, compute: Callable[[], T]) -> T:
        """`compute()` once per report, timed as `name`: for figures several tables show."""
        if name not in self.results:
            self.results[name] = self.timed(name, compute)
        return self.results[name]  # type: ignore[no-any-return]

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
    def rollups_built(self) -> int:
        """Days of the roll-ups this report reads, made current first; how many were rebuilt."""
        first = rolled.first_day(self.period, self.previous)
        return self.timed(
            "rollups", lambda: rollups.ensure(self.session, self.period.zone, first, self.period.last_day)
        )

    def rolled(self) -> bool:
        """Whether to read the roll-ups (made current on the first call) rather than the raw rows."""
        if not self.use_rollups:
            return False
        self.rollups_built  # noqa: B018  (the cached property builds what is missing)
        return True

    @cached_property
    def search_months(self) -> list[date]:
        """The whole months of the period the search tables read from their roll-ups, made
        current first (and every search chained)."""
        lock = partial(rollups.lock, self.session)
        return self.timed(
            "search_rollups", lambda: rollup_searches.ensure(self.session, self.period, self.now, lock)
        )

    @cached_property
    def people(self) -> rolled.People:
        """From the roll-ups, in one pass: participation, expert load and people introduced."""
        return self.timed("people", lambda: rolled.people(self.session, self.period, self.previous))

    @cached_property
    def participation(self) -> tuple[aggregates.Participation, aggregates.Participation]:
        """(previous, current) participation by function."""
        if self.rolled():
            return self.people.participation
        return self.timed(
            "participation",
            lambda: aggregates.participation(self.session, self.period, self.previous, self.ranges),
        )

    @cached_property
    def held(self) -> aggregates.Held:
        """Chats held: totals, cross-function share, weekly trend and function flow."""
        if self.rolled():
            return self.timed(
                "held",
                lambda: rolled.held(self.session, self.period, self.previous, self.k, self._raw_held),
            )
        return self._raw_held()

    def _raw_held(self) -> aggregates.Held:
        # With roll-ups, only when their bounds left some cell's suppression open (--breakdown shows it).
        name = "held_raw_rows" if self.use_rollups else "held"
        return self.timed(
            name, lambda: aggregates.held(self.session, self.period, self.previous, self.ranges)
        )
