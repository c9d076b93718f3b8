"""Follow-up answers (`We met`, `Not yet`, `We couldn't meet`), the "what I learned" and
"couldn't meet" modals, the ghost-rule buttons, and `/infochat learnings`.

Clicks are acked at once; the work runs in lazy functions. Buttons carry the
chat id they ask about and the clicking user is checked against that chat's
participants in the database, so a late answer updates the chat it was asked
about, and nobody can answer for someone else. Modal submissions validate and
save in the ack (field errors must be in the HTTP answer); Web API calls
happen afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from bot.blocks import followups as followup_blocks
from bot.blocks.requests import notice_view, refusal_text
from bot.clock import utcnow, zone
from bot.context import AppContext
from bot.flows import followups as followup_flow
from bot.flows import outbox as delivery
from bot.listeners import on_action, on_view, shapes
from bot.listeners.home import publish_home
from bot.listeners.replies import clicking_user, responder
from bot.listeners.routing import Invocation
from bot.models import ChatParticipant
from bot.services import chats, followups, learnings, profiles
from bot.services import topics as topic_service

log = logging.getLogger(__name__)

Ack = Callable[..., None]
Respond = Callable[..., Any]


def _chat_id_from_action(action: dict[str, Any]) -> int | None:
    return shapes.as_id(action.get("value"))


def _chat_id_from_view(view: dict[str, Any]) -> int | None:
    chat_id = shapes.json_object(view.get("private_metadata")).get("chat")
    return shapes.as_id(chat_id) if isinstance(chat_id, int) else None


def parse_learning(view: dict[str, Any]) -> learnings.LearningInput:
    """Slack's view state -> plain input; missing, null or malformed fields become empty values."""

    def _state(block_id: str) -> dict[str, Any]:
        return shapes.input_state(view, block_id)

    topics = [t.strip() for t in shapes.text_value(_state("topics")).split(",") if t.strip()]
    return learnings.LearningInput(
        text=shapes.text_value(_state("learned")),
        usefulness=shapes.as_small_int(shapes.option_value(_state("useful"))),
        topics=topics,
        share=shapes.option_value(_state("share")) or "me",
        show_name=any(o.get("value") == "yes" for o in shapes.option_values(_state("show_name"))),
        thanks=shapes.text_value(_state("thanks")),
        referral=shapes.text_value(_state("referral"), "selected_user") or None,
    )


def answer_learnings(ctx: AppContext, inv: Invocation) -> dict[str, Any]:
    """The ack body for `/infochat learnings [topic]`: one indexed query, no Web API calls."""
    query = inv.argument.strip()
    if len(query) > topic_service.MAX_TOPIC_LENGTH:
        return followup_blocks.learnings_usage()
    with ctx.db.session() as session:
        topic_name, cards = learnings.shared_learnings(session, query)
    return followup_blocks.learnings_message(query, topic_name, cards)


def _clicked_participant(
    ctx: AppContext, session: Session, action: dict[str, Any], body: dict[str, Any], respond: Respond
) -> ChatParticipant | None:
    """Who clicked, as a participant of the chat the button names; None (and a reply) otherwise."""
    try:
        member = chats.participant_in(session, _chat_id_from_action(action), clicking_user(body))
    except chats.NotParticipant as refusal:
        respond(**refusal_text(str(refusal)))
        return None
    if member is None:
        respond(**refusal_text(chats.GONE))
    return member


# -- We met -> record it, open "what I learned" -------------------------------------------


def met_clicked(ctx: AppContext, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
    respond = responder(ctx, body, respond)
    with ctx.db.session() as session:
        member = _clicked_participant(ctx, session, action, body, respond)
        if member is None:
            return
        chat, person_id = member.chat, member.person_id
        topic = followups.chat_topic(session, chat)
        view = followup_blocks.learned_modal(
            chat.id,
            [p.display_name for p in chats.partners_of(chat, person_id)],
            [topic] if topic else [],
            full=followups.wants_full_form(member.role),
            existing=learnings.existing_learning(session, chat.id, person_id),
        )
        chat_id = chat.id
    # Open first: the trigger lasts 3 s, and a write may wait for the database's lock.
    ctx.slack.open_view(str(body.get("trigger_id", "")), view)
    with ctx.db.session() as session:
        chat = chats.get_chat(session, chat_id)
        if chat is not None:
            chats.record_met(session, chat, person_id, utcnow())
    followup_flow.refresh_checkins(ctx, chat_id, person_id)


def ack_learned(ctx: AppContext, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
    user_id = clicking_user(body)
    submitted = parse_learning(view)
    with ctx.db.session() as session:
        try:
            member = chats.participant_in(session, _chat_id_from_view(view), user_id)
            if member is None:
                raise chats.NotParticipant(chats.GONE)
        except chats.NotParticipant as refusal:
            ack(response_action="update", view=notice_view("Can't save", str(refusal)))
            return
        full = followups.wants_full_form(member.role)
        submitted = learnings.as_asked(submitted, full=full)
        errors = learnings.check_learning(session, member, submitted, full=full)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        saved = followup_flow.save_learning(session, member, submitted, utcnow())
        thanked = [p.display_name for p in saved.thanked]
        referred = saved.referral
        referred_name = (referred.display_name or f"<@{referred.slack_user_id}>") if referred else None
    ack(response_action="update", view=followup_blocks.saved_view(submitted.share, thanked, referred_name))


def after_learned(ctx: AppContext, body: dict[str, Any], view: dict[str, Any]) -> None:
    user_id = clicking_user(body)
    chat_id = _chat_id_from_view(view)
    delivery.deliver(ctx)
    with ctx.db.session() as session:
        try:
            member = chats.participant_in(session, chat_id, user_id)
        except chats.NotParticipant:
            member = None
        if member is None:
            return  # nothing was saved for someone outside the chat: nobody's Home changes
        others = [p.slack_user_id for p in chats.partners_of(member.chat, member.person_id)]
        my_id = member.person_id
    assert chat_id is not None
    followup_flow.refresh_checkins(ctx, chat_id, my_id)
    publish_home(ctx, user_id)
    for other in others:  # the thanks they received show in their App Home
        publish_home(ctx, other)


# -- Not yet ---------------------------------------------------------------------------------


def not_yet_clicked(ctx: AppContext, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
    respond = responder(ctx, body, respond)
    with ctx.db.session() as session:
        member = _clicked_participant(ctx, session, action, body, respond)
        if member is None:
            return
        chat_id, person_id = member.chat_id, member.person_id
        next_at = followups.record_not_yet(session, member.chat, person_id, utcnow())
    if next_at is None:
        respond(**refusal_text("You've already answered for this chat — thank you!"))
    followup_flow.refresh_checkins(ctx, chat_id, person_id)


# -- We couldn't meet -> the reason ------------------------------------------------------------


def couldnt_clicked(ctx: AppContext, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
    respond = responder(ctx, body, respond)
    with ctx.db.session() as session:
        member = _clicked_participant(ctx, session, action, body, respond)
        if member is None:
            return
        partners = [p.display_name for p in chats.partners_of(member.chat, member.person_id)]
        view = followup_blocks.couldnt_modal(member.chat_id, partners)
    ctx.slack.open_view(str(body.get("trigger_id", "")), view)


def ack_couldnt(ctx: AppContext, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
    reason = shapes.option_value(shapes.input_state(view, "reason")) or ""
    if reason not in followups.REASONS:
        ack(response_action="errors", errors={"reason": "Pick what got in the way."})
        return
    try:
        followup_flow.couldnt_meet(ctx, _chat_id_from_view(view), clicking_user(body), reason, utcnow())
    except (chats.NotParticipant, followups.AlreadyAnswered) as refusal:
        ack(response_action="update", view=notice_view("Nothing changed", str(refusal)))
        return
    ack(response_action="update", view=followup_blocks.couldnt_saved_view())


def after_couldnt(ctx: AppContext, body: dict[str, Any], view: dict[str, Any]) -> None:
    delivery.deliver(ctx)
    chat_id = _chat_id_from_view(view)
    with ctx.db.session() as session:
        me = profiles.get_person(session, clicking_user(body))
        my_id = me.id if me else None
    if chat_id is not None and my_id is not None:
        followup_flow.refresh_checkins(ctx, chat_id, my_id)


# -- the ghost rule's buttons ---------------------------------------------------------------------


def stay_active_clicked(ctx: AppContext, body: dict[str, Any], respond: Respond) -> None:
    respond = responder(ctx, body, respond)
    user_id = clicking_user(body)
    # Only ever acts on the person who clicked: the buttons name nobody.
    with ctx.db.session() as session:
        person = profiles.get_person(session, user_id)
        if person is None:
            return
        followups.stay_active(person)
    respond(replace_original=True, text=followup_blocks.stayed_active_text())
    publish_home(ctx, user_id)


def pause_me_clicked(ctx: AppContext, body: dict[str, Any], respond: Respond) -> None:
    respond = responder(ctx, body, respond)
    user_id = clicking_user(body)
    with ctx.db.session() as session:
        person = profiles.get_person(session, user_id)
        if person is None:
            return
        until = followups.pause_me(person, utcnow())
        person_tz = zone(person.tz).key
    respond(replace_original=True, text=followup_blocks.paused_text(until, person_tz))
    publish_home(ctx, user_id)


LISTENERS = (
    on_action(followup_blocks.MET_ACTION, lazy=[met_clicked]),
    on_action(followup_blocks.NOT_YET_ACTION, lazy=[not_yet_clicked]),
    on_action(followup_blocks.COULDNT_ACTION, lazy=[couldnt_clicked]),
    on_action(followup_blocks.STAY_ACTIVE_ACTION, lazy=[stay_active_clicked]),
    on_action(followup_blocks.PAUSE_ME_ACTION, lazy=[pause_me_clicked]),
    on_view(followup_blocks.LEARNED_CALLBACK, ack_learned, lazy=[after_learned]),
    on_view(followup_blocks.COULDNT_CALLBACK, ack_couldnt, lazy=[after_couldnt]),
)
