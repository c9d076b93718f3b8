"""Weekly pairing intros: `Can't make it` and `Don't pair us again`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.blocks import pairing as pairing_blocks
from bot.blocks.requests import refusal_text
from bot.context import AppContext
from bot.flows import chats as chat_flow
from bot.listeners import on_action, shapes
from bot.listeners.home import publish_home
from bot.listeners.replies import clicking_user, responder
from bot.services import chats, pairing

log = logging.getLogger(__name__)

Respond = Callable[..., Any]

NOTED = "Noted — I won't pair you with them again. Nobody else is told."


def cant_make_it(ctx: AppContext, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
    respond = responder(ctx, body, respond)
    try:
        changed = chat_flow.change_chat(
            ctx, shapes.as_id(action.get("value")), clicking_user(body), chats.cancel
        )
    except chats.NotParticipant as refusal:
        respond(**refusal_text(str(refusal)))
        return
    if changed is not None and changed.first:
        respond(
            response_type="in_channel",
            replace_original=False,
            text=pairing_blocks.cant_make_it_text(changed.by),
        )
        for member in changed.members:
            publish_home(ctx, member)


def dont_pair_again(ctx: AppContext, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
    respond = responder(ctx, body, respond)
    with ctx.db.session() as session:
        chat = chats.get_chat(session, shapes.as_id(action.get("value")))
        if chat is None:
            return
        try:
            pairing.block_partners(session, chat, clicking_user(body))
        except chats.NotParticipant as refusal:
            respond(**refusal_text(str(refusal)))
            return
    # Private: only the person who clicked sees this.
    respond(**refusal_text(NOTED))


LISTENERS = (
    on_action(pairing_blocks.CANT_MAKE_IT_ACTION, lazy=[cant_make_it]),
    on_action(pairing_blocks.NO_REPEAT_ACTION, lazy=[dont_pair_again]),
)
