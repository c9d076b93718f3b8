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

    None when Slack says the user does not exist, or when they are a member of another
    organisation (Slack Connect). Other Slack errors propagate.
    """
    person = directory.known_member(session, user_id)
    if person is not None:
        return person
    user = ctx.slack.user_info(user_id)
    if user is None:
        return None
    if not _colleagues_of_token(ctx).include(user):
        # A Slack Connect member of another organisation, using infochat in a shared channel.
        log.info("member of another organisation not stored", extra={"slack_user_id": user_id})
        return None
    return update_member(session, user)


def _colleagues_of_token(ctx: AppContext) -> directory.Colleagues:
    """Colleagues as the token alone tells (auth.test, asked once per process): its workspace,
    or its Grid organisation, whose members' user objects name it (`enterprise_user`). Cheaper
    than `colleagues_of_install`, which also lists an org-wide install's workspaces."""
    install = ctx.slack.installation()
    team = str(install.get("team_id") or "")
    enterprise = str(install.get("enterprise_id") or "") or None
    return directory.Colleagues(frozenset([team] if team else []), enterprise)


def colleagues_of_install(ctx: AppContext) -> tuple[list[str | None], directory.Colleagues]:
    """The workspaces to list and who counts as a colleague, from what the token is.

    An org-wide install (Enterprise Grid) has one token for every workspace it was granted:
    users.list must be told which one to list (`team_id`), and anyone of the organisation is
    a colleague, whichever workspace they are in. A workspace install lists its own workspace
    (None: no `team_id`)."""
    install = ctx.slack.installation()
    enterprise = str(install.get("enterprise_id") or "") or None
    if install.get("is_enterprise_install"):
        teams = ctx.slack.workspaces()
        return list(teams), directory.Colleagues(frozenset(teams), enterprise)
    team = str(install.get("team_id") or "")
    return [None], directory.Colleagues(frozenset([team] if team else []), enterprise)


def sync_directory(
    ctx: AppContext,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    page_delay: float = DEFAULT_PAGE_DELAY,
    on_page: Callable[[directory.SyncReport], None] | None = None,
) -> directory.SyncReport:
    """Walk users.list of every workspace the app is in and upsert every colleague, one
    transaction per page.

    users.list is Tier 2, so pages are `page_delay` seconds apart (3 s keeps
    under 20 calls a minute); a 429 is retried by the WebClient after
    Retry-After. Members missing from the list are kept: Slack lists
    deactivated accounts with `deleted: true`, so absence means an API
    hiccup, not a departure. A member of several workspaces of an organisation
    (one user id in Grid) is stored once, from the first workspace that lists
    them; members of other organisations (Slack Connect) are left out. `on_page`
    is called after each committed page (progress output).
    """
    report = directory.SyncReport()
    teams, colleagues = colleagues_of_install(ctx)
    seen: set[str] = set()
    for team in teams:
        _sync_workspace(ctx, team, colleagues, report, seen, page_size, page_delay, on_page)
        report.workspaces += 1
    return report


def _sync_workspace(
    ctx: AppContext,
    team: str | None,
    colleagues: directory.Colleagues,
    report: directory.SyncReport,
    seen: set[str],
    page_size: int,
    page_delay: float,
    on_page: Callable[[directory.SyncReport], None] | None,
) -> None:
    cursor = ""
    while True:
        if report.pages:
            time.sleep(page_delay)
        members, cursor = ctx.slack.users_list_page(cursor, page_size, team)
        # A member can appear on two pages when the list shifts mid-walk, or in two workspaces
        # of one organisation; count them once.
        fresh = [m for m in members if isinstance(m.get("id"), str) and m["id"] not in seen]
        seen.update(str(m["id"]) for m in fresh)
        ours = [m for m in fresh if colleagues.include(m)]
        report.external += len(fresh) - len(ours)
        with ctx.db.session() as session:
            _tell_closed(session, directory.upsert_page(session, ours, report))
        report.pages += 1
        report.seen = len(seen) - report.external
        log.info("directory sync page %d (%s): %d members", report.pages, team or "workspace", len(members))
        if on_page is not None:
            on_page(report)
        if not cursor:
            return
