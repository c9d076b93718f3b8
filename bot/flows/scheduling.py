"""Finding a time for a chat: what is told to whom, through the outbox, and the invite file.

Messages (dedupe keys, so a double click or a retried job stores each once):
- `chat:{id}:slots:{round}` — the times proposed, in the group DM (updated in place as people tick);
- `chat:{id}:confirmed:{sequence}` — the confirmation with the agenda, links and buttons;
- `chat:{id}:reminder:{sequence}` — 15 minutes before the start (withdrawn on reschedule/cancel);
- `chat:{id}:rescheduled:{sequence}` / `chat:{id}:cancelled` — who changed what;
- `chat:{id}:schedule-nudge` — the one nudge.
The `.ics` is uploaded after the confirmation reached the conversation
(`share_invites`), claimed per revision in `chat_schedules`, by the click's
lazy step or, failing that, by the `scheduling` job.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.blocks import scheduling as blocks
from bot.clock import zone
from bot.context import AppContext
from bot.flows import outbox as delivery
from bot.models import Chat, ChatSchedule, OutboxMessage, OutboxStatus, Person, ScheduleSlot, ScheduleStatus
from bot.services import outbox, pairing
from bot.services import requests as request_service
from bot.services.scheduling import invite
from bot.services.scheduling import store as schedule_store
from bot.services.scheduling.slots import Interval

log = logging.getLogger(__name__)


def _subject(chat_id: int) -> str:
    # Not "chat:…": the intro's permanent-failure hook must not fire for these.
    return f"schedule:{chat_id}"


def who(person: Person) -> blocks.Who:
    return blocks.Who(person.id, person.slack_user_id, person.display_name, zone(person.tz).key)


def people(chat: Chat) -> list[blocks.Who]:
    return [who(p) for p in schedule_store.people_of(chat)]


def _hours(chat: Chat) -> dict[int, str]:
    def clock(minutes: int) -> str:
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    return {p.id: f"{clock(p.work_start)}–{clock(p.work_end)}" for p in schedule_store.people_of(chat)}


def slot_cards(session: Session, slots: list[ScheduleSlot]) -> list[blocks.SlotCard]:
    picks = schedule_store.picks_of(session, [s.id for s in slots])
    return [
        blocks.SlotCard(
            slot_id=s.id,
            start=s.start_at,
            end=s.end_at,
            early_for=tuple(s.early_for or ()),
            late_for=tuple(s.late_for or ()),
            picked_by=tuple(sorted(picks.get(s.id, set()))),
            suggested_by=s.suggested_by_id,
        )
        for s in slots
    ]


def _group(chat: Chat) -> list[str]:
    return [p.slack_user_id for p in schedule_store.people_of(chat)]


def render_slots(
    session: Session, chat: Chat, schedule: ChatSchedule, now: datetime
) -> tuple[str, list[dict[str, object]]]:
    slots = [s for s in schedule_store.slots_of(session, chat.id, schedule.round) if s.start_at > now]
    return blocks.slots_message(
        chat.id,
        people(chat),
        slot_cards(session, slots),
        overlap=schedule.overlap,
        minutes=schedule.minutes,
        hours=_hours(chat),
    )


def slots_key(chat_id: int, round_: int) -> str:
    return f"chat:{chat_id}:slots:{round_}"


def post_slots(session: Session, chat: Chat, schedule: ChatSchedule, now: datetime) -> str:
    text, rendered = render_slots(session, chat, schedule, now)
    key = slots_key(chat.id, schedule.round)
    outbox.enqueue(session, key, users=_group(chat), text=text, blocks=rendered, subject=_subject(chat.id))
    return key


# -- the agenda and the invite ---------------------------------------------------------------------


def _question_lines(text: str) -> list[str]:
    lines = [line.strip().lstrip("•-*◦ ").strip() for line in text.splitlines()]
    return [line for line in lines if line]


def agenda(session: Session, chat: Chat) -> blocks.Agenda:
    """The learner's goal and prepared questions; for a weekly pairing, its topic and method questions."""
    request = schedule_store.request_of(session, chat)
    topic = chat.topic.name if chat.topic is not None else (request.topic_text if request else "")
    if request is not None:
        questions = _question_lines(request.questions) or request_service.suggested_questions(topic)[:3]
        return blocks.Agenda(topic, request.learner.display_name, request.goal, questions)
    return blocks.Agenda(topic, None, "", request_service.suggested_questions(topic)[:4])


def _description(item: blocks.Agenda, names: list[str]) -> str:
    lines = [f"An infochat chat between {', '.join(names)}."]
    if item.learner and item.goal.strip():
        lines.append(f"What {item.learner} wants to learn: {' '.join(item.goal.split())}")
    elif item.topic:
        lines.append(f"What you can teach each other: {item.topic}")
    if item.questions:
        lines.append("Questions to start with:")
        lines += [f"- {q}" for q in item.questions[:6]]
    lines.append("It's a conversation to learn about each other's work, never a job ask.")
    lines.append(blocks.CLOSING + ".")
    return "\n".join(lines)


def invite_event(session: Session, chat: Chat, schedule: ChatSchedule) -> invite.InviteEvent:
    members = schedule_store.people_of(chat)
    assert schedule.start_at is not None and schedule.end_at is not None
    guests = [invite.Guest(p.display_name, p.email) for p in members]
    names = [p.display_name for p in members]
    item = agenda(session, chat)
    about = f" about {item.topic}" if item.topic else ""
    return invite.InviteEvent(
        uid=invite.chat_uid(chat.id, members[0].team_id if members else None),
        sequence=schedule.sequence,
        start=schedule.start_at,
        end=schedule.end_at,
        summary=f"infochat: {' & '.join(names)}{about}",
        description=_description(item, names),
        organizer=guests[0],
        attendees=guests[1:],
    )


# -- confirmed, rescheduled, cancelled --------------------------------------------------------------


def confirmed_key(chat_id: int, sequence: int) -> str:
    return f"chat:{chat_id}:confirmed:{sequence}"


def reminder_key(chat_id: int, sequence: int) -> str:
    return f"chat:{chat_id}:reminder:{sequence}"


def _flags(chat: Chat, slot: ScheduleSlot) -> str:
    card = blocks.SlotCard(
        slot.id, slot.start_at, slot.end_at, tuple(slot.early_for or ()), tuple(slot.late_for or ())
    )
    return blocks.flags(card, people(chat))


def queue_confirmed(session: Session, chat: Chat, schedule: ChatSchedule, slot: ScheduleSlot) -> list[str]:
    """The confirmation and the reminder 15 minutes before, in the caller's transaction."""
    assert schedule.start_at is not None and schedule.end_at is not None
    event = invite_event(session, chat, schedule)
    text, rendered = blocks.confirmed_message(
        chat.id,
        people(chat),
        schedule.start_at,
        schedule.end_at,
        agenda(session, chat),
        (invite.google_link(event), invite.outlook_link(event)),
        flags=_flags(chat, slot),
        rescheduled=schedule.sequence > 0,
    )
    keys = [confirmed_key(chat.id, schedule.sequence), reminder_key(chat.id, schedule.sequence)]
    outbox.enqueue(
        session, keys[0], users=_group(chat), text=text, blocks=rendered, subject=_subject(chat.id)
    )
    text, rendered = blocks.reminder_message(people(chat), schedule.start_at, agenda(session, chat))
    outbox.enqueue(
        session,
        keys[1],
        users=_group(chat),
        text=text,
        blocks=rendered,
        not_before=schedule.start_at - schedule_store.REMIND_BEFORE,
        subject=_subject(chat.id),
    )
    return keys


def queue_rescheduled(
    session: Session, chat: Chat, changed: schedule_store.Changed, by: Person, now: datetime
) -> list[str]:
    """Withdraw the old reminder, say who asked to move it, and post the new times."""
    schedule = changed.schedule
    outbox.withdraw(session, reminder_key(chat.id, schedule.sequence - 1))
    text, rendered = blocks.rescheduled_message(by.display_name, changed.previous_start)
    key = f"chat:{chat.id}:rescheduled:{schedule.sequence}"
    outbox.enqueue(session, key, users=_group(chat), text=text, blocks=rendered, subject=_subject(chat.id))
    avoid = []
    if changed.previous_start is not None and changed.previous_end is not None:
        avoid.append(Interval(changed.previous_start, changed.previous_end))
    proposed = schedule_store.propose(session, chat, now, avoid=avoid)
    return [key, post_slots(session, chat, proposed.schedule, now)]


def queue_cancelled(session: Session, chat: Chat, changed: schedule_store.Changed, by: Person) -> str:
    schedule = changed.schedule
    outbox.withdraw(session, reminder_key(chat.id, schedule.sequence - 1))
    text, rendered = blocks.cancelled_message(
        by.display_name, schedule.cancel_reason, changed.previous_start, chat.round_id is not None
    )
    key = f"chat:{chat.id}:cancelled"
    outbox.enqueue(session, key, users=_group(chat), text=text, blocks=rendered, subject=_subject(chat.id))
    return key


# -- keeping messages current -------------------------------------------------------------------------


def _sent(session: Session, key: str) -> OutboxMessage | None:
    message = session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == key))
    if message is None or message.status != OutboxStatus.SENT or not message.sent_ts:
        return None
    return message


def refresh_slots(ctx: AppContext, chat_id: int, now: datetime, *, replaced: bool = False) -> None:
    """Show who ticked what in the list of times (or that the choice is over); with `replaced`,
    also mark the previous round's list as replaced (after a reschedule)."""
    with ctx.db.session() as session:
        chat = session.get(Chat, chat_id)
        schedule = schedule_store.schedule_of(session, chat_id)
        if chat is None or schedule is None:
            return
        updates = []
        first = schedule.round - 1 if replaced else schedule.round
        for round_ in range(max(1, first), schedule.round + 1):
            sent = _sent(session, slots_key(chat_id, round_))
            if sent is None:
                continue
            if round_ == schedule.round and schedule.status == ScheduleStatus.PROPOSING:
                text, rendered = render_slots(session, chat, schedule, now)
            elif round_ == schedule.round and schedule.status == ScheduleStatus.CONFIRMED:
                assert schedule.start_at is not None
                outcome = f"Confirmed for {blocks.slack_date(schedule.start_at)} — see below."
                text, rendered = blocks.settled_slots_message(schedule.minutes, outcome)
            else:
                text, rendered = blocks.settled_slots_message(schedule.minutes, "These times were replaced.")
            updates.append((str(sent.sent_channel), str(sent.sent_ts), text, rendered))
    for channel, ts, text, rendered in updates:
        try:
            ctx.slack.update_message(channel, ts, text, rendered)
        except Exception:
            log.exception("could not update the list of times", extra={"chat_id": chat_id})


def retire_confirmation(
    ctx: AppContext, chat_id: int, sequence: int, changed: schedule_store.Changed, outcome: str
) -> None:
    """The old confirmation loses its buttons and says what became of it."""
    with ctx.db.session() as session:
        sent = _sent(session, confirmed_key(chat_id, sequence))
        target = (str(sent.sent_channel), str(sent.sent_ts)) if sent else None
    if target is None or changed.previous_start is None or changed.previous_end is None:
        return
    text, rendered = blocks.superseded_message(changed.previous_start, changed.previous_end, outcome)
    try:
        ctx.slack.update_message(*target, text, rendered)
    except Exception:
        log.exception("could not update the old confirmation", extra={"chat_id": chat_id})


# -- the invite file ---------------------------------------------------------------------------------


def _conversation(session: Session, chat_id: int) -> str | None:
    """The group DM the chat's scheduling messages went to."""
    return session.scalar(
        select(OutboxMessage.sent_channel)
        .where(
            OutboxMessage.dedupe_key.like(f"chat:{chat_id}:%"),
            OutboxMessage.status == OutboxStatus.SENT,
            OutboxMessage.sent_channel.is_not(None),
            OutboxMessage.users.like("%,%"),
        )
        .order_by(OutboxMessage.sent_at.desc())
        .limit(1)
    )


def share_invites(ctx: AppContext, chat_id: int, now: datetime) -> bool:
    """Upload the newest invite revision (.ics) to the chat's group DM, once. True if uploaded."""
    with ctx.db.session() as session:
        schedule = schedule_store.claim_invite(session, chat_id, now)
        chat = session.get(Chat, chat_id)
        if schedule is None or chat is None:
            return False
        channel = _conversation(session, chat_id)
        cancel = schedule.status == ScheduleStatus.CANCELLED
        if channel is None or schedule.start_at is None:
            schedule_store.release_invite(session, chat_id)
            return False
        event = invite_event(session, chat, schedule)
        data = invite.ics(event, cancel=cancel, stamp=now)
        sequence, start = schedule.sequence, schedule.start_at
    name = f"infochat-{'cancelled' if cancel else 'chat'}-{start:%Y-%m-%d}.ics"
    title = "Cancelled: " + event.summary if cancel else event.summary
    try:
        ctx.slack.upload_files(
            channel, [(name, data, title)], initial_comment=blocks.invite_comment(start, cancel=cancel)
        )
    except Exception:
        log.exception("could not upload the calendar invite", extra={"chat_id": chat_id})
        with ctx.db.session() as session:
            schedule_store.release_invite(session, chat_id)
        return False
    with ctx.db.session() as session:
        schedule_store.invite_shared(session, chat_id, sequence)
    return True


# -- the job: nudges and invites not shared yet ----------------------------------------------------------


def run_scheduling(ctx: AppContext, now: datetime) -> str:
    nudged = 0
    with ctx.db.session() as session:
        due = [chat.id for chat in schedule_store.due_nudges(session, now)]
    for chat_id in due:
        with ctx.db.session() as session:
            chat = session.get(Chat, chat_id)
            if chat is None or not schedule_store.claim_nudge(session, chat_id, now):
                continue
            members = schedule_store.people_of(chat)
            text, rendered = blocks.nudge_message(chat_id, people(chat))
            outbox.enqueue(
                session,
                f"chat:{chat_id}:schedule-nudge",
                users=_group(chat),
                text=text,
                blocks=rendered,
                not_before=pairing.not_before(now, [zone(p.tz) for p in members]),
                subject=_subject(chat_id),
            )
            nudged += 1
    delivery.deliver(ctx)
    with ctx.db.session() as session:
        pending = schedule_store.unshared_invites(session, now)
    shared = sum(1 for chat_id in pending if share_invites(ctx, chat_id, now))
    return f"nudged {nudged}, invites shared {shared}"
