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
        written, report, period = write_report(settings, args.period, args.format, Path(args.out))
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


def write_report(
    settings: Settings, period_text: str, fmt: str, out: Path
) -> tuple[list[Path], reports.Report, reports.Period]:
    """Write the report for `period_text` into `out` as `fmt` files (also used by the demo).

    Raises PeriodError for a period it cannot read, OSError when `out` cannot be made.
    """
    period = reports.parse_period(period_text, utcnow(), settings.timezone)
    out.mkdir(parents=True, exist_ok=True)
    with operator_database(settings) as db, db.session() as session:
        report = reports.report_for(session, period, settings, utcnow())
        reports.record_access(
            session,
            "cli",
            reports.AUDIT_EXPORT,
            f"format={fmt} period={period.spec} out={out.resolve()} user={_os_user()}",
        )

    written: list[Path] = []
    if fmt == "png":
        from bot import charts

        for chart in charts.render(report):
            path = out / chart.filename
            path.write_bytes(chart.data)
            written.append(path)
    else:
        for table in report.all_tables():
            path = out / reports.export_name(table, period, fmt)
            data = reports.to_csv(table) if fmt == "csv" else reports.to_json(table, report)
            path.write_bytes(data)
            written.append(path)
    return written, report, period


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
