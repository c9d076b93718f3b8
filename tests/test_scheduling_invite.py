"""The .ics invite read back with icalendar, and the calendar links built from the same event."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

from icalendar import Calendar

from bot.services.scheduling.invite import Guest, InviteEvent, chat_uid, google_link, ics, outlook_link


def event(sequence: int = 0) -> InviteEvent:
    # 10:00 in London on the Monday after the clocks go forward (BST, UTC+1).
    start = datetime(2026, 3, 30, 10, tzinfo=ZoneInfo("Europe/London"))
    end = datetime(2026, 3, 30, 10, 30, tzinfo=ZoneInfo("Europe/London"))
    return InviteEvent(
        uid=chat_uid(42, "T123"),
        sequence=sequence,
        start=start,
        end=end,
        summary="infochat: Ana Silva & Ken Tanaka",
        description="Agenda; with, commas\nand lines",
        organizer=Guest("Ana Silva", "ana@example.com"),
        attendees=[Guest("Ken Tanaka", "ken@example.com"), Guest("No Mail")],
    )


def test_request_and_cancel_round_trip() -> None:
    calendar = Calendar.from_ical(ics(event()))
    (entry,) = calendar.walk("VEVENT")
    assert str(calendar["method"]) == "REQUEST" and str(entry["status"]) == "CONFIRMED"
    assert entry.decoded("dtstart") == datetime(2026, 3, 30, 9, tzinfo=UTC)
    assert entry.decoded("dtend") == datetime(2026, 3, 30, 9, 30, tzinfo=UTC)
    assert str(entry["uid"]) == "infochat-chat-42-t123@infochat" and int(entry["sequence"]) == 0
    assert str(entry["organizer"]) == "mailto:ana@example.com"
    assert str(entry["attendee"]) == "mailto:ken@example.com"  # no address, no ATTENDEE
    assert str(entry["description"]) == "Agenda; with, commas\nand lines"

    cancelled = Calendar.from_ical(ics(event(2), cancel=True))
    (gone,) = cancelled.walk("VEVENT")
    assert str(cancelled["method"]) == "CANCEL" and str(gone["status"]) == "CANCELLED"
    assert str(gone["uid"]) == str(entry["uid"]) and int(gone["sequence"]) == 2


def test_links_carry_the_same_times_and_guests() -> None:
    google = parse_qs(urlparse(google_link(event())).query)
    assert google["dates"] == ["20260330T090000Z/20260330T093000Z"]
    assert google["add"] == ["ana@example.com,ken@example.com"]
    outlook = parse_qs(urlparse(outlook_link(event())).query)
    assert outlook["startdt"] == ["2026-03-30T09:00:00Z"] and outlook["enddt"] == ["2026-03-30T09:30:00Z"]
    assert outlook["subject"] == ["infochat: Ana Silva & Ken Tanaka"]
