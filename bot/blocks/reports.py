"""Block Kit for reports: the report DM, the admin App Home section, short replies.

Pure functions of already-suppressed report objects. Tables are set as lines,
one per function or topic, so nothing is cut to fit a column (Slack's limits:
50 blocks, 3,000 characters a section, kept by `text_sections` and `cap_blocks`);
every label (function names, topics, search text) is escaped, since topics and
searches are people's own text.
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
from bot.services.reports import SUPPRESSED, Cell, Metric, Period, Report, Summary, Table

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
        "outcomes",
        "Follow-up answers",
        "what people answered after their chat: we met, not yet, we couldn't meet",
        ("followup_answers",),
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
#
# Slack shows a monospace table only as wide as the reader's window, so tables are set
# as lines, one per function or topic, each label whole: "*Sales* — members: 18 · …".
# A hidden figure reads "hidden", never `*`, which mrkdwn would take for bold.

HIDDEN = "hidden"
FIGURE_SEPARATOR = " · "


def shorten_words(text: str, limit: int) -> str:
    """`text` within `limit` characters, cut at a space (never inside a word) with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > 0 else cut).rstrip() + "…"


def _is_hidden(cell: Cell) -> bool:
    return cell.suppressed and cell.text is None


def figure(cell: Cell) -> str:
    """A cell as a reader sees it in a sentence: the number, "hidden", "–" or a category."""
    return HIDDEN if _is_hidden(cell) else cell.show()


def figures_line(columns: Sequence[str], cells: Sequence[Cell]) -> str:
    """ "members: 18 · experts: hidden · …" (escaped)."""
    return FIGURE_SEPARATOR.join(
        f"{escape(name)}: {escape(figure(cell))}" for name, cell in zip(columns, cells, strict=True)
    )


def _hidden_rows_line(labels: Sequence[str], k: int) -> str:
    return f"_Hidden (fewer than {k} people, or hidden so that totals cannot reveal another):_ " + ", ".join(
        f"*{escape(label)}*" for label in labels
    )


def _split_line(line: str, limit: int) -> list[str]:
    """A line longer than a section can hold, split between figures (then between words)."""
    if len(line) <= limit:
        return [line]
    pieces: list[str] = []
    current = ""
    for part in line.split(FIGURE_SEPARATOR):
        joined = f"{current}{FIGURE_SEPARATOR}{part}" if current else part
        if len(joined) <= limit:
            current = joined
            continue
        if current:
            pieces.append(current)
        current = part if len(part) <= limit else shorten_words(part, limit)
    if current:
        pieces.append(current)
    return pieces


def text_sections(title: str, lines: Sequence[str]) -> list[Block]:
    """`*title*` and its lines as few sections as Slack's 3,000 characters allow, every line
    whole (a longer line continues in the next section, split between figures)."""
    head = f"*{escape(title)}*"
    more = f"*{escape(title)}* (continued)"
    texts: list[str] = []
    current = head
    for line in lines:
        for piece in _split_line(line, MAX_SECTION_TEXT - len(more) - 1):
            if len(current) + 1 + len(piece) > MAX_SECTION_TEXT:
                texts.append(current)
                current = more
            current += "\n" + piece
    texts.append(current)
    return [section(text) for text in texts]


def table_lines(table: Table, k: int) -> list[str]:
    """One line per row: its label in bold, then every column's figure; rows whose every
    figure is hidden are named together on the last line."""
    lines: list[str] = []
    hidden: list[str] = []
    zero: list[str] = []
    for label, cells in table.rows:
        numeric = [c for c in cells if c.text is None]
        if numeric and all(_is_hidden(c) for c in numeric):
            hidden.append(label)
        elif numeric and len(numeric) == len(cells) and all(c.visible == 0 for c in numeric):
            zero.append(label)  # a function with nobody yet: one mention, not a row of zeros
        else:
            lines.append(f"*{escape(label)}* — {figures_line(table.columns[1:], cells)}")
    if zero:
        lines.append("_Every figure 0:_ " + ", ".join(f"*{escape(label)}*" for label in zero))
    if hidden:
        lines.append(_hidden_rows_line(hidden, k))
    return lines


def flow_lines(table: Table, k: int) -> list[str]:
    """The function × function table as one line per learner's function: whom its people
    learned from (functions with no chat left out), then the hidden cells by name."""
    lines: list[str] = []
    silent: list[str] = []
    for label, cells in table.rows:
        shown = [
            f"{escape(expert)}: {escape(figure(cell))}"
            for expert, cell in zip(table.columns[1:], cells, strict=True)
            if not _is_hidden(cell) and (cell.value or 0) > 0
        ]
        hidden = [
            escape(expert) for expert, cell in zip(table.columns[1:], cells, strict=True) if _is_hidden(cell)
        ]
        if not shown and not hidden:
            continue
        if not shown:
            silent.append(label)
            continue
        line = f"*{escape(label)}* learned from " + FIGURE_SEPARATOR.join(shown)
        if hidden:
            line += f"{FIGURE_SEPARATOR}hidden: " + ", ".join(hidden)
        lines.append(line)
    if silent:
        lines.append(_hidden_rows_line(silent, k))
    return lines


def _table_blocks(
    table: Table, k: int, *, max_rows: int | None = None, title: str | None = None
) -> list[Block]:
    title = title or table.title
    if not table.rows:
        return [section(f"*{escape(title)}*\n_Nothing to show: no row has enough people behind it._")]
    shown = table if max_rows is None else Table(table.key, table.title, table.columns, table.rows[:max_rows])
    lines = flow_lines(shown, k) if table.key == "function_flow" else table_lines(shown, k)
    if not lines:
        lines = ["_No chats held between functions in this period._"]
    if max_rows is not None and len(table.rows) > max_rows:
        lines.append(f"_Top {max_rows} of {len(table.rows)}; the CSV export has them all._")
    blocks = text_sections(title, lines)
    if table.note:
        blocks.append(context(escape(table.note)))
    return blocks


def metric_line(metric: Metric) -> str:
    """ "*Chats held*: 7 — previous period: 3, change +4 (+133%)"."""
    now, before = escape(figure(metric.current)), escape(figure(metric.previous))
    line = f"*{escape(metric.label)}*: {now} — previous period: {before}"
    if metric.change != "–":
        line += f", change {escape(metric.change)}"
    return line


def _summary_blocks(summary: Summary) -> list[Block]:
    return [
        *text_sections("Summary", [metric_line(m) for m in summary.metrics]),
        context(
            escape(
                f"This period {summary.period.label}; previous period {summary.previous.label}. "
                "Rates and medians compare in percentage points and plain differences."
            )
        ),
    ]


TOPIC_LISTS = ("topics_searched", "topics_offered", "wanted_not_offered", "learnings_by_topic")
# Titles in Slack where the table's own (used by files) reads as a column heading.
SLACK_TITLES = {"function_flow": "Who learns from whom: chats held, by the learner's function"}


def report_message(
    report: Report, sections: Sequence[str] | None = None, charts: Sequence[str] = ()
) -> tuple[str, list[Block]]:
    """The report DM: (fallback text, blocks) for the chosen sections (all by default);
    `charts` are the titles of the charts that follow the message as pictures."""
    chosen = [s for s in SECTIONS if sections is None or s.key in sections]
    period = report.period
    k = report.min_group_size
    intro = escape(f"Compared with {report.summary.previous.label}. ") + (
        f"A figure about fewer than {k} people reads _{HIDDEN}_, and so does a figure that would "
        "let someone work it out (the next smallest in its row or column, a rate of a hidden count)."
    )
    blocks: list[Block] = [header(f"infochat report: {period.label}"), context(intro)]
    if charts:
        blocks.append(
            context("Charts follow as pictures: " + ", ".join(f"_{escape(t)}_" for t in charts) + ".")
        )
    for part in chosen:
        blocks.append(divider())
        for key in part.tables:
            if key == "summary":
                blocks += _summary_blocks(report.summary)
                continue
            blocks += _table_blocks(
                report.table(key),
                k,
                max_rows=SLACK_TOPIC_ROWS if key in TOPIC_LISTS else None,
                title=SLACK_TITLES.get(key),
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


def headline_field(metric: Metric) -> str:
    """One figure on one line, label first: "*Active learners*: 36 (+36)", "*Chats held*:
    147 (+10, +7%)"; no change when either period's figure is hidden or unknown."""
    text = f"*{escape(metric.label)}*: {escape(figure(metric.current))}"
    parts = metric.change_parts()
    if parts is not None:
        text += f" ({escape(', '.join(p for p in parts if p))})"
    return text


def admin_home_blocks(summary: Summary) -> list[Block]:
    """Headline figures and a button per report, appended to an admin's App Home."""
    blocks: list[Block] = [
        header("Programme reports"),
        context(
            escape(f"Last 4 weeks ({summary.period.label}) against the 4 before. ")
            + f"A figure about fewer than {summary.min_group_size} people reads _{HIDDEN}_."
        ),
        {"type": "section", "fields": [mrkdwn(headline_field(m)) for m in summary.metrics[:10]]},
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
