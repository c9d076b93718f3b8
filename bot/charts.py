"""PNG charts for reports, drawn with matplotlib from tables that are already suppressed.

Charts read only `Cell.visible`, so a suppressed figure can never reach an
image: a hidden bar or heatmap square is drawn as a grey "*" instead.
matplotlib is imported on first use (it takes a moment) and only its
object-oriented API is used (no pyplot global state); rendering is still
serialised by a lock because font caches and text layout are shared
between threads.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from bot.services.reports import SUPPRESSED, Report, Table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_LOCK = threading.Lock()
DPI = 110
HIDDEN_COLOUR = "#c8c8c8"
COLOURS = ("#1d3557", "#e63946", "#2a9d8f")


@dataclass(frozen=True)
class Chart:
    filename: str
    title: str
    data: bytes


def _text(value: str, limit: int = 28) -> str:
    # matplotlib reads $…$ as mathematics; topic names are people's text.
    shown = value if len(value) <= limit else value[: limit - 1] + "…"
    return shown.replace("$", r"\$")


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _footnote(fig: Figure, k: int) -> None:
    fig.text(
        0.01,
        0.005,
        f"{SUPPRESSED} hidden: fewer than {k} people, or hidden so that totals cannot reveal another cell",
        fontsize=7,
        color="#555555",
        ha="left",
        va="bottom",
    )


def trend_png(table: Table, k: int, subtitle: str = "") -> bytes:
    """Bars of chats held per week."""
    labels, values, hidden = [], [], []
    for week, cells in table.rows:
        day = date.fromisoformat(week)
        labels.append(f"{day.day} {day:%b}")
        visible = cells[0].visible
        values.append(visible or 0)
        hidden.append(visible is None)
    with _LOCK:
        fig = _figure(8, 4.2)
        ax = fig.add_subplot()
        x = list(range(len(labels)))
        ax.bar(x, values, color=[HIDDEN_COLOUR if h else COLOURS[0] for h in hidden])
        top = max(values, default=0) or 1
        for i, (value, h) in enumerate(zip(values, hidden, strict=True)):
            ax.annotate(
                SUPPRESSED if h else f"{value:,.0f}",
                (i, value),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=8,
            )
        ax.set_ylim(0, top * 1.15)
        ax.set_xticks(x, labels, rotation=45 if len(labels) > 12 else 0, fontsize=8)
        ax.set_ylabel("chats held")
        ax.set_title("Chats held per week" + (f" — {_text(subtitle, 60)}" if subtitle else ""), fontsize=11)
        ax.spines[["top", "right"]].set_visible(False)
        _footnote(fig, k)
        return _png(fig)


def heatmap_png(table: Table, k: int, subtitle: str = "") -> bytes:
    """The function × function matrix of chats held (rows learn from columns)."""
    import numpy as np

    rows = [label for label, _ in table.rows]
    cols = table.columns[1:]
    grid = np.ma.masked_all((len(rows), len(cols)))
    for i, (_, cells) in enumerate(table.rows):
        for j, cell in enumerate(cells):
            if cell.visible is not None:
                grid[i, j] = cell.visible
    with _LOCK:
        size = max(5.0, 0.55 * len(cols) + 3)
        fig = _figure(size + 1, size)
        ax = fig.add_subplot()
        from matplotlib import colormaps

        cmap = colormaps["Blues"].with_extremes(bad=HIDDEN_COLOUR)
        image = ax.imshow(grid, cmap=cmap, aspect="auto", vmin=0)
        fig.colorbar(image, ax=ax, shrink=0.7, label="chats held")
        peak = float(grid.max()) if grid.count() else 0.0
        for i in range(len(rows)):
            for j in range(len(cols)):
                masked = bool(np.ma.getmaskarray(grid)[i, j])
                value = 0.0 if masked else float(grid[i, j])
                ax.text(
                    j,
                    i,
                    SUPPRESSED if masked else f"{value:,.0f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if not masked and peak and value > 0.6 * peak else "black",
                )
        ax.set_xticks(range(len(cols)), [_text(c, 18) for c in cols], rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(rows)), [_text(r, 18) for r in rows], fontsize=8)
        ax.set_xlabel("expert's function (taught)")
        ax.set_ylabel("learner's function (learned)")
        ax.set_title("Who learns from whom" + (f" — {_text(subtitle, 60)}" if subtitle else ""), fontsize=11)
        _footnote(fig, k)
        return _png(fig)


def supply_demand_png(table: Table, k: int, subtitle: str = "") -> bytes:
    """Per topic: experts offering it against people searching for or wanting to learn it."""
    topics = [label for label, _ in table.rows][::-1]  # most wanted at the top
    series = table.columns[1:]
    rows = [cells for _, cells in table.rows][::-1]
    with _LOCK:
        fig = _figure(8, max(3.0, 0.5 * len(topics) + 1.6))
        if not topics:
            fig.text(0.5, 0.55, "Topic supply vs demand", ha="center", fontsize=11)
            fig.text(0.5, 0.4, f"No topic has {k} or more people behind it yet.", ha="center", fontsize=9)
            return _png(fig)
        ax = fig.add_subplot()
        height = 0.8 / max(len(series), 1)
        for s, name in enumerate(series):
            ys = [i + (s - (len(series) - 1) / 2) * height for i in range(len(topics))]
            values = [cells[s].visible for cells in rows]
            ax.barh(ys, [v or 0 for v in values], height=height, label=name, color=COLOURS[s % len(COLOURS)])
            for y, v in zip(ys, values, strict=True):
                if v is None:
                    ax.text(0, y, f" {SUPPRESSED}", va="center", ha="left", fontsize=7, color="#555555")
        ax.set_yticks(range(len(topics)), [_text(t) for t in topics], fontsize=8)
        ax.set_xlabel("people")
        ax.legend(fontsize=8, loc="lower right")
        ax.set_title(
            "Topic supply vs demand" + (f" — {_text(subtitle, 60)}" if subtitle else ""), fontsize=11
        )
        ax.spines[["top", "right"]].set_visible(False)
        _footnote(fig, k)
        return _png(fig)


CHARTS: dict[str, tuple[str, str, Any]] = {
    # table key -> (file stem, title, renderer)
    "chats_per_week": ("chats_per_week", "Chats held per week", trend_png),
    "function_flow": ("function_flow", "Who learns from whom (function × function)", heatmap_png),
    "topic_supply_demand": ("topic_supply_demand", "Topic supply vs demand", supply_demand_png),
}


def render(report: Report, keys: Sequence[str] | None = None) -> list[Chart]:
    """The report's charts as PNGs (all three unless `keys` names some tables)."""
    charts = []
    period = report.period
    for key, (stem, title, draw) in CHARTS.items():
        if keys is not None and key not in keys:
            continue
        data = draw(report.table(key), report.min_group_size, period.label)
        charts.append(
            Chart(f"infochat_{stem}_{period.first_day:%Y%m%d}-{period.last_day:%Y%m%d}.png", title, data)
        )
    return charts
