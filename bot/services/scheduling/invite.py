"""The calendar invite of a confirmed chat: an iCalendar file (RFC 5545, iTIP methods of
RFC 5546) and "Add to Google Calendar" / "Add to Outlook" links built from the same event.

- UID is stable per chat, so a rescheduled or cancelled chat updates the same
  calendar entry; SEQUENCE grows with every revision (reschedule, cancel).
- METHOD:REQUEST for a confirmed time, METHOD:CANCEL (STATUS:CANCELLED) for a
  cancelled chat.
- ORGANIZER and ATTENDEEs are written by e-mail address when the directory
  has one (mailto: URIs need one); people without an address are named in
  the description instead.
- Times are written in UTC (`…Z`), so no VTIMEZONE is needed and every
  calendar shows them in its own zone, across DST changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlencode

if TYPE_CHECKING:
    from icalendar import vCalAddress

PRODID = "-//infochat//informational chats//EN"
LINK_DESCRIPTION_LIMIT = 1200  # calendar links live in button URLs (3,000 characters at most)


@dataclass(frozen=True)
class Guest:
    name: str
    email: str | None = None


@dataclass(frozen=True)
class InviteEvent:
    uid: str
    sequence: int
    start: datetime
    end: datetime
    summary: str
    description: str
    organizer: Guest
    attendees: list[Guest] = field(default_factory=list)


def chat_uid(chat_id: int, team_id: str | None) -> str:
    """One UID per chat for its whole life (reschedules and cancellation reuse it)."""
    return f"infochat-chat-{chat_id}-{(team_id or 'workspace').lower()}@infochat"


def _address(guest: Guest, *, organizer: bool) -> vCalAddress:
    from icalendar import vCalAddress, vText  # on first use: see ics()

    address = vCalAddress(f"mailto:{guest.email}")
    address.params["cn"] = vText(guest.name)
    if not organizer:
        address.params["role"] = vText("REQ-PARTICIPANT")
        address.params["partstat"] = vText("NEEDS-ACTION")
        address.params["rsvp"] = vText("TRUE")
    return address


def ics(event: InviteEvent, *, cancel: bool = False, stamp: datetime | None = None) -> bytes:
    """The .ics file: METHOD:REQUEST, or METHOD:CANCEL when the chat was cancelled."""
    # Imported on first use: a serving process needs icalendar only once a chat is confirmed.
    from icalendar import Calendar, Event

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "CANCEL" if cancel else "REQUEST")
    entry = Event()
    entry.add("uid", event.uid)
    entry.add("sequence", event.sequence)
    entry.add("dtstamp", (stamp or event.start).astimezone(UTC))
    entry.add("dtstart", event.start.astimezone(UTC))
    entry.add("dtend", event.end.astimezone(UTC))
    entry.add("summary", event.summary)
    entry.add("description", event.description)
    entry.add("status", "CANCELLED" if cancel else "CONFIRMED")
    entry.add("transp", "OPAQUE")
    if event.organizer.email:
        entry.add("organizer", _address(event.organizer, organizer=True))
    for guest in event.attendees:
        if guest.email:
            entry.add("attendee", _address(guest, organizer=False))
    calendar.add_component(entry)
    return calendar.to_ical()


def _emails(event: InviteEvent) -> list[str]:
    guests = [event.organizer, *event.attendees]
    return [g.email for g in guests if g.email]


def _short(text: str) -> str:
    return text if len(text) <= LINK_DESCRIPTION_LIMIT else text[: LINK_DESCRIPTION_LIMIT - 1] + "…"


def google_link(event: InviteEvent) -> str:
    """Google Calendar's event template (opens a pre-filled "new event" page)."""
    params = {
        "action": "TEMPLATE",
        "text": event.summary,
        "dates": f"{event.start.astimezone(UTC):%Y%m%dT%H%M%SZ}/{event.end.astimezone(UTC):%Y%m%dT%H%M%SZ}",
        "details": _short(event.description),
    }
    if emails := _emails(event):
        params["add"] = ",".join(emails)
    return "https://calendar.google.com/calendar/render?" + urlencode(params)


def outlook_link(event: InviteEvent) -> str:
    """Outlook on the web's compose deep link (Microsoft 365 work accounts)."""
    params = {
        "path": "/calendar/action/compose",
        "rru": "addevent",
        "subject": event.summary,
        "startdt": f"{event.start.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}",
        "enddt": f"{event.end.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}",
        "body": _short(event.description),
    }
    if emails := _emails(event):
        params["to"] = ",".join(emails)
    return "https://outlook.office.com/calendar/0/deeplink/compose?" + urlencode(params)
