"""Profiles: what a person can speak about, wants to learn, and how they take part.

Plain data in, database rows out; nothing here knows a Slack payload.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, bindparam, delete, false, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, lazyload

from bot.db import core
from bot.models import Person, PersonTopic, Topic, TopicKind
from bot.services import expert_ranks
from bot.services import topics as topic_service
from bot.services.reports import rollups
from bot.services.scheduling import availability

FORMATS: dict[str, str] = {"any": "Any", "coffee": "Coffee", "call": "Call", "video": "Video"}
MAX_CHATS_PER_MONTH = 8
DEFAULT_CHATS_PER_MONTH = 2
MAX_ASK_ME_ABOUT = 150
DEFAULT_PAUSE = timedelta(weeks=2)
MAX_PAUSE = timedelta(days=366)


@dataclass(frozen=True)
class ProfileInput:
    """What the person submitted, as plain values (topics as option values or names)."""

    function: str | None
    speak: list[str]
    learn: list[str]
    ask_me_about: str = ""
    chats_per_month: int | None = DEFAULT_CHATS_PER_MONTH
    preferred_format: str = "any"
    weekly_pairing: bool = False
    # Availability for scheduling chats; None keeps what is stored (the input was not shown).
    working_hours: str | None = None  # "10:00–17:00", in the person's Slack time zone
    work_days: list[int] | None = None  # Monday=0
    best_time: str | None = None  # any / mornings / afternoons
    chat_minutes: int | None = None  # 20 or 30


@dataclass(frozen=True)
class TopicRef:
    id: int
    name: str


@dataclass(frozen=True)
class ProfileSnapshot:
    """A person's profile as plain data, for Block Kit builders."""

    slack_user_id: str
    display_name: str
    title: str
    tz: str | None
    joined: bool
    function: str | None
    function_locked: bool
    speak: list[TopicRef] = field(default_factory=list)
    learn: list[TopicRef] = field(default_factory=list)
    ask_me_about: str = ""
    chats_per_month: int = DEFAULT_CHATS_PER_MONTH
    preferred_format: str = "any"
    weekly_pairing: bool = False
    paused_until: datetime | None = None
    can_take_part: bool = True
    working_hours: str = "10:00–17:00"
    work_days: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    best_time: str = "any"
    chat_minutes: int = 30


class PauseError(ValueError):
    """The pause argument could not be understood; the message is for the user."""


def snapshot(person: Person) -> ProfileSnapshot:
    return _snapshot(person, [(pt.kind, pt.topic.id, pt.topic.name) for pt in person.topics])


class _PersonRow(SimpleNamespace):
    """A `people` row read with Core, with Person's own derived attributes."""

    display_name = Person.display_name
    can_be_messaged = Person.can_be_messaged
    has_joined = Person.has_joined


_PEOPLE, _LINKS, _TOPICS = Person.__table__, PersonTopic.__table__, Topic.__table__
_SNAPSHOT = (
    select(_PEOPLE, _LINKS.c.kind, _TOPICS.c.id.label("topic_id"), _TOPICS.c.name.label("topic_name"))
    .select_from(
        _PEOPLE.outerjoin(_LINKS, _LINKS.c.person_id == _PEOPLE.c.id).outerjoin(
            _TOPICS, _TOPICS.c.id == _LINKS.c.topic_id
        )
    )
    .where(_PEOPLE.c.slack_user_id == bindparam("slack_user_id"))
)
_PERSON_COLUMNS = [c.name for c in _PEOPLE.columns]


@dataclass(frozen=True)
class StoredProfile:
    person_id: int
    snapshot: ProfileSnapshot
    stub: bool  # only a Slack user id (named before any directory sync): not a known member yet


def read_snapshot(session: Session | Connection, slack_user_id: str) -> StoredProfile | None:
    """The stored profile of `slack_user_id`, in one statement without ORM objects (the App
    Home reads it on every open, the profile modal on every open); None when nobody has this id."""
    rows = core(session).execute(_SNAPSHOT, {"slack_user_id": slack_user_id}).all()
    if not rows:
        return None
    person = _PersonRow(**{name: rows[0][i] for i, name in enumerate(_PERSON_COLUMNS)})
    links = [(row.kind, row.topic_id, row.topic_name) for row in rows if row.topic_id is not None]
    stub = person.team_id is None and not person.name  # directory.known_member's test
    return StoredProfile(person.id, _snapshot(person, links), stub)


def _snapshot(person: Any, links: list[tuple[TopicKind, int, str]]) -> ProfileSnapshot:
    def refs(kind: TopicKind) -> list[TopicRef]:
        return [
            TopicRef(topic_id, name)
            for _, topic_id, name in sorted((x for x in links if x[0] == kind), key=lambda x: x[2].casefold())
        ]

    return ProfileSnapshot(
        slack_user_id=person.slack_user_id,
        display_name=person.display_name,
        title=person.title,
        tz=person.tz,
        joined=person.has_joined,
        function=person.function,
        function_locked=person.function_source == "import",
        speak=refs(TopicKind.SPEAK),
        learn=refs(TopicKind.LEARN),
        ask_me_about=person.ask_me_about,
        chats_per_month=person.chats_per_month,
        preferred_format=person.preferred_format,
        weekly_pairing=person.weekly_pairing,
        paused_until=person.paused_until,
        can_take_part=person.can_be_messaged,
        working_hours=availability.format_hours(
            availability.clock(person.work_start), availability.clock(person.work_end)
        ),
        work_days=sorted(availability.work_days_of(person.work_days)),
        best_time=person.best_time,
        chat_minutes=person.chat_minutes,
    )


def validate_profile(
    submitted: ProfileInput, functions: list[str], *, function_locked: bool
) -> dict[str, str]:
    """Field errors keyed by the modal's block ids; empty when the input is valid."""
    errors: dict[str, str] = {}
    if not function_locked:
        if not submitted.function:
            errors["function"] = "Pick the function you work in."
        elif submitted.function not in functions:
            errors["function"] = "Pick one of the listed functions."
    for block_id, values in (("speak", submitted.speak), ("learn", submitted.learn)):
        problem = topic_service.validate_topic_list(values)
        if problem:
            errors[block_id] = problem
    if len(submitted.ask_me_about) > MAX_ASK_ME_ABOUT:
        errors["ask"] = f"Keep it under {MAX_ASK_ME_ABOUT} characters ({len(submitted.ask_me_about)} now)."
    if submitted.chats_per_month is None or not 0 <= submitted.chats_per_month <= MAX_CHATS_PER_MONTH:
        errors["capacity"] = f"Choose between 0 (learner only) and {MAX_CHATS_PER_MONTH} chats a month."
    if submitted.preferred_format not in FORMATS:
        errors["format"] = "Choose coffee, call, video or any."
    if submitted.working_hours is not None:
        try:
            availability.parse_working_hours(submitted.working_hours)
        except ValueError as problem:
            errors["hours"] = str(problem)
    if submitted.work_days is not None and not submitted.work_days:
        errors["days"] = "Tick at least one working day."
    if submitted.best_time is not None and submitted.best_time not in availability.BEST_TIMES:
        errors["best"] = "Choose mornings, afternoons or any time."
    if submitted.chat_minutes is not None and submitted.chat_minutes not in availability.CHAT_LENGTHS:
        errors["length"] = "Choose 20 or 30 minutes."
    return errors


def save_profile(session: Session, person: Person, submitted: ProfileInput, now: datetime) -> Person:
    """`store_profile` for a person loaded in `session` (read afresh from the database on next use)."""
    session.flush()
    store_profile(session, person.id, submitted, now)
    session.expire(person)
    return person


_PERSON_BY_ID = select(_PEOPLE).where(_PEOPLE.c.id == bindparam("person_id"))
_LINKS_BY_ID = select(_LINKS.c.topic_id, _LINKS.c.kind).where(_LINKS.c.person_id == bindparam("person_id"))


def store_profile(session: Session, person_id: int, submitted: ProfileInput, now: datetime) -> None:
    """Store a validated profile; joining again after leaving is allowed.

    In Core statements, not an ORM flush (a profile save is 10 % of people's requests,
    docs/performance.md): only the fields that change are written, as a flush would (so
    `updated_at` moves only then), topic links by difference, and what the flush hooks
    keep in step is kept here: search's ranking rows when a ranked field or a topic
    spoken about changed, the report roll-ups' marks when the function changed."""
    connection = session.connection()
    ids = {"person_id": person_id}
    row = connection.execute(_PERSON_BY_ID, ids).one()
    values = _profile_values(row, submitted, now)
    changed = {name: value for name, value in values.items() if getattr(row, name) != value}
    if changed:
        connection.execute(update(_PEOPLE).where(_PEOPLE.c.id == person_id).values(**changed))
    wanted: list[tuple[int, TopicKind]] = []
    for kind, picked in ((TopicKind.SPEAK, submitted.speak), (TopicKind.LEARN, submitted.learn)):
        for topic_id in _topic_ids(session, picked):
            if (topic_id, kind) not in wanted:
                wanted.append((topic_id, kind))
    have = {(topic_id, kind) for topic_id, kind in connection.execute(_LINKS_BY_ID, ids)}
    gone = have - set(wanted)
    added = [link for link in wanted if link not in have]
    for kind in {kind for _, kind in gone}:
        topic_ids = sorted(topic_id for topic_id, k in gone if k == kind)
        connection.execute(
            delete(_LINKS).where(
                _LINKS.c.person_id == person_id, _LINKS.c.kind == kind, _LINKS.c.topic_id.in_(topic_ids)
            )
        )
    if added:
        rows = [{"person_id": person_id, "topic_id": topic_id, "kind": kind} for topic_id, kind in added]
        connection.execute(insert(_LINKS), rows)
    spoken = any(kind == TopicKind.SPEAK for _, kind in (*gone, *added))
    if spoken or set(changed) & set(expert_ranks.RANKED_FIELDS):
        expert_ranks.refresh(session, [person_id])
    if "function" in changed:
        rollups.mark_people(session, {person_id})


def _profile_values(row: Any, submitted: ProfileInput, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {
        "ask_me_about": submitted.ask_me_about.strip(),
        "chats_per_month": submitted.chats_per_month or 0,
        "preferred_format": submitted.preferred_format,
        "weekly_pairing": submitted.weekly_pairing,
        "joined_at": row.joined_at or now,
        "left_at": None,
    }
    if row.function_source != "import":
        values["function"] = submitted.function
        values["function_source"] = "profile"
    if submitted.working_hours is not None:
        start, end = availability.parse_working_hours(submitted.working_hours)
        values["work_start"], values["work_end"] = start.hour * 60 + start.minute, end.hour * 60 + end.minute
    if submitted.work_days:
        values["work_days"] = availability.mask_of(submitted.work_days)
    if submitted.best_time in availability.BEST_TIMES:
        values["best_time"] = submitted.best_time
    if submitted.chat_minutes in availability.CHAT_LENGTHS:
        values["chat_minutes"] = submitted.chat_minutes
    return values


def _topic_ids(session: Session, values: Iterable[str]) -> list[int]:
    """`topics.resolve_option_values` by id, without loading a Topic: the existing topics in one
    statement, each typed name by `lookup_topic` (Core), only a new name through the ORM."""
    picked: list[int | str] = []
    for value in values:
        text = topic_service.option_value_text(value)
        picked.append(int(value[len(topic_service.OPTION_TOPIC_PREFIX) :]) if text is None else text)
    by_id = [p for p in picked if isinstance(p, int)]
    existing = set()
    if by_id:
        existing = set(session.connection().execute(select(Topic.id).where(Topic.id.in_(by_id))).scalars())
    ids: list[int] = []
    for p in picked:
        if isinstance(p, int):
            topic_id = p if p in existing else None  # merged away since the modal opened
        else:
            named = topic_service.lookup_topic(session, p) if topic_service.topic_key(p) else None
            created = [] if named else topic_service.resolve_topics(session, [p])  # blank: none
            topic_id = named.id if named else created[0].id if created else None
        if topic_id is not None and topic_id not in ids:
            ids.append(topic_id)
    return ids


def get_person(session: Session, slack_user_id: str) -> Person | None:
    return session.scalar(select(Person).where(Person.slack_user_id == slack_user_id))


def people_by_id(session: Session, person_ids: list[int], *, chunk: int = 10_000) -> dict[int, Person]:
    """The people with these ids, in a few statements. Their topics load only if read:
    a round's intros need names and zones, not 300,000 topic links."""
    found: dict[int, Person] = {}
    wanted = sorted(set(person_ids))
    for start in range(0, len(wanted), chunk):
        statement = (
            select(Person)
            .where(Person.id.in_(wanted[start : start + chunk]))
            .options(lazyload(Person.topics))
        )
        found.update((p.id, p) for p in session.scalars(statement))
    return found


# -- availability ----------------------------------------------------------------


def available_clause(now: datetime) -> ColumnElement[bool]:
    """SQL for "can be found, requested and paired now" (mirrors Person.is_available)."""
    return and_(
        Person.is_deleted == false(),
        Person.is_bot == false(),
        Person.is_restricted == false(),
        Person.is_ultra_restricted == false(),
        Person.joined_at.is_not(None),
        Person.left_at.is_(None),
        or_(Person.paused_until.is_(None), Person.paused_until <= now),
    )


def available_people(session: Session, now: datetime) -> list[Person]:
    return list(session.scalars(select(Person).where(available_clause(now))))


# -- pause, resume, leave ----------------------------------------------------------


_SPAN = re.compile(r"^(\d{1,3})\s*(d|day|days|w|wk|wks|week|weeks)$", re.IGNORECASE)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def pause_end(argument: str, now: datetime, zone: ZoneInfo) -> tuple[date, datetime]:
    """The local date a pause ends and the UTC instant of that date's midnight.

    `2w` / `10d` count calendar days in the person's time zone, so a pause
    across a DST change still ends at local midnight; `2026-12-24` is the
    first day back. Raises PauseError with a message for the user.
    """
    today = now.astimezone(zone).date()
    text = argument.strip()
    if not text:
        back = today + DEFAULT_PAUSE
    elif match := _SPAN.match(text):
        amount = int(match.group(1))
        back = today + (
            timedelta(weeks=amount) if match.group(2).lower().startswith("w") else timedelta(days=amount)
        )
    elif _DATE.match(text):
        try:
            back = date.fromisoformat(text)
        except ValueError:
            raise PauseError(f"“{text}” is not a date. Use YYYY-MM-DD, e.g. `2026-12-24`.") from None
    else:
        raise PauseError(
            f"I didn't understand “{text}”. Try `/infochat pause 2w`, `/infochat pause 10d` "
            "or `/infochat pause 2026-12-24` (your first day back)."
        )
    if back <= today:
        raise PauseError("That date has already begun; pick a day after today.")
    if back - today > MAX_PAUSE:
        raise PauseError("Pauses last at most a year. To stop taking part, use `/infochat leave`.")
    ends = datetime.combine(back, time(0, 0), tzinfo=zone).astimezone(UTC)
    return back, ends


@dataclass(frozen=True)
class PauseState:
    person_id: int
    tz: str | None
    joined: bool  # has joined and not left
    paused_until: datetime | None


_PAUSE_STATE = select(
    _PEOPLE.c.id, _PEOPLE.c.tz, _PEOPLE.c.joined_at, _PEOPLE.c.left_at, _PEOPLE.c.paused_until
).where(_PEOPLE.c.slack_user_id == bindparam("slack_user_id"))


def pause_state(session: Session, slack_user_id: str) -> PauseState | None:
    """What pausing or resuming needs of someone, in one Core read (no ORM load of them and
    their topics); None when nobody has this id."""
    row = session.connection().execute(_PAUSE_STATE, {"slack_user_id": slack_user_id}).first()
    if row is None:
        return None
    return PauseState(row.id, row.tz, row.joined_at is not None and row.left_at is None, row.paused_until)


def set_paused_until(session: Session, state: PauseState, until: datetime | None) -> bool:
    """Pause someone until `until` (None: resume them) in Core statements: written only if it
    changes, and then search's ranking rows recomputed as the flush hook would. True when it
    changed."""
    if state.paused_until == until:
        return False
    session.connection().execute(
        update(_PEOPLE).where(_PEOPLE.c.id == state.person_id).values(paused_until=until)
    )
    expert_ranks.refresh(session, [state.person_id])
    return True


def leave(person: Person, now: datetime) -> None:
    """Out of search and pairing; history stays for partners' reports."""
    person.left_at = now
    person.weekly_pairing = False
    person.paused_until = None
