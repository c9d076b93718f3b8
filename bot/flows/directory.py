"""The workspace directory, kept in step with Slack: members fetched through the gateway,
copied in by services.directory, and the learners whose open request a departed
expert can no longer answer told so (in the outbox, in the same transaction)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from bot.context import AppContext
from bot.flows import requests as request_flow
from bot.models import ChatRequest, Person
from bot.services import directory

log = logging.getLogger(__name__)

# users.list is Tier 2 (~20 calls a minute); Slack recommends pages of at most 200.
DEFAULT_PAGE_SIZE = 200
DEFAULT_PAGE_DELAY = 3.0


def _tell_closed(session: Session, closed: Sequence[ChatRequest]) -> None:
    for request in closed:
        request_flow.tell_closed(session, request)


def update_member(session: Session, user: Mapping[str, Any]) -> Person:
    """Store what a Slack user object says (an event, users.info) in the caller's transaction."""
    update = directory.upsert_member(session, user)
    _tell_closed(session, update.closed)
    return update.person


def member_changed(ctx: AppContext, user: Mapping[str, Any]) -> None:
    """`user_change` / `team_join`: one small transaction."""
    with ctx.db.session() as session:
        update_member(session, user)


def ensure_member(ctx: AppContext, session: Session, user_id: str) -> Person | None:
    """The Person for `user_id`, fetched with users.info when unknown (or only a stub).

    None when Slack says the user does not exist. Other Slack errors propagate.
    """
    person = directory.known_member(session, user_id)
    if person is not None:
        return person
    user = ctx.slack.user_info(user_id)
    if user is None:
        return None
    return update_member(session, user)


def sync_directory(
    ctx: AppContext,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    page_delay: float = DEFAULT_PAGE_DELAY,
    on_page: Callable[[directory.SyncReport], None] | None = None,
) -> directory.SyncReport:
    """Walk users.list and upsert every member, one transaction per page.

    users.list is Tier 2, so pages are `page_delay` seconds apart (3 s keeps
    under 20 calls a minute); a 429 is retried by the WebClient after
    Retry-After. Members missing from the list are kept: Slack lists
    deactivated accounts with `deleted: true`, so absence means an API
    hiccup, not a departure. `on_page` is called after each committed page
    (progress output).
    """
    report = directory.SyncReport()
    seen: set[str] = set()
    cursor = ""
    while True:
        if report.pages:
            time.sleep(page_delay)
        members, cursor = ctx.slack.users_list_page(cursor, page_size)
        # A member can appear on two pages when the list shifts mid-walk; count them once.
        fresh = [m for m in members if isinstance(m.get("id"), str) and m["id"] not in seen]
        seen.update(str(m["id"]) for m in fresh)
        with ctx.db.session() as session:
            _tell_closed(session, directory.upsert_page(session, fresh, report))
        report.pages += 1
        report.seen = len(seen)
        log.info("directory sync page %d: %d members", report.pages, len(members))
        if on_page is not None:
            on_page(report)
        if not cursor:
            return report
