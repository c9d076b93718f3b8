"""The report's scheduling table (#15 item 8): by function, the share of intros that got a
confirmed time, the median working days from intro to chat, reschedules and cancellations.

Counts come from bot.services.scheduling.figures; each row's cells describe the
people in that function's intros, so rows of fewer than MIN_GROUP_SIZE people
are suppressed (with complementary suppression down the columns).
"""

from __future__ import annotations

from bot.services.reports import rolled, sql
from bot.services.reports.scope import Scope
from bot.services.reports.suppression import Cell, Table, count_cell, part_of, rate_cell, suppress_table
from bot.services.scheduling.figures import ALL, NO_FUNCTION, scheduling_figures


def scheduling_table(scope: Scope) -> Table:
    counted = None
    if scope.rolled():
        introduced = scope.people.introduced
        counted = scope.timed("intros", lambda: rolled.intro_counts(scope.session, scope.period, introduced))
    found = scope.timed(
        "scheduling",
        lambda: scheduling_figures(scope.session, scope.period.start, scope.period.end, counted),
    )
    functions = [f for f in found if f != ALL]
    order = sql.function_order(scope.functions, [None if f == NO_FUNCTION else f for f in functions])
    rows = []
    for label in [*(f for f in order if f in found), ALL]:
        figures = found.get(label)
        if figures is None:
            continue
        people = figures.people
        intros = count_cell(figures.intros, people)
        # Every other figure is about these intros: hidden with them.
        confirmed = rate_cell(figures.confirmed, figures.intros, people)
        parts = [
            confirmed,
            # A median over the chats with a time: hidden with their count, or it would
            # give away one or two people's dates.
            part_of(Cell(figures.median_working_days, people, fmt="number"), confirmed),
            count_cell(figures.rescheduled, people),
            count_cell(figures.cancelled, people),
        ]
        rows.append((label, [intros, *(part_of(cell, intros) for cell in parts)]))
    table = Table(
        "scheduling",
        "Finding a time",
        [
            "function",
            "intros",
            "with a confirmed time",
            "median working days to the chat",
            "rescheduled",
            "cancelled",
        ],
        rows,
        note="Intros made in the period (requests and weekly pairings); a chat counts in each function "
        "of its people. Working days: Monday–Friday from the intro to the chat's time.",
        lines="none",
    )
    return suppress_table(table, scope.k)
