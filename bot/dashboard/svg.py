"""Charts for the dashboard as inline SVG, drawn on the server from suppressed tables.

No chart library and nothing fetched by the browser: each chart is markup in the
page. Every bar or cell is a focusable mark carrying its value in a <title> (read
by screen readers; dashboard.js turns it into a hover/focus tooltip). Charts read
only `Cell.visible`, so a hidden figure is drawn as a hatched "*" mark, never as a
number or as zero. Counts get integer axes from 0; the heatmap's scale runs from
white at 0 to the largest visible count. Text is people's text: always escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from markupsafe import Markup, escape

from bot.services.reports import SUPPRESSED, Cell, Table

# Okabe–Ito: distinguishable with every common colour-vision deficiency.
SERIES_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
CONTEXT_COLOUR = "#a6c8e0"  # weeks shown for context, before the period
HEAT_HIGH = (8, 69, 148)  # dark blue at the maximum; white at zero
FONT = 12
CHAR_WIDTH = 6.6  # average width of a 12 px sans-serif character, for layout


@dataclass(frozen=True)
class Series:
    column: str
    colour: str


def _esc(text: object) -> str:
    return str(escape(str(text)))


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def nice_ticks(peak: float, count: int = 5, integer: bool = True) -> list[float]:
    """Ticks from 0 to at least `peak` on a 1-2-5 step; whole numbers for counts."""
    if peak <= 0:
        return [0, 1] if integer else [0.0, 1.0]
    raw = peak / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if integer:
        step = max(1, math.ceil(step))
    top = math.ceil(peak / step) * step
    return [i * step for i in range(round(top / step) + 1)]


# Hidden cells: grey diagonal hatching (the pattern id is shared by every chart on a page).
HATCH_DEFS = (
    "<defs><pattern id='hatch' width='6' height='6' patternUnits='userSpaceOnUse' "
    "patternTransform='rotate(45)'><rect width='6' height='6' fill='#f1f1f1'/>"
    "<line x1='0' y1='0' x2='0' y2='6' stroke='#a0a0a0' stroke-width='2'/></pattern></defs>"
)


def _mark(tip: str, shape: str) -> str:
    label = _esc(tip)
    return f"<g class='mark' tabindex='0' role='img' aria-label='{label}'><title>{label}</title>{shape}</g>"


def _svg(width: float, height: float, label: str, body: str) -> Markup:
    return Markup(
        f"<svg class='chart' viewBox='0 0 {width:.0f} {height:.0f}' width='{width:.0f}' "
        f"height='{height:.0f}' role='group' "
        f"aria-label='{_esc(label)}' xmlns='http://www.w3.org/2000/svg' "
        f"font-size='{FONT}'>{HATCH_DEFS}{body}</svg>"
    )


def _hidden_tip(what: str, k: int) -> str:
    return f"{what}: hidden ({SUPPRESSED}) — fewer than {k} people, or hidden so totals cannot reveal a cell"


def column_chart(table: Table, k: int, *, unit: str, context_before: date | None = None) -> Markup:
    """One vertical bar per row (e.g. chats held per week).

    Rows labelled with a week's Monday that ends before `context_before` are drawn
    lighter: weeks shown for context, outside the period the page is about.
    """
    rows = table.rows
    width, height = 640.0, 260.0
    left, right, top, bottom = 52.0, 12.0, 14.0, 44.0
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [cells[0].visible for _, cells in rows]
    ticks = nice_ticks(max((v for v in values if v is not None), default=0))
    scale = plot_h / ticks[-1]
    parts: list[str] = []
    for tick in ticks:
        y = top + plot_h - tick * scale
        parts.append(
            f"<line class='grid' x1='{left}' x2='{width - right}' y1='{y:.1f}' y2='{y:.1f}'/>"
            f"<text class='tick' x='{left - 6}' y='{y + 4:.1f}' text-anchor='end'>{_fmt(tick)}</text>"
        )
    slot = plot_w / max(len(rows), 1)
    bar_w = max(2.0, slot * 0.72)
    every = max(1, math.ceil(len(rows) / 8))
    for i, (row_label, cells) in enumerate(rows):
        x = left + i * slot + (slot - bar_w) / 2
        value = cells[0].visible
        if cells[0].suppressed:
            shape = (
                f"<rect x='{x:.1f}' y='{top:.1f}' width='{bar_w:.1f}' height='{plot_h:.1f}' "
                "fill='url(#hatch)' opacity='0.8'/>"
                f"<text class='hidden-label' x='{x + bar_w / 2:.1f}' y='{top + plot_h - 6:.1f}' "
                f"text-anchor='middle'>{SUPPRESSED}</text>"
            )
            parts.append(_mark(_hidden_tip(f"{_pretty_week(row_label)}", k), shape))
        else:
            v = value or 0.0
            h = v * scale
            before = context_before is not None and _before(row_label, context_before)
            shape = (
                f"<rect class='bar' x='{x:.1f}' y='{top + plot_h - h:.1f}' width='{bar_w:.1f}' "
                f"height='{max(h, 0.0):.1f}' fill='{CONTEXT_COLOUR if before else SERIES_COLOURS[0]}'/>"
                # an invisible full-height target so low bars are easy to hover
                f"<rect x='{x:.1f}' y='{top:.1f}' width='{bar_w:.1f}' height='{plot_h:.1f}' "
                "fill='transparent'/>"
            )
            note = " (before this period)" if before else ""
            parts.append(_mark(f"{_pretty_week(row_label)}: {_fmt(v)} {unit}{note}", shape))
        if i % every == 0:
            parts.append(
                f"<text class='tick' x='{x + bar_w / 2:.1f}' y='{top + plot_h + 16:.1f}' "
                f"text-anchor='middle'>{_esc(_pretty_week(row_label, short=True))}</text>"
            )
    parts.append(
        f"<line class='axis' x1='{left}' x2='{width - right}' y1='{top + plot_h}' y2='{top + plot_h}'/>"
        f"<text class='axis-title' x='{left + plot_w / 2:.0f}' y='{height - 6}' text-anchor='middle'>"
        f"{_esc(table.columns[0])}</text>"
    )
    return _svg(width, height, table.title, "".join(parts))


def _before(iso_monday: str, first_day: date) -> bool:
    try:
        return date.fromisoformat(iso_monday) + timedelta(days=6) < first_day
    except ValueError:
        return False


def _pretty_week(iso_day: str, short: bool = False) -> str:
    try:
        year, month, day = (int(p) for p in iso_day.split("-"))
    except ValueError:
        return iso_day
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    if short:
        return f"{day} {months[month - 1]}"
    return f"Week of {day} {months[month - 1]} {year}"


def heatmap(table: Table, k: int, *, row_title: str, column_title: str, unit: str) -> Markup:
    """Rows × columns coloured from white (0) to dark blue (largest visible count)."""
    columns = table.columns[1:]
    rows = table.rows
    label_w = min(170.0, max((len(r) for r, _ in rows), default=4) * CHAR_WIDTH + 14)
    cell = max(40.0, min(60.0, 560.0 / max(len(columns), 1)))
    head = min(130.0, max((len(c) for c in columns), default=4) * CHAR_WIDTH * 0.75 + 30)
    left, top = label_w + 24, head + 22
    width = left + cell * len(columns) + 110
    height = top + cell * len(rows) + 16
    peak = max((c.visible or 0.0 for _, cells in rows for c in cells), default=0.0)
    parts = [
        f"<text class='axis-title' x='{left + cell * len(columns) / 2:.0f}' y='14' "
        f"text-anchor='middle'>{_esc(column_title)}</text>",
        f"<text class='axis-title' transform='translate(12 {top + cell * len(rows) / 2:.0f}) rotate(-90)' "
        f"text-anchor='middle'>{_esc(row_title)}</text>",
    ]
    for j, name in enumerate(columns):
        x = left + j * cell + cell / 2
        parts.append(
            f"<text class='tick' transform='translate({x:.1f} {top - 6}) rotate(-40)' "
            f"text-anchor='start'>{_esc(_short(name, 18))}<title>{_esc(name)}</title></text>"
        )
    for i, (row_label, cells) in enumerate(rows):
        y = top + i * cell
        parts.append(
            f"<text class='tick' x='{left - 8}' y='{y + cell / 2 + 4:.1f}' text-anchor='end'>"
            f"{_esc(_short(row_label, 24))}<title>{_esc(row_label)}</title></text>"
        )
        for j, c in enumerate(cells):
            x = left + j * cell
            what = f"{row_label} learning from {columns[j]}"
            parts.append(_heat_cell(c, x, y, cell, peak, what, unit, k))
    parts.append(_heat_legend(left + cell * len(columns) + 24, top, min(cell * len(rows), 180.0), peak))
    return _svg(width, height, table.title, "".join(parts))


def _heat_colour(value: float, peak: float) -> tuple[str, bool]:
    share = value / peak if peak else 0.0
    rgb = [round(255 + (high - 255) * share) for high in HEAT_HIGH]
    return f"rgb({rgb[0]},{rgb[1]},{rgb[2]})", share > 0.55


def _heat_cell(c: Cell, x: float, y: float, size: float, peak: float, what: str, unit: str, k: int) -> str:
    box = f"x='{x + 1:.1f}' y='{y + 1:.1f}' width='{size - 2:.1f}' height='{size - 2:.1f}'"
    centre = f"x='{x + size / 2:.1f}' y='{y + size / 2 + 4:.1f}' text-anchor='middle'"
    if c.suppressed:
        shape = f"<rect {box} fill='url(#hatch)'/><text class='hidden-label' {centre}>{SUPPRESSED}</text>"
        return _mark(_hidden_tip(what, k), shape)
    value = c.visible or 0.0
    fill, dark = _heat_colour(value, peak)
    text_class = "cell-label dark" if dark else "cell-label"
    shape = (
        f"<rect {box} fill='{fill}' stroke='#d0d7de' stroke-width='0.5'/>"
        f"<text class='{text_class}' {centre}>{_fmt(value)}</text>"
    )
    return _mark(f"{what}: {_fmt(value)} {unit}", shape)


def _heat_legend(x: float, top: float, length: float, peak: float) -> str:
    steps = 24
    parts = []
    for s in range(steps):
        fill, _ = _heat_colour(peak * (steps - 1 - s) / (steps - 1), peak or 1.0)
        parts.append(
            f"<rect x='{x:.1f}' y='{top + s * length / steps:.1f}' width='14' "
            f"height='{length / steps + 0.5:.1f}' fill='{fill}'/>"
        )
    parts.append(f"<rect x='{x:.1f}' y='{top:.1f}' width='14' height='{length:.1f}' class='legend-frame'/>")
    ticks = nice_ticks(peak, 4) if peak else [0]
    for tick in ticks:
        if tick > peak and peak:
            continue
        y = top + length - (tick / peak * length if peak else 0)
        parts.append(f"<text class='tick' x='{x + 20:.1f}' y='{y + 4:.1f}'>{_fmt(tick)}</text>")
    parts.append(
        f"<rect x='{x:.1f}' y='{top + length + 14:.1f}' width='14' height='14' fill='url(#hatch)'/>"
        f"<text class='tick' x='{x + 20:.1f}' y='{top + length + 25:.1f}'>{SUPPRESSED} hidden</text>"
    )
    return "".join(parts)


def bar_rows(
    table: Table,
    k: int,
    *,
    series: Sequence[str] | None = None,
    unit: str = "",
    max_rows: int = 15,
) -> Markup:
    """Horizontal bars per row, one colour per column in `series` (legend above the bars)."""
    columns = list(series or table.columns[1:])
    indexes = [table.columns.index(c) - 1 for c in columns]
    rows = table.rows[:max_rows]
    label_w = min(230.0, max((len(r) for r, _ in rows), default=4) * CHAR_WIDTH + 12)
    bar_h = 14.0
    group_h = bar_h * len(columns) + 10
    left, right, top = label_w + 8, 56.0, 30.0
    width = 640.0
    plot_w = width - left - right
    height = top + group_h * max(len(rows), 1) + 26
    peak = max((cells[i].visible or 0.0 for _, cells in rows for i in indexes), default=0.0)
    ticks = nice_ticks(peak)
    scale = plot_w / ticks[-1]
    parts: list[str] = []
    legend_x = left
    for s, name in enumerate(columns):
        colour = SERIES_COLOURS[s % len(SERIES_COLOURS)]
        parts.append(
            f"<rect x='{legend_x:.1f}' y='6' width='12' height='12' fill='{colour}'/>"
            f"<text class='legend' x='{legend_x + 16:.1f}' y='16'>{_esc(name)}</text>"
        )
        legend_x += 16 + len(name) * CHAR_WIDTH + 18
    plot_bottom = top + group_h * max(len(rows), 1)
    for tick in ticks:
        x = left + tick * scale
        parts.append(
            f"<line class='grid' x1='{x:.1f}' x2='{x:.1f}' y1='{top - 4}' y2='{plot_bottom:.1f}'/>"
            f"<text class='tick' x='{x:.1f}' y='{plot_bottom + 16:.1f}' "
            f"text-anchor='middle'>{_fmt(tick)}</text>"
        )
    for r, (row_label, cells) in enumerate(rows):
        y0 = top + r * group_h + 5
        parts.append(
            f"<text class='tick' x='{left - 8}' y='{y0 + group_h / 2 - 1:.1f}' text-anchor='end'>"
            f"{_esc(_short(row_label, 34))}<title>{_esc(row_label)}</title></text>"
        )
        for s, (name, index) in enumerate(zip(columns, indexes, strict=True)):
            c = cells[index]
            y = y0 + s * bar_h
            colour = SERIES_COLOURS[s % len(SERIES_COLOURS)]
            what = f"{row_label} — {name}"
            if c.suppressed:
                shape = (
                    f"<rect x='{left:.1f}' y='{y:.1f}' width='36' height='{bar_h - 2:.1f}' "
                    "fill='url(#hatch)'/>"
                    f"<text class='hidden-label' x='{left + 42:.1f}' y='{y + bar_h - 4:.1f}'>"
                    f"{SUPPRESSED}</text>"
                )
                parts.append(_mark(_hidden_tip(what, k), shape))
                continue
            value = c.visible or 0.0
            w = value * scale
            shape = (
                f"<rect class='bar' x='{left:.1f}' y='{y:.1f}' width='{max(w, 0.0):.1f}' "
                f"height='{bar_h - 2:.1f}' fill='{colour}'/>"
                f"<rect x='{left:.1f}' y='{y:.1f}' width='{plot_w:.1f}' height='{bar_h - 2:.1f}' "
                "fill='transparent'/>"
                f"<text class='value' x='{left + w + 4:.1f}' y='{y + bar_h - 4:.1f}'>{_esc(c.show())}</text>"
            )
            parts.append(_mark(f"{what}: {c.show()}{' ' + unit if unit else ''}", shape))
    parts.append(f"<line class='axis' x1='{left}' x2='{left}' y1='{top - 4}' y2='{plot_bottom:.1f}'/>")
    return _svg(width, height, table.title, "".join(parts))
