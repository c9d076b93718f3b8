"""The report's entry points, and the one list of its tables.

Adding a table (say, scheduling figures by function) is one builder, a
function `(scope: Scope) -> Table` returning a suppressed table, in a module
of this package, appended to TABLES below; Slack shows it once
`bot.blocks.reports.SECTIONS` names its key, and CSV/JSON exports, the CLI and
the dashboard's downloads pick it up from `Report.all_tables()` by themselves.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial

from sqlalchemy.orm import Session

from bot.services.reports import outcomes, scheduling, sql, tables, topics
from bot.services.reports.document import Report, Summary
from bot.services.reports.periods import Period, parse_period
from bot.services.reports.scope import Scope
from bot.services.reports.summary import summary
from bot.services.reports.suppression import Table
from bot.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_MIN_GROUP_SIZE = 5

TableBuilder = Callable[[Scope], Table]

# The report's tables after the summary, in the order of exports and of the Slack report.
TABLES: tuple[TableBuilder, ...] = (
    tables.participation_table,
    tables.matrix_table,
    tables.trend_table,
    topics.topics_searched,
    topics.topics_offered,
    topics.wanted_not_offered,
    topics.supply_demand,
    topics.learnings_by_topic,
    tables.expert_load,
    outcomes.followup_answers,
    scheduling.scheduling_table,
)


def compute_report(
    session: Session,
    period: Period,
    *,
    functions: Sequence[str],
    min_group_size: int,
    now: datetime,
    timings: dict[str, float] | None = None,
    use_rollups: bool = True,
) -> Report:
    """The full report for `period` (compared with `period.previous()`), suppressed.

    `timings`, when given, receives the seconds spent per query and table. `use_rollups`:
    the figures over chats, requests and people from the roll-ups (bot.services.reports.rollups, the
    default) or from the raw rows; the report is the same.
    """
    scope = Scope(session, period, period.previous(), min_group_size, functions, now, use_rollups=use_rollups)
    if timings is not None:
        scope.timings = timings
    started = time.perf_counter()
    sql.tune_for_reports(session)
    head = summary(scope)
    built = [scope.timed(builder.__name__, partial(builder, scope)) for builder in TABLES]
    seconds = time.perf_counter() - started
    log.info("report computed", extra={"period": period.spec, "seconds": round(seconds, 3)})
    return Report(head, built, scope.k, now)


def report_for(session: Session, period: Period, settings: Settings, now: datetime) -> Report:
    return compute_report(
        session, period, functions=settings.functions, min_group_size=settings.min_group_size, now=now
    )


def headline(
    session: Session,
    now: datetime,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    zone: str = "UTC",
) -> Summary:
    """The admin App Home's figures: the last 4 weeks against the 4 before (a few cheap queries)."""
    period = parse_period("", now, zone)
    sql.tune_for_reports(session)
    scope = Scope(session, period, period.previous(), min_group_size, (), now)
    return summary(scope, full=False)
