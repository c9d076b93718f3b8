"""The summary: headline figures of the period against the previous one, suppressed."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from bot.services.reports import aggregates, rolled
from bot.services.reports.document import Metric, Summary
from bot.services.reports.scope import Scope
from bot.services.reports.suppression import Cell, count_cell, part_of, rate_cell, suppress_cells

T = TypeVar("T")

REQUEST_METRICS = (
    ("requests_sent", "Requests sent", "sent"),
    ("requests_accepted", "Requests accepted", "accepted"),
    ("requests_declined", "Requests declined or redirected", "declined"),
    ("requests_expired", "Requests expired", "expired"),
)


def _figure(scope: Scope, name: str, from_rollups: Callable[..., T], from_rows: Callable[[], T]) -> T:
    """A figure from the roll-ups (they fall back on `from_rows` when their bounds leave a
    cell's suppression open), or from the raw rows when the report does not read roll-ups."""

    def raw() -> T:
        return scope.timed(f"{name}_raw_rows" if scope.use_rollups else name, from_rows)

    if scope.rolled():
        return scope.timed(
            name, lambda: from_rollups(scope.session, scope.period, scope.previous, scope.k, raw)
        )
    return raw()


def _people_metrics(scope: Scope) -> list[Metric]:
    metrics = []
    for key, label, index in (
        ("experts", "Experts (offer topics)", 1),
        ("learners", "Active learners", 2),
        ("weekly", "Weekly pairing opt-ins", 3),
    ):
        cells = [count_cell(p.total(index)) for p in scope.participation]
        metrics.append(Metric(key, label, cells[1], cells[0]))
    return metrics


def _request_metrics(scope: Scope, full: bool) -> list[Metric]:
    session, cur, prev = scope.session, scope.period, scope.previous
    requests = _figure(scope, "requests", rolled.requests, lambda: aggregates.requests(session, cur, prev))
    wanted = REQUEST_METRICS if full else REQUEST_METRICS[:1]
    cells = {c: [count_cell(*requests[c].get(name, (0, 0))) for _, _, name in wanted] for c in (0, 1)}
    for c in (0, 1):
        # Accepted + declined + expired + still open = sent: one line for subtraction.
        suppress_cells([cells[c]], scope.k, "both")
    return [Metric(key, label, cells[1][i], cells[0][i]) for i, (key, label, _) in enumerate(wanted)]


def _held_cells(scope: Scope, full: bool) -> dict[int, Cell]:
    if full:
        held = scope.held.totals
    else:
        held = scope.timed(
            "chats_held",
            lambda: aggregates.chats_held(scope.session, scope.period, scope.previous, scope.ranges),
        )
    return {c: count_cell(*held.get(c, (0, 0))) for c in (0, 1)}


def _quality_metrics(scope: Scope, held: dict[int, Cell]) -> list[Metric]:
    """Follow-up answers, cross-function share, days to chat, usefulness, takeaways."""
    session, cur, prev = scope.session, scope.period, scope.previous
    metrics = []
    rate = _figure(
        scope,
        "answer_rate",
        rolled.answer_rate,
        lambda: aggregates.answer_rate(session, cur, prev, scope.ranges),
    )
    cells = {}
    for c in (0, 1):
        asked, answered, people, answerers = rate.get(c, (0, 0, 0, 0))
        cells[c] = rate_cell(answered, asked, people, part_people=answerers)
    metrics.append(Metric("followup_rate", "Follow-up answer rate", cells[1], cells[0]))

    cells = {}
    for c in (0, 1):
        chats, across = scope.held.cross.get(c, (0, 0))
        # A share of the chats held: hidden with them (and when few chats cross functions).
        cells[c] = part_of(rate_cell(across, chats, held[c].people), held[c])
    metrics.append(Metric("cross_function", "Chats across functions", cells[1], cells[0]))

    days = _figure(
        scope,
        "days_to_chat",
        rolled.days_to_chat,
        lambda: aggregates.days_to_chat(session, cur, prev, scope.ranges),
    )
    cells = {c: Cell(days[c][0], days[c][1], fmt="number") for c in (0, 1)}
    metrics.append(Metric("days_to_chat", "Median days from request to chat", cells[1], cells[0]))

    notes = _figure(scope, "takeaways", rolled.takeaways, lambda: aggregates.takeaways(session, cur, prev))
    useful = {c: Cell(notes[c][2], notes[c][3], fmt="number") for c in (0, 1)}
    metrics.append(Metric("usefulness", "Median usefulness (1–5)", useful[1], useful[0]))
    written = {c: count_cell(notes[c][0], notes[c][1]) for c in (0, 1)}
    metrics.append(Metric("takeaways", "Takeaways written", written[1], written[0]))
    return metrics


def summary(scope: Scope, *, full: bool = True) -> Summary:
    """The period's figures against the previous period's; `full=False` is App Home's short
    list (people, requests sent, chats held), a few cheap queries."""
    metrics = _people_metrics(scope) + _request_metrics(scope, full)
    held = _held_cells(scope, full)
    metrics.append(Metric("chats_held", "Chats held", held[1], held[0]))
    if full:
        metrics += _quality_metrics(scope, held)
    # Each figure on its own line (no complementary suppression across different measures),
    # but a rate still goes with its numerator and denominator.
    suppress_cells([[m.current, m.previous] for m in metrics], scope.k, "none")
    return Summary(scope.period, scope.previous, metrics, scope.k, scope.now)
