"""Cells and tables of a report, and the small-group suppression applied to them.

Every cell carries the size of the smallest group of people it describes
(`Cell.people`); a cell describing 1 to k-1 people (k = MIN_GROUP_SIZE) is
suppressed; zero describes nobody and is shown. Complementary suppression:
while a row or column of a table has exactly one suppressed cell, the
smallest visible cell of that line is suppressed too, so a total shown
elsewhere minus the visible cells cannot reveal it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Fmt = Literal["count", "percent", "number"]
SUPPRESSED = "*"


@dataclass
class Cell:
    """One figure and the size of the smallest group of people it describes.

    `text` holds a category instead of a number (e.g. "none"); such cells are
    never counts of people and take no part in suppression.
    """

    value: float | None
    people: int
    fmt: Fmt = "count"
    suppressed: bool = False
    text: str | None = None

    @property
    def visible(self) -> float | None:
        """The value as anyone may see it: None when suppressed or unknown."""
        return None if self.suppressed or self.text is not None else self.value

    def show(self) -> str:
        if self.text is not None:
            return self.text
        if self.suppressed:
            return SUPPRESSED
        if self.value is None:
            return "–"
        if self.fmt == "count":
            return f"{round(self.value):,}"
        if self.fmt == "percent":
            return f"{self.value:.0f}%"
        return f"{self.value:.1f}"

    def export(self) -> str | float | int | None:
        """The value for CSV/JSON: a number, the category text, or None when suppressed/unknown."""
        if self.text is not None:
            return self.text
        if self.suppressed or self.value is None:
            return None
        if self.fmt == "count":
            return round(self.value)
        return round(self.value, 1)


def count_cell(value: int, people: int | None = None) -> Cell:
    """A count; by default a count of people (so it describes `value` people)."""
    return Cell(float(value), value if people is None else people)


def rate_cell(part: int, whole: int, people: int) -> Cell:
    """A percentage of `whole`; unknown (shown "–") when there is nothing to divide."""
    return Cell(100.0 * part / whole if whole else None, people, fmt="percent")


Lines = Literal["both", "columns", "none"]


@dataclass
class Table:
    """A report table: `columns[0]` names the row labels; each row has len(columns)-1 cells."""

    key: str  # file name in exports
    title: str
    columns: list[str]
    rows: list[tuple[str, list[Cell]]]
    note: str = ""
    # Which lines complementary suppression protects. Topic lists are "columns":
    # their cells across a row are different measures of one topic, not parts of a whole.
    lines: Lines = "both"

    def cell(self, row: str, column: str) -> Cell:
        index = self.columns.index(column) - 1
        return next(cells[index] for label, cells in self.rows if label == row)


def suppress_cells(grid: Sequence[Sequence[Cell]], k: int, lines: Lines = "both") -> None:
    """Primary suppression (1..k-1 people), then complementary suppression per row/column.

    While any line has exactly one suppressed cell, the smallest visible
    numeric cell of that line is suppressed as well: with two unknowns a line
    total (or a figure shown elsewhere) minus the visible cells no longer
    reveals either. Repeats until stable, since each new suppression can leave
    another line with a single hidden cell.
    """
    for row in grid:
        for cell in row:
            if cell.text is None and cell.value is not None and 0 < cell.people < k:
                cell.suppressed = True
    if lines == "none":
        return
    width = max((len(row) for row in grid), default=0)
    all_lines: list[list[Cell]] = []
    if lines == "both":
        all_lines += [list(row) for row in grid]
    all_lines += [[row[i] for row in grid if i < len(row)] for i in range(width)]
    changed = True
    while changed:
        changed = False
        for line in all_lines:
            numeric = [c for c in line if c.text is None and c.value is not None]
            if sum(c.suppressed for c in numeric) != 1:
                continue
            visible = [c for c in numeric if not c.suppressed]
            if visible:
                min(visible, key=lambda c: (c.value or 0.0, c.people)).suppressed = True
                changed = True


def suppress_table(table: Table, k: int) -> Table:
    suppress_cells([cells for _, cells in table.rows], k, table.lines)
    return table


def privacy_rules(k: int) -> str:
    return (
        f"Privacy: every figure is an aggregate. A cell describing fewer than {k} people shows "
        f"{SUPPRESSED}, and when one cell of a row or column is hidden the next smallest is hidden "
        "too, so subtraction cannot reveal it. Topics are listed only when at least "
        f"{k} people stand behind them. No report shows anyone's participation, ratings or "
        "takeaways: takeaways appear only as counts and shared topics, and private takeaways "
        "only in the overall count. Every view and export is recorded in the audit log."
    )
