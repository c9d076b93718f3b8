"""What each dashboard page shows: the report's tables (already suppressed), filtered by
function where a table has a function dimension, and a short-lived cache of reports.

The report for a period is the same one Slack and the CLI show (`report_for`), so the
dashboard cannot disagree with them and applies the very same suppression. Filtering
only ever drops rows or picks cells of a suppressed table: it reveals nothing new.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.services.reports import Cell, Metric, Period, Report, Table

CACHE_SECONDS = 300.0  # a report is recomputed at most every five minutes per period
CACHE_ENTRIES = 32


@dataclass(frozen=True)
class Page:
    key: str
    title: str
    intro: str


PAGES = (
    Page("overview", "Overview", "Headline figures against the previous period, and chats held per week."),
    Page("flow", "Who learns from whom", "Chats held between functions: learners' functions by experts'."),
    Page("topics", "Topics", "What people search for, what experts offer, and what is wanted but missing."),
    Page("load", "Expert load", "Whether experts are asked too often, or never."),
    Page(
        "outcomes",
        "Follow-up outcomes",
        "What happens to requests and chats, and what people say afterwards.",
    ),
)
PAGE_KEYS = frozenset(p.key for p in PAGES)

# Tables with one row per function: the function filter keeps that row.
BY_FUNCTION = frozenset({"participation_by_function", "expert_load"})
OUTCOME_METRICS = (
    "requests_sent",
    "requests_accepted",
    "requests_declined",
    "requests_expired",
    "chats_held",
    "days_to_chat",
    "followup_rate",
    "usefulness",
    "takeaways",
)


def page(key: str) -> Page:
    return next(p for p in PAGES if p.key == key)


def outcomes_table(report: Report) -> Table:
    """The request and follow-up figures of the summary, this period and the previous one."""
    summary = report.summary
    rows = [_metric_row(summary.metric(key)) for key in OUTCOME_METRICS]
    return Table(
        "followup_outcomes",
        "Requests, chats and follow-ups",
        ["figure", "this period", "previous period", "change"],
        rows,
        note=f"This period {summary.period.label}; previous period {summary.previous.label}.",
        lines="none",  # each figure was suppressed with the summary
    )


def _metric_row(metric: Metric) -> tuple[str, list[Cell]]:
    return (metric.label, [metric.current, metric.previous, Cell(None, 0, text=metric.change)])


def flow_for(table: Table, function: str) -> Table:
    """The function × function table seen from one function: what it learned, and taught, per other."""
    columns = table.columns[1:]
    row = next((cells for label, cells in table.rows if label == function), None)
    rows = []
    for label, cells in table.rows:
        if function not in columns or row is None:
            break
        learned = row[columns.index(label)] if label in columns else Cell(0.0, 0)
        taught = cells[columns.index(function)]
        rows.append((label, [learned, taught]))
    return Table(
        table.key,
        f"Chats held with {function}",
        ["other function", f"{function} learned from them", f"they learned from {function}"],
        rows,
        note=table.note,
        lines="none",  # cells of the suppressed matrix, unchanged
    )


# The tables each page shows, in order (each is also a download).
PAGE_TABLES: dict[str, tuple[str, ...]] = {
    "overview": ("summary", "chats_per_week", "participation_by_function"),
    "flow": ("function_flow",),
    "topics": (
        "topic_supply_demand",
        "topics_searched",
        "topics_offered",
        "wanted_not_offered",
        "learnings_by_topic",
    ),
    "load": ("expert_load",),
    "outcomes": ("followup_outcomes", "followup_answers"),
}


def tables_for(report: Report, page_key: str, function: str | None) -> list[Table]:
    """The tables a page shows, in order (each is also a download)."""
    return [table_for(report, key, function) for key in PAGE_TABLES[page_key]]


def filter_reach(report: Report) -> tuple[list[str], list[str]]:
    """(titles of the tables the function filter narrows, titles of those it leaves whole):
    the report counts topics, requests, follow-ups and weeks for the whole company only,
    so the page says which figures the filter changes rather than implying all of them."""
    narrowed: list[str] = []
    whole: list[str] = []
    for keys in PAGE_TABLES.values():
        for key in keys:
            title = outcomes_table(report).title if key == "followup_outcomes" else report.table(key).title
            (narrowed if is_filtered(key) else whole).append(SHORT_TITLES.get(key, title))
    return narrowed, whole


# Where a table's title is a column heading rather than a name to list in a sentence.
SHORT_TITLES = {"function_flow": "Who learns from whom", "summary": "the headline figures"}


def table_for(report: Report, key: str, function: str | None) -> Table:
    """One table, filtered to `function` when it has a function dimension. KeyError if unknown."""
    if key == "followup_outcomes":
        return outcomes_table(report)
    try:
        table = report.table(key)
    except StopIteration:
        raise KeyError(key) from None
    if not function:
        return table
    if key in BY_FUNCTION:
        rows = [(label, cells) for label, cells in table.rows if label == function]
        return Table(table.key, table.title, table.columns, rows, note=table.note, lines="none")
    if key == "function_flow":
        return flow_for(table, function)
    return table


def is_filtered(key: str) -> bool:
    return key in BY_FUNCTION or key == "function_flow"


@dataclass
class _Entry:
    report: Report
    made: float


@dataclass
class ReportCache:
    """Reports by period, kept for CACHE_SECONDS; concurrent first views compute once."""

    compute: Callable[[Period], Report]
    seconds: float = CACHE_SECONDS
    clock: Callable[[], float] = time.monotonic
    _entries: dict[str, _Entry] = field(default_factory=dict)
    _locks: dict[str, threading.Lock] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, period: Period) -> Report:
        key = f"{period.spec}|{period.unit}|{period.zone}"
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            entry = self._entries.get(key)
            if entry is not None and self.clock() - entry.made < self.seconds:
                return entry.report
            report = self.compute(period)
            with self._lock:
                self._entries[key] = _Entry(report, self.clock())
                while len(self._entries) > CACHE_ENTRIES:
                    oldest = min(self._entries, key=lambda k: self._entries[k].made)
                    del self._entries[oldest]
                    self._locks.pop(oldest, None)
            return report
