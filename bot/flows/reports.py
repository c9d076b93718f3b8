"""The HR report written as files: one CSV or JSON file per table, or one PNG per chart.

`infochat report` and the demo both export through here. Every export is written to the
audit log (actor "cli", the operating-system user in the detail), since an export is an
access to HR data like any view.
"""

from __future__ import annotations

import getpass
from pathlib import Path

from bot.clock import utcnow
from bot.db import Database
from bot.services import reports
from bot.settings import Settings

FORMATS = ("csv", "json", "png")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "unknown"


def write_report(
    db: Database, settings: Settings, period: reports.Period, fmt: str, out: Path
) -> tuple[list[Path], reports.Report]:
    """Write the report for `period` as `fmt` files into the folder `out` (which must exist)."""
    with db.session() as session:
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
    return written, report
