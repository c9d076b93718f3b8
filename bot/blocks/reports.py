"""Block Kit for reports: the report DM, the admin App Home section, short replies.

Pure functions of already-suppressed report objects. Tables are set in
monospace code blocks; every label (function names, topics, search text) is
escaped, since topics and searches are people's own text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.blocks import (
    MAX_MESSAGE_BLOCKS,
    MAX_SECTION_TEXT,
    Block,
    actions,
    button,
    cap_blocks,
    context,
    divider,
    escape,
    header,
    mrkdwn,
    section,
)
from bot.services.reports import SUPPRESSED, Period, Report, Summary, Table

REPORT_SHOW_ACTION = "report_show"
REPORT_DOWNLOAD_CSV_ACTION = "report_download_csv"

REFUSAL = (
    "Sorry, reports are only for infochat's programme admins. "
    "If you need participation figures, your HR or people team can share them."
)
CHECKING = "One moment…"
# Parsed again at click time, so a Home rendered days ago still exports the last 4 weeks.
DEFAULT_PERIOD_VALUE = "last 4 weeks"
SLACK_TOPIC_ROWS = 10
LABEL_WIDTH = 24


@dataclass(frozen=True)
class ReportSection:
    key: str
    title: str
    description: str
    tables: tuple[str, ...]
    charts: tuple[str, ...]


SECTIONS: tuple[ReportSection, ...] = (
    ReportSection(
        "summary",
        "Summary",
        "participants, requests, chats held, follow-up answers, usefulness, against the previous period",
        ("summary",),
        ("chats_per_week",),
    ),
    ReportSection(
        "participation",
        "Participation by function",
        "members, experts, active learners, weekly pairing and chats held, per function",
        ("participation_by_function",),
        (),
    ),
    ReportSection(
        "flow",
        "Cross-function flow",
        "chats held between functions: who learns from whom",
        ("function_flow",),
        ("function_flow",),
    ),
    ReportSection(
        "topics",
        "Topics: supply and demand",
        "most searched, most offered, wanted but not offered, what people learned about",
        ("topics_searched", "topics_offered", "wanted_not_offered", "learnings_by_topic"),
        ("topic_supply_demand",),
    ),
    ReportSection(
        "load",
        "Expert load",
        "experts over capacity, not asked, never asked",
        ("expert_load",),
        (),
    ),
    ReportSection(
        "scheduling",
        "Finding a time",
        "intros with a confirmed time, working days to the chat, reschedules and cancellations",
        ("scheduling",),
        (),
    ),
)
SECTION_KEYS = tuple(s.key for s in SECTIONS)


def section_named(key: str) -> ReportSection | None:
    return next((s for s in SECTIONS if s.key == key), None)


def preparing_text(period: Period) -> str:
    return f"Preparing your report for {period.label}… I'll send it to you in a direct message."


def sent_text(period: Period, charts: int) -> str:
    extra = f" with {charts} chart{'s' if charts != 1 else ''}" if charts else ""
    return f"Your report for {period.label} is in your direct messages{extra}."


def csv_comment(period: Period, k: int) -> str:
    return (
        f"CSV export for {period.label}: one file per table, UTF-8 with a header row. "
        f"`{SUPPRESSED}` marks a hidden cell (fewer than {k} people, or hidden so that totals "
        "cannot reveal another)."
    )


# -- tables as text --------------------------------------------------------------------


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _abbreviations(names: Sequence[str], width: int = 5) -> list[str]:
    """Short unique column heads for the matrix ("Engin", "Produ", …)."""
    out: list[str] = []
    for name in names:
        short = "".join(ch for ch in name if not ch.isspace())[:width] or "?"
        candidate, n = short, 2
        while candidate in out:
            candidate = f"{short[: width - 1]}{n}"
            n += 1
        out.append(candidate)
    return out


def table_text(table: Table, *, max_rows: int | None = None, abbreviate: bool = False) -> str:
    """A table as a monospace block (already escaped), with a legend for abbreviated heads."""
    rows = table.rows if max_rows is None else table.rows[:max_rows]
    heads = list(table.columns[1:])
    legend = ""
    if abbreviate:
        short = _abbreviations(heads)
        legend = "Columns: " + ", ".join(f"{s} = {h}" for s, h in zip(short, heads, strict=True))
        heads = short
    labels = [_fit(label, LABEL_WIDTH) for label, _ in rows]
    label_width = max([len(table.columns[0]) if not abbreviate else 0, *map(len, labels), 4])
    label_width = min(label_width, LABEL_WIDTH)
    shown = [[cell.show() for cell in cells] for _, cells in rows]
    widths = [max([len(h), *(len(r[i]) for r in shown)]) for i, h in enumerate(heads)]
    head_label = "" if abbreviate else _fit(table.columns[0], label_width)
    lines = [
        f"{head_label:<{label_width}}  " + "  ".join(f"{h:>{w}}" for h, w in zip(heads, widths, strict=True))
    ]
    for label, values in zip(labels, shown, strict=True):
        lines.append(
            f"{label:<{label_width}}  " + "  ".join(f"{v:>{w}}" for v, w in zip(values, widths, strict=True))
        )
    body = escape("\n".join(line.rstrip() for line in lines))
    text = f"```{body}```"
    if legend:
        text += "\n" + escape(legend)
    return text


def _table_blocks(table: Table, *, max_rows: int | None = None, abbreviate: bool = False) -> list[Block]:
    title = f"*{escape(table.title)}*"
    if not table.rows:
        return [section(f"{title}\n_Nothing to show: no row has enough people behind it._")]
    more = ""
    if max_rows is not None and len(table.rows) > max_rows:
        more = f"\n_Top {max_rows} of {len(table.rows)}; the CSV export has them all._"
    body = table_text(table, max_rows=max_rows, abbreviate=abbreviate)
    # Keep the closing ``` inside Slack's section limit rather than letting truncation cut it.
    budget = MAX_SECTION_TEXT - len(title) - len(more) - 2
    if len(body) > budget:
        body = body[: budget - 4].rsplit("\n", 1)[0] + "```"
    blocks = [section(f"{title}\n{body}{more}")]
    if table.note:
        blocks.append(context(escape(table.note)))
    return blocks


def _summary_blocks(summary: Summary) -> list[Block]:
    return [
        section(f"*Summary*\n{table_text(summary.table())}"),
        context(
            escape(
                f"This period {summary.period.label}; previous period {summary.previous.label}. "
                "Rates and medians compare in percentage points and plain differences."
            )
        ),
    ]


def report_message(report: Report, sections: Sequence[str] | None = None) -> tuple[str, list[Block]]:
    """The report DM: (fallback text, blocks) for the chosen sections (all by default)."""
    chosen = [s for s in SECTIONS if sections is None or s.key in sections]
    period = report.period
    blocks: list[Block] = [
        header(f"infochat report: {period.label}"),
        context(
            escape(f"Compared with {report.summary.previous.label}. ")
            + f"`{SUPPRESSED}` marks a hidden cell (fewer than {report.min_group_size} people)."
        ),
    ]
    for part in chosen:
        blocks.append(divider())
        for key in part.tables:
            if key == "summary":
                blocks += _summary_blocks(report.summary)
                continue
            table = report.table(key)
            topic_list = key in (
                "topics_searched",
                "topics_offered",
                "wanted_not_offered",
                "learnings_by_topic",
            )
            blocks += _table_blocks(
                table,
                max_rows=SLACK_TOPIC_ROWS if topic_list else None,
                abbreviate=key == "function_flow",
            )
    footer = [
        divider(),
        context(escape(report.footer)),
        actions(
            button("Download CSV", REPORT_DOWNLOAD_CSV_ACTION, value=period.spec),
            block_id="report_actions",
        ),
    ]
    blocks = cap_blocks(blocks, MAX_MESSAGE_BLOCKS - len(footer), "More tables are in the CSV export.")
    text = f"infochat report for {period.label}"
    return text, [*blocks, *footer]


# -- App Home (admins) -------------------------------------------------------------------


def admin_home_blocks(summary: Summary) -> list[Block]:
    """Headline figures and a button per report, appended to an admin's App Home."""
    fields = [
        mrkdwn(f"*{escape(m.label)}*\n{m.current.show()}  ({escape(m.change)})") for m in summary.metrics[:10]
    ]
    blocks: list[Block] = [
        header("Programme reports"),
        context(
            escape(f"Last 4 weeks ({summary.period.label}) against the 4 before. ")
            + f"`{SUPPRESSED}` marks figures about fewer than {summary.min_group_size} people."
        ),
        {"type": "section", "fields": fields},
    ]
    for part in SECTIONS:
        blocks.append(
            section(
                f"*{escape(part.title)}*\n{escape(part.description)}",
                accessory=button("View", REPORT_SHOW_ACTION, value=part.key),
            )
        )
    blocks.append(
        actions(
            button("Download CSV", REPORT_DOWNLOAD_CSV_ACTION, value=DEFAULT_PERIOD_VALUE),
            block_id="report_home_actions",
        )
    )
    blocks.append(
        context("`/infochat report last quarter` (or `2026-Q3`, `2026-01-01..2026-03-31`) for other periods.")
    )
    return blocks
