"""App Home publishing, shared by events, actions and views."""

from __future__ import annotations

import logging
import threading
import zlib
from datetime import datetime

from sqlalchemy.orm import Session

from bot import clock
from bot.blocks.home import ChatCard, HomeActivity, home_view
from bot.blocks.reports import admin_home_blocks
from bot.clock import utcnow
from bot.context import AppContext
from bot.flows import requests as request_flow
from bot.gateway import admins
from bot.models import Person
from bot.services import learnings, profiles, reports
from bot.services import requests as request_service
from bot.services.scheduling import store as schedules

log = logging.getLogger(__name__)

# Two quick clicks (pause, then resume) publish from two threads; reading the
# profile and publishing under one lock per user keeps the last write the newest
# state. Striped so memory stays flat however many people there are.
_HOME_LOCKS = [threading.Lock() for _ in range(64)]


def _lock_for(user_id: str) -> threading.Lock:
    return _HOME_LOCKS[zlib.crc32(user_id.encode()) % len(_HOME_LOCKS)]


def _activity(session: Session, person: Person, now: datetime) -> HomeActivity:
    received, sent = request_service.requests_involving(session, person.id)
    upcoming = request_service.upcoming_chats(session, person.id, now)
    starts = schedules.confirmed_starts(session, [chat.id for chat in upcoming])
    chats = [
        ChatCard(
            chat_id=chat.id,
            partners=[p.person.display_name for p in chat.participants if p.person_id != person.id],
            topic=chat.topic.name if chat.topic else "",
            introduced=chat.created_at,
            starts_at=starts.get(chat.id),
        )
        for chat in upcoming
    ]
    takeaways, thanks = learnings.home_learnings(session, person.id)
    return HomeActivity(
        received=[request_flow.request_card(r) for r in received],
        sent=[request_flow.request_card(r) for r in sent],
        chats=chats,
        takeaways=takeaways,
        thanks=thanks,
    )


def _admin_blocks(ctx: AppContext, user_id: str, now: datetime) -> list[dict[str, object]] | None:
    """Headline figures and report buttons, for programme admins only (an audited view)."""
    if not admins.is_admin(ctx.settings, ctx.slack, user_id):
        return None
    with ctx.db.session() as session:
        summary = reports.headline(session, now, ctx.settings.min_group_size, ctx.settings.timezone)
        reports.record_access(session, user_id, reports.AUDIT_HOME, "headline figures")
    return admin_home_blocks(summary)


def publish_home(ctx: AppContext, user_id: str) -> None:
    """Render and publish `user_id`'s App Home; failures are logged, never raised to Slack."""
    with _lock_for(user_id):
        now = utcnow()
        with ctx.db.session() as session:
            person = profiles.get_person(session, user_id)
            snapshot = profiles.snapshot(person) if person is not None else None
            zone = clock.zone(person.tz if person else None)
            activity = _activity(session, person, now) if person else None
        admin = _admin_blocks(ctx, user_id, now)
        try:
            ctx.slack.publish_home(user_id, home_view(snapshot, now, zone, activity, admin))
        except Exception:
            log.exception("could not publish App Home", extra={"slack_user": user_id})
