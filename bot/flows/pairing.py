"""Running a weekly round: plan it (services.pairing), queue its messages (outbox),
deliver them. Used by the scheduler and by `infochat pair`."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from bot import clock
from bot.blocks import pairing as pairing_blocks
from bot.context import AppContext
from bot.flows import outbox as delivery
from bot.flows.requests import person_card
from bot.models import Person
from bot.services import outbox, pairing

log = logging.getLogger(__name__)


def run_round(
    ctx: AppContext, now: datetime, *, seed: int | None = None, dry_run: bool = False, deliver: bool = True
) -> pairing.RoundReport:
    settings = ctx.settings
    cooldown, zone = settings.pairing_cooldown_weeks, settings.zone
    if dry_run:
        with ctx.db.session() as session:
            report, _, _, _ = pairing.plan(session, now, cooldown_weeks=cooldown, zone=zone, seed=seed)
        return report
    try:
        with ctx.db.session() as session:
            report, pairing_round, chats, unmatched = pairing.create_round(
                session, now, cooldown_weeks=cooldown, zone=zone, seed=seed
            )
            if pairing_round is not None:
                _queue_messages(ctx, session, report, chats, unmatched, now)
    except pairing.RoundInProgress:
        log.info("round %s is being planned by another process", pairing.iso_week(now, settings.zone))
        report = pairing.RoundReport(week=pairing.iso_week(now, settings.zone), existed=True)
    log.info(
        "round %s: %s",
        report.week,
        "created" if report.created else "already exists",
        extra={
            "round": report.week,
            "pairs": report.pairs,
            "trios": report.trios,
            "unmatched": len(report.unmatched),
        },
    )
    if deliver:
        # Resume delivery after a crash, or send what is due now; later intros
        # (held for local working hours) go out with the outbox job.
        delivery.deliver(ctx)
    return report


def _queue_messages(
    ctx: AppContext,
    session: Session,
    report: pairing.RoundReport,
    chats: list[tuple[int, pairing.PlannedGroup]],
    unmatched: list[tuple[Person, str]],
    now: datetime,
) -> None:
    rows = []
    for chat_id, planned in chats:
        # The people the round was planned with: reading them again cost seconds at 50,000.
        cards = [person_card(person) for person in planned.people]
        text, blocks = pairing_blocks.pairing_intro(cards, planned.topics, planned.reasons, chat_id, now)
        rows.append(
            outbox.message(
                f"round:{report.week}:chat:{chat_id}:intro",
                users=[c.slack_user_id for c in cards],
                text=text,
                blocks=blocks,
                not_before=planned.deliver_at,
                subject=f"chat:{chat_id}",
            )
        )
    for person, reason in unmatched:
        text, blocks = pairing_blocks.unmatched_message(reason)
        rows.append(
            outbox.message(
                f"round:{report.week}:unmatched:{person.id}",
                users=[person.slack_user_id],
                text=text,
                blocks=blocks,
                not_before=pairing.not_before(now, [clock.zone(person.tz)]),
                subject=f"round:{report.week}",
            )
        )
    # One round trip per few hundred intros, not one each (bench/round.py).
    outbox.enqueue_many(session, rows)
    progress = {"pending": len(chats) + len(unmatched), "sent": 0, "failed": 0}
    text, blocks = pairing_blocks.round_summary(
        report.week,
        report.participants,
        report.pairs,
        report.trios,
        report.unmatched,
        report.top_topics,
        progress,
    )
    for admin in ctx.settings.admins:
        outbox.enqueue(
            session,
            f"round:{report.week}:summary:{admin}",
            users=[admin],
            text=text,
            blocks=blocks,
            subject="summary",
        )


def describe(report: pairing.RoundReport, *, opens_per_minute: float = 50) -> list[str]:
    """What `infochat pair --dry-run` prints: pairs with score and reasons, the unmatched, delivery times."""
    lines = [
        f"Round {report.week} (seed {report.seed}): {report.participants} eligible, "
        f"{report.pairs} pairs, {report.trios} trios, {len(report.unmatched)} unmatched"
    ]
    if report.existed:
        lines.append("This week's round already exists; nothing new will be sent.")
    for index, group in enumerate(report.groups):
        # conversations.open is paced: the n-th intro opens about n/rate minutes after its hold ends.
        # Shown in the workspace's zone, named: the operator's machine may keep another one.
        eta = group.deliver_at.timestamp() + 60 * index / opens_per_minute
        lines.append(
            f"  {' + '.join(group.names)}  score {group.score:.2f}  deliver ≈ "
            f"{datetime.fromtimestamp(eta, clock.zone(None)):%a %H:%M %Z}"
        )
        lines += [f"      - {reason}" for reason in group.reasons]
    for name, reason in report.unmatched:
        lines.append(f"  unmatched: {name} — {reason}")
    return lines
