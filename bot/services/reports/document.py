"""The report as every surface receives it: headline metrics, a summary, suppressed tables.

Renderers (Slack blocks, charts, the web dashboard, CSV/JSON exports) read
these objects only; by the time one exists, suppression has been applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.services.reports.periods import Period
from bot.services.reports.suppression import Cell, Table, privacy_rules


@dataclass
class Metric:
    key: str
    label: str
    current: Cell
    previous: Cell

    @property
    def change(self) -> str:
        """The change against the previous period; "–" when either side is hidden or unknown."""
        parts = self.change_parts()
        if parts is None:
            return "–"
        diff, relative = parts
        return f"{diff} ({relative})" if relative else diff

    def change_parts(self) -> tuple[str, str] | None:
        """(difference, relative change or ""), e.g. ("+4", "+133%"); None when either side
        is hidden or unknown."""
        a, b = self.current.visible, self.previous.visible
        if a is None or b is None:
            return None
        diff = a - b
        if self.current.fmt == "percent":
            return f"{diff:+.0f} pp", ""
        if self.current.fmt == "number":
            return f"{diff:+.1f}", ""
        return f"{round(diff):+,}", f"{diff / b:+.0%}" if b else ""


@dataclass
class Summary:
    """Headline figures of one period against the previous one."""

    period: Period
    previous: Period
    metrics: list[Metric]
    min_group_size: int
    generated_at: datetime

    def metric(self, key: str) -> Metric:
        return next(m for m in self.metrics if m.key == key)

    def table(self) -> Table:
        rows = [(m.label, [m.current, m.previous, Cell(None, 0, text=m.change)]) for m in self.metrics]
        return Table(
            "summary",
            "Summary",
            ["figure", "this period", "previous period", "change"],
            rows,
            note=f"This period {self.period.label}; previous period {self.previous.label}.",
            lines="none",  # suppression was applied per metric group already
        )


@dataclass
class Report:
    summary: Summary
    tables: list[Table]
    min_group_size: int
    generated_at: datetime

    @property
    def period(self) -> Period:
        return self.summary.period

    def table(self, key: str) -> Table:
        if key == "summary":
            return self.summary.table()
        return next(t for t in self.tables if t.key == key)

    def all_tables(self) -> list[Table]:
        return [self.summary.table(), *self.tables]

    @property
    def footer(self) -> str:
        return privacy_rules(self.min_group_size)
