"""PNG charts for reports, drawn with matplotlib from tables that are already suppressed.

Charts read only `Cell.visible`, so a suppressed figure can never reach an
image: a hidden bar or heatmap square is drawn hatched (the legend says
"hidden: fewer than k people"), never as a number and never as zero.

Sized for Slack's ~360 px previews: figures are 5 in wide with no text under
9 pt, so at 360 px one point of type is one pixel (the 40-function heatmap is
wider and reads when opened). Each figure is a stack: a header (title, the
period drawn, legend) and a footer (notes) placed at measured heights, and the
plot between them laid out by matplotlib's constrained layout, so titles,
legends and footnotes can never overlap the axes or each other. A chart with
nothing to draw (no data, every cell hidden) is a small image that says so,
so a report always uploads the same files.

matplotlib is imported on first draw (it takes a moment and ~30 MB that an idle
server does not need); only its object-oriented API is used (no pyplot global
state), and drawing is still serialised by a lock because font caches and text
layout are shared between threads.
"""

from __future__ import annotations

import io
import math
import textwrap
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from bot.services.reports import Period, Report, Table

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.text import Text

_LOCK = threading.Lock()
DPI = 144
WIDTH = 5.0  # inches: 360 px previews show 72 px per inch, 1 px per point
MARGIN = 0.1  # inches around the header and footer
TITLE_PT, SUBTITLE_PT, TEXT_PT = 12.0, 10.0, 9.0
# Okabe–Ito: distinguishable with every common colour-vision deficiency.
SERIES = ("#0072B2", "#E69F00", "#009E73")
CONTEXT = "#a6c8e0"  # weeks before the report's period, shown for comparison
TEXT_GREY = "#444444"
HIDDEN_FACE, HIDDEN_HATCH = "#f2f2f2", "#8a8a8a"
# One hue, white at zero to dark blue at the maximum (ColorBrewer Blues with a white end).
HEAT = ("#ffffff", "#deebf7", "#9ecae1", "#4292c6", "#2171b5", "#08306b")


@dataclass(frozen=True)
class Chart:
    filename: str
    title: str
    data: bytes


def hidden_label(k: int) -> str:
    return f"hidden: fewer than {k} people"


def hidden_note() -> str:
    return "Some larger figures are hidden too, so no total reveals a hidden one."


def _text(value: str, limit: int = 28) -> str:
    # matplotlib reads $…$ as mathematics; topic names are people's text.
    shown = value if len(value) <= limit else value[: limit - 1] + "…"
    return shown.replace("$", r"\$")


def _count(value: float) -> str:
    return f"{round(value):,}"


def _span(first: date, last: date) -> str:
    return Period(first, last).label if first <= last else last.isoformat()


# -- the frame: header, plot, footer --------------------------------------------------------------


class Frame:
    """A figure built top-down: header lines and a legend, a plot area, footer notes.

    Header and footer are placed in inches from the figure's top and bottom
    edges and measured as they are added; `finish` sizes the figure to hold
    them plus `plot_height` inches, and gives constrained layout only the area
    between them.
    """

    def __init__(self, width: float = WIDTH) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.width = width
        self.fig = Figure(figsize=(width, 4.0), dpi=DPI, layout="constrained")
        FigureCanvasAgg(self.fig)
        self.top = MARGIN
        self.bottom = MARGIN
        self.footers: list[Text] = []

    def _measure(self, artist: Any) -> tuple[float, float]:
        box = artist.get_window_extent(self.fig.canvas.get_renderer())
        return box.width / DPI, box.height / DPI

    def _wrapped(self, text: str, size: float, **style: Any) -> Text:
        """A text at the top left, wrapped so that it fits the width (measured, not guessed)."""
        room = self.width - 2 * MARGIN
        chars = max(12, int(room * 72 / (0.52 * size)))
        while True:
            shown = "\n".join(textwrap.wrap(text, chars)) or text
            artist = self.fig.text(0, 1, shown, fontsize=size, ha="left", **style)
            if self._measure(artist)[0] <= room or chars <= 12:
                return artist
            artist.remove()
            chars -= 4

    def header(self, text: str, size: float, **style: Any) -> None:
        from matplotlib.transforms import offset_copy

        artist = self._wrapped(text, size, va="top", **style)
        artist.set_transform(offset_copy(self.fig.transFigure, self.fig, MARGIN, -self.top, units="inches"))
        self.top += self._measure(artist)[1] + 0.04

    def legend(self, handles: Sequence[Any]) -> None:
        """A legend under the titles, above the plot: never over the data."""
        from matplotlib.transforms import offset_copy

        if not handles:
            return
        for columns in range(len(handles), 0, -1):
            legend = self.fig.legend(
                handles=list(handles),
                loc="upper left",
                bbox_to_anchor=(0, 1),
                bbox_transform=offset_copy(self.fig.transFigure, self.fig, MARGIN, -self.top, units="inches"),
                ncols=columns,
                fontsize=TEXT_PT,
                frameon=False,
                borderaxespad=0,
                borderpad=0.2,
                handlelength=1.6,
                columnspacing=1.2,
            )
            if self._measure(legend)[0] <= self.width - 2 * MARGIN or columns == 1:
                break
            legend.remove()
        self.top += self._measure(legend)[1] + 0.06

    def footer(self, text: str) -> None:
        artist = self._wrapped(text, TEXT_PT, va="bottom", color=TEXT_GREY)
        self.footers.append(artist)

    def finish(self, plot_height: float) -> Figure:
        """Size the figure and lay out the plot between header and footer."""
        from matplotlib.transforms import offset_copy

        bottom = MARGIN
        for artist in reversed(self.footers):
            artist.set_position((0, 0))
            artist.set_transform(offset_copy(self.fig.transFigure, self.fig, MARGIN, bottom, units="inches"))
            bottom += self._measure(artist)[1] + 0.03
        self.bottom = bottom + (0.06 if self.footers else 0)
        height = self.top + plot_height + self.bottom
        self.fig.set_size_inches(self.width, height)
        engine = self.fig.get_layout_engine()
        assert engine is not None
        engine.set(rect=(0.0, self.bottom / height, 1.0, plot_height / height), w_pad=MARGIN, h_pad=0.04)
        return self.fig


def _titled(title: str, subtitle: str, width: float = WIDTH) -> Frame:
    frame = Frame(width)
    frame.header(title, TITLE_PT, fontweight="bold")
    frame.header(subtitle, SUBTITLE_PT, color=TEXT_GREY)
    return frame


def sentence_figure(title: str, subtitle: str, sentence: str) -> Figure:
    """A small image that says in words why there is no chart."""
    frame = _titled(title, subtitle)
    frame.header(sentence, 11.0)
    return frame.finish(0.0)


def _hidden_patch(k: int) -> Any:
    from matplotlib.patches import Patch

    return Patch(
        facecolor=HIDDEN_FACE, edgecolor=HIDDEN_HATCH, hatch="////", linewidth=0, label=hidden_label(k)
    )


def _hidden_box(ax: Axes, x: float, y: float, w: float, h: float, transform: Any = None) -> None:
    from matplotlib.patches import Rectangle

    box = Rectangle(
        (x, y),
        w,
        h,
        facecolor=HIDDEN_FACE,
        edgecolor=HIDDEN_HATCH,
        hatch="////",
        linewidth=0,
        transform=transform or ax.transData,
        gid="hidden",
    )
    ax.add_patch(box)


def _count_locator() -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=5, steps=[1, 2, 5, 10], integer=True, min_n_ticks=2)


def _count_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _pos: _count(value))


def _count_axis(axis: Any, peak: float, headroom: float = 1.0) -> float:
    """Integer ticks from 0 to a round number at or above `peak * headroom`; returns the top."""
    ticks = [t for t in _count_locator().tick_values(0, max(peak * headroom, 1)) if t >= 0]
    axis.set_major_locator(_count_locator())
    axis.set_major_formatter(_count_formatter())
    return float(max(ticks[-1], 1))


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


# -- chats held per week --------------------------------------------------------------------------


def _week_ticks(mondays: list[date], room: float) -> list[tuple[int, str]]:
    """Tick every 1, 2, 4… weeks, counting back from the latest, with the year where it changes."""
    most = max(1, int(room / 0.52))
    step = next(s for s in (1, 2, 4, 8, 13, 26, 52, 104, 10**6) if math.ceil(len(mondays) / s) <= most)
    chosen = sorted(range(len(mondays) - 1, -1, -step))
    ticks, year = [], None
    for i in chosen:
        day = mondays[i]
        label = f"{day.day} {day:%b}"
        if day.year != year:
            label += f"\n{day.year}"
            year = day.year
        ticks.append((i, label))
    return ticks


def trend_figure(table: Table, period: Period, k: int) -> Figure:
    """Bars of chats held per week; weeks before the report's period lighter; hidden weeks hatched."""
    title = "Chats held per week"
    mondays = [date.fromisoformat(label) for label, _ in table.rows]
    values = [cells[0].visible for _, cells in table.rows]
    if not mondays:
        return sentence_figure(title, period.label, "No weeks to show.")
    drawn = _span(mondays[0], period.last_day)
    if all(v is None for v in values):
        return sentence_figure(title, drawn, f"Every week is hidden (fewer than {k} people each).")
    if not any(values) and None not in values:
        return sentence_figure(title, drawn, "No chats were held in these weeks.")
    before = [m + timedelta(days=6) < period.first_day for m in mondays]
    frame = _titled(title, drawn)
    handles = _trend_handles(before, values, period, k)
    frame.legend(handles)
    if mondays[0] > period.first_day:
        frame.footer(f"The last {len(mondays)} weeks of the report's period ({period.label}).")
    if mondays[-1] + timedelta(days=6) > period.last_day:
        frame.footer(
            f"Weeks start on Monday; the last one ends on {period.last_day.day} {period.last_day:%b}."
        )
    if None in values:
        frame.footer(hidden_note())
    ax = frame.fig.add_subplot()
    _trend_bars(ax, values, before, frame.width)
    ticks = _week_ticks(mondays, frame.width - 0.8)
    ax.set_xticks([i for i, _ in ticks], [label for _, label in ticks], fontsize=TEXT_PT)
    ax.set_xlim(-0.6, len(mondays) - 0.4)
    ax.set_ylabel("chats held", fontsize=TEXT_PT)
    ax.set_xlabel("week starting", fontsize=TEXT_PT)
    ax.tick_params(labelsize=TEXT_PT)
    ax.spines[["top", "right"]].set_visible(False)
    return frame.finish(2.6)


def _trend_handles(before: list[bool], values: list[float | None], period: Period, k: int) -> list[Any]:
    from matplotlib.patches import Patch

    handles: list[Any] = []
    if any(before):
        handles.append(Patch(color=SERIES[0], label=f"report period ({period.label})"))
        handles.append(Patch(color=CONTEXT, label="earlier weeks, for comparison"))
    if None in values:
        handles.append(_hidden_patch(k))
    return handles


def _trend_bars(ax: Axes, values: list[float | None], before: list[bool], width: float) -> None:
    peak = max((v for v in values if v is not None), default=0.0)
    pitch = (width - 1.0) / max(len(values), 1)  # inches per week, roughly
    labelled = len(values) <= 16 and 0.55 * TEXT_PT * len(_count(peak)) / 72 < 0.9 * pitch
    top = _count_axis(ax.yaxis, peak, 1.15 if labelled else 1.0)
    ax.set_ylim(0, top)
    for i, value in enumerate(values):
        if value is None:
            _hidden_box(ax, i - 0.4, 0, 0.8, top)
            continue
        ax.bar(i, value, width=0.8, color=CONTEXT if before[i] else SERIES[0])
        if labelled:
            ax.annotate(
                _count(value),
                (i, value),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=TEXT_PT,
            )


# -- who learns from whom -------------------------------------------------------------------------


HEAT_EXTRA = 1.5  # inches beside the grid: row labels' axis title, colour bar, margins


def _labels(names: Sequence[str], limit: int = 18) -> list[str]:
    """Shortened labels that stay distinct: cut at the end, or in the middle when that collides."""
    cut = [_text(n, limit) for n in names]
    if len(set(cut)) == len(set(names)):
        return cut
    head = limit // 2 - 1
    return [
        _text(n, limit) if len(n) <= limit else _text(n[:head] + "…" + n[head + 1 - limit :], limit + 1)
        for n in names
    ]


def flow_figure(table: Table, period: Period, k: int) -> Figure:
    """The function × function matrix of chats held: white at 0, darker with more, hidden hatched."""
    title = "Who learns from whom"
    rows, cols = _labels([label for label, _ in table.rows]), _labels(table.columns[1:])
    values = [[c.visible for c in cells] for _, cells in table.rows]
    flat = [v for line in values for v in line]
    if not rows or not cols:
        return sentence_figure(title, period.label, "No functions to show.")
    if all(v is None for v in flat):
        return sentence_figure(title, period.label, f"Every cell is hidden (fewer than {k} people each).")
    if not any(flat) and None not in flat:
        return sentence_figure(title, period.label, "No chats were held in this period.")
    peak = max((v for v in flat if v is not None), default=0.0)
    n = max(len(rows), len(cols))
    label_in = 0.6 * TEXT_PT * max(len(label) for label in [*rows, *cols]) / 72
    room = (WIDTH - label_in - HEAT_EXTRA) / n  # the cell size that keeps the figure 5 in wide
    cell = max(0.34, 0.6 * TEXT_PT * len(_count(peak)) / 72 + 0.12)  # the number fits
    cell = max(cell, min(0.95, room), 1.3 / n)  # small grids fill the width; one row still fits its label
    frame = _titled(title, period.label, max(WIDTH, len(cols) * cell + label_in + HEAT_EXTRA))
    if None in flat:
        frame.legend([_hidden_patch(k)])
        frame.footer(hidden_note())
    frame.footer(
        "Each row: chats in which that function learned from the column's experts. "
        "A weekly pairing counts both ways."
    )
    ax = frame.fig.add_subplot()
    _heat_cells(frame.fig, ax, values, peak, cell)
    upright = len(cols) == 1 or label_in <= cell - 0.05
    ax.set_xticks(range(len(cols)), cols, fontsize=TEXT_PT, rotation=0 if upright else 90)
    ax.set_yticks(range(len(rows)), rows, fontsize=TEXT_PT)
    ax.set_xlabel("expert's function", fontsize=TEXT_PT)
    ax.set_ylabel("learner's function", fontsize=TEXT_PT)
    ax.tick_params(length=0)
    return frame.finish(len(rows) * cell + (0.3 if upright else label_in + 0.1) + 0.35)


def _heat_colours(peak: float) -> tuple[Callable[[float], Any], Any]:
    """(colour of a count, the colour bar's map): zero white, one already tinted, the peak darkest."""
    from matplotlib.colors import LinearSegmentedColormap, ListedColormap

    shades = LinearSegmentedColormap.from_list("blues", HEAT[1:])
    floor = 0.02  # where the bar's white ends and the lightest tint begins

    def colour(value: float) -> Any:
        return (1.0, 1.0, 1.0, 1.0) if value == 0 else shades(value / max(peak, 1))

    white = round(floor * 256)
    lut = [HEAT[0]] * white + [shades(i / (255 - white)) for i in range(256 - white)]
    return colour, ListedColormap(lut, "white_blues")


def _heat_cells(fig: Figure, ax: Axes, values: list[list[float | None]], peak: float, cell: float) -> None:
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    colour, bar_map = _heat_colours(peak)
    clear = (0.0, 0.0, 0.0, 0.0)
    ax.imshow([[clear if v is None else colour(v) for v in line] for line in values], aspect="equal")
    # The colour bar hangs off the grid itself (not the space around it), as tall as the grid.
    grid_in = cell * len(values[0])
    cax = ax.inset_axes((1 + 0.12 / grid_in, 0, 0.14 / grid_in, 1))
    bar = fig.colorbar(ScalarMappable(Normalize(0, max(peak, 1)), bar_map), cax=cax)
    bar.set_label("chats held", fontsize=TEXT_PT)
    bar.locator = _count_locator()
    bar.formatter = _count_formatter()
    bar.update_ticks()
    bar.ax.tick_params(labelsize=TEXT_PT)
    fits = 0.6 * TEXT_PT * len(_count(peak)) / 72 <= cell - 0.06
    for i, line in enumerate(values):
        for j, value in enumerate(line):
            if value is None:
                _hidden_box(ax, j - 0.5, i - 0.5, 1.0, 1.0)
            elif fits:
                dark = value / max(peak, 1) > 0.55
                ax.text(
                    j,
                    i,
                    _count(value),
                    ha="center",
                    va="center",
                    fontsize=TEXT_PT,
                    color="white" if dark else "black",
                )
    # Thin lines between cells, so that white (zero) cells stay visible squares.
    ax.set_xticks([x - 0.5 for x in range(len(values[0]) + 1)], minor=True)
    ax.set_yticks([y - 0.5 for y in range(len(values) + 1)], minor=True)
    ax.grid(which="minor", color="#d0d0d0", linewidth=0.6)
    ax.tick_params(which="minor", length=0)


# -- topic supply vs demand -----------------------------------------------------------------------


def supply_demand_figure(table: Table, period: Period, k: int) -> Figure:
    """Per topic: experts offering it against people searching for it and wanting to learn it."""
    title = "Topic supply vs demand"
    topics = [label for label, _ in table.rows]
    series = table.columns[1:]
    values = [[c.visible for c in cells] for _, cells in table.rows]
    flat = [v for line in values for v in line]
    if not topics:
        return sentence_figure(
            title, period.label, f"No topic has {k} or more people behind it in this period."
        )
    if all(v is None for v in flat):
        return sentence_figure(title, period.label, f"Every figure is hidden (fewer than {k} people each).")
    from matplotlib.patches import Patch

    frame = _titled(title, period.label)
    handles = [Patch(color=SERIES[s % len(SERIES)], label=name) for s, name in enumerate(series)]
    if None in flat:
        handles.append(_hidden_patch(k))
    frame.legend(handles)
    frame.footer(f"The topics most in demand; listed when {k}+ people stand behind a figure.")
    if None in flat:
        frame.footer(hidden_note())
    ax = frame.fig.add_subplot()
    _topic_bars(ax, values, frame.width)
    ax.set_yticks(range(len(topics)), _labels(topics, 28), fontsize=TEXT_PT)
    ax.set_ylim(len(topics) - 0.5, -0.5)  # most wanted at the top
    ax.set_xlabel("people", fontsize=TEXT_PT)
    ax.tick_params(labelsize=TEXT_PT)
    ax.tick_params(axis="y", length=0)
    ax.spines[["top", "right"]].set_visible(False)
    return frame.finish(0.55 * len(topics) + 0.55)


def _topic_bars(ax: Axes, values: list[list[float | None]], width: float) -> None:
    peak = max((v for line in values for v in line if v is not None), default=0.0)
    plot_in = width - 2.4  # roughly what the topic labels leave
    label_in = 0.6 * TEXT_PT * (len(_count(peak)) + 1) / 72
    top = _count_axis(ax.xaxis, peak, 1 + label_in / max(plot_in - label_in, 0.5))
    ax.set_xlim(0, top)
    height = 0.8 / max(len(values[0]), 1)
    for i, line in enumerate(values):
        for s, value in enumerate(line):
            y = i + (s - (len(line) - 1) / 2) * height
            if value is None:
                # A fixed-size hatched mark at the start: there is a figure, and it is hidden.
                _hidden_box(ax, 0, y - height / 2, 0.06 * top, height)
                continue
            ax.barh(y, value, height=height, color=SERIES[s % len(SERIES)])
            ax.annotate(
                _count(value),
                (value, y),
                xytext=(2, 0),
                textcoords="offset points",
                ha="left",
                va="center",
                fontsize=TEXT_PT,
            )


# -- the report's charts --------------------------------------------------------------------------

Draw = Callable[[Table, Period, int], "Figure"]

CHARTS: dict[str, tuple[str, str, Draw]] = {
    # table key -> (file stem, title, drawing)
    "chats_per_week": ("chats_per_week", "Chats held per week", trend_figure),
    "function_flow": ("function_flow", "Who learns from whom (function × function)", flow_figure),
    "topic_supply_demand": ("topic_supply_demand", "Topic supply vs demand", supply_demand_figure),
}


def draw(report: Report, key: str) -> Figure:
    """One chart of the report as a matplotlib Figure (for tests and renderers)."""
    _, _, drawing = CHARTS[key]
    with _LOCK:
        return drawing(report.table(key), report.period, report.min_group_size)


def render(report: Report, keys: Sequence[str] | None = None) -> list[Chart]:
    """The report's charts as PNGs (all three unless `keys` names some tables).

    Always one file per chart asked for: a chart with nothing to draw is an
    image that says why, so every report uploads the same set of files.
    """
    charts = []
    period = report.period
    for key, (stem, title, drawing) in CHARTS.items():
        if keys is not None and key not in keys:
            continue
        with _LOCK:
            data = _png(drawing(report.table(key), period, report.min_group_size))
        charts.append(
            Chart(f"infochat_{stem}_{period.first_day:%Y%m%d}-{period.last_day:%Y%m%d}.png", title, data)
        )
    return charts
