"""Cells and tables of a report, and the small-group suppression applied to them.

Every cell carries the size of the smallest group of people it describes
(`Cell.people`); a cell describing 1 to k-1 people (k = MIN_GROUP_SIZE) is
suppressed; zero describes nobody and is shown. Complementary suppression:
while a row or column of a table has exactly one suppressed cell, the
smallest visible cell of that line is suppressed too, so a total shown
elsewhere minus the visible cells cannot reveal it. A derived cell (a rate, or
a subset of a row's group such as a function's experts among its members) names
the cells it is made of in `depends_on` and is hidden whenever one of them is:
a rate never stands beside the hidden count it divides, nor reveals a small
numerator through a visible denominator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
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
    # The cells this one is derived from (a rate's numerator and denominator, a subset's
    # group): hidden when any of them is. They need not be shown anywhere themselves.
    depends_on: tuple[Cell, ...] = field(default=(), compare=False, repr=False)

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


def rate_cell(part: int, whole: int, people: int, *, part_people: int | None = None) -> Cell:
    """A percentage of `whole` (describing `people`); unknown (shown "–") when there is
    nothing to divide. It is hidden when its denominator is, and when its numerator
    describes 1..k-1 people (`part_people`; by default `part` itself, exact when the
    part counts people)."""
    numerator = count_cell(part, part if part_people is None else part_people)
    denominator = count_cell(whole, people)
    return Cell(
        100.0 * part / whole if whole else None, people, fmt="percent", depends_on=(numerator, denominator)
    )


def part_of(cell: Cell, *groups: Cell) -> Cell:
    """`cell`, hidden whenever one of `groups` (the group it is a part of) is hidden."""
    cell.depends_on = (*cell.depends_on, *groups)
    return cell


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
    reveals either. A cell whose `depends_on` holds a hidden cell is hidden too.
    Repeats until stable, since each new suppression can leave another line with
    a single hidden cell, or hide a cell another depends on.
    """
    cells = [cell for row in grid for cell in row]
    for cell in _with_parts(cells):
        if cell.text is None and cell.value is not None and 0 < cell.people < k:
            cell.suppressed = True
    width = max((len(row) for row in grid), default=0)
    all_lines: list[list[Cell]] = []
    if lines == "both":
        all_lines += [list(row) for row in grid]
    if lines != "none":
        all_lines += [[row[i] for row in grid if i < len(row)] for i in range(width)]
    changed = True
    while changed:
        changed = _hide_dependents(cells)
        for line in all_lines:
            numeric = [c for c in line if c.text is None and c.value is not None]
            if sum(c.suppressed for c in numeric) != 1:
                continue
            visible = [c for c in numeric if not c.suppressed]
            if visible:
                # On a tie, a part (a cell with depends_on) rather than the group it belongs
                # to: hiding a function's members would hide its whole row.
                min(visible, key=lambda c: (c.value or 0.0, c.people, not c.depends_on)).suppressed = True
                changed = True


def _with_parts(cells: Sequence[Cell]) -> list[Cell]:
    """The cells and everything they depend on, each once."""
    seen: dict[int, Cell] = {}
    todo = list(cells)
    while todo:
        cell = todo.pop()
        if id(cell) not in seen:
            seen[id(cell)] = cell
            todo += cell.depends_on
    return list(seen.values())


def _hide_dependents(cells: Sequence[Cell]) -> bool:
    """Hide every cell that depends (at any depth) on a hidden one; True if any changed."""
    changed = False
    for cell in _with_parts(cells):
        if not cell.suppressed and _hides(cell, set()):
            cell.suppressed = True
            changed = True
    return changed


def _hides(cell: Cell, seen: set[int]) -> bool:
    for part in cell.depends_on:
        if id(part) in seen:
            continue
        seen.add(id(part))
        if part.suppressed or _hides(part, seen):
            return True
    return False


def suppress_table(table: Table, k: int) -> Table:
    suppress_cells([cells for _, cells in table.rows], k, table.lines)
    return table


def privacy_rules(k: int) -> str:
    return (
        f"Privacy: every figure is an aggregate. A cell describing fewer than {k} people is "
        f"hidden ({SUPPRESSED} in tables and files), and when one cell of a row or column is hidden the next "
        "smallest is hidden too, so subtraction cannot reveal it; a rate is hidden when its "
        "numerator or denominator is, and a function's figures are hidden with the group they "
        f"count. Topics are listed only when at least {k} people stand behind them. No report "
        "shows anyone's participation, ratings or "
        "takeaways: takeaways appear only as counts and shared topics, and private takeaways "
        "only in the overall count. Every view and export is recorded in the audit log."
    )
