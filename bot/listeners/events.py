"""Events API listeners."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from bot import retry
from bot.context import AppContext
from bot.flows import directory as directory_flow
from bot.flows import outbox as delivery
from bot.listeners import home, on_event
from bot.services import directory

log = logging.getLogger(__name__)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def colleagues_of(body: Mapping[str, Any]) -> directory.Colleagues:
    """Who is a colleague, as an event envelope tells: the workspace it came from and, on
    Enterprise Grid, the organisation (top level, or in `authorizations` for an org-wide
    install, whose events come from each of the organisation's workspaces)."""
    authorizations = body.get("authorizations")
    grants = [a for a in authorizations if isinstance(a, Mapping)] if isinstance(authorizations, list) else []
    teams = {_str(body.get("team_id")), _str(body.get("context_team_id"))}
    teams.update(_str(a.get("team_id")) for a in grants)
    enterprise = _str(body.get("enterprise_id")) or next(
        (e for e in (_str(a.get("enterprise_id")) for a in grants) if e), None
    )
    return directory.Colleagues(frozenset(t for t in teams if t), enterprise)


def _foreign_member(body: Mapping[str, Any], user: Mapping[str, Any]) -> bool:
    """A Slack Connect member of another organisation (Slack sends user_change for
    people in shared channels): not a colleague, so never stored or paired."""
    return not colleagues_of(body).include(user)


def publish_home(ctx: AppContext, event: dict[str, Any]) -> None:
    if event.get("tab", "home") != "home":
        return
    user_id = str(event.get("user", ""))
    # Slack sends the view the tab shows, if the app ever published one for this person.
    shows = isinstance(event.get("view"), dict)
    try:
        retry.retrying(
            lambda: home.publish_home(ctx, user_id, slack_shows_a_view=shows), label="publish App Home"
        )
    except Exception:
        log.exception("could not publish App Home for %s", user_id)


def ack_member_event(
    ctx: AppContext, ack: Callable[..., None], body: dict[str, Any], event: dict[str, Any]
) -> None:
    # The upsert happens before the ack, not in a lazy function: a member
    # deactivated by this event must be gone from search and pairing by the
    # time Slack gets its answer. It is one small transaction. If it
    # raises, Bolt answers 500 and Slack retries the event; the upsert is
    # idempotent, so a retry of one that did succeed is harmless.
    user = event.get("user")
    if not isinstance(user, Mapping) or not isinstance(user.get("id"), str):
        log.warning("%s without a user object ignored", event.get("type"))
    elif _foreign_member(body, user):
        log.debug("%s for external member %s ignored", event.get("type"), user["id"])
    else:
        directory_flow.member_changed(ctx, user)
    ack()


def deliver_notes(ctx: AppContext) -> None:
    # A deactivation may have closed requests and queued notes to learners.
    delivery.deliver(ctx)


LISTENERS = (
    on_event("app_home_opened", lazy=[publish_home]),
    on_event("user_change", ack_member_event, lazy=[deliver_notes]),
    on_event("team_join", ack_member_event),
)
