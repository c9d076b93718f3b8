"""`infochat report`: export the HR report as files (one per table, or one PNG per chart).

The same suppressed tables as in Slack, written by bot.flows.reports (which also
writes every run to the audit log).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli.database import operator_database
from bot.clock import utcnow
from bot.flows.reports import FORMATS, write_report
from bot.services import reports
from bot.settings import Settings


def _report(args: argparse.Namespace, settings: Settings) -> int:
    if getattr(args, "build_rollups", False):
        return _build_rollups(settings)
    out = Path(args.out)
    try:
        period = reports.parse_period(args.period, utcnow(), settings.timezone)
        out.mkdir(parents=True, exist_ok=True)
        with operator_database(settings) as db:
            written, report = write_report(db, settings, period, args.format, out)
    except reports.PeriodError as exc:
        print(f"infochat: {exc}".replace("`", ""), file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"infochat: cannot create {args.out}: {exc.strerror}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    print(
        f"{len(written)} file(s) for {period.label}; cells about fewer than {report.min_group_size} "
        "people are hidden (*)",
        file=sys.stderr,
    )
    return 0


def _build_rollups(settings: Settings) -> int:
    """Build the report roll-ups of every day of the history (INFOCHAT_TIMEZONE), from scratch."""
    from bot.services.reports import rollups

    with operator_database(settings) as db, db.session() as session:
        rollups.invalidate(session, settings.timezone)
        days = rollups.build_all(session, settings.timezone, utcnow())
    print(f"built the report roll-ups of {days} days ({settings.timezone})", file=sys.stderr)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `report` command to the `infochat` parser."""
    report = sub.add_parser(
        "report",
        help="export the HR report: one CSV or JSON file per table, or one PNG per chart",
        description="Export the participation report. " + reports.PERIOD_HELP.replace("`", ""),
    )
    report.add_argument(
        "--period",
        default="",
        help="e.g. 'last quarter', 2026-Q3, 2026-01-01..2026-03-31 (default: last 4 weeks)",
    )
    report.add_argument("--format", choices=FORMATS, default="csv", help="csv (default), json or png")
    report.add_argument("--out", default=".", help="directory to write into (created if missing; default .)")
    report.add_argument(
        "--build-rollups",
        action="store_true",
        help="instead, rebuild the report roll-ups of every day (after a restore or a bulk load; "
        "reports otherwise build the days they need on their own)",
    )
    report.set_defaults(handler=_report)
