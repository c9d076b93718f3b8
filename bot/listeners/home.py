"""App Home publishing, shared by events, actions and views."""

from __future__ import annotations

import functools
import inspect
import logging
import os
import sys
import threading
import zlib
from datetime import datetime

from bot import blocks, clock
from bot.blocks import followups as followup_blocks
from bot.blocks import home as home_blocks
from bot.blocks import profile as profile_blocks
from bot.blocks import requests as request_blocks
from bot.blocks import scheduling as scheduling_blocks
from bot.blocks.home import ChatCard, HomeActivity, home_view
from bot.blocks.reports import admin_home_blocks
from bot.blocks.requests import PersonCard, RequestCard
from bot.clock import utcnow
from bot.context import AppContext
from bot.gateway import admins
from bot.services import home, profiles, reports
from bot.services.profiles import ProfileSnapshot

log = logging.getLogger(__name__)

# Two quick clicks (pause, then resume) publish from two threads; reading the
# profile and publishing under one lock per user keeps the last write the newest
# state. Striped so memory stays flat however many people there are.
_HOME_LOCKS = [threading.Lock() for _ in range(64)]


# The modules whose code draws a member's Home (see `layout`).
_LAYOUT_MODULES = (
    blocks,
    home_blocks,
    profile_blocks,
    followup_blocks,
    request_blocks,
    scheduling_blocks,
    sys.modules[__name__],
)


def _lock_for(user_id: str) -> threading.Lock:
    return _HOME_LOCKS[zlib.crc32(user_id.encode()) % len(_HOME_LOCKS)]


def _card(person: home.Someone) -> PersonCard:
    return PersonCard(
        person.slack_user_id, person.name, person.function, person.title, clock.zone(person.tz).key
    )


def _activity(me: ProfileSnapshot, data: home.HomeData) -> HomeActivity:
    mine = PersonCard(me.slack_user_id, me.display_name, me.function, me.title, clock.zone(me.tz).key)

    def card(r: home.OpenRequest) -> RequestCard:
        # What the Home shows of a request: who, and the topic (the rest is in the DMs).
        learner, expert = (_card(r.other), mine) if r.received else (mine, _card(r.other))
        return RequestCard(r.request_id, learner, expert, r.topic, "", "", "", "any", 30)

    return HomeActivity(
        received=[card(r) for r in data.requests if r.received],
        sent=[card(r) for r in data.requests if not r.received],
        chats=[ChatCard(c.chat_id, c.partners, c.topic, c.introduced, c.starts_at) for c in data.chats],
        takeaways=data.takeaways,
        thanks=data.thanks,
    )


@functools.cache
def layout() -> str:
    """A digest of the code that draws the Home: a release that draws it differently
    publishes every Home again on its next open."""
    parts = []
    for module in _LAYOUT_MODULES:
        try:
            parts.append(inspect.getsource(module))
        except (OSError, TypeError):  # no source shipped: publish again after every restart
            parts.append(os.urandom(16).hex())
    return home.fingerprint(*parts)


def _admin_blocks(ctx: AppContext, user_id: str, now: datetime) -> list[dict[str, object]] | None:
    """Headline figures and report buttons, for programme admins only (an audited view)."""
    if not admins.is_admin(ctx.settings, ctx.slack, user_id):
        return None
    with ctx.db.session() as session:
        summary = reports.headline(session, now, ctx.settings.min_group_size, ctx.settings.timezone)
        reports.record_access(session, user_id, reports.AUDIT_HOME, "headline figures")
    return admin_home_blocks(summary)


def publish_home(ctx: AppContext, user_id: str, *, slack_shows_a_view: bool = True) -> None:
    """Render and publish `user_id`'s App Home, unless it would show what it already shows
    (`slack_shows_a_view=False`: Slack says the tab is empty, so publish whatever was stored);
    failures are logged, never raised to Slack."""
    with _lock_for(user_id):
        now = utcnow()
        with ctx.db.reading() as connection:  # three Core reads: no ORM session to set up
            found = profiles.read_snapshot(connection, user_id)
            snapshot = found.snapshot if found is not None else None
            zone = clock.zone(snapshot.tz if snapshot else None)
            data = home.read(connection, found.person_id, now) if found is not None else None
            seen = home.published(connection, user_id)
        admin = _admin_blocks(ctx, user_id, now)
        paused = snapshot is not None and snapshot.paused_until is not None and snapshot.paused_until > now
        # Admins' headline figures change with everyone's activity: their Home is always drawn.
        inputs = None if admin is not None else home.fingerprint(layout(), snapshot, paused, zone.key, data)
        if slack_shows_a_view and inputs is not None and inputs == seen.fingerprint:
            return
        activity = _activity(snapshot, data) if data is not None and snapshot is not None else None
        try:
            ctx.slack.publish_home(user_id, home_view(snapshot, now, zone, activity, admin))
        except Exception:
            log.exception("could not publish App Home", extra={"slack_user": user_id})
            return
        ctx.db.run_statements(
            lambda connection: home.remember(connection, user_id, seen, inputs, now),
            label="remember App Home",
        )
