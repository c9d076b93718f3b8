"""Who may see reports: programme admins, asked of the settings and, for the admin user
group, of Slack (usergroups.users.list), cached for five minutes per process.

`INFOCHAT_ADMINS` are admins without asking anyone. Members of
`INFOCHAT_ADMIN_USERGROUP` are read from Slack; if Slack cannot be asked,
nobody new becomes an admin (fail closed). The Slack reports, App Home's
admin figures and the `/admin` dashboard all use `is_admin`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk.errors import SlackApiError

from bot.gateway.slack import SlackGateway
from bot.settings import Settings

log = logging.getLogger(__name__)

GROUP_TTL_SECONDS = 300.0
_group_lock = threading.Lock()
_group_cache: dict[str, tuple[float, frozenset[str]]] = {}


def cached_admin(
    settings: Settings, user_id: str, *, clock: Callable[[], float] = time.monotonic
) -> bool | None:
    """True/False when known without calling Slack; None when the user-group cache is cold.

    Fast enough for an ack: no database, no network.
    """
    if user_id in settings.admins:
        return True
    group = settings.admin_usergroup
    if not group:
        return False
    with _group_lock:
        entry = _group_cache.get(group)
    if entry is None or clock() - entry[0] > GROUP_TTL_SECONDS:
        return None
    return user_id in entry[1]


def refresh_admin_group(settings: Settings, slack: SlackGateway) -> frozenset[str] | None:
    """Fetch the admin user group's members (usergroups.users.list) into the cache."""
    group = settings.admin_usergroup
    if not group:
        return None
    try:
        members = frozenset(slack.usergroup_members(group))
    except SlackApiError:
        # Fail closed: without an answer from Slack nobody new becomes an admin.
        log.warning("could not read the admin user group", extra={"usergroup": group})
        return None
    with _group_lock:
        _group_cache[group] = (time.monotonic(), members)
    return members


def is_admin(settings: Settings, slack: SlackGateway, user_id: str) -> bool:
    """May `user_id` see reports? INFOCHAT_ADMINS, or the admin user group (cached for 5 minutes)."""
    known = cached_admin(settings, user_id)
    if known is not None:
        return known
    members = refresh_admin_group(settings, slack)
    return members is not None and user_id in members


def clear_admin_cache() -> None:
    with _group_lock:
        _group_cache.clear()
