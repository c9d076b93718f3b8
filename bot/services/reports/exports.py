"""Report tables as files: one UTF-8 CSV (header row) or JSON document per table."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from bot.services.reports.document import Report
from bot.services.reports.periods import Period
from bot.services.reports.suppression import SUPPRESSED, Table


def export_name(table: Table, period: Period, ext: str) -> str:
    return f"infochat_{table.key}_{period.first_day:%Y%m%d}-{period.last_day:%Y%m%d}.{ext}"


def to_csv(table: Table) -> bytes:
    """One table as UTF-8 CSV with a header row; a hidden cell is written as `*`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.columns)
    for label, cells in table.rows:
        writer.writerow(
            [label, *(SUPPRESSED if c.suppressed and c.text is None else _blank(c.export()) for c in cells)]
        )
    return buffer.getvalue().encode("utf-8")


def _blank(value: str | float | int | None) -> str | float | int:
    return "" if value is None else value


def to_json(table: Table, report: Report) -> bytes:
    """One table as JSON: rows keyed by column; a hidden cell is null and named in `suppressed`."""
    rows = []
    for label, cells in table.rows:
        row: dict[str, Any] = {table.columns[0]: label}
        hidden = []
        for name, cell in zip(table.columns[1:], cells, strict=True):
            row[name] = cell.export()
            if cell.suppressed and cell.text is None:
                hidden.append(name)
        if hidden:
            row["suppressed"] = hidden
        rows.append(row)
    document = {
        "table": table.key,
        "title": table.title,
        "note": table.note,
        "period": {
            "first_day": report.period.first_day.isoformat(),
            "last_day": report.period.last_day.isoformat(),
        },
        "previous_period": {
            "first_day": report.summary.previous.first_day.isoformat(),
            "last_day": report.summary.previous.last_day.isoformat(),
        },
        "min_group_size": report.min_group_size,
        "generated_at": report.generated_at.isoformat(),
        "columns": table.columns,
        "rows": rows,
        "privacy": report.footer,
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
