"""The report's PNG charts, drawn for every shape of data and checked from matplotlib's own layout.

Each chart is drawn from plain report data (the Table, Cell and Period types of
bot/services/reports, suppressed by the report's own rules) for each shape:
no data, everything hidden, one week, two years of weeks, 3 and 40 functions,
one huge topic with a long tail, and a mix like the demo's. After
`fig.canvas.draw()` the tests read the layout matplotlib computed: no two
texts overlap, nothing leaves the figure, legends and notes stay off the plot,
count axes have integer ticks from 0, hidden cells are hatched and carry no
number, zero cells are white (read back from the pixels).

The PNGs are kept for people to look at: under INFOCHAT_ARTIFACTS/charts when
that is set (`INFOCHAT_ARTIFACTS=artifacts pytest tests/test_charts.py`), else
in pytest's tmp_path.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from bot import charts
from bot.services.reports import (
    Cell,
    Period,
    Report,
    Summary,
    Table,
    count_cell,
    suppress_table,
    week_starts,
)

K = 5
NOW = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)
TODAY = NOW.date()
FOUR_WEEKS = Period(TODAY - timedelta(days=27), TODAY)  # 7 Nov – 4 Dec 2026
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
WHITE = (255, 255, 255)
FUNCTIONS = ["Design", "Engineering", "Finance", "People", "Product", "Sales"]
TOPICS = ["Accessibility", "Cold outreach", "Feedback", "Compensation", "Kubernetes", "Onboarding"]

# (value, people): people < K is hidden; the report's rules also hide complements.
Figures = list[tuple[int, int]]


def _counts(values: list[int]) -> Figures:
    return [(v, v) for v in values]


def trend(period: Period, figures: Figures, mondays: list[date] | None = None) -> Table:
    mondays = mondays or week_starts(period)
    assert len(mondays) == len(figures)
    rows = [(m.isoformat(), [count_cell(v, p)]) for m, (v, p) in zip(mondays, figures, strict=True)]
    return suppress_table(
        Table("chats_per_week", "Chats held per week", ["week starting", "chats held"], rows), K
    )


def flow(functions: list[str], grid: list[Figures]) -> Table:
    rows = [(f, [count_cell(v, p) for v, p in line]) for f, line in zip(functions, grid, strict=True)]
    return suppress_table(Table("function_flow", "Chats held", ["learner's function", *functions], rows), K)


def supply(topics: list[tuple[str, Figures]]) -> Table:
    rows = [(name, [count_cell(v, p) for v, p in figures]) for name, figures in topics]
    columns = ["topic", "experts offering", "people searching", "people wanting to learn"]
    return suppress_table(
        Table("topic_supply_demand", "Topic supply vs demand", columns, rows, lines="columns"), K
    )


def report(period: Period, *tables: Table) -> Report:
    summary = Summary(period, period, [], K, NOW)
    return Report(summary, list(tables), K, NOW)


# -- the shapes ---------------------------------------------------------------------------------------


def _square(n: int, value: Callable[[int, int], tuple[int, int]]) -> list[Figures]:
    return [[value(i, j) for j in range(n)] for i in range(n)]


def no_data() -> Report:
    return report(
        FOUR_WEEKS,
        trend(FOUR_WEEKS, _counts([0] * 8)),
        flow(FUNCTIONS, _square(6, lambda i, j: (0, 0))),
        supply([]),
    )


def all_hidden() -> Report:
    return report(
        FOUR_WEEKS,
        trend(FOUR_WEEKS, _counts([3, 1, 4, 1, 2, 3, 2, 4])),
        flow(FUNCTIONS, _square(6, lambda i, j: (1 + (i + j) % 4, 1 + (i + j) % 4))),
        supply([(t, _counts([2, 3, 4])) for t in TOPICS[:3]]),
    )


def one_week() -> Report:
    """A one-week report: the trend has that week and seven before it for comparison."""
    period = Period(date(2026, 11, 30), TODAY)
    return report(
        period,
        trend(period, _counts([12, 0, 9, 15, 30, 22, 17, 8])),
        flow(FUNCTIONS[:3], [[(0, 0), (6, 5), (2, 2)], [(7, 6), (0, 0), (5, 5)], [(3, 2), (9, 8), (0, 0)]]),
        supply([("Kubernetes", _counts([5, 0, 7]))]),
    )


def one_row() -> Report:
    """Nothing but one week (the chart copes with a table of one row)."""
    period = Period(date(2026, 11, 30), TODAY)
    return report(
        period,
        trend(period, _counts([7]), [date(2026, 11, 30)]),
        flow(FUNCTIONS[:1], [[(6, 6)]]),
        supply([("Kubernetes", _counts([5, 6, 7]))]),
    )


def two_years() -> Report:
    period = Period(date(2024, 12, 5), TODAY)
    mondays = [date(2024, 12, 2) + timedelta(weeks=i) for i in range(105)]
    figures = [(20 + (i * 37) % 90, 20 + (i * 37) % 90) for i in range(105)]
    figures[10] = figures[60] = (3, 3)  # two hidden weeks (and their complements)
    return report(
        period,
        trend(period, figures, mondays),
        flow(FUNCTIONS, _square(6, lambda i, j: (0, 0) if i == j else (40 * (i + 1) + 13 * j, 30))),
        supply([(t, _counts([300 - 40 * n, 500 - 60 * n, 800 - 90 * n])) for n, t in enumerate(TOPICS)]),
    )


def three_functions() -> Report:
    names = ["Engineering", "People", "Sales"]
    return report(
        FOUR_WEEKS,
        trend(FOUR_WEEKS, _counts([4, 9, 12, 0, 15, 22, 18, 11])),
        flow(names, [[(0, 0), (8, 6), (25, 12)], [(14, 9), (3, 3), (6, 5)], [(31, 20), (5, 5), (0, 0)]]),
        supply([(t, _counts([12, 3, 18])) for t in TOPICS[:3]]),
    )


def forty_functions() -> Report:
    names = [
        f"{w} {n}" for n, w in enumerate(["Customer Success Operations", "Sales", "R&D", "Finance $"] * 10)
    ]

    def cell(i: int, j: int) -> tuple[int, int]:
        value = (i * 7 + j * 3) % 23
        if value < 4:
            return (0, 0)
        return (value * 4, value - 3 if value < 8 else value)  # hidden (1-4 people) or shown

    return report(
        FOUR_WEEKS,
        trend(FOUR_WEEKS, _counts([120, 140, 95, 130, 160, 150, 155, 40])),
        flow(names, _square(40, cell)),
        supply(
            [(f"{t} and more, a long topic name {n}", _counts([9, 14, 30])) for n, t in enumerate(TOPICS * 2)]
        ),
    )


def long_tail() -> Report:
    topics = [("Kubernetes", _counts([4200, 12500, 9100]))]
    topics += [
        (f"Tail topic {n}", [(5 + n % 5, 5 + n % 5), (n % 4, n % 4), (6 + n, 6 + n)]) for n in range(11)
    ]
    huge_week = _counts([8, 9, 7, 2400, 11, 6, 10, 9])
    return report(
        FOUR_WEEKS,
        trend(FOUR_WEEKS, huge_week),
        flow(FUNCTIONS, _square(6, lambda i, j: (1850, 400) if (i, j) == (1, 0) else (5 + i + j, 5))),
        supply(topics),
    )


def demo_like() -> Report:
    """Roughly what `infochat demo` reports: some weeks and many cells hidden."""
    return report(
        FOUR_WEEKS,
        trend(FOUR_WEEKS, [(36, 20), (20, 12), (12, 9), (28, 15), (35, 18), (22, 14), (3, 3), (2, 2)]),
        flow(
            FUNCTIONS,
            _square(6, lambda i, j: (0, 0) if i == j else ((7, 6) if (i + j) % 3 == 0 else (2, 2))),
        ),
        supply([(t, [(20 + n, 20 + n), (n % 3, n % 3), (30 - n, 30 - n)]) for n, t in enumerate(TOPICS * 2)]),
    )


SHAPES: dict[str, Callable[[], Report]] = {
    "no_data": no_data,
    "all_hidden": all_hidden,
    "one_week": one_week,
    "one_row": one_row,
    "two_years": two_years,
    "three_functions": three_functions,
    "forty_functions": forty_functions,
    "long_tail": long_tail,
    "demo_like": demo_like,
}


# -- reading the layout ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = os.environ.get("INFOCHAT_ARTIFACTS")
    folder = Path(base) / "charts" if base else tmp_path_factory.mktemp("charts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Drawn:
    fig: Figure
    table: Table
    report: Report
    pixels: np.ndarray  # rows top to bottom, RGB

    def px(self, ax: Axes, x: float, y: float, up: int = 0) -> tuple[int, ...]:
        """The colour at data point (x, y) of `ax`, or `up` pixels above it."""
        dx, dy = ax.transData.transform((x, y))
        row = round(self.fig.bbox.height - dy) - up
        return tuple(int(c) for c in self.pixels[row, round(dx), :3])

    def colours_in(self, ax: Axes, x0: float, y0: float, x1: float, y1: float) -> set[tuple[int, ...]]:
        """Every colour in the data rectangle (x0, y0)–(x1, y1) of `ax`."""
        (a, b), (c, e) = ax.transData.transform([(x0, y0), (x1, y1)])
        height = self.fig.bbox.height
        rows = sorted(round(height - v) for v in (b, e))
        cols = sorted(round(v) for v in (a, c))
        region = self.pixels[rows[0] : rows[1], cols[0] : cols[1], :3].reshape(-1, 3)
        return {tuple(int(v) for v in p) for p in np.unique(region, axis=0)}


def draw(shape: str, key: str, artifacts: Path) -> Drawn:
    rep = SHAPES[shape]()
    fig = charts.draw(rep, key)
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba()).copy()
    fig.savefig(artifacts / f"{key}-{shape}.png", dpi=charts.DPI)
    return Drawn(fig, rep.table(key), rep, pixels)


def texts(fig: Figure) -> list[Text]:
    """Every text matplotlib drew: figure texts, legends, titles, axis labels, ticks, annotations."""
    found: list[Text] = list(fig.texts)
    for legend in fig.legends:
        found += legend.get_texts()
    for ax in all_axes(fig):
        found += [ax.title, ax.xaxis.label, ax.yaxis.label, *tick_labels(ax.xaxis), *tick_labels(ax.yaxis)]
        found += ax.texts
    return [t for t in found if t.get_visible() and t.get_text().strip()]


def tick_labels(axis: Axis) -> list[Text]:
    """The tick labels drawn: those of ticks inside the axis's view."""
    low, high = sorted(axis.get_view_interval())
    ticks = axis.get_major_ticks(len(axis.get_majorticklocs()))
    ticks += axis.get_minor_ticks(len(axis.get_minorticklocs()))
    return [t.label1 for t in ticks if low - 1e-9 <= t.get_loc() <= high + 1e-9]


def all_axes(fig: Figure) -> list[Axes]:
    """The figure's axes and those drawn inside them (the heatmap's colour bar)."""
    return [a for ax in fig.axes for a in (ax, *ax.child_axes)]


def boxes(fig: Figure, artists: list[Text]) -> np.ndarray:
    renderer = fig.canvas.get_renderer()
    return np.array([b.extents for b in (a.get_window_extent(renderer) for a in artists)])


def overlapping(a: np.ndarray, b: np.ndarray, slack: float = 0.5) -> np.ndarray:
    """Pairs (i, j) whose boxes overlap by more than `slack` pixels both ways."""
    x = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    y = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    return np.argwhere((x > slack) & (y > slack))


def inside(outer: Bbox, box: np.ndarray, slack: float = 0.5) -> bool:
    return bool(
        box[0] >= outer.x0 - slack
        and box[1] >= outer.y0 - slack
        and box[2] <= outer.x1 + slack
        and box[3] <= outer.y1 + slack
    )


def assert_reads_well(d: Drawn) -> None:
    fig = d.fig
    drawn = texts(fig)
    found = boxes(fig, drawn)
    clashes = [(drawn[i].get_text(), drawn[j].get_text()) for i, j in overlapping(found, found) if i < j]
    assert clashes == [], clashes
    clipped = [t.get_text() for t, box in zip(drawn, found, strict=True) if not inside(fig.bbox, box)]
    assert clipped == [], clipped
    small = {t.get_text(): t.get_fontsize() for t in drawn if t.get_fontsize() < charts.TEXT_PT}
    assert small == {}, small
    renderer = fig.canvas.get_renderer()
    # Titles, legends and notes stay off the plots, tick labels included.
    outside = list(fig.texts) + list(fig.legends)
    for ax in fig.axes:
        tight = ax.get_tightbbox(renderer)
        assert inside(fig.bbox, tight.extents), "an axes spills out of the figure"
        around = np.array([a.get_window_extent(renderer).extents for a in outside])
        assert len(overlapping(around, np.array([tight.extents]))) == 0, (
            "a title, legend or note covers a plot"
        )


def assert_count_axis(ax: Axes, axis: str, peak: float) -> None:
    low, high = ax.get_ylim() if axis == "y" else ax.get_xlim()
    assert low == 0 and high >= peak
    ticks = [t for t in (ax.get_yticks() if axis == "y" else ax.get_xticks()) if low <= t <= high]
    assert ticks[0] == 0 and len(ticks) >= 2
    assert all(float(t).is_integer() for t in ticks), ticks
    labels = ax.get_yticklabels() if axis == "y" else ax.get_xticklabels()
    assert all(label.get_text().replace(",", "").isdigit() for label in labels if label.get_text())


def visible(table: Table) -> list[float]:
    return [c.visible for _, cells in table.rows for c in cells if c.visible is not None]


def hidden_marks(ax: Axes) -> int:
    return sum(1 for p in ax.patches if p.get_gid() == "hidden")


def number_texts(ax: Axes) -> list[Text]:
    return [t for t in ax.texts if t.get_text().replace(",", "").isdigit()]


def subtitle(fig: Figure) -> str:
    return fig.texts[1].get_text()


def says(fig: Figure, words: str) -> bool:
    legends = [t for legend in fig.legends for t in legend.get_texts()]
    return any(words in t.get_text().replace("\n", " ") for t in [*fig.texts, *legends])


# -- every chart, every shape ----------------------------------------------------------------------

ALL = [(shape, key) for shape in SHAPES for key in charts.CHARTS]


@pytest.mark.parametrize(("shape", "key"), ALL)
def test_every_chart_reads_well_for_every_shape(shape: str, key: str, artifacts: Path) -> None:
    d = draw(shape, key, artifacts)
    assert_reads_well(d)
    if d.fig.axes:
        width = d.fig.get_size_inches()[0]
        # 5 in: at Slack's 360 px preview one point is one pixel. A heatmap grows when its
        # cells need room for 4-digit numbers (a little) or for 40 functions (opened full size).
        assert width == charts.WIDTH or (
            key == "function_flow" and (width <= 5.5 or shape == "forty_functions")
        )
        hidden = sum(1 for _, cells in d.table.rows for c in cells if c.suppressed)
        assert hidden_marks(d.fig.axes[0]) == hidden
        assert (hidden > 0) == says(d.fig, charts.hidden_label(K))
        # The numbers drawn on the data are the visible figures, none of them hidden.
        shown = sorted(float(t.get_text().replace(",", "")) for t in number_texts(d.fig.axes[0]))
        assert set(shown) <= set(visible(d.table))


def test_the_report_uploads_one_png_per_chart_whatever_the_shape() -> None:
    for shape, make in SHAPES.items():
        rep = make()
        rendered = charts.render(rep)
        span = f"{rep.period.first_day:%Y%m%d}-{rep.period.last_day:%Y%m%d}"
        stems = ("chats_per_week", "function_flow", "topic_supply_demand")
        assert [c.filename for c in rendered] == [f"infochat_{stem}_{span}.png" for stem in stems], shape
        assert all(c.data.startswith(PNG_MAGIC) for c in rendered)
    # A section's charts only (the 40-function heatmap takes seconds: one small shape is enough).
    rep = demo_like()
    assert [c.filename for c in charts.render(rep, ["function_flow"])] == [
        f"infochat_function_flow_{rep.period.first_day:%Y%m%d}-{rep.period.last_day:%Y%m%d}.png"
    ]


@pytest.mark.parametrize(
    ("shape", "key", "words"),
    [
        ("no_data", "chats_per_week", "No chats were held in these weeks."),
        ("no_data", "function_flow", "No chats were held in this period."),
        ("no_data", "topic_supply_demand", f"No topic has {K} or more people behind it in this period."),
        ("all_hidden", "chats_per_week", f"Every week is hidden (fewer than {K} people each)."),
        ("all_hidden", "function_flow", f"Every cell is hidden (fewer than {K} people each)."),
        ("all_hidden", "topic_supply_demand", f"Every figure is hidden (fewer than {K} people each)."),
    ],
)
def test_a_chart_with_nothing_to_draw_says_so_in_words(
    shape: str, key: str, words: str, artifacts: Path
) -> None:
    d = draw(shape, key, artifacts)
    assert d.fig.axes == []  # no empty frame
    assert says(d.fig, words)
    assert d.fig.get_size_inches()[1] < 1.6  # a small image, not a blank chart's size


# -- chats held per week ---------------------------------------------------------------------------


def test_weekly_bars_count_from_zero_and_the_title_gives_the_weeks_drawn(artifacts: Path) -> None:
    d = draw("demo_like", "chats_per_week", artifacts)
    ax = d.fig.axes[0]
    assert subtitle(d.fig) == "12 Oct – 4 Dec 2026"  # from the first Monday drawn to the period's end
    assert_count_axis(ax, "y", 36)
    assert ax.get_xlim() == (-0.6, 7.6)  # the eight weeks, no more
    assert [t.get_text() for t in ax.get_xticklabels()][:2] == ["12 Oct\n2026", "19 Oct"]
    bars = [p for p in ax.patches if p.get_gid() != "hidden"]
    assert [round(b.get_height()) for b in bars] == [36, 20, 12, 28, 35, 22]
    # The weeks before 7 Nov are lighter; the report's own weeks in the series colour.
    colours = [b.get_facecolor()[:3] for b in bars]
    assert colours[0] != colours[-1]
    assert says(d.fig, "report period (7 Nov – 4 Dec 2026)")
    assert says(d.fig, "the last one ends on 4 Dec")
    # The two hidden weeks: hatched, full height, no number anywhere near them.
    assert hidden_marks(ax) == 2
    assert not [t for t in ax.texts if t.xy[0] >= 6]


def test_two_years_of_weeks_label_some_weeks_and_the_years(artifacts: Path) -> None:
    d = draw("two_years", "chats_per_week", artifacts)
    ax = d.fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert 4 <= len(labels) <= 8
    assert labels[-1].startswith("30 Nov")  # the latest week is always labelled
    assert sum("\n" in label for label in labels) == 3  # 2024, 2025, 2026
    assert subtitle(d.fig) == "2 Dec 2024 – 4 Dec 2026"
    assert number_texts(ax) == []  # 105 bars: the axis reads them, not 105 labels
    assert_count_axis(ax, "y", 109)


def test_one_huge_week_keeps_the_small_ones_labelled(artifacts: Path) -> None:
    d = draw("long_tail", "chats_per_week", artifacts)
    ax = d.fig.axes[0]
    assert_count_axis(ax, "y", 2400)
    assert [t.get_text() for t in number_texts(ax)] == ["8", "9", "7", "2,400", "11", "6", "10", "9"]


# -- who learns from whom --------------------------------------------------------------------------


def _cells(d: Drawn) -> Iterator[tuple[int, int, Cell]]:
    for i, (_, cells) in enumerate(d.table.rows):
        for j, cell in enumerate(cells):
            yield i, j, cell


@pytest.mark.parametrize("shape", ["three_functions", "demo_like", "long_tail", "forty_functions", "one_row"])
def test_heatmap_zero_is_white_hidden_is_hatched_and_the_scale_runs_from_zero(
    shape: str, artifacts: Path
) -> None:
    d = draw(shape, "function_flow", artifacts)
    ax = d.fig.axes[0]
    bar = ax.child_axes[0]
    peak = max(visible(d.table))
    assert bar.get_ylim() == (0, peak)
    assert_count_axis(bar, "y", peak)
    assert d.px(bar, 0.5, 0, up=4) == WHITE  # the colour bar starts white at 0
    for i, j, cell in _cells(d):
        corner = d.px(ax, j - 0.3, i - 0.3)  # inside the cell, clear of its number
        if cell.suppressed:
            # Hatching: a light grey face crossed by darker lines, never a colour of the scale.
            seen = d.colours_in(ax, j - 0.3, i - 0.3, j + 0.3, i + 0.3)
            assert len(seen) >= 2 and WHITE not in seen, (i, j, seen)
            assert min(map(max, seen)) < 200  # dark lines on the light face
            assert all(max(c) - min(c) < 16 for c in seen)  # greys, not blues
            near = [
                t
                for t in ax.texts
                if abs(t.get_position()[0] - j) < 0.5 and abs(t.get_position()[1] - i) < 0.5
            ]
            assert near == [], (i, j, [t.get_text() for t in near])
        elif cell.visible == 0:
            assert corner == WHITE, (i, j, corner)
        else:
            assert corner != WHITE and corner[2] > corner[0], (i, j, corner)  # tinted blue, however small
    assert len(number_texts(ax)) == sum(1 for _, _, c in _cells(d) if c.visible is not None)
    if shape == "forty_functions":
        # The heatmap grows to keep 40 functions' labels and numbers apart (read it opened, not
        # in the preview); long names are cut, and people's text is never read as mathematics.
        assert d.fig.get_size_inches()[0] > 12
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert len(labels) == 40 and all(len(label) <= 18 for label in labels)
        assert len(set(labels)) == 40 and "Finance \\$ 3" in labels


# -- topic supply vs demand ------------------------------------------------------------------------


def test_the_long_tail_is_readable_beside_one_huge_topic(artifacts: Path) -> None:
    d = draw("long_tail", "topic_supply_demand", artifacts)
    ax = d.fig.axes[0]
    assert_count_axis(ax, "x", 12500)
    shown = [t.get_text() for t in number_texts(ax)]
    assert shown[:3] == ["4,200", "12,500", "9,100"]
    assert "6" in shown and "16" in shown  # the tail's figures are written, not left as slivers
    assert next(t.get_text() for t in ax.get_yticklabels()) == "Kubernetes"  # most wanted on top
    legend = d.fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == [
        "experts offering",
        "people searching",
        "people wanting to learn",
        charts.hidden_label(K),
    ]


def test_zero_is_a_number_and_hidden_is_a_mark(artifacts: Path) -> None:
    d = draw("one_week", "topic_supply_demand", artifacts)
    ax = d.fig.axes[0]
    assert [t.get_text() for t in number_texts(ax)] == ["5", "0", "7"]
    assert hidden_marks(ax) == 0


# -- import cost -----------------------------------------------------------------------------------


def test_importing_the_charts_does_not_import_matplotlib() -> None:
    code = "import sys, bot.charts, bot.listeners.reports; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
