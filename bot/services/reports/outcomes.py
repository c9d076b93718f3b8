"""The follow-up outcomes table: what people answered after their chat (We met, Not yet,
We couldn't meet), this period and the previous one.

Counted per participant of the chats introduced in each period, by their latest
answer, like the follow-up answer rate; each count describes the distinct people
behind it, so a small answer group is hidden, and down each period's column the
next smallest goes with it (the column adds up to everyone asked).
"""

from __future__ import annotations

from sqlalchemy import distinct, func, or_, select
from sqlalchemy.orm import Session

from bot.models import Chat, ChatParticipant, Outcome
from bot.services.reports import rolled, rollup_counts, sql
from bot.services.reports.periods import Period
from bot.services.reports.scope import Scope
from bot.services.reports.suppression import Table, count_cell, suppress_table

NOT_ANSWERED = rollup_counts.NOT_ANSWERED
# (stored outcome, row label) in the order people meet them.
ANSWERS = (
    (Outcome.MET.value, "We met"),
    (Outcome.NOT_YET.value, "Not yet"),
    (Outcome.COULDNT.value, "We couldn't meet"),
    (Outcome.NO_ANSWER.value, "No answer after three check-ins"),
    (NOT_ANSWERED, "Not answered yet"),
)


def outcome_counts(
    session: Session, cur: Period, prev: Period, ranges: sql.Ranges
) -> dict[tuple[int, str], tuple[int, int]]:
    """(cur flag, outcome) -> (participants, distinct people)."""
    inner = (
        select(
            sql.is_current(Chat.created_at, cur),
            ChatParticipant.outcome.label("outcome"),
            ChatParticipant.person_id.label("pid"),
        )
        .join(ChatParticipant, ChatParticipant.chat_id == Chat.id)
        .where(
            sql.span(Chat.created_at, cur, prev),
            sql.ids_in(ChatParticipant.chat_id, ranges.created),
            # Asked, or answered anyway ("Mark as done" on the intro records We met).
            or_(ChatParticipant.checkins_sent > 0, ChatParticipant.outcome.is_not(None)),
        )
        .subquery()
    )
    stmt = select(inner.c.cur, inner.c.outcome, func.count(), func.count(distinct(inner.c.pid))).group_by(
        inner.c.cur, inner.c.outcome
    )
    found: dict[tuple[int, str], tuple[int, int]] = {}
    for c, outcome, n, p in session.execute(stmt):
        found[(int(c), outcome.value if outcome is not None else NOT_ANSWERED)] = (int(n), int(p))
    return found


def followup_answers(scope: Scope) -> Table:
    def raw() -> dict[tuple[int, str], tuple[int, int]]:
        name = "followup_answers_raw_rows" if scope.use_rollups else "followup_answers"
        return scope.timed(
            name, lambda: outcome_counts(scope.session, scope.period, scope.previous, scope.ranges)
        )

    if scope.rolled():
        found = scope.timed(
            "followup_answers",
            lambda: rolled.outcome_counts(scope.session, scope.period, scope.previous, scope.k, raw),
        )
    else:
        found = raw()
    rows = [(label, [count_cell(*found.get((c, key), (0, 0))) for c in (1, 0)]) for key, label in ANSWERS]
    table = Table(
        "followup_answers",
        "Follow-up answers",
        ["answer", "this period", "previous period"],
        rows,
        note="People in chats introduced in the period who were asked how it went, by their latest "
        "answer; Mark as done on an intro counts as We met.",
        lines="columns",  # a period's column adds up to everyone asked
    )
    return suppress_table(table, scope.k)
