"""Finding a time end to end, through the Slack stand-in, at pinned instants.

A pair in one zone, a pair in Europe and the US (overlap), a pair in Tokyo and
New York (no overlap), a weekly-pairing trio; picking, confirming, the .ics
read back with icalendar (UTC across DST, stable UID, SEQUENCE on reschedule,
CANCEL on cancel), the reminder 15 minutes before, the check-in 2 hours
after, the nudge once. Set INFOCHAT_SHOW_TRANSCRIPTS=1 to print what people saw.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar
from sqlalchemy import func, select

from bot.blocks.requests import ask_button_value
from bot.blocks.scheduling import local_span
from bot.clock import advance, frozen_at, travel_to, utcnow
from bot.db import Database
from bot.devtools.runner import AppServer
from bot.devtools.slack_client import SlackAppClient, last_view_opened
from bot.devtools.standin import SlackStandIn, render_blocks
from bot.flows import outbox as delivery
from bot.flows.followups import run_followups
from bot.flows.pairing import run_round
from bot.flows.scheduling import run_scheduling
from bot.models import ChatSchedule, OutboxMessage, Person, ScheduleStatus
from bot.services import privacy
from tests.factories import PROFILE, ask, make_person, open_profile_modal, request_dm

PICK_LABEL = "times that work"


def person(
    db: Database, standin: SlackStandIn, uid: str, name: str, function: str, tz: str, **kw: Any
) -> int:
    person_id = make_person(db, standin, uid, name, function, tz=tz, **kw)
    with db.session() as session:
        found = session.get(Person, person_id)
        assert found is not None
        found.email = f"{name.split(' ')[0].lower()}@example.com"
    return person_id


def show(standin: SlackStandIn, title: str) -> None:
    if os.environ.get("INFOCHAT_SHOW_TRANSCRIPTS"):
        print(f"\n== {title} ==")
        for line in standin.transcript():
            print("  " + line.replace("\n", "\n  "))


def accepted_intro(slack: SlackAppClient, standin: SlackStandIn, learner: str, expert: str) -> dict[str, Any]:
    """Ask, accept, and return the intro as it sits in the group DM."""
    ask(slack, standin, learner, expert)
    slack.block_action(expert, "request_accept", message=request_dm(standin, expert))
    standin.wait_for(lambda: bool(intros(standin)))
    return intros(standin)[-1]


def intros(standin: SlackStandIn) -> list[dict[str, Any]]:
    found = []
    for call in standin.calls_to("chat.postMessage"):
        if "schedule_find" in str(call.params.get("blocks")) and "intro" in str(call.params.get("metadata")):
            located = standin.find_message(str(call.response["ts"]))
            if located:
                found.append(located[1])
    return found


def group_of(standin: SlackStandIn, message: dict[str, Any]) -> str:
    located = standin.find_message(str(message["ts"]))
    assert located is not None
    return located[0]


def latest(standin: SlackStandIn, channel: str, needle: str) -> dict[str, Any]:
    standin.wait_for(lambda: any(needle in str(m) for m in standin.messages_in(channel)))
    return next(m for m in reversed(standin.messages_in(channel)) if needle in str(m))


def open_picker(
    slack: SlackAppClient, standin: SlackStandIn, server: AppServer, user: str, message: dict[str, Any]
) -> dict[str, Any]:
    before = len(standin.calls_to("views.open"))
    slack.block_action(user, "schedule_find", message=message)
    standin.wait_for(lambda: len(standin.calls_to("views.open")) > before)
    server.settle()
    return last_view_opened(standin, user)


def options(modal: dict[str, Any]) -> list[str]:
    block = next(b for b in modal["blocks"] if b.get("block_id") == "slots")
    return [o["text"]["text"] for o in block["element"]["options"]]


def home_chats(slack: SlackAppClient, standin: SlackStandIn, server: AppServer, user: str) -> str:
    """What `user` reads under "Your chats" when they open their App Home.

    The app publishes the tab again only if it would show something new (services/home.py),
    so this reads what Slack shows once the app's work after the open is done.
    """
    server.settle()
    slack.event({"type": "app_home_opened", "user": user, "tab": "home"})
    server.settle()
    home = render_blocks((standin.home_view(user) or {"blocks": []})["blocks"])
    return home.split("Your chats", 1)[1] if "Your chats" in home else ""


def invites(standin: SlackStandIn, channel: str) -> list[Calendar]:
    files = [f for f in standin.uploaded_files.values() if f[2] == channel and f[0].endswith(".ics")]
    return [Calendar.from_ical(data) for _, data, _ in files]


def schedule(db: Database) -> ChatSchedule:
    with db.session() as session:
        found = session.scalars(select(ChatSchedule)).one()
        session.expunge(found)
        return found


def local(moment: datetime, tz: str) -> datetime:
    return moment.astimezone(ZoneInfo(tz))


def test_pair_in_one_zone_picks_confirms_across_dst_with_invite_reminder_and_checkin(
    db: Database, standin: SlackStandIn, settings: Any
) -> None:
    # Thursday 26 March 2026, 09:00 in London; the clocks go forward on Sunday 29 March.
    with travel_to(datetime(2026, 3, 26, 9, 0, tzinfo=UTC)), AppServer(settings, db=db) as server:
        slack = SlackAppClient(server.events_url, "test-signing-secret", standin)
        person(db, standin, "ULENA", "Lena Park", "Sales", "Europe/London", learns=["Kubernetes"])
        person(db, standin, "UOMAR", "Omar Haddad", "Engineering", "Europe/London", speaks=["Kubernetes"])
        person(db, standin, "UBO", "Bo Novak", "Finance", "Europe/London")
        intro = accepted_intro(slack, standin, "ULENA", "UOMAR")
        channel = group_of(standin, intro)

        # Someone outside the chat cannot choose its time.
        slack.block_action("UBO", "schedule_find", message=intro)
        server.settle()
        assert any("Only the people in this chat" in t for t in standin.transcript())

        lena = open_picker(slack, standin, server, "ULENA", intro)
        times = options(lena)
        assert 3 <= len(times) <= 5
        listed = latest(standin, channel, "Pick your times")
        assert "Suggest your own time" in render_blocks(listed["blocks"])
        monday = next(t for t in times if t.startswith("Mon 30 Mar"))
        slack.submit("ULENA", lena, {PICK_LABEL: [times[0], monday]})
        server.settle()
        assert schedule(db).status == ScheduleStatus.PROPOSING

        omar = open_picker(slack, standin, server, "UOMAR", intro)
        assert options(omar) == times  # the same times, in the same zone
        slack.submit("UOMAR", omar, {PICK_LABEL: [monday]})
        server.settle()

        booked = schedule(db)
        assert booked.status == ScheduleStatus.CONFIRMED and booked.start_at is not None
        assert local(booked.start_at, "Europe/London").strftime("%a %d %b") == "Mon 30 Mar"
        confirmation = latest(standin, channel, "schedule_reschedule")
        shown = render_blocks(confirmation["blocks"])
        for words in (
            "Add to Google Calendar",
            "Add to Outlook",
            "Reschedule",
            "Cancel",
            "who else should I talk to",
        ):
            assert words in shown
        assert "How Kubernetes deployments work" in shown  # the learner's goal in the agenda
        assert "never a job ask" in shown

        (calendar,) = invites(standin, channel)
        (event,) = calendar.walk("VEVENT")
        assert str(calendar["method"]) == "REQUEST" and int(event["sequence"]) == 0
        wall = monday.split(" ")[3].split("–")[0]  # "10:00" as the modal showed it
        hour, minute = (int(x) for x in wall.split(":"))
        # British Summer Time has begun by Monday: 10:00 in London is 09:00 UTC.
        assert event.decoded("dtstart") == datetime(2026, 3, 30, hour - 1, minute, tzinfo=UTC)
        assert event.decoded("dtend") - event.decoded("dtstart") == timedelta(minutes=30)
        assert str(event["organizer"]) == "mailto:lena@example.com"

        # The reminder waits in the outbox until 15 minutes before.
        start = booked.start_at
        advance(start - timedelta(minutes=16) - utcnow())
        delivery.deliver(server.app.ctx)
        assert not any("starts in 15 minutes" in str(m) for m in standin.messages_in(channel))
        advance(timedelta(minutes=1, seconds=1))
        delivery.deliver(server.app.ctx)
        reminder = latest(standin, channel, "starts in 15 minutes")
        assert "Questions to start with" in render_blocks(reminder["blocks"])

        # The check-in: two hours after the slot ends, not three days after the intro.
        end = booked.end_at
        assert end is not None
        assert run_followups(server.app.ctx, end + timedelta(hours=2) - timedelta(minutes=1)).startswith(
            "sent 0 check-ins"
        )
        assert run_followups(server.app.ctx, end + timedelta(hours=2)).startswith("sent 2 check-ins")
        show(standin, "a pair in London")
        slack.close()


def test_europe_and_us_overlap_then_reschedule_and_cancel_update_the_invite(
    db: Database, standin: SlackStandIn, settings: Any
) -> None:
    # Wednesday 18 March 2026: New York is already on summer time, London not yet.
    with travel_to(datetime(2026, 3, 18, 12, 0, tzinfo=UTC)), AppServer(settings, db=db) as server:
        slack = SlackAppClient(server.events_url, "test-signing-secret", standin)
        person(db, standin, "ULENA", "Lena Park", "Sales", "Europe/London", learns=["Kubernetes"])
        person(db, standin, "UOMAR", "Omar Haddad", "Engineering", "America/New_York", speaks=["Kubernetes"])
        intro = accepted_intro(slack, standin, "ULENA", "UOMAR")
        channel = group_of(standin, intro)
        assert "Omar Haddad about *Kubernetes* — introduced Wednesday 18 March 2026, no time agreed yet" in (
            home_chats(slack, standin, server, "ULENA")
        )
        lena = open_picker(slack, standin, server, "ULENA", intro)
        listed = render_blocks(latest(standin, channel, "Pick your times")["blocks"])
        assert "for Lena (London)" in listed and "for Omar (New York)" in listed
        omar = open_picker(slack, standin, server, "UOMAR", intro)
        # Each sees the same times in their own zone: New York is 4 hours behind London this week.
        for mine, theirs in zip(options(lena), options(omar), strict=True):
            assert mine != theirs
        slack.submit("ULENA", lena, {PICK_LABEL: options(lena)})
        slack.submit("UOMAR", omar, {PICK_LABEL: options(omar)[1]})
        server.settle()
        first = schedule(db)
        assert first.status == ScheduleStatus.CONFIRMED and first.start_at is not None
        assert 14 <= local(first.start_at, "Europe/London").hour < 17
        assert 10 <= local(first.start_at, "America/New_York").hour < 13
        # Her App Home lists the chat with its time (a date token: Slack shows it in the reader's
        # zone; the stand-in renders the fallback, in UTC).
        start = first.start_at.astimezone(UTC)
        listed = home_chats(slack, standin, server, "ULENA")
        assert (
            f"Omar Haddad about *Kubernetes* — *{start:%a} {start.day} {start:%b}, {start:%H:%M} UTC"
            in listed
        )

        # Reschedule (twice, as a double click): one new round, SEQUENCE 1 when confirmed again.
        confirmation = latest(standin, channel, "schedule_reschedule")
        for _ in range(2):
            slack.block_action("UOMAR", "schedule_reschedule", message=confirmation)
        server.settle()
        moved = schedule(db)
        assert moved.status == ScheduleStatus.PROPOSING and moved.reschedules == 1 and moved.round == 2
        assert "needs another time" in str(standin.messages_in(channel))
        with db.session() as session:
            reminders = session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.dedupe_key.like("%:reminder:%"))
            )
        assert reminders == 0  # the old reminder was withdrawn
        new_list = latest(standin, channel, "Pick your times")
        lena = open_picker(slack, standin, server, "ULENA", new_list)
        assert first.end_at is not None
        assert local_span(first.start_at, first.end_at, "Europe/London") not in options(lena)
        omar = open_picker(slack, standin, server, "UOMAR", new_list)
        slack.submit("ULENA", lena, {PICK_LABEL: options(lena)[-1]})
        slack.submit("UOMAR", omar, {PICK_LABEL: options(omar)[-1]})
        server.settle()
        again = schedule(db)
        assert again.status == ScheduleStatus.CONFIRMED and again.sequence == 1

        # Cancel, with a reason: METHOD:CANCEL, same UID, SEQUENCE 2.
        confirmation = latest(standin, channel, "schedule_cancel")
        before = len(standin.calls_to("views.open"))
        slack.block_action("ULENA", "schedule_cancel", message=confirmation)
        standin.wait_for(lambda: len(standin.calls_to("views.open")) > before)
        modal = last_view_opened(standin, "ULENA")
        slack.submit("ULENA", modal, {"why": "My team offsite moved to that week <!channel>"})
        server.settle()
        assert schedule(db).status == ScheduleStatus.CANCELLED
        assert "Omar" not in home_chats(slack, standin, server, "ULENA")  # a cancelled chat is not upcoming
        note = latest(standin, channel, "cancelled your chat")
        assert "&lt;!channel&gt;" in str(note["blocks"])  # escaped: it cannot ping anyone
        calendars = invites(standin, channel)
        assert [str(c["method"]) for c in calendars] == ["REQUEST", "REQUEST", "CANCEL"]
        events = [c.walk("VEVENT")[0] for c in calendars]
        assert len({str(e["uid"]) for e in events}) == 1
        assert [int(e["sequence"]) for e in events] == [0, 1, 2]
        assert str(events[-1]["status"]) == "CANCELLED"
        assert run_followups(server.app.ctx, utcnow() + timedelta(days=30)).startswith("sent 0 check-ins")
        assert schedule(db).cancel_reason.startswith("My team offsite")
        with db.session() as session:  # retention: the note goes with other free text
            privacy.purge_old_text(session, utcnow() + timedelta(days=31), 30)
        assert schedule(db).cancel_reason == ""
        show(standin, "London and New York")
        slack.close()


def test_tokyo_and_new_york_have_no_overlap_and_suggest_their_own_time(
    db: Database, standin: SlackStandIn, settings: Any
) -> None:
    # Thursday 29 October 2026: New York leaves summer time on Sunday 1 November.
    with travel_to(datetime(2026, 10, 29, 1, 0, tzinfo=UTC)), AppServer(settings, db=db) as server:
        slack = SlackAppClient(server.events_url, "test-signing-secret", standin)
        person(db, standin, "UKEN", "Ken Tanaka", "Sales", "Asia/Tokyo", learns=["Kubernetes"])
        person(db, standin, "UOMAR", "Omar Haddad", "Engineering", "America/New_York", speaks=["Kubernetes"])
        intro = accepted_intro(slack, standin, "UKEN", "UOMAR")
        channel = group_of(standin, intro)
        open_picker(slack, standin, server, "UKEN", intro)
        listed = latest(standin, channel, "Pick your times")
        text = render_blocks(listed["blocks"])
        assert "don't overlap" in text and "early for Ken" in text and "late for Omar" in text

        # Ken suggests 07:30 his time on Wednesday 4 November (Tuesday 17:30 in New York, winter time).
        before = len(standin.calls_to("views.open"))
        slack.block_action("UKEN", "schedule_suggest", message=listed)
        standin.wait_for(lambda: len(standin.calls_to("views.open")) > before)
        server.settle()  # the modal opens at once (the trigger lasts 3 s) and is filled in after
        modal = last_view_opened(standin, "UKEN")
        assert "Suggest your own time" in render_blocks(modal["blocks"])
        wanted = datetime(2026, 11, 4, 7, 30, tzinfo=ZoneInfo("Asia/Tokyo"))
        values = slack.fill(modal, {})
        values["when"] = {
            "when_picker": {"type": "datetimepicker", "selected_date_time": int(wanted.timestamp())}
        }
        too_soon = dict(
            values,
            when={"when_picker": {"type": "datetimepicker", "selected_date_time": int(utcnow().timestamp())}},
        )
        refused = slack.view_submission("UKEN", modal, too_soon).json()
        assert refused["response_action"] == "errors" and "two hours" in refused["errors"]["when"]
        slack.view_submission("UKEN", modal, values)
        server.settle()
        listed = latest(standin, channel, "Suggested by Ken")
        assert "Suggested by Ken" in render_blocks(listed["blocks"])

        omar = open_picker(slack, standin, server, "UOMAR", listed)
        suggested = next(t for t in options(omar) if t.startswith("Tue 3 Nov 17:30"))
        slack.submit("UOMAR", omar, {PICK_LABEL: suggested})
        server.settle()
        booked = schedule(db)
        assert booked.status == ScheduleStatus.CONFIRMED
        (event,) = invites(standin, channel)[0].walk("VEVENT")
        assert event.decoded("dtstart") == datetime(2026, 11, 3, 22, 30, tzinfo=UTC)
        shown = render_blocks(latest(standin, channel, "schedule_reschedule")["blocks"])
        assert "early for Ken" in shown or "thank you for making it work" in shown
        show(standin, "Tokyo and New York")
        slack.close()


def test_weekly_trio_confirms_once_when_the_last_two_pick_at_once_and_nudge_goes_once(
    db: Database, standin: SlackStandIn, settings: Any
) -> None:
    # Monday 5 October 2026, 07:00 UTC.
    with travel_to(datetime(2026, 10, 5, 7, 0, tzinfo=UTC)), AppServer(settings, db=db) as server:
        slack = SlackAppClient(server.events_url, "test-signing-secret", standin)
        common = {"speaks": ["Negotiation", "Pricing"], "learns": ["Negotiation", "Pricing"], "weekly": True}
        person(db, standin, "UANA", "Ana Silva", "Sales", "Europe/Berlin", **common)
        person(db, standin, "UBEN", "Ben Okafor", "Engineering", "Europe/London", **common)
        person(db, standin, "UCEM", "Cem Yilmaz", "Finance", "America/New_York", **common)
        report = run_round(server.app.ctx, utcnow(), seed=1)
        assert report.trios == 1
        delivery.deliver(server.app.ctx, as_of=utcnow() + timedelta(days=1))
        standin.wait_for(lambda: bool(intros(standin)))
        intro = intros(standin)[-1]
        channel = group_of(standin, intro)

        # No time picked for 3 working days: one nudge, never a second.
        advance(timedelta(days=3, hours=2))
        run_scheduling(server.app.ctx, utcnow())
        delivery.deliver(server.app.ctx, as_of=utcnow() + timedelta(days=1))
        nudge = latest(standin, channel, "gentle nudge")
        advance(timedelta(days=4))
        run_scheduling(server.app.ctx, utcnow())
        delivery.deliver(server.app.ctx, as_of=utcnow() + timedelta(days=1))
        assert sum("gentle nudge" in str(m) for m in standin.messages_in(channel)) == 1

        modals = {uid: open_picker(slack, standin, server, uid, nudge) for uid in ("UANA", "UBEN", "UCEM")}
        assert len({tuple(options(m)) for m in modals.values()}) == 3  # three zones, three views
        first = {uid: options(m)[0] for uid, m in modals.items()}
        slack.submit("UANA", modals["UANA"], {PICK_LABEL: first["UANA"]})
        server.settle()
        threads = [
            threading.Thread(target=slack.submit, args=(uid, modals[uid], {PICK_LABEL: first[uid]}))
            for uid in ("UBEN", "UCEM")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        server.settle()
        assert schedule(db).status == ScheduleStatus.CONFIRMED
        confirmations = [m for m in standin.messages_in(channel) if "schedule_reschedule" in str(m)]
        assert len(confirmations) == 1
        text = render_blocks(confirmations[0]["blocks"])
        assert text.count("(Europe/") == 2 and "(America/New_York)" in text
        (event,) = invites(standin, channel)[0].walk("VEVENT")
        assert len(event.get("attendee")) == 2
        show(standin, "a weekly trio")
        slack.close()


def test_profile_modal_sets_working_hours_days_best_times_and_chat_length(
    slack: SlackAppClient, standin: SlackStandIn, db: Database
) -> None:
    standin.add_user("UALICE", name="alice", real_name="Alice Moreau", tz="Europe/Paris")
    view = open_profile_modal(slack, standin, "UALICE")
    shown = render_blocks(view["blocks"])
    assert "My working hours (Europe/Paris): [10:00–17:00 _]" in shown
    assert "Chat length: ( ) 20 minutes  (o) 30 minutes" in shown
    bad = slack.submit("UALICE", view, {**PROFILE, "working hours": "17-9"}).json()
    assert bad["response_action"] == "errors" and "after the start" in bad["errors"]["hours"]
    answers = {
        **PROFILE,
        "working hours": "8:30 - 16:00",
        "working days": ["Monday", "Tuesday", "Thursday"],
        "best times": "Mornings",
        "chat length": "20 minutes",
    }
    saved = slack.submit("UALICE", view, answers).json()
    assert saved["response_action"] == "update"
    assert "08:30–16:00 Mon, Tue, Thu" in render_blocks(saved["view"]["blocks"])
    with db.session() as session:
        alice = session.scalars(select(Person).where(Person.slack_user_id == "UALICE")).one()
        assert (alice.work_start, alice.work_end, alice.work_days) == (510, 960, 0b1011)
        assert (alice.best_time, alice.chat_minutes) == ("mornings", 20)
    # Her usual length is preselected when she asks someone for a chat.
    person(db, standin, "UOMAR", "Omar Haddad", "Engineering", "America/New_York", speaks=["Kubernetes"])
    before = len(standin.calls_to("views.open"))
    slack.block_action("UALICE", "ask_for_chat", value=ask_button_value("UOMAR", "Kubernetes"))
    standin.wait_for(lambda: len(standin.calls_to("views.open")) > before)
    assert "Length: (o) 20 minutes  ( ) 30 minutes" in render_blocks(
        last_view_opened(standin, "UALICE")["blocks"]
    )


def test_report_figures_by_function_with_small_groups_suppressed(db: Database, standin: SlackStandIn) -> None:
    from bot.services import requests as request_service
    from bot.services.reports import compute_report, parse_period
    from bot.services.scheduling import store
    from bot.services.scheduling.figures import ALL, scheduling_figures

    monday = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with frozen_at(monday):
        ids = {
            uid: person(db, standin, uid, name, function, "Europe/London")
            for uid, name, function in (
                ("US1", "Sam One", "Sales"),
                ("US2", "Sue Two", "Sales"),
                ("US3", "Sid Three", "Sales"),
                ("UE1", "Eva One", "Engineering"),
                ("UE2", "Eli Two", "Engineering"),
                ("UE3", "Ede Three", "Engineering"),
                ("UF1", "Fay One", "Finance"),
            )
        }
        draft = request_service.RequestDraft(intro="Hi, I'm in sales.", goal="How deploys work", questions="")
        outcomes = {}
        with db.session() as session:
            people = {uid: session.get(Person, pid) for uid, pid in ids.items()}
            for learner, expert, outcome in (
                ("US1", "UE1", "confirmed"),
                ("US2", "UE2", "rescheduled"),
                ("US3", "UE3", "cancelled"),
                ("UF1", "UE1", "nothing"),
            ):
                request = request_service.create_request(
                    session, people[learner], people[expert], "Kubernetes", draft, monday
                )
                chat = request_service.accept(session, request, expert, monday)
                assert chat is not None
                outcomes[chat.id] = outcome
                if outcome == "nothing":
                    continue
                proposed = store.propose(session, chat, monday)
                wednesday = next(s for s in proposed.slots if s.start_at.weekday() == 2)
                for uid in (learner, expert):
                    picked = store.pick(session, chat, uid, proposed.schedule.round, [wednesday.id], monday)
                assert picked.confirmed is not None
                if outcome == "rescheduled":
                    assert store.reschedule(session, chat, learner, monday, timedelta(days=3)) is not None
                if outcome == "cancelled":
                    assert store.cancel(session, chat, expert, "Off sick", monday) is not None
        with db.session() as session:
            figures = scheduling_figures(session, monday, monday + timedelta(days=7))
            report = compute_report(
                session,
                parse_period("2026-03-02..2026-03-08", monday),
                functions=["Sales", "Engineering", "Finance"],
                min_group_size=3,
                now=monday,
            )
    assert figures[ALL].intros == 4 and figures[ALL].confirmed == 3 and figures[ALL].people == 7
    assert figures["Sales"].intros == 3 and figures["Sales"].confirmed == 3
    assert figures["Sales"].rescheduled == 1 and figures["Sales"].cancelled == 1
    assert figures["Engineering"].median_working_days == 2.0  # Monday's intro, Wednesday's chat
    table = next(t for t in report.all_tables() if t.key == "scheduling")
    assert table.cell("Sales", "with a confirmed time").show() == "100%"
    assert table.cell("Engineering", "median working days to the chat").show() == "2.0"
    assert table.cell(ALL, "with a confirmed time").show() == "75%"
    assert table.cell("Finance", "intros").suppressed  # one person: too few to show
    # With groups of 4, the 3 chats with a time are too few: their share and their median
    # (which would give away their dates) are hidden, the 4 intros of 7 people are not.
    with db.session() as session:
        stricter = compute_report(
            session,
            parse_period("2026-03-02..2026-03-08", monday),
            functions=["Sales", "Engineering", "Finance"],
            min_group_size=4,
            now=monday,
        )
    table = next(t for t in stricter.all_tables() if t.key == "scheduling")
    assert table.cell(ALL, "intros").show() == "4"
    assert table.cell(ALL, "with a confirmed time").suppressed
    assert table.cell(ALL, "median working days to the chat").suppressed
