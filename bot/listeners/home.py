"""App Home publishing, shared by events, actions and views."""

from __future__ import annotations

import logging
import threading
import zlib

from bot.blocks.home import home_view
from bot.context import AppContext
from bot.models import utcnow
from bot.services import profiles

log = logging.getLogger(__name__)

# Two quick clicks (pause, then resume) publish from two threads; reading the
# profile and publishing under one lock per user keeps the last write the newest
# state. Striped so memory stays flat however many people there are.
_HOME_LOCKS = [threading.Lock() for _ in range(64)]


def _lock_for(user_id: str) -> threading.Lock:
    return _HOME_LOCKS[zlib.crc32(user_id.encode()) % len(_HOME_LOCKS)]


def publish_home(ctx: AppContext, user_id: str) -> None:
    """Render and publish `user_id`'s App Home; failures are logged, never raised to Slack."""
    with _lock_for(user_id):
        now = utcnow()
        with ctx.db.session() as session:
            person = profiles.get_person(session, user_id)
            snapshot = profiles.snapshot(person) if person is not None else None
            zone = profiles.person_zone(person, ctx.settings.timezone) if person else ctx.settings.zone
        try:
            ctx.slack.publish_home(user_id, home_view(snapshot, now, zone))
        except Exception:
            log.exception("could not publish App Home", extra={"slack_user": user_id})
