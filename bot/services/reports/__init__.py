"""HR reports: participation, request outcomes, cross-function flow, topics, expert load.

Everything is computed with SQL aggregates (GROUP BY, COUNT DISTINCT, CASE
buckets): the database returns at most a few hundred summary rows, never the
people, chats or searches themselves (bench/reports.py, docs/reports.md).

Privacy (docs/reports.md) is applied here, before anything is rendered,
exported or charted, so no surface can show a raw small number: small-group
and complementary suppression (`suppression`), topics listed only when at
least MIN_GROUP_SIZE people stand behind them, takeaways only as counts and
the topics of shared ones (private takeaways' topics are never read), and an
audit row for every view and export (`audit`).

The package, by seam:

- `periods`: Period, parse_period, the comparison period, trend weeks;
- `suppression`: Cell, Table and the suppression rules;
- `document`: Metric, Summary, Report (what renderers receive);
- `sql`, `aggregates`: SQL building blocks and the aggregates over chats, requests, takeaways;
- `scope`: what one report is computed from, with the aggregates tables share;
- `summary`, `tables`, `topics`: the summary and the tables;
- `compute`: the entry points and TABLES, the one list of tables (add a table there);
- `exports`: CSV/JSON; `audit`: the audit log.

Nothing here knows Slack; who may see reports is `bot.gateway.admins`.
"""

from bot.services.reports.audit import AUDIT_EXPORT, AUDIT_HOME, AUDIT_VIEW, record_access
from bot.services.reports.compute import (
    DEFAULT_MIN_GROUP_SIZE,
    TABLES,
    TableBuilder,
    compute_report,
    headline,
    report_for,
)
from bot.services.reports.document import Metric, Report, Summary
from bot.services.reports.exports import export_name, to_csv, to_json
from bot.services.reports.periods import (
    DEFAULT_WEEKS,
    PERIOD_HELP,
    Period,
    PeriodError,
    local_midnight,
    parse_period,
    week_starts,
)
from bot.services.reports.scope import Scope
from bot.services.reports.sql import NO_FUNCTION
from bot.services.reports.suppression import (
    SUPPRESSED,
    Cell,
    Fmt,
    Lines,
    Table,
    count_cell,
    part_of,
    privacy_rules,
    rate_cell,
    suppress_cells,
    suppress_table,
)

__all__ = [
    "AUDIT_EXPORT",
    "AUDIT_HOME",
    "AUDIT_VIEW",
    "DEFAULT_MIN_GROUP_SIZE",
    "DEFAULT_WEEKS",
    "NO_FUNCTION",
    "PERIOD_HELP",
    "SUPPRESSED",
    "TABLES",
    "Cell",
    "Fmt",
    "Lines",
    "Metric",
    "Period",
    "PeriodError",
    "Report",
    "Scope",
    "Summary",
    "Table",
    "TableBuilder",
    "compute_report",
    "count_cell",
    "export_name",
    "headline",
    "local_midnight",
    "parse_period",
    "part_of",
    "privacy_rules",
    "rate_cell",
    "record_access",
    "report_for",
    "suppress_cells",
    "suppress_table",
    "to_csv",
    "to_json",
    "week_starts",
]
