"""Weekly pairing intros: `Can't make it` and `Don't pair us again`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.blocks import pairing as pairing_blocks
from bot.blocks.requests import refusal_text
from bot.clock import utcnow
from bot.context import AppContext
from bot.listeners import ListenerRegistry, just_ack, shapes
from bot.listeners.home import publish_home
from bot.listeners.replies import clicking_user, responder
from bot.models import Chat
from bot.services import pairing

log = logging.getLogger(__name__)

Respond = Callable[..., Any]


def _chat_id(action: dict[str, Any]) -> int | None:
    return shapes.as_id(action.get("value"))


def register(registry: ListenerRegistry, ctx: AppContext) -> None:
    def cant_make_it(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        respond = responder(ctx, body, respond)
        chat_id = _chat_id(action)
        user_id = clicking_user(body)
        with ctx.db.session() as session:
            chat = session.get(Chat, chat_id) if chat_id else None
            if chat is None:
                return
            try:
                first = pairing.cancel(session, chat, user_id, utcnow())
            except pairing.NotParticipant as refusal:
                respond(**refusal_text(str(refusal)))
                return
            name = next(p.person.display_name for p in chat.participants if p.person.slack_user_id == user_id)
            members = [p.person.slack_user_id for p in chat.participants]
        if first:
            respond(
                response_type="in_channel",
                replace_original=False,
                text=pairing_blocks.cant_make_it_text(name),
            )
            for member in members:
                publish_home(ctx, member)

    def dont_pair_again(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        respond = responder(ctx, body, respond)
        chat_id = _chat_id(action)
        user_id = clicking_user(body)
        with ctx.db.session() as session:
            chat = session.get(Chat, chat_id) if chat_id else None
            if chat is None:
                return
            try:
                pairing.block_partners(session, chat, user_id)
            except pairing.NotParticipant as refusal:
                respond(**refusal_text(str(refusal)))
                return
        # Private: only the person who clicked sees this.
        respond(**refusal_text("Noted — I won't pair you with them again. Nobody else is told."))

    registry.action(pairing_blocks.CANT_MAKE_IT_ACTION, ack=just_ack, lazy=[cant_make_it])
    registry.action(pairing_blocks.NO_REPEAT_ACTION, ack=just_ack, lazy=[dont_pair_again])
