"""Block Kit actions: App Home buttons and confirmation buttons."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot import blocks, clock
from bot.blocks.home import EDIT_PROFILE_ACTION, PAUSE_ACTION, RESUME_ACTION
from bot.clock import utcnow
from bot.context import AppContext
from bot.listeners import on_action, shapes
from bot.listeners.home import publish_home
from bot.listeners.replies import clicking_user, responder
from bot.listeners.views import open_profile_modal
from bot.services import profiles

log = logging.getLogger(__name__)

Respond = Callable[..., Any]


def edit_profile(ctx: AppContext, body: dict[str, Any]) -> None:
    if not open_profile_modal(ctx, clicking_user(body), body["trigger_id"]):
        publish_home(ctx, clicking_user(body))


def pause_from_home(
    ctx: AppContext, ack: Callable[..., None], body: dict[str, Any], action: dict[str, Any]
) -> None:
    choice = shapes.option_value(action) or "2w"
    with ctx.db.session() as session:
        state = profiles.pause_state(session, clicking_user(body))
        if state is not None and state.joined:
            zone = clock.zone(state.tz)
            try:
                _, until = profiles.pause_end(str(choice), utcnow(), zone)
            except profiles.PauseError:
                log.warning("unexpected pause choice %r", choice)
            else:
                profiles.set_paused_until(session, state, until)
    ack()


def resume_from_home(ctx: AppContext, ack: Callable[..., None], body: dict[str, Any]) -> None:
    with ctx.db.session() as session:
        state = profiles.pause_state(session, clicking_user(body))
        if state is not None:
            profiles.set_paused_until(session, state, None)
    ack()


def refresh_home(ctx: AppContext, body: dict[str, Any]) -> None:
    publish_home(ctx, clicking_user(body))


# With process_before_response the HTTP answer goes out when the ack
# function returns, so replies through response_url wait for the lazy step.
def confirm_leave(ctx: AppContext, ack: Callable[..., None], body: dict[str, Any]) -> None:
    with ctx.db.session() as session:
        person = profiles.get_person(session, clicking_user(body))
        if person is not None and person.has_joined:
            profiles.leave(person, utcnow())
    ack()


def tell_left(ctx: AppContext, body: dict[str, Any], respond: Respond) -> None:
    responder(ctx, body, respond)(replace_original=True, text=blocks.LEFT_MESSAGE)
    publish_home(ctx, clicking_user(body))


def tell_stayed(ctx: AppContext, body: dict[str, Any], respond: Respond) -> None:
    responder(ctx, body, respond)(replace_original=True, text=blocks.STAYED_MESSAGE)


LISTENERS = (
    on_action(EDIT_PROFILE_ACTION, lazy=[edit_profile]),
    on_action(PAUSE_ACTION, pause_from_home, lazy=[refresh_home]),
    on_action(RESUME_ACTION, resume_from_home, lazy=[refresh_home]),
    on_action(blocks.LEAVE_CONFIRM_ACTION, confirm_leave, lazy=[tell_left]),
    on_action(blocks.LEAVE_CANCEL_ACTION, lazy=[tell_stayed]),
)
