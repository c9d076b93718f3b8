"""A click on a chat's own buttons (`Mark as done`, `Can't make it`), for its participants only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.context import AppContext
from bot.models import Chat
from bot.services import chats

# services.chats.mark_done / cancel: True the first time.
ChatChange = Callable[[Session, Chat, str, datetime], bool]


@dataclass(frozen=True)
class Changed:
    first: bool  # this click changed the chat (a repeat changes nothing)
    by: str  # the display name of whoever clicked
    members: list[str]  # everyone in the chat, by Slack user id


def change_chat(
    ctx: AppContext, chat_id: int | None, slack_user_id: str, change: ChatChange
) -> Changed | None:
    """Apply `change` for the participant who clicked; None when there is no such chat.

    Raises chats.NotParticipant for anyone else.
    """
    with ctx.db.session() as session:
        chat = chats.get_chat(session, chat_id)
        if chat is None:
            return None
        first = change(session, chat, slack_user_id, utcnow())
        name = chats.participant(chat, slack_user_id).person.display_name
        return Changed(first, name, chats.member_ids(chat))
