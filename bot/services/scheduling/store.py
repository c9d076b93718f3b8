"""Scheduling in the database: proposals, picks, confirmation, reschedule, cancel, nudges.

Every change to a chat's schedule first locks its `chat_schedules` row (an
UPDATE, which PostgreSQL holds until commit and which takes SQLite's write
lock), then reads the picks. So when two people tick their times at the same
moment, the second transaction sees the first one's picks and exactly one of
them confirms; state changes are conditional UPDATEs on the status and round
read, so a double click confirms, reschedules or cancels once. Messages the
caller enqueues in the same transaction carry dedupe keys (bot.flows.scheduling).
Nothing here knows about Slack.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bot.clock import zone
from bot.db import insert_ignoring_duplicates, insert_once
from bot.models import (
    Chat,
    ChatNudge,
    ChatParticipant,
    ChatRequest,
    ChatRole,
    ChatSchedule,
    Outcome,
    Person,
    ScheduleSlot,
    ScheduleStatus,
    SlotPick,
)
from bot.services import chats
from bot.services.scheduling.availability import clock, work_days_of
from bot.services.scheduling.calendar import Attendee, BusyTimes, WorkingHoursOnly
from bot.services.scheduling.countries import country_for_zone, holiday_dates
from bot.services.scheduling.slots import (
    BEST_TIMES,
    CHAT_LENGTHS,
    LEAD,
    Availability,
    Interval,
    Slot,
    add_working_days,
    chat_minutes,
    propose_slots,
    slot_for,
)

AFTER_MEETING = timedelta(hours=2)  # the follow-up check-in, after the slot ends
REMIND_BEFORE = timedelta(minutes=15)
NUDGE_AFTER_WORKING_DAYS = 3
NUDGE_WINDOW = timedelta(days=14)  # older intros are not nudged (e.g. when scheduling is first deployed)
SUGGEST_AHEAD = timedelta(days=60)
MAX_REASON = 300


class Stale(Exception):
    """The choice no longer applies (confirmed, rescheduled or cancelled meanwhile); says what happened."""


# -- availability ---------------------------------------------------------------------


def availability_of(person: Person, now: datetime, busy: Sequence[Interval] = ()) -> Availability:
    """A person's availability for the next few weeks, holidays of their zone's country included."""
    tz = zone(person.tz).key
    today = now.astimezone(UTC).date()
    return Availability(
        tz=tz,
        days=work_days_of(person.work_days),
        start=clock(person.work_start),
        end=clock(person.work_end),
        best=person.best_time if person.best_time in BEST_TIMES else "any",
        holidays=holiday_dates(country_for_zone(tz), today - timedelta(days=1), today + timedelta(days=45)),
        busy=tuple(busy),
    )


# -- the chat as scheduling sees it ---------------------------------------------------------


def people_of(chat: Chat) -> list[Person]:
    """The chat's people in a stable order: the learner first, then the expert; peers by id."""
    order = {ChatRole.LEARNER: 0, ChatRole.EXPERT: 1, ChatRole.PEER: 2}
    ranked = sorted(chat.participants, key=lambda p: (order.get(p.role, 3), p.person_id))
    return [p.person for p in ranked]


def participant(chat: Chat, slack_user_id: str) -> Person:
    """Only the chat's people may pick, suggest, reschedule or cancel its time (chats.NotParticipant)."""
    return chats.participant(chat, slack_user_id, chats.TIME_REFUSAL).person


def request_of(session: Session, chat: Chat) -> ChatRequest | None:
    return session.get(ChatRequest, chat.request_id) if chat.request_id is not None else None


def minutes_for(session: Session, chat: Chat) -> int:
    """A request's length is the learner's choice; a pairing's the shortest its people asked for."""
    request = request_of(session, chat)
    if request is not None and request.duration_minutes in CHAT_LENGTHS:
        return int(request.duration_minutes)
    return chat_minutes([p.chat_minutes for p in people_of(chat)])


def schedule_of(session: Session, chat_id: int) -> ChatSchedule | None:
    return session.get(ChatSchedule, chat_id, populate_existing=True)


def confirmed_starts(session: Session, chat_ids: Sequence[int]) -> dict[int, datetime]:
    """The confirmed start (UTC) of each of these chats that has one."""
    if not chat_ids:
        return {}
    rows = session.execute(
        select(ChatSchedule.chat_id, ChatSchedule.start_at).where(
            ChatSchedule.chat_id.in_(chat_ids), ChatSchedule.status == ScheduleStatus.CONFIRMED
        )
    )
    return {chat_id: start for chat_id, start in rows if start is not None}


def cancelled_by(session: Session, schedule: ChatSchedule) -> Person | None:
    """Who cancelled the chat's time; None if nobody did, or they were erased since."""
    return session.get(Person, schedule.cancelled_by_id) if schedule.cancelled_by_id else None


def slots_of(session: Session, chat_id: int, round_: int) -> list[ScheduleSlot]:
    return list(
        session.scalars(
            select(ScheduleSlot)
            .where(ScheduleSlot.chat_id == chat_id, ScheduleSlot.round == round_)
            .order_by(ScheduleSlot.start_at)
        )
    )


def picks_of(session: Session, slot_ids: Sequence[int]) -> dict[int, set[int]]:
    """slot id -> ids of the people who said it works."""
    picks: dict[int, set[int]] = {slot_id: set() for slot_id in slot_ids}
    if slot_ids:
        for slot_id, person_id in session.execute(
            select(SlotPick.slot_id, SlotPick.person_id).where(SlotPick.slot_id.in_(list(slot_ids)))
        ):
            picks.setdefault(int(slot_id), set()).add(int(person_id))
    return picks


def _lock(session: Session, chat_id: int, now: datetime) -> ChatSchedule:
    """Serialise changes to one chat's schedule (see the module docstring).

    Raises Stale when nobody has clicked `Find a time` yet (no row to lock).
    """
    session.execute(
        update(ChatSchedule)
        .where(ChatSchedule.chat_id == chat_id)
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )
    schedule = schedule_of(session, chat_id)
    if schedule is None:
        raise Stale("No times were proposed for this chat yet: click `Find a time`.")
    return schedule


# -- proposing --------------------------------------------------------------------------------


@dataclass
class Proposed:
    schedule: ChatSchedule
    slots: list[ScheduleSlot]
    new_round: bool  # True: these times are new (post them to the conversation)


def _availabilities(chat: Chat, now: datetime, busy_times: BusyTimes) -> list[Availability]:
    people = people_of(chat)
    attendees = [Attendee(p.id, p.slack_user_id, p.email, zone(p.tz).key) for p in people]
    try:
        busy = busy_times.busy(attendees, now, now + timedelta(days=14))
    except Exception:  # a calendar outage: propose from working hours alone
        busy = {}
    return [availability_of(p, now, busy.get(p.id, ())) for p in people]


def _store_slots(
    session: Session, chat: Chat, round_: int, proposal_slots: list[Slot], now: datetime
) -> None:
    if not proposal_slots:
        return
    ids = [p.id for p in people_of(chat)]
    # One statement for the round's 3-5 times; a time another replica stored first is kept.
    session.execute(
        insert_ignoring_duplicates(session, ScheduleSlot),
        [
            {
                "chat_id": chat.id,
                "round": round_,
                "start_at": slot.start,
                "end_at": slot.end,
                "early_for": [ids[i] for i in slot.early_for],
                "late_for": [ids[i] for i in slot.late_for],
                "created_at": now,
            }
            for slot in proposal_slots
        ],
    )


def propose(
    session: Session,
    chat: Chat,
    now: datetime,
    busy_times: BusyTimes | None = None,
    avoid: Sequence[Interval] = (),
) -> Proposed:
    """The times being picked for `chat`: the current round's if some are still ahead, else new ones."""
    insert_once(
        session,
        ChatSchedule,
        {
            "chat_id": chat.id,
            "status": ScheduleStatus.PROPOSING,
            "round": 1,
            "minutes": minutes_for(session, chat),
            "overlap": True,
            "sequence": 0,
            "invite_shared": -1,
            "reschedules": 0,
            "cancel_reason": "",
            "created_at": now,
            "updated_at": now,
        },
    )
    schedule = _lock(session, chat.id, now)
    slots = slots_of(session, chat.id, schedule.round)
    if schedule.status != ScheduleStatus.PROPOSING or any(s.start_at > now + REMIND_BEFORE for s in slots):
        return Proposed(schedule, [s for s in slots if s.start_at > now], new_round=False)
    # Nothing proposed yet, or every proposed time has passed: a fresh round.
    new_round = schedule.round + 1 if slots else schedule.round
    people = _availabilities(chat, now, busy_times or WorkingHoursOnly())
    if avoid:  # e.g. the time just rescheduled away from: busy for everyone
        people = [replace(p, busy=(*p.busy, *avoid)) for p in people]
    proposal = propose_slots(people, now, minutes=schedule.minutes)
    session.execute(
        update(ChatSchedule)
        .where(ChatSchedule.chat_id == chat.id)
        .values(round=new_round, overlap=proposal.overlap)
        .execution_options(synchronize_session=False)
    )
    _store_slots(session, chat, new_round, proposal.slots, now)
    schedule = schedule_of(session, chat.id)
    assert schedule is not None
    return Proposed(schedule, slots_of(session, chat.id, new_round), new_round=True)


# -- picking and confirming ----------------------------------------------------------------------


@dataclass
class Picked:
    schedule: ChatSchedule
    confirmed: ScheduleSlot | None = None  # set when this pick made a time work for everyone
    slots: list[ScheduleSlot] = field(default_factory=list)


def _check_open(schedule: ChatSchedule, round_: int) -> None:
    if schedule.status == ScheduleStatus.CONFIRMED:
        raise Stale("A time is already confirmed for this chat — see the confirmation above.")
    if schedule.status == ScheduleStatus.CANCELLED:
        raise Stale("This chat was cancelled.")
    if schedule.round != round_:
        raise Stale("These times were replaced by new ones; click `Find a time` again.")


def _confirm_common(session: Session, chat: Chat, schedule: ChatSchedule, now: datetime) -> Picked:
    slots = slots_of(session, chat.id, schedule.round)
    everyone = {p.id for p in people_of(chat)}
    picks = picks_of(session, [s.id for s in slots])
    common = [s for s in slots if everyone <= picks.get(s.id, set()) and s.start_at > now]
    if not common:
        return Picked(schedule, None, slots)
    chosen = min(common, key=lambda s: s.start_at)  # the first time that works for everyone
    result = session.execute(
        update(ChatSchedule)
        .where(
            ChatSchedule.chat_id == chat.id,
            ChatSchedule.status == ScheduleStatus.PROPOSING,
            ChatSchedule.round == schedule.round,
        )
        .values(
            status=ScheduleStatus.CONFIRMED,
            start_at=chosen.start_at,
            end_at=chosen.end_at,
            confirmed_at=now,
            first_confirmed_at=func.coalesce(ChatSchedule.first_confirmed_at, now),
            checkin_after=chosen.end_at + AFTER_MEETING,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return Picked(schedule, None, slots)
    _move_pending_checkins(session, chat.id, chosen.end_at + AFTER_MEETING)
    confirmed = schedule_of(session, chat.id)
    assert confirmed is not None
    return Picked(confirmed, chosen, slots)


def _move_pending_checkins(session: Session, chat_id: int, at: datetime) -> None:
    """Someone already asked "did you meet?" and waiting: ask again after the meeting instead."""
    session.execute(
        update(ChatParticipant)
        .where(
            ChatParticipant.chat_id == chat_id,
            ChatParticipant.checkins_sent >= 1,
            ChatParticipant.next_checkin_at.is_not(None),
            (ChatParticipant.outcome.is_(None)) | (ChatParticipant.outcome == Outcome.NOT_YET),
        )
        .values(next_checkin_at=at)
        .execution_options(synchronize_session=False)
    )


def pick(
    session: Session, chat: Chat, slack_user_id: str, round_: int, slot_ids: Sequence[int], now: datetime
) -> Picked:
    """Replace this person's picks in `round_` with `slot_ids`; confirm if one now works for all."""
    person = participant(chat, slack_user_id)
    schedule = _lock(session, chat.id, now)
    _check_open(schedule, round_)
    valid = {s.id for s in slots_of(session, chat.id, round_) if s.start_at > now}
    round_slots = select(ScheduleSlot.id).where(ScheduleSlot.chat_id == chat.id, ScheduleSlot.round == round_)
    session.execute(
        delete(SlotPick).where(SlotPick.person_id == person.id, SlotPick.slot_id.in_(round_slots))
    )
    for slot_id in sorted(set(slot_ids) & valid):
        insert_once(session, SlotPick, {"slot_id": slot_id, "person_id": person.id, "created_at": now})
    return _confirm_common(session, chat, schedule, now)


def suggest(session: Session, chat: Chat, slack_user_id: str, start: datetime, now: datetime) -> Picked:
    """`Suggest your own time`: add it to the times being picked, ticked for whoever suggested it."""
    person = participant(chat, slack_user_id)
    if start < now + LEAD:
        raise ValueError("Pick a time at least two hours from now, so everyone can see it in time.")
    if start > now + SUGGEST_AHEAD:
        raise ValueError("Pick a time within the next two months.")
    schedule = _lock(session, chat.id, now)
    _check_open(schedule, schedule.round)
    people = people_of(chat)
    slot = slot_for([availability_of(p, now) for p in people], start, schedule.minutes)
    ids = [p.id for p in people]
    insert_once(
        session,
        ScheduleSlot,
        {
            "chat_id": chat.id,
            "round": schedule.round,
            "start_at": slot.start,
            "end_at": slot.end,
            "suggested_by_id": person.id,
            "early_for": [ids[i] for i in slot.early_for],
            "late_for": [ids[i] for i in slot.late_for],
            "created_at": now,
        },
    )
    stored = session.scalar(
        select(ScheduleSlot).where(
            ScheduleSlot.chat_id == chat.id,
            ScheduleSlot.round == schedule.round,
            ScheduleSlot.start_at == slot.start,
        )
    )
    assert stored is not None
    insert_once(session, SlotPick, {"slot_id": stored.id, "person_id": person.id, "created_at": now})
    return _confirm_common(session, chat, schedule, now)


# -- reschedule and cancel ------------------------------------------------------------------------


@dataclass
class Changed:
    schedule: ChatSchedule
    previous_start: datetime | None
    previous_end: datetime | None


def _from_confirmed(session: Session, chat: Chat, now: datetime, **values: object) -> Changed | None:
    """The conditional UPDATE `confirmed → …` under the chat's lock; None if no longer confirmed."""
    try:
        schedule = _lock(session, chat.id, now)
    except Stale:
        return None
    if schedule.status != ScheduleStatus.CONFIRMED:
        return None
    before = (schedule.start_at, schedule.end_at)
    result = session.execute(
        update(ChatSchedule)
        .where(ChatSchedule.chat_id == chat.id, ChatSchedule.status == ScheduleStatus.CONFIRMED)
        .values(sequence=ChatSchedule.sequence + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    changed = schedule_of(session, chat.id)
    assert changed is not None
    return Changed(changed, *before)


def reschedule(
    session: Session, chat: Chat, slack_user_id: str, now: datetime, followup_after: timedelta
) -> Changed | None:
    """`Reschedule`: back to picking (a new round), invite SEQUENCE + 1. None if not confirmed (any more)."""
    participant(chat, slack_user_id)
    return _from_confirmed(
        session,
        chat,
        now,
        status=ScheduleStatus.PROPOSING,
        round=ChatSchedule.round + 1,
        reschedules=ChatSchedule.reschedules + 1,
        start_at=None,
        end_at=None,
        # Until a new time is confirmed, the check-in waits as it would after an intro.
        checkin_after=now + followup_after,
    )


def cancel(session: Session, chat: Chat, slack_user_id: str, reason: str, now: datetime) -> Changed | None:
    """`Cancel` on the confirmation: the chat ends, with a reason; invite SEQUENCE + 1 (METHOD:CANCEL)."""
    person = participant(chat, slack_user_id)
    changed = _from_confirmed(
        session,
        chat,
        now,
        status=ScheduleStatus.CANCELLED,
        cancelled_at=now,
        cancel_reason=reason.strip()[:MAX_REASON],
        cancelled_by_id=person.id,
        checkin_after=None,
    )
    if changed is None:
        return None
    session.execute(
        update(Chat)
        .where(Chat.id == chat.id, Chat.cancelled_at.is_(None))
        .values(cancelled_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(chat)
    return changed


# -- the invite file's delivery -----------------------------------------------------------------

INVITE_LEASE = timedelta(minutes=2)


def claim_invite(session: Session, chat_id: int, now: datetime) -> ChatSchedule | None:
    """Claim sharing the current invite revision (exactly one sharer at a time); None if nothing to share."""
    result = session.execute(
        update(ChatSchedule)
        .where(
            ChatSchedule.chat_id == chat_id,
            ChatSchedule.status != ScheduleStatus.PROPOSING,
            ChatSchedule.invite_shared < ChatSchedule.sequence,
            (ChatSchedule.invite_claimed_until.is_(None)) | (ChatSchedule.invite_claimed_until < now),
        )
        .values(invite_claimed_until=now + INVITE_LEASE)
        .execution_options(synchronize_session=False)
    )
    # The first revision is sequence 0, shared while invite_shared is still -1.
    return schedule_of(session, chat_id) if result.rowcount == 1 else None


def invite_shared(session: Session, chat_id: int, sequence: int) -> None:
    session.execute(
        update(ChatSchedule)
        .where(ChatSchedule.chat_id == chat_id, ChatSchedule.invite_shared < sequence)
        .values(invite_shared=sequence, invite_claimed_until=None)
        .execution_options(synchronize_session=False)
    )


def release_invite(session: Session, chat_id: int) -> None:
    session.execute(
        update(ChatSchedule)
        .where(ChatSchedule.chat_id == chat_id)
        .values(invite_claimed_until=None)
        .execution_options(synchronize_session=False)
    )


def unshared_invites(session: Session, now: datetime, limit: int = 100) -> list[int]:
    return list(
        session.scalars(
            select(ChatSchedule.chat_id)
            .where(
                ChatSchedule.status != ScheduleStatus.PROPOSING,
                ChatSchedule.invite_shared < ChatSchedule.sequence,
                (ChatSchedule.invite_claimed_until.is_(None)) | (ChatSchedule.invite_claimed_until < now),
                ChatSchedule.updated_at > now - timedelta(days=7),
            )
            .limit(limit)
        )
    )


# -- the nudge ------------------------------------------------------------------------------------


def due_nudges(session: Session, now: datetime, limit: int = 200) -> list[Chat]:
    """Chats introduced 3+ working days ago (the first person's days) with no time chosen, never nudged."""
    settled = select(ChatSchedule.chat_id).where(ChatSchedule.status != ScheduleStatus.PROPOSING)
    nudged = select(ChatNudge.chat_id)
    candidates = session.scalars(
        select(Chat)
        .where(
            Chat.created_at <= now - timedelta(days=NUDGE_AFTER_WORKING_DAYS),
            Chat.created_at > now - NUDGE_WINDOW,
            Chat.cancelled_at.is_(None),
            Chat.done_at.is_(None),
            Chat.id.not_in(settled),
            Chat.id.not_in(nudged),
        )
        .order_by(Chat.created_at)
        .limit(limit)
    )
    due = []
    for chat in candidates:
        people = people_of(chat)
        if not people or not all(p.can_be_messaged and p.left_at is None for p in people):
            continue
        first = availability_of(people[0], chat.created_at)
        if add_working_days(chat.created_at, NUDGE_AFTER_WORKING_DAYS, first) <= now:
            due.append(chat)
    return due


def claim_nudge(session: Session, chat_id: int, now: datetime) -> bool:
    """True exactly once per chat: the one nudge it ever gets."""
    return insert_once(session, ChatNudge, {"chat_id": chat_id, "sent_at": now})
