"""`/infochat <subcommand>`: a router from the first word to a handler."""

from __future__ import annotations

import functools
import logging
from typing import Any

from bot import blocks, clock, retry
from bot.clock import utcnow
from bot.context import AppContext
from bot.listeners import find, followups, on_command, reports
from bot.listeners.home import publish_home
from bot.listeners.routing import Invocation, Respond, Subcommand, invocation, parse
from bot.listeners.views import NOT_ELIGIBLE, open_profile_modal
from bot.retry import ACK_BUDGET_SECONDS
from bot.services import profiles

__all__ = ["COMMAND", "LISTENERS", "ROUTES", "Invocation", "context_free_answer", "parse"]

log = logging.getLogger(__name__)

COMMAND = "/infochat"


def _silent(ctx: AppContext, inv: Invocation) -> None:
    return None


def _open_profile(ctx: AppContext, inv: Invocation, respond: Respond) -> None:
    if not open_profile_modal(ctx, inv.user_id, str(inv.payload.get("trigger_id", ""))):
        respond(response_type="ephemeral", text=NOT_ELIGIBLE)


def _refresh_home(ctx: AppContext, inv: Invocation, respond: Respond) -> None:
    publish_home(ctx, inv.user_id)


NOT_JOINED = "You haven't joined infochat yet. `/infochat profile` sets up your profile in a minute."


def _pause(ctx: AppContext, inv: Invocation) -> dict[str, Any]:
    with ctx.db.session() as session:
        state = profiles.pause_state(session, inv.user_id)
        if state is None or not state.joined:
            return {"text": NOT_JOINED}
        zone = clock.zone(state.tz)
        try:
            back, until = profiles.pause_end(inv.argument, utcnow(), zone)
        except profiles.PauseError as exc:
            return {"text": str(exc)}
        profiles.set_paused_until(session, state, until)
    return {"text": blocks.paused_message(back)}


def _resume(ctx: AppContext, inv: Invocation) -> dict[str, Any]:
    with ctx.db.session() as session:
        state = profiles.pause_state(session, inv.user_id)
        if state is None or not state.joined:
            return {"text": NOT_JOINED}
        was_paused = state.paused_until is not None
        profiles.set_paused_until(session, state, None)
    return {"text": blocks.resumed_message(was_paused)}


def _leave(ctx: AppContext, inv: Invocation) -> dict[str, Any]:
    with ctx.db.session() as session:
        person = profiles.get_person(session, inv.user_id)
        if person is None or not person.has_joined:
            return {"text": "You're not taking part in infochat, so there is nothing to leave."}
    return {"text": blocks.LEAVE_QUESTION, "blocks": blocks.leave_confirmation_blocks()}


# The subcommands of docs/product.md ("The surfaces"). `help` is answered by
# context_free_answer before routing; it is listed as a known subcommand.
ROUTES: dict[str, Subcommand] = {
    "help": Subcommand(lambda ctx, inv: _help_answer()),
    "profile": Subcommand(_silent, _open_profile),
    "join": Subcommand(_silent, _open_profile),
    "pause": Subcommand(_pause, _refresh_home),
    "resume": Subcommand(_resume, _refresh_home),
    "leave": Subcommand(_leave),
    "find": Subcommand(find.answer_find),
    "learnings": Subcommand(followups.answer_learnings),
    "report": Subcommand(reports.answer_report, reports.work_report),
}


def context_free_answer(text: str | None) -> dict[str, Any] | None:
    """The ack for a subcommand whose answer depends on nothing but the text (help, and
    the usage reply to an unknown subcommand), or None when it needs the app (the
    database, the user, Slack)."""
    subcommand, _ = parse(text)
    if subcommand == "help":
        return _help_answer()
    if subcommand not in ROUTES:
        return {"text": blocks.usage_message(subcommand, COMMAND)}
    return None


@functools.cache
def _help_answer() -> dict[str, Any]:
    return {"text": blocks.help_text(COMMAND), "blocks": blocks.help_blocks(COMMAND)}


def ack_command(ctx: AppContext, ack: Any, command: dict[str, Any]) -> None:
    static = context_free_answer(command.get("text"))
    if static is not None:
        ack(response_type="ephemeral", **static)
        return
    inv = invocation(command)
    route = ROUTES[inv.subcommand]
    try:
        body = retry.retrying(
            lambda: route.answer(ctx, inv), label=f"/infochat {inv.subcommand}", budget=ACK_BUDGET_SECONDS
        )
    except Exception:
        log.exception("/infochat %s failed", inv.subcommand, extra={"slack_user": inv.user_id})
        body = {"text": blocks.SOMETHING_WENT_WRONG}
    if body is None:
        ack()
    else:
        ack(response_type="ephemeral", **body)


def work_command(ctx: AppContext, command: dict[str, Any], respond: Respond) -> None:
    inv = invocation(command)
    route = ROUTES.get(inv.subcommand)
    if route is None or route.work is None:
        return
    work = route.work
    try:
        retry.retrying(lambda: work(ctx, inv, respond), label=f"/infochat {inv.subcommand} follow-up")
    except Exception:
        log.exception("/infochat %s follow-up failed", inv.subcommand, extra={"slack_user": inv.user_id})
        respond(response_type="ephemeral", text=blocks.SOMETHING_WENT_WRONG)


def has_follow_up(body: dict[str, Any]) -> bool:
    route = ROUTES.get(parse(body.get("text"))[0])
    return route is not None and route.work is not None


def answered_in_ack(body: dict[str, Any]) -> bool:
    return not has_follow_up(body)


# Two listeners for one command: Bolt copies the whole request for every
# listener with lazy functions, which is most of the cost of an ack. Only
# subcommands with follow-up work (profile, pause, report, …) pay for it;
# help, find and the usage reply are answered entirely in the ack.
LISTENERS = (
    on_command(COMMAND, ack_command, [work_command], matchers=[has_follow_up]),
    on_command(COMMAND, ack_command, matchers=[answered_in_ack]),
)
