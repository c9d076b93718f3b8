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
from typing import TYPE_CHECKING, Any

from bot.blocks import followups as followup_blocks
from bot.blocks.requests import notice_view, refusal_text
from bot.clock import utcnow
from bot.context import AppContext
from bot.flows import followups as followup_flow
from bot.listeners import ListenerRegistry, just_ack, shapes
from bot.listeners.home import publish_home
from bot.listeners.replies import clicking_user, responder
from bot.models import Chat
from bot.services import followups, profiles
from bot.services import outbox as outbox_service
from bot.services import topics as topic_service

if TYPE_CHECKING:
    # commands imports this module to route `learnings`; importing it back at run time would be circular.
    from bot.listeners.commands import Invocation

log = logging.getLogger(__name__)

Ack = Callable[..., None]
Respond = Callable[..., Any]


def _chat_id_from_action(action: dict[str, Any]) -> int | None:
    return shapes.as_id(action.get("value"))


def _chat_id_from_view(view: dict[str, Any]) -> int | None:
    chat_id = shapes.json_object(view.get("private_metadata")).get("chat")
    return shapes.as_id(chat_id) if isinstance(chat_id, int) else None


def _state(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return shapes.input_state(view, block_id)


def parse_learning(view: dict[str, Any]) -> followups.LearningInput:
    """Slack's view state -> plain input; missing, null or malformed fields become empty values."""
    topics = [t.strip() for t in shapes.text_value(_state(view, "topics")).split(",") if t.strip()]
    return followups.LearningInput(
        text=shapes.text_value(_state(view, "learned")),
        usefulness=shapes.as_small_int(shapes.option_value(_state(view, "useful"))),
        topics=topics,
        share=shapes.option_value(_state(view, "share")) or "me",
        show_name=any(o.get("value") == "yes" for o in shapes.option_values(_state(view, "show_name"))),
        thanks=shapes.text_value(_state(view, "thanks")),
        referral=shapes.text_value(_state(view, "referral"), "selected_user") or None,
    )


def answer_learnings(ctx: AppContext, inv: Invocation) -> dict[str, Any]:
    """The ack body for `/infochat learnings [topic]`: one indexed query, no Web API calls."""
    query = inv.argument.strip()
    if len(query) > topic_service.MAX_TOPIC_LENGTH:
        return followup_blocks.learnings_usage()
    with ctx.db.session() as session:
        topic_name, cards = followups.shared_learnings(session, query)
    return followup_blocks.learnings_message(query, topic_name, cards)


def register(registry: ListenerRegistry, ctx: AppContext) -> None:
    tz = ctx.settings.timezone

    def _load(session: Any, chat_id: int | None, user_id: str, respond: Respond) -> tuple[Chat, int] | None:
        chat = session.get(Chat, chat_id) if chat_id is not None else None
        if chat is None:
            respond(**refusal_text("That chat no longer exists."))
            return None
        try:
            participant = followups.participant_of(session, chat, user_id)
        except followups.NotParticipant as refusal:
            respond(**refusal_text(str(refusal)))
            return None
        return chat, participant.person_id

    # -- We met -> record it, open "what I learned" -------------------------------------------
    def met_clicked(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        respond = responder(ctx, body, respond)
        user_id = clicking_user(body)
        with ctx.db.session() as session:
            loaded = _load(session, _chat_id_from_action(action), user_id, respond)
            if loaded is None:
                return
            chat, person_id = loaded
            followups.record_met(session, chat, person_id, utcnow())
            role = followups.participant_of(session, chat, user_id).role
            partners = [p.display_name for p in followups.partners_of(chat, person_id)]
            topic = followups.chat_topic(session, chat)
            existing = followups.existing_learning(session, chat.id, person_id)
            view = followup_blocks.learned_modal(
                chat.id,
                partners,
                [topic] if topic else [],
                full=followups.wants_full_form(role),
                existing=existing,
            )
            chat_id = chat.id
        ctx.slack.open_view(str(body.get("trigger_id", "")), view)
        followup_flow.refresh_checkins(ctx, chat_id, person_id)

    def ack_learned(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user_id = clicking_user(body)
        submitted = parse_learning(view)
        chat_id = _chat_id_from_view(view)
        now = utcnow()
        with ctx.db.session() as session:
            chat = session.get(Chat, chat_id) if chat_id is not None else None
            try:
                if chat is None:
                    raise followups.NotParticipant("That chat no longer exists.")
                participant = followups.participant_of(session, chat, user_id)
            except followups.NotParticipant as refusal:
                ack(response_action="update", view=notice_view("Can't save", str(refusal)))
                return
            full = followups.wants_full_form(participant.role)
            if not full:
                # The short form has no referral or topics: ignore anything posted for them.
                submitted = followups.LearningInput(
                    text=submitted.text,
                    usefulness=submitted.usefulness,
                    share=submitted.share,
                    show_name=submitted.show_name,
                    thanks=submitted.thanks,
                )
            errors = followups.validate_learning(
                submitted,
                full=full,
                author_slack_id=user_id,
                participant_slack_ids={p.person.slack_user_id for p in chat.participants},
            )
            if submitted.referral and "referral" not in errors:
                referred = profiles.get_person(session, submitted.referral)
                if referred is not None and not referred.can_be_messaged:
                    errors["referral"] = f"{referred.display_name} can't be reached through infochat."
            if errors:
                ack(response_action="errors", errors=errors)
                return
            author = participant.person
            saved = followups.save_learning(session, chat, author, submitted, now)
            followup_flow.queue_thanks(session, chat, author, saved, submitted.thanks, now, tz)
            if saved.referral is not None:
                followup_flow.queue_referral_offer(session, chat, author, saved.referral, now, tz)
            thanked = [p.display_name for p in saved.thanked]
            referred_name = (
                (saved.referral.display_name or f"<@{saved.referral.slack_user_id}>")
                if saved.referral
                else None
            )
        ack(
            response_action="update", view=followup_blocks.saved_view(submitted.share, thanked, referred_name)
        )

    def after_learned(body: dict[str, Any], view: dict[str, Any]) -> None:
        user_id = clicking_user(body)
        chat_id = _chat_id_from_view(view)
        outbox_service.deliver(ctx)
        if chat_id is None:
            return
        with ctx.db.session() as session:
            chat = session.get(Chat, chat_id)
            me = profiles.get_person(session, user_id)
            if chat is None or me is None or all(p.person_id != me.id for p in chat.participants):
                return  # nothing was saved for someone outside the chat: nobody's Home changes
            others = [p.slack_user_id for p in followups.partners_of(chat, me.id)]
            my_id = me.id
        followup_flow.refresh_checkins(ctx, chat_id, my_id)
        publish_home(ctx, user_id)
        for other in others:  # the thanks they received show in their App Home
            publish_home(ctx, other)

    # -- Not yet ---------------------------------------------------------------------------------
    def not_yet_clicked(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        respond = responder(ctx, body, respond)
        user_id = clicking_user(body)
        with ctx.db.session() as session:
            loaded = _load(session, _chat_id_from_action(action), user_id, respond)
            if loaded is None:
                return
            chat, person_id = loaded
            next_at = followups.record_not_yet(session, chat, person_id, utcnow())
            chat_id = chat.id
        if next_at is None:
            respond(**refusal_text("You've already answered for this chat — thank you!"))
        followup_flow.refresh_checkins(ctx, chat_id, person_id)

    # -- We couldn't meet -> the reason ------------------------------------------------------------
    def couldnt_clicked(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        respond = responder(ctx, body, respond)
        user_id = clicking_user(body)
        with ctx.db.session() as session:
            loaded = _load(session, _chat_id_from_action(action), user_id, respond)
            if loaded is None:
                return
            chat, person_id = loaded
            partners = [p.display_name for p in followups.partners_of(chat, person_id)]
            view = followup_blocks.couldnt_modal(chat.id, partners)
        ctx.slack.open_view(str(body.get("trigger_id", "")), view)

    def ack_couldnt(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user_id = clicking_user(body)
        reason = shapes.option_value(_state(view, "reason")) or ""
        if reason not in followups.REASONS:
            ack(response_action="errors", errors={"reason": "Pick what got in the way."})
            return
        chat_id = _chat_id_from_view(view)
        now = utcnow()
        with ctx.db.session() as session:
            chat = session.get(Chat, chat_id) if chat_id is not None else None
            try:
                if chat is None:
                    raise followups.NotParticipant("That chat no longer exists.")
                participant = followups.participant_of(session, chat, user_id)
                result = followups.record_couldnt(session, chat, participant.person_id, reason, now)
            except (followups.NotParticipant, followups.AlreadyAnswered) as refusal:
                ack(response_action="update", view=notice_view("Nothing changed", str(refusal)))
                return
            for paused in result.paused:
                followup_flow.queue_ghost_pause(session, chat, paused, tz, now)
        ack(response_action="update", view=followup_blocks.couldnt_saved_view())

    def after_couldnt(body: dict[str, Any], view: dict[str, Any]) -> None:
        outbox_service.deliver(ctx)
        chat_id = _chat_id_from_view(view)
        with ctx.db.session() as session:
            me = profiles.get_person(session, clicking_user(body))
            my_id = me.id if me else None
        if chat_id is not None and my_id is not None:
            followup_flow.refresh_checkins(ctx, chat_id, my_id)

    # -- the ghost rule's buttons ---------------------------------------------------------------------
    def stay_active_clicked(body: dict[str, Any], respond: Respond) -> None:
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

    def pause_me_clicked(body: dict[str, Any], respond: Respond) -> None:
        respond = responder(ctx, body, respond)
        user_id = clicking_user(body)
        with ctx.db.session() as session:
            person = profiles.get_person(session, user_id)
            if person is None:
                return
            until = followups.pause_me(person, utcnow())
            person_tz = person.tz or tz
        respond(replace_original=True, text=followup_blocks.paused_text(until, person_tz))
        publish_home(ctx, user_id)

    registry.action(followup_blocks.MET_ACTION, ack=just_ack, lazy=[met_clicked])
    registry.action(followup_blocks.NOT_YET_ACTION, ack=just_ack, lazy=[not_yet_clicked])
    registry.action(followup_blocks.COULDNT_ACTION, ack=just_ack, lazy=[couldnt_clicked])
    registry.action(followup_blocks.STAY_ACTIVE_ACTION, ack=just_ack, lazy=[stay_active_clicked])
    registry.action(followup_blocks.PAUSE_ME_ACTION, ack=just_ack, lazy=[pause_me_clicked])
    registry.view(followup_blocks.LEARNED_CALLBACK, ack=ack_learned, lazy=[after_learned])
    registry.view(followup_blocks.COULDNT_CALLBACK, ack=ack_couldnt, lazy=[after_couldnt])
