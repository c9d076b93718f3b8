"""`infochat report`: export the HR report as files (one per table, or one PNG per chart).

The same suppressed tables as in Slack; every run is written to the audit log
(actor "cli", the operating-system user in the detail), since an export is
an access to HR data like any view.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from bot.cli.database import operator_database
from bot.clock import utcnow
from bot.services import reports
from bot.settings import Settings

FORMATS = ("csv", "json", "png")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "unknown"


def _report(args: argparse.Namespace, settings: Settings) -> int:
    try:
        period = reports.parse_period(args.period, utcnow(), settings.timezone)
    except reports.PeriodError as exc:
        print(f"infochat: {exc}".replace("`", ""), file=sys.stderr)
        return 2
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"infochat: cannot create {out}: {exc.strerror}", file=sys.stderr)
        return 1
    with operator_database(settings) as db, db.session() as session:
        report = reports.report_for(session, period, settings, utcnow())
        reports.record_access(
            session,
            "cli",
            reports.AUDIT_EXPORT,
            f"format={args.format} period={period.spec} out={out.resolve()} user={_os_user()}",
        )

    written: list[Path] = []
    if args.format == "png":
        from bot import charts

        for chart in charts.render(report):
            path = out / chart.filename
            path.write_bytes(chart.data)
            written.append(path)
    else:
        for table in report.all_tables():
            path = out / reports.export_name(table, period, args.format)
            data = reports.to_csv(table) if args.format == "csv" else reports.to_json(table, report)
            path.write_bytes(data)
            written.append(path)
    for path in written:
        print(path)
    print(
        f"{len(written)} file(s) for {period.label}; cells about fewer than {report.min_group_size} "
        "people are hidden (*)",
        file=sys.stderr,
    )
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
    report.set_defaults(handler=_report)
