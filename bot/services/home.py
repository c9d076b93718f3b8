"""What a person's App Home shows, read in a few Core statements, and what was last published.

The Home tab is published on every `app_home_opened` (30 % of people's requests,
docs/performance.md) and after every change a person makes from it. Most opens show
exactly what the tab already shows, so the publisher keeps, per person, a fingerprint
of the inputs of the view it last published (`home_views`): the inputs are read afresh
on every open (they are the truth, whoever changed them, on whichever replica, however
much time passed), and when their fingerprint matches the stored one the view is
neither rendered nor sent.

A stored fingerprint only ever describes a view Slack accepted. Two replicas
publishing for one person at once could leave Slack showing the older of two views
with the newer fingerprint stored; `remember` is conditional on the version read
before publishing, so the loser of such a race clears the fingerprint instead and the
next open publishes again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    literal_column,
    null,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from bot.db import core, insert_ignoring_duplicates
from bot.models import (
    Chat,
    ChatParticipant,
    ChatRequest,
    ChatSchedule,
    Person,
    RequestStatus,
    ScheduleStatus,
    Takeaway,
    Thanks,
    Topic,
    UTCDateTime,
)
from bot.models_home import home_views
from bot.services.learnings import MyTakeaway, ThanksCard

UPCOMING_DAYS = 30  # chats introduced this recently, neither done nor cancelled, are "your chats"
MAX_CHATS = 10
MAX_LEARNINGS = 5


@dataclass(frozen=True)
class Someone:
    slack_user_id: str
    name: str
    function: str | None
    title: str
    tz: str | None


@dataclass(frozen=True)
class OpenRequest:
    request_id: int
    other: Someone  # the learner who asked me, or the expert I asked
    received: bool  # True: I am the expert asked; False: I sent it
    topic: str
    created_at: datetime


@dataclass(frozen=True)
class UpcomingChat:
    chat_id: int
    partners: list[str]
    topic: str
    introduced: datetime
    starts_at: datetime | None  # the confirmed time, if `Find a time` settled one


@dataclass(frozen=True)
class HomeData:
    """Everything the Home's activity sections show, as plain data (requests oldest first,
    chats, takeaways and thanks newest first)."""

    requests: list[OpenRequest] = field(default_factory=list)
    chats: list[UpcomingChat] = field(default_factory=list)
    takeaways: list[MyTakeaway] = field(default_factory=list)
    thanks: list[ThanksCard] = field(default_factory=list)


def _name(real_name: str | None, name: str | None, slack_user_id: str) -> str:
    return real_name or name or slack_user_id  # Person.display_name


def read(session: Session | Connection, person_id: int, now: datetime) -> HomeData:
    """The Home's activity, in one statement (`_ACTIVITY`: a row per open request, per chat
    partner, per takeaway partner and per thanks)."""
    params = {"me": person_id, "since": now - timedelta(days=UPCOMING_DAYS)}
    requests: list[tuple[tuple[Any, ...], OpenRequest]] = []
    chats: dict[int, tuple[tuple[Any, ...], UpcomingChat, list[tuple[int, str]]]] = {}
    takeaways: dict[int, tuple[tuple[Any, ...], MyTakeaway, list[tuple[int, str]]]] = {}
    thanks: list[tuple[tuple[Any, ...], ThanksCard]] = []
    for row in core(session).execute(_ACTIVITY, params):
        (
            kind,
            seq,
            ident,
            at,
            starts_at,
            number,
            pid,
            slack_id,
            real_name,
            name,
            function,
            title,
            text,
            extra,
        ) = row
        key = (at, seq)
        someone = (pid, _name(real_name, name, slack_id)) if slack_id else None
        if kind == "r":
            other = Someone(slack_id, _name(real_name, name, slack_id), function, title or "", extra)
            requests.append((key, OpenRequest(ident, other, bool(number), text or "", at)))
        elif kind == "c":
            entry = chats.setdefault(ident, (key, UpcomingChat(ident, [], text or "", at, starts_at), []))
            entry[2].extend([someone] if someone else [])
        elif kind == "t":
            if seq not in takeaways:
                topics = json.loads(extra) if extra else []
                card = MyTakeaway(ident, text or "", list(topics or []), at, number, str(function), [])
                takeaways[seq] = (key, card, [])
            takeaways[seq][2].extend([someone] if someone else [])
        else:
            thanks.append(
                (key, ThanksCard(from_name=someone[1] if someone else "", text=text or "", created_at=at))
            )
    for _, card, partners in [*chats.values(), *takeaways.values()]:
        card.partners.extend(name for _, name in sorted(partners))
    return HomeData(
        requests=[r for _, r in sorted(requests, key=lambda e: e[0])],
        chats=[c for _, c, _ in sorted(chats.values(), key=lambda e: e[0], reverse=True)],
        takeaways=[t for _, t, _ in sorted(takeaways.values(), key=lambda e: e[0], reverse=True)],
        thanks=[t for _, t in sorted(thanks, key=lambda e: e[0], reverse=True)],
    )


def _when() -> Any:
    return cast(null(), UTCDateTime())


def _text() -> Any:
    return cast(null(), String())


def _number() -> Any:
    return cast(null(), Integer())


def _person(p: Any) -> list[Any]:
    return [p.c.id, p.c.slack_user_id, p.c.real_name, p.c.name, p.c.function, p.c.title]


_PEOPLE, _PARTS = Person.__table__, ChatParticipant.__table__


def _requests_part(me: Any) -> Any:
    requests = ChatRequest.__table__
    other = _PEOPLE.alias("other")
    received = requests.c.expert_id == me
    return select(
        literal_column("'r'"),
        requests.c.id,
        requests.c.id,
        requests.c.created_at,
        _when(),
        case((received, 1), else_=0),
        *_person(other),
        requests.c.topic_text,
        other.c.tz,
    ).join_from(
        requests,
        other,
        and_(
            other.c.id == case((received, requests.c.learner_id), else_=requests.c.expert_id),
            requests.c.status == RequestStatus.OPEN.value,
            or_(received, requests.c.learner_id == me),
        ),
    )


def _chats_part(me: Any, since: Any) -> Any:
    chats, topics, schedules = Chat.__table__, Topic.__table__, ChatSchedule.__table__
    mine = (
        select(chats.c.id, chats.c.created_at, chats.c.topic_id)
        .join_from(chats, _PARTS, and_(_PARTS.c.chat_id == chats.c.id, _PARTS.c.person_id == me))
        .where(chats.c.done_at.is_(None), chats.c.cancelled_at.is_(None), chats.c.created_at >= since)
        .order_by(chats.c.created_at.desc(), chats.c.id.desc())
        .limit(MAX_CHATS)
        .subquery("mine")
    )
    partner, link = _PEOPLE.alias("partner"), _PARTS.alias("partner_link")
    confirmed = and_(schedules.c.chat_id == mine.c.id, schedules.c.status == ScheduleStatus.CONFIRMED.value)
    return (
        select(
            literal_column("'c'"),
            mine.c.id,
            mine.c.id,
            mine.c.created_at,
            schedules.c.start_at,
            _number(),
            *_person(partner),
            topics.c.name,
            _text(),
        )
        .select_from(mine)
        .outerjoin(topics, topics.c.id == mine.c.topic_id)
        .outerjoin(schedules, confirmed)
        .outerjoin(link, and_(link.c.chat_id == mine.c.id, link.c.person_id != me))
        .outerjoin(partner, partner.c.id == link.c.person_id)
    )


def _takeaways_part(me: Any) -> Any:
    takeaways = Takeaway.__table__
    written = (
        select(takeaways)
        .where(takeaways.c.author_id == me, takeaways.c.text != "")
        .order_by(takeaways.c.created_at.desc(), takeaways.c.id.desc())
        .limit(MAX_LEARNINGS)
        .subquery("written")
    )
    met, link = _PEOPLE.alias("met"), _PARTS.alias("met_link")
    return (
        select(
            literal_column("'t'"),
            written.c.id,
            written.c.chat_id,
            written.c.created_at,
            _when(),
            written.c.usefulness,
            *_person(met)[:4],
            cast(written.c.share, String()),  # in the "function" column
            met.c.title,
            written.c.text,
            cast(written.c.topics, String()),
        )
        .select_from(written)
        .outerjoin(link, and_(link.c.chat_id == written.c.chat_id, link.c.person_id != me))
        .outerjoin(met, met.c.id == link.c.person_id)
    )


def _thanks_part(me: Any) -> Any:
    thanks = Thanks.__table__
    notes = (
        select(thanks)
        .where(thanks.c.to_id == me, thanks.c.text != "")
        .order_by(thanks.c.created_at.desc(), thanks.c.id.desc())
        .limit(MAX_LEARNINGS)
        .subquery("notes")
    )
    sender = _PEOPLE.alias("sender")
    return select(
        literal_column("'h'"),
        notes.c.id,
        notes.c.chat_id,
        notes.c.created_at,
        _when(),
        _number(),
        *_person(sender),
        notes.c.text,
        _text(),
    ).join_from(notes, sender, sender.c.id == notes.c.from_id)


def _activity_statement() -> Any:
    """The Home's activity as one UNION ALL (built once; executed with `me` and `since`).

    Columns: kind, seq (the row's own id, the tie-break of its order), ident, at, starts_at,
    number, a person (id, Slack id, real name, name, function, title), text, extra.
    """
    me, since = bindparam("me", type_=Integer()), bindparam("since", type_=UTCDateTime())
    return union_all(_requests_part(me), _chats_part(me, since), _takeaways_part(me), _thanks_part(me))


_ACTIVITY = _activity_statement()


# -- what was last published ----------------------------------------------------------


@dataclass(frozen=True)
class Published:
    """The fingerprint of the view last published for someone (None: unknown), and the
    row's version as read (None: no row yet)."""

    fingerprint: str | None = None
    version: int | None = None


def fingerprint(*inputs: object) -> str:
    """A digest of a view's inputs (plain, frozen dataclasses and values: their repr is stable)."""
    return hashlib.blake2b(repr(inputs).encode("utf-8", "surrogatepass"), digest_size=20).hexdigest()


def published(session: Session | Connection, slack_user_id: str) -> Published:
    row = core(session).execute(_PUBLISHED, {"slack_user_id": slack_user_id}).first()
    return Published() if row is None else Published(row[0], row[1])


_PUBLISHED = select(home_views.c.fingerprint, home_views.c.version).where(
    home_views.c.slack_user_id == bindparam("slack_user_id")
)


def remember(
    session: Session | Connection, slack_user_id: str, seen: Published, new: str | None, now: datetime
) -> bool:
    """After a successful publish: store `new` (None: "publish again next time") unless another
    publish for this person was recorded since `seen` was read; then forget the fingerprint,
    since which of the two views Slack kept is unknown. True when `new` was stored."""
    table = home_views
    if seen.version is None:
        inserted = session.execute(
            insert_ignoring_duplicates(session, table)
            .values(slack_user_id=slack_user_id, fingerprint=new, version=1, published_at=now)
            .returning(table.c.slack_user_id)
        ).first()
        if inserted is not None:
            return True
    else:
        stored = session.execute(
            update(table)
            .where(table.c.slack_user_id == slack_user_id, table.c.version == seen.version)
            .values(fingerprint=new, version=table.c.version + 1, published_at=now)
        )
        if stored.rowcount:
            return True
    session.execute(
        update(table)
        .where(table.c.slack_user_id == slack_user_id)
        .values(fingerprint=None, version=table.c.version + 1, published_at=now)
    )
    return False


def forget_everyone(session: Session) -> None:
    """Every Home is published again on its next open (the app was uninstalled: Slack drops its views)."""
    session.execute(home_views.delete())
