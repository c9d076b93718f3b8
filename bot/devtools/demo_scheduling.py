"""The demo's scheduling journey: a weekly pair finds a time, gets the invite, the reminder.

Runs after "The weekly pairing round": it takes one of that round's pairs
(people in two time zones when there is such a pair) and plays `Find a time`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from icalendar import Calendar
from sqlalchemy import func, select

from bot.devtools.demo_stage import Demo
from bot.devtools.slack_client import last_view_opened
from bot.flows import outbox as delivery
from bot.models import Chat, ChatKind, ChatSchedule
from bot.services.scheduling import store


def _pick_pair(demo: Demo) -> tuple[int, list[str]] | None:
    """A pair from this week's round (the one the demo just ran), in two time zones if there is one."""
    ctx = demo.server.app.ctx
    zones = {p.user_id: p.tz for p in demo.people}
    with ctx.db.session() as session:
        newest = session.scalar(select(func.max(Chat.round_id)).where(Chat.kind == ChatKind.PAIRING))
        chats = session.scalars(select(Chat).where(Chat.round_id == newest).order_by(Chat.id)).all()
        pairs = [
            (c.id, [p.slack_user_id for p in store.people_of(c)])
            for c in chats
            if len(c.participants) == 2 and all(p.person.slack_user_id in zones for p in c.participants)
        ]
    apart = [pair for pair in pairs if len({zones.get(u) for u in pair[1]}) == 2]
    return (apart or pairs or [None])[0]


def _open_picker(demo: Demo, user_id: str, message: dict[str, Any]) -> dict[str, Any]:
    before = len(demo.standin.calls_to("views.open"))
    demo.slack.block_action(user_id, "schedule_find", message=message)
    demo.standin.wait_for(lambda: len(demo.standin.calls_to("views.open")) > before)
    demo.server.settle()
    return last_view_opened(demo.standin, user_id)


def _options(modal: dict[str, Any]) -> list[str]:
    block = next(b for b in modal["blocks"] if b.get("block_id") == "slots")
    return [o["text"]["text"] for o in block["element"]["options"]]


def journey_scheduling(demo: Demo) -> None:
    ctx = demo.server.app.ctx
    found = _pick_pair(demo)
    if found is None:
        print("   (the round made no pair to schedule)")
        return
    chat_id, (first, second) = found
    by_id = {p.user_id: p for p in demo.people}
    a, b = by_id[first], by_id[second]
    intro = next(
        m
        for call in demo.standin.calls_to("chat.postMessage")
        if f'"value": "{chat_id}"' in str(call.params.get("blocks")).replace("'", '"')
        and "schedule_find" in str(call.params.get("blocks"))
        for m in [demo.standin.find_message(str(call.response["ts"]))]
        if m
    )[1]
    demo.say(f"{a.name} ({a.tz}) clicks `Find a time` in their weekly intro with {b.name} ({b.tz})")
    modal = _open_picker(demo, a.user_id, intro)
    listed = next(
        m
        for m in reversed(demo.standin.messages_in(intro_channel(demo, intro)))
        if "Pick your times" in str(m)
    )
    demo.print_message(f"group DM {a.name}, {b.name}", listed)
    times = _options(modal)
    print(f"   {a.name}'s modal “Find a time” (their time zone): " + " | ".join(times))
    demo.say(f"{a.name} ticks {times[0]} and {times[-1]}")
    demo.slack.submit(a.user_id, modal, {"times that work": [times[0], times[-1]]})
    demo.server.settle()
    modal = _open_picker(demo, b.user_id, listed)
    theirs = _options(modal)
    print(f"   {b.name}'s modal (their time zone): " + " | ".join(theirs))
    demo.say(f"{b.name} ticks {theirs[-1]}, the same time: it works for both, so it is confirmed")
    demo.slack.submit(b.user_id, modal, {"times that work": [theirs[-1]]})
    demo.server.settle()
    channel = intro_channel(demo, intro)
    confirmation = next(
        m for m in reversed(demo.standin.messages_in(channel)) if "schedule_reschedule" in str(m)
    )
    demo.print_message(f"group DM {a.name}, {b.name}", confirmation)
    for name, data, where in demo.standin.uploaded_files.values():
        if where == channel and name.endswith(".ics"):
            (demo.folder / name).write_bytes(data)
            event = Calendar.from_ical(data).walk("VEVENT")[0]
            print(
                f"   invite uploaded to the group DM: {name} (saved in {demo.folder}): "
                f"UID {event['uid']}, SEQUENCE {event['sequence']}, "
                f"{event.decoded('dtstart'):%Y-%m-%d %H:%M}–{event.decoded('dtend'):%H:%M} UTC"
            )
    with ctx.db.session() as session:
        booked = session.get(ChatSchedule, chat_id)
        start, end = (booked.start_at, booked.end_at) if booked else (None, None)
    if start is None or end is None:
        return
    demo.say("15 minutes before the chat (the demo fast-forwards) the reminder goes out")
    delivery.deliver(ctx, as_of=start - timedelta(minutes=15))
    reminder = next(
        m for m in reversed(demo.standin.messages_in(channel)) if "starts in 15 minutes" in str(m)
    )
    demo.print_message(f"group DM {a.name}, {b.name}", reminder)
    print(
        f"   The follow-up check-in is due two hours after it ends ({end + timedelta(hours=2):%a %H:%M} UTC)."
    )
    demo._seen = len(demo.standin.transcript())


def intro_channel(demo: Demo, intro: dict[str, Any]) -> str:
    located = demo.standin.find_message(str(intro["ts"]))
    assert located is not None
    return located[0]
