"""Finding a time for a chat: the times proposed, the pick and suggest modals, the confirmation,
reminder, nudge, reschedule and cancel messages — pure functions of plain data.

Times in a group DM are written twice: once with Slack's `<!date^…>` token,
which every reader's client shows in their own time zone, and once spelled
out for each person ("10:00 for Ana · 19:00 for Ken"), so nobody has to do
time-zone arithmetic to see whom a time suits.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.blocks import Block, actions, button, context, escape, header, input_block, plain, section, truncate
from bot.blocks.requests import FIND_TIME_ACTION, LEARN_NOT_JOB
from bot.clock import zone

FIND_ACTION = FIND_TIME_ACTION  # `Find a time` (intros, nudges) and `Pick your times` (the list)
SUGGEST_ACTION = "schedule_suggest"
RESCHEDULE_ACTION = "schedule_reschedule"
CANCEL_ACTION = "schedule_cancel"
GOOGLE_ACTION = "schedule_google_link"
OUTLOOK_ACTION = "schedule_outlook_link"
PICK_CALLBACK = "schedule_pick_modal"
SUGGEST_CALLBACK = "schedule_suggest_modal"
CANCEL_CALLBACK = "schedule_cancel_modal"

CLOSING = "Close with “how can I help you?” and “who else should I talk to?”"


@dataclass(frozen=True)
class Who:
    """One person in the chat, as scheduling messages show them."""

    person_id: int
    slack_user_id: str
    name: str
    tz: str

    @property
    def first_name(self) -> str:
        return self.name.split(" ")[0] or self.name


@dataclass(frozen=True)
class SlotCard:
    slot_id: int
    start: datetime
    end: datetime
    early_for: tuple[int, ...] = ()  # person ids
    late_for: tuple[int, ...] = ()
    picked_by: tuple[int, ...] = ()
    suggested_by: int | None = None


@dataclass(frozen=True)
class Agenda:
    topic: str
    learner: str | None  # a request's learner; None for weekly pairings
    goal: str
    questions: list[str] = field(default_factory=list)


def find_button(chat_id: int, label: str = "Find a time") -> Block:
    return button(label, FIND_ACTION, str(chat_id), style="primary")


# -- time formatting --------------------------------------------------------------------------


def _day(moment: datetime) -> str:
    return f"{moment:%a} {moment.day} {moment:%b}"


def local_span(start: datetime, end: datetime, tz: str) -> str:
    """ "Tue 3 Mar 10:00–10:30" in `tz` (no comma: pickers take comma-separated answers)."""
    s, e = start.astimezone(zone(tz)), end.astimezone(zone(tz))
    return f"{_day(s)} {s:%H:%M}–{e:%H:%M}"


def slack_date(moment: datetime, token: str = "{date_short_pretty}, {time}", *, yours: bool = True) -> str:
    """Slack's date token: each reader sees `moment` in their own zone, "(your time)" saying so;
    clients that cannot render it show the fallback, in UTC."""
    utc = moment.astimezone(UTC)
    fallback = f"{_day(utc)}, {utc:%H:%M} UTC"
    shown = token + (" (your time)" if yours else "")
    return f"<!date^{int(utc.timestamp())}^{shown}|{fallback}>"


def _place(tz: str) -> str:
    return tz.rsplit("/", 1)[-1].replace("_", " ")


def each_person(start: datetime, people: Sequence[Who], *, everyone: bool = True) -> str:
    """ "10:00 for Ana (London) · 19:00 for Ken (Tokyo)"; one time for everyone in one zone."""
    if everyone and len(people) > 1 and len({p.tz for p in people}) == 1:
        return f"{start.astimezone(zone(people[0].tz)):%H:%M} in {_place(people[0].tz)} for all of you"
    return " · ".join(
        f"{start.astimezone(zone(p.tz)):%H:%M} for {escape(p.first_name)} ({_place(p.tz)})" for p in people
    )


def flags(slot: SlotCard, people: Sequence[Who]) -> str:
    names = {p.person_id: escape(p.first_name) for p in people}
    parts = []
    if slot.early_for:
        parts.append("early for " + " and ".join(names.get(i, "someone") for i in slot.early_for))
    if slot.late_for:
        parts.append("late for " + " and ".join(names.get(i, "someone") for i in slot.late_for))
    return ", ".join(parts)


def _hours(people: Sequence[Who], hours: dict[int, str]) -> str:
    return "; ".join(
        f"{escape(p.first_name)} {hours.get(p.person_id, '10:00–17:00')} in {_place(p.tz)}" for p in people
    )


# -- the times proposed (group DM) ----------------------------------------------------------------


def slots_message(
    chat_id: int,
    people: Sequence[Who],
    slots: Sequence[SlotCard],
    *,
    overlap: bool,
    minutes: int,
    hours: dict[int, str],
) -> tuple[str, list[Block]]:
    text = f"Times for your {minutes}-minute infochat chat"
    every = "both of your" if len(people) == 2 else "all of your"
    if not slots:
        intro = (
            f":calendar: I couldn't find {minutes} minutes in the next working days that suit {every} "
            f"working days ({_hours(people, hours)}). Suggest a time that could work:"
        )
    elif overlap:
        intro = (
            f":calendar: *Let's find {minutes} minutes.* These times fit {every} working hours, "
            "on nobody's weekend or public holiday. Tick the ones that work for you: as soon as one "
            "works for everyone, I'll confirm it and send a calendar invite."
        )
    else:
        intro = (
            f":calendar: *Your working hours don't overlap* ({_hours(people, hours)}), so these are "
            "the least-bad times I found, as close to everyone's day as possible. Tick what you can "
            "make, or suggest a time of your own."
        )
    names = {p.person_id: escape(p.first_name) for p in people}
    blocks: list[Block] = [section(intro)]
    for slot in slots[:12]:
        line = f"*{slack_date(slot.start)}*\n{each_person(slot.start, people)}"
        if flagged := flags(slot, people):
            line += f" — _{flagged}_"
        if slot.suggested_by is not None:
            line += f"\nSuggested by {names.get(slot.suggested_by, 'someone')}"
        ticked = [names[i] for i in slot.picked_by if i in names]
        line += "\n" + (":white_check_mark: " + ", ".join(ticked) if ticked else "_nobody has ticked it yet_")
        blocks.append(section(truncate(line, 3000)))
    buttons = [find_button(chat_id, "Pick your times")] if slots else []
    buttons.append(button("Suggest your own time", SUGGEST_ACTION, str(chat_id)))
    blocks.append(actions(*buttons, block_id=f"schedule_{chat_id}"))
    blocks.append(
        context(
            "Times are shown in your own time zone. Working hours, best times and chat length "
            "are in your profile (`/infochat profile`)."
        )
    )
    return text, blocks


def settled_slots_message(minutes: int, outcome: str) -> tuple[str, list[Block]]:
    """The list of times once the choice is over (confirmed, replaced): no buttons left."""
    return f"Times for your {minutes}-minute infochat chat", [section(f":calendar: {outcome}")]


# -- modals ---------------------------------------------------------------------------------------


def _metadata(chat_id: int, round_: int) -> str:
    return json.dumps({"chat": chat_id, "round": round_})


def loading_modal() -> Block:
    """Shown at once (a click's trigger expires in 3 seconds), then replaced by the times."""
    return {
        "type": "modal",
        "title": plain("Find a time", 24),
        "close": plain("Close", 24),
        "blocks": [section(":hourglass_flowing_sand: Looking at everyone's working hours…")],
    }


def notice_modal(text: str) -> Block:
    return {
        "type": "modal",
        "title": plain("Find a time", 24),
        "close": plain("OK", 24),
        "blocks": [section(text)],
    }


def pick_modal(
    chat_id: int,
    round_: int,
    me: Who,
    people: Sequence[Who],
    slots: Sequence[SlotCard],
    mine: set[int],
) -> Block:
    options = []
    for slot in slots[:10]:
        option: Block = {
            "text": plain(local_span(slot.start, slot.end, me.tz), 75),
            "value": str(slot.slot_id),
        }
        others = [p for p in people if p.person_id != me.person_id]
        detail = each_person(slot.start, others, everyone=False) if others else ""
        if flagged := flags(slot, people):
            detail += f" — {flagged}"
        if detail:
            option["description"] = plain(detail, 75)
        options.append(option)
    element: Block = {"type": "checkboxes", "action_id": "slots_checkboxes", "options": options}
    chosen = [o for o in options if int(o["value"]) in mine]
    if chosen:
        element["initial_options"] = chosen
    blocks: list[Block] = [
        section(f"Which of these times work for you? They're in your time zone, *{escape(me.tz)}*."),
        input_block(
            "slots",
            "Times that work for me",
            element,
            optional=True,
            hint="None of them? Close this and use “Suggest your own time”.",
        ),
    ]
    return {
        "type": "modal",
        "callback_id": PICK_CALLBACK,
        "private_metadata": _metadata(chat_id, round_),
        "title": plain("Find a time", 24),
        "submit": plain("Save", 24),
        "close": plain("Cancel", 24),
        "blocks": blocks,
    }


def suggest_modal(chat_id: int, round_: int, me: Who, initial: datetime | None) -> Block:
    element: Block = {"type": "datetimepicker", "action_id": "when_picker"}
    if initial is not None:
        element["initial_date_time"] = int(initial.timestamp())
    return {
        "type": "modal",
        "callback_id": SUGGEST_CALLBACK,
        "private_metadata": _metadata(chat_id, round_),
        "title": plain("Suggest a time", 24),
        "submit": plain("Suggest", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            section(
                f"Pick a day and time in your time zone (*{escape(me.tz)}*); the others see it in theirs "
                "and tick it if it works."
            ),
            input_block("when", "Suggest your own time", element),
        ],
    }


def cancel_modal(chat_id: int, others: Sequence[Who]) -> Block:
    names = " and ".join(escape(p.first_name) for p in others) or "the others"
    return {
        "type": "modal",
        "callback_id": CANCEL_CALLBACK,
        "private_metadata": json.dumps({"chat": chat_id}),
        "title": plain("Cancel the chat", 24),
        "submit": plain("Cancel the chat", 24),
        "close": plain("Back", 24),
        "blocks": [
            section(f"I'll tell {names} and send a calendar update that removes it."),
            input_block(
                "reason",
                "Why are you cancelling? (they'll see this)",
                {
                    "type": "plain_text_input",
                    "action_id": "reason_input",
                    "max_length": 300,
                    "placeholder": plain("e.g. Something came up; I'll ask again next month"),
                },
            ),
        ],
    }


# -- confirmed -----------------------------------------------------------------------------------


def _agenda(agenda: Agenda) -> str:
    lines = ["*Agenda*"]
    if agenda.learner and agenda.goal.strip():
        goal = " ".join(agenda.goal.split())
        lines.append(f"• What {escape(agenda.learner)} wants to learn: _{escape(truncate(goal, 600))}_")
    elif agenda.topic:
        lines.append(f"• What you can teach each other: *{escape(agenda.topic)}*")
    if agenda.questions:
        lines.append("• Questions to start with:")
        lines += [f"    ◦ {escape(q)}" for q in agenda.questions[:6]]
    lines.append(f"• {CLOSING}.")
    return truncate("\n".join(lines), 3000)


def confirmed_message(
    chat_id: int,
    people: Sequence[Who],
    start: datetime,
    end: datetime,
    agenda: Agenda,
    links: tuple[str, str],
    *,
    flags: str = "",
    rescheduled: bool = False,
) -> tuple[str, list[Block]]:
    minutes = int((end - start).total_seconds() // 60)
    utc = start.astimezone(UTC)
    text = f"Your infochat chat is on {_day(utc)}, {utc:%H:%M} UTC ({minutes} minutes)"
    who = "\n".join(
        f"• <@{p.slack_user_id}>: {local_span(start, end, p.tz)} ({escape(p.tz)})" for p in people
    )
    lead = "New time" if rescheduled else "It's a date"
    blocks: list[Block] = [
        header("Your infochat chat is booked"),
        section(
            f":white_check_mark: *{lead}: {slack_date(start, '{date_long_pretty} at {time}')}*, "
            f"{minutes} minutes.\n{who}"
        ),
    ]
    if flags:
        blocks.append(context(f"It's {flags} — thank you for making it work."))
    blocks += [
        section(_agenda(agenda)),
        context(LEARN_NOT_JOB + " The calendar invite (.ics) follows; or add it here:"),
        actions(
            {
                "type": "button",
                "text": plain("Add to Google Calendar", 75),
                "action_id": GOOGLE_ACTION,
                "url": links[0],
            },
            {
                "type": "button",
                "text": plain("Add to Outlook", 75),
                "action_id": OUTLOOK_ACTION,
                "url": links[1],
            },
            button("Reschedule", RESCHEDULE_ACTION, str(chat_id)),
            button("Cancel", CANCEL_ACTION, str(chat_id), style="danger"),
            block_id=f"confirmed_{chat_id}",
        ),
    ]
    return text, blocks


def superseded_message(start: datetime, end: datetime, outcome: str) -> tuple[str, list[Block]]:
    """The old confirmation after a reschedule or cancel: what it was, crossed out, and why."""
    utc = start.astimezone(UTC)
    return f"Chat on {_day(utc)}, {utc:%H:%M} UTC: {outcome}", [
        section(f"~{slack_date(start, '{date_long_pretty} at {time}', yours=False)}~ — {escape(outcome)}")
    ]


def invite_comment(start: datetime, *, cancel: bool) -> str:
    when = slack_date(start, "{date_short_pretty} at {time}")
    if cancel:
        return f"Calendar update: the chat on {when} is cancelled. Open the file to remove it."
    return f"Calendar invite for {when}. Open the file to add it to your calendar."


# -- reschedule, cancel, reminder, nudge ------------------------------------------------------------


def rescheduled_message(by: str, start: datetime | None) -> tuple[str, list[Block]]:
    old = f" on {slack_date(start)}" if start else ""
    text = f"{by} asked to find another time"
    return text, [
        section(
            f":arrows_counterclockwise: {escape(by)} needs another time, so the chat{old} is off. "
            "Here are new times to pick from; I'll send an updated calendar invite once one works "
            "for everyone."
        )
    ]


def cancelled_message(by: str, reason: str, start: datetime | None, pairing: bool) -> tuple[str, list[Block]]:
    when = f" on {slack_date(start)}" if start else ""
    text = f"{by} cancelled your infochat chat"
    note = "\n".join("> " + line for line in escape(reason).splitlines() if line.strip()) or "> —"
    after = (
        "No problem — it doesn't count against anyone, and you'll both be in the next rounds."
        if pairing
        else "No hard feelings — `/infochat find` is there whenever you want to try again."
    )
    return text, [
        section(f":x: {escape(by)} cancelled your chat{when}. Their note:\n{note}"),
        context("The calendar update below removes it from your calendar. " + after),
    ]


def reminder_message(people: Sequence[Who], start: datetime, agenda: Agenda) -> tuple[str, list[Block]]:
    names = ", ".join(f"<@{p.slack_user_id}>" for p in people)
    text = "Your infochat chat starts in 15 minutes"
    questions = "\n".join(f"• {escape(q)}" for q in agenda.questions[:3])
    blocks: list[Block] = [
        section(f":alarm_clock: {names}: your chat starts in 15 minutes, at {slack_date(start, '{time}')}.")
    ]
    if questions:
        blocks.append(section("*Questions to start with*\n" + questions))
    blocks.append(context(f"{CLOSING} — and say thank you afterwards. {LEARN_NOT_JOB}"))
    return text, blocks


def nudge_message(chat_id: int, people: Sequence[Who]) -> tuple[str, list[Block]]:
    names = " and ".join(f"<@{p.slack_user_id}>" for p in people)
    text = "A gentle nudge: pick a time for your infochat chat"
    return text, [
        section(
            f":wave: {names}, a gentle nudge: you haven't picked a time for your chat yet. "
            "It takes two clicks — I'll propose times that fit your working hours."
        ),
        actions(find_button(chat_id), block_id=f"nudge_{chat_id}"),
        context("If it isn't going to happen, that's fine too — just say so here. I won't nudge again."),
    ]
