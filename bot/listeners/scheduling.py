"""Finding a time: `Find a time` / `Pick your times`, the pick and suggest modals,
`Reschedule`, `Cancel` (with its modal), and the calendar link buttons.

Authorisation: only the chat's people (read from the database, never the
payload) may pick, suggest, reschedule or cancel. State changes happen in
bot.services.scheduling.store under a per-chat lock with conditional
UPDATEs, and their messages are enqueued in the same transaction; the lazy
steps deliver them, upload the invite and refresh the list of times.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.blocks import requests as request_blocks
from bot.blocks import scheduling as blocks
from bot.clock import utcnow
from bot.context import AppContext
from bot.flows import outbox as delivery
from bot.flows import scheduling as flow
from bot.listeners import on_action, on_view, shapes
from bot.listeners.replies import clicking_user, responder
from bot.models import Chat, Person, ScheduleStatus
from bot.services import chats
from bot.services.scheduling import store

log = logging.getLogger(__name__)

Ack = Callable[..., None]
Respond = Callable[..., Any]


def _metadata(view: dict[str, Any]) -> tuple[int | None, int | None]:
    meta = shapes.json_object(view.get("private_metadata"))
    return shapes.as_id(meta.get("chat")), shapes.as_id(meta.get("round"))


def _after_change(ctx: AppContext, chat_id: int) -> None:
    """Deliver what the change enqueued, then the invite file, then refresh the list of times."""
    delivery.deliver(ctx)
    flow.share_invites(ctx, chat_id, utcnow())
    flow.refresh_slots(ctx, chat_id, utcnow())


def _clicked_chat(
    session: Session, action: dict[str, Any], user_id: str, respond: Respond
) -> tuple[Chat, Person] | None:
    """The chat a button names and the clicker's place in it; None when the chat is gone, or
    (the refusal told) when the clicker is not in it."""
    chat = chats.get_chat(session, shapes.as_id(action.get("value")))
    if chat is None:
        return None
    try:
        return chat, store.participant(chat, user_id)
    except chats.NotParticipant as refusal:
        respond(**request_blocks.refusal_text(str(refusal)))
        return None


def open_pick_modal(ctx: AppContext, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
    _open_then_fill(ctx, body, action, respond, _pick_view)


def _open_then_fill(
    ctx: AppContext,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: Respond,
    fill: Callable[[AppContext, int, str], dict[str, Any]],
) -> None:
    """Open a loading modal within the trigger's 3 s, then fill it in once the times are known."""
    respond = responder(ctx, body, respond)
    user_id = clicking_user(body)
    with ctx.db.session() as session:
        clicked = _clicked_chat(session, action, user_id, respond)
        if clicked is None:
            return
        chat, _ = clicked
    opened = ctx.slack.open_view(str(body.get("trigger_id", "")), blocks.loading_modal())
    view_id = str((opened.get("view") or {}).get("id", ""))
    ctx.slack.call("views.update", view_id=view_id, view=fill(ctx, chat.id, user_id))
    delivery.deliver(ctx)


def _pick_view(ctx: AppContext, chat_id: int, user_id: str) -> dict[str, Any]:
    now = utcnow()
    with ctx.db.session() as session:
        chat = chats.get_chat(session, chat_id)
        assert chat is not None
        me = store.participant(chat, user_id)
        if chat.cancelled_at is not None:
            return blocks.notice_modal("This chat was cancelled.")
        proposed = store.propose(session, chat, now)
        schedule = proposed.schedule
        if schedule.status == ScheduleStatus.CONFIRMED and schedule.start_at is not None:
            when = blocks.slack_date(schedule.start_at, "{date_long_pretty} at {time}")
            return blocks.notice_modal(
                f"Your chat is already set for {when}. `Reschedule` on the confirmation moves it."
            )
        if schedule.status == ScheduleStatus.CANCELLED:
            return blocks.notice_modal("This chat was cancelled.")
        if proposed.new_round:
            flow.post_slots(session, chat, schedule, now)
        cards = flow.slot_cards(session, proposed.slots)
        mine = {c.slot_id for c in cards if me.id in c.picked_by}
        members = flow.people(chat)
        if cards:
            return blocks.pick_modal(chat.id, schedule.round, flow.who(me), members, cards, mine)
        return blocks.suggest_modal(chat.id, schedule.round, flow.who(me), None)


def ack_pick(ctx: AppContext, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
    chat_id, round_ = _metadata(view)
    chosen = [shapes.as_id(o.get("value")) for o in shapes.option_values(shapes.input_state(view, "slots"))]
    now = utcnow()
    with ctx.db.session() as session:
        chat = chats.get_chat(session, chat_id)
        if chat is None or round_ is None:
            ack()
            return
        try:
            picked = store.pick(session, chat, clicking_user(body), round_, [c for c in chosen if c], now)
        except (chats.NotParticipant, store.Stale) as refusal:
            ack(response_action="errors", errors={"slots": str(refusal)})
            return
        if picked.confirmed is not None:
            flow.queue_confirmed(session, chat, picked.schedule, picked.confirmed)
    ack()


def ack_suggest(ctx: AppContext, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
    chat_id, _ = _metadata(view)
    stamp = shapes.input_state(view, "when").get("selected_date_time")
    if not isinstance(stamp, int | float) or isinstance(stamp, bool):
        ack(response_action="errors", errors={"when": "Pick a day and a time."})
        return
    start = datetime.fromtimestamp(int(stamp), UTC)
    now = utcnow()
    with ctx.db.session() as session:
        chat = chats.get_chat(session, chat_id)
        if chat is None:
            ack()
            return
        try:
            picked = store.suggest(session, chat, clicking_user(body), start, now)
        except ValueError as problem:
            ack(response_action="errors", errors={"when": str(problem)})
            return
        except (chats.NotParticipant, store.Stale) as refusal:
            ack(response_action="errors", errors={"when": str(refusal)})
            return
        if picked.confirmed is not None:
            flow.queue_confirmed(session, chat, picked.schedule, picked.confirmed)
    ack()


def after_modal(ctx: AppContext, body: dict[str, Any], view: dict[str, Any]) -> None:
    chat_id, _ = _metadata(view)
    with ctx.db.session() as session:
        chat = chats.get_chat(session, chat_id)
        if chat is None or clicking_user(body) not in chats.member_ids(chat):
            return  # a refused submission changed nothing: nothing to show anyone
    _after_change(ctx, chat.id)


def reschedule_clicked(
    ctx: AppContext, body: dict[str, Any], action: dict[str, Any], respond: Respond
) -> None:
    respond = responder(ctx, body, respond)
    chat_id = shapes.as_id(action.get("value"))
    now = utcnow()
    with ctx.db.session() as session:
        chat = chats.get_chat(session, chat_id)
        if chat is None:
            return
        try:
            changed = store.reschedule(session, chat, clicking_user(body), now, ctx.settings.followup_after)
        except chats.NotParticipant as refusal:
            respond(**request_blocks.refusal_text(str(refusal)))
            return
        if changed is None:
            return  # a double click, or no longer confirmed: nothing to do
        by = store.participant(chat, clicking_user(body))
        flow.queue_rescheduled(session, chat, changed, by, now)
        name = by.display_name
    flow.retire_confirmation(ctx, chat.id, changed.schedule.sequence - 1, changed, f"moved by {name}")
    delivery.deliver(ctx)
    flow.refresh_slots(ctx, chat.id, utcnow(), replaced=True)


def open_cancel_modal(
    ctx: AppContext, body: dict[str, Any], action: dict[str, Any], respond: Respond
) -> None:
    respond = responder(ctx, body, respond)
    with ctx.db.session() as session:
        clicked = _clicked_chat(session, action, clicking_user(body), respond)
        if clicked is None:
            return
        chat, me = clicked
        others = [p for p in flow.people(chat) if p.person_id != me.id]
    ctx.slack.open_view(str(body.get("trigger_id", "")), blocks.cancel_modal(chat.id, others))


def ack_cancel(ctx: AppContext, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
    chat_id, _ = _metadata(view)
    reason = shapes.text_value(shapes.input_state(view, "reason")).strip()
    if len(reason) < 3:
        ack(response_action="errors", errors={"reason": "Say briefly why, so they know."})
        return
    now = utcnow()
    with ctx.db.session() as session:
        chat = chats.get_chat(session, chat_id)
        if chat is None:
            ack()
            return
        try:
            changed = store.cancel(session, chat, clicking_user(body), reason, now)
        except chats.NotParticipant as refusal:
            ack(response_action="errors", errors={"reason": str(refusal)})
            return
        if changed is not None:
            by = store.participant(chat, clicking_user(body))
            flow.queue_cancelled(session, chat, changed, by)
    ack()


def after_cancel(ctx: AppContext, body: dict[str, Any], view: dict[str, Any]) -> None:
    chat_id, _ = _metadata(view)
    if chat_id is None:
        return
    with ctx.db.session() as session:
        schedule = store.schedule_of(session, chat_id)
        if schedule is None or schedule.status != ScheduleStatus.CANCELLED:
            return
        by = store.cancelled_by(session, schedule)
        changed = store.Changed(schedule, schedule.start_at, schedule.end_at)
        outcome = f"cancelled by {by.display_name if by else 'someone in the chat'}"
    flow.retire_confirmation(ctx, chat_id, changed.schedule.sequence - 1, changed, outcome)
    _after_change(ctx, chat_id)


def open_suggest_modal(
    ctx: AppContext, body: dict[str, Any], action: dict[str, Any], respond: Respond
) -> None:
    _open_then_fill(ctx, body, action, respond, _suggest_view)


def _suggest_view(ctx: AppContext, chat_id: int, user_id: str) -> dict[str, Any]:
    now = utcnow()
    with ctx.db.session() as session:
        chat = chats.get_chat(session, chat_id)
        assert chat is not None
        me = store.participant(chat, user_id)
        proposed = store.propose(session, chat, now)
        if chat.cancelled_at is not None or proposed.schedule.status != ScheduleStatus.PROPOSING:
            return blocks.notice_modal("The time for this chat is already settled.")
        if proposed.new_round:
            flow.post_slots(session, chat, proposed.schedule, now)
        first = min((s.start_at for s in proposed.slots), default=None)
        return blocks.suggest_modal(chat.id, proposed.schedule.round, flow.who(me), first)


LISTENERS = (
    on_action(blocks.FIND_ACTION, lazy=[open_pick_modal]),
    on_action(blocks.SUGGEST_ACTION, lazy=[open_suggest_modal]),
    on_view(blocks.PICK_CALLBACK, ack=ack_pick, lazy=[after_modal]),
    on_view(blocks.SUGGEST_CALLBACK, ack=ack_suggest, lazy=[after_modal]),
    on_action(blocks.RESCHEDULE_ACTION, lazy=[reschedule_clicked]),
    on_action(blocks.CANCEL_ACTION, lazy=[open_cancel_modal]),
    on_view(blocks.CANCEL_CALLBACK, ack=ack_cancel, lazy=[after_cancel]),
    # Link buttons open the calendar in the browser; Slack still tells the app, which only acks.
    on_action(blocks.GOOGLE_ACTION),
    on_action(blocks.OUTLOOK_ACTION),
)
