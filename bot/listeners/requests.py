"""Chat requests: `Ask for a chat`, the request modal, Accept / Decline / Suggest
someone else, and `Mark as done` on an intro.

Clicks are acked at once and handled in lazy functions; every state change is a
conditional UPDATE in the service, so double clicks and retried deliveries
produce one outcome. Authorisation is checked against the database (the
addressed expert, a chat's participants), never trusted from the payload.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from bot.blocks import requests as request_blocks
from bot.clock import utcnow
from bot.context import AppContext
from bot.flows import chats as chat_flow
from bot.flows import directory as directory_flow
from bot.flows import outbox as delivery
from bot.flows import requests as request_flow
from bot.listeners import on_action, on_view, shapes
from bot.listeners.home import publish_home
from bot.listeners.replies import clicking_user, responder
from bot.models import Person
from bot.services import chats, profiles
from bot.services import requests as request_service

log = logging.getLogger(__name__)

Ack = Callable[..., None]
Respond = Callable[..., Any]

# What a users_select submits: a Slack user id.
SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,31}")


def _text(view: dict[str, Any], block_id: str) -> str:
    return shapes.text_value(shapes.input_state(view, block_id))


def _choice(view: dict[str, Any], block_id: str, default: str) -> str:
    return shapes.option_value(shapes.input_state(view, block_id)) or default


def _intro_prefill(learner: Person, expert: Person) -> str:
    role = ", ".join(part for part in (learner.title, learner.function and f"in {learner.function}") if part)
    first = expert.display_name.split(" ")[0]
    return f"Hi {first}! I'm {learner.display_name}" + (f", {role}" if role else "") + "."


def parse_draft(view: dict[str, Any]) -> request_service.RequestDraft:
    duration = _choice(view, "duration", "30")
    return request_service.RequestDraft(
        intro=_text(view, "intro"),
        goal=_text(view, "goal"),
        questions=_text(view, "questions"),
        preferred_format=_choice(view, "format", "any"),
        duration_minutes=shapes.as_small_int(duration) or 0,
    )


# -- Ask for a chat -> the request modal --------------------------------------


def open_request_modal(ctx: AppContext, body: dict[str, Any], action: dict[str, Any]) -> None:
    target = shapes.json_object(action.get("value"))
    expert_id, topic = str(target.get("expert", "")), str(target.get("topic", ""))
    with ctx.db.session() as session:
        learner = directory_flow.ensure_member(ctx, session, clicking_user(body))
        expert = profiles.get_person(session, expert_id)
        if learner is None or expert is None:
            view = request_blocks.notice_view("Can't ask right now", "I couldn't find that colleague.")
        else:
            try:
                request_service.check_can_request(session, learner, expert, utcnow())
                view = request_blocks.request_modal(
                    request_flow.person_card(expert),
                    topic,
                    _intro_prefill(learner, expert),
                    request_service.suggested_questions(topic),
                    learner.chat_minutes,
                )
            except request_service.RequestRefused as refusal:
                view = request_blocks.notice_view("Can't ask right now", str(refusal))
    ctx.slack.open_view(str(body.get("trigger_id", "")), view)


def ack_request(ctx: AppContext, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
    draft = parse_draft(view)
    errors = request_service.validate_draft(draft)
    if errors:
        ack(response_action="errors", errors=errors)
        return
    target = shapes.json_object(view.get("private_metadata"))
    now = utcnow()
    with ctx.db.session() as session:
        learner = profiles.get_person(session, clicking_user(body))
        expert = profiles.get_person(session, str(target.get("expert", "")))
        if learner is None or expert is None:
            ack(response_action="errors", errors={"intro": "I couldn't find that colleague any more."})
            return
        try:
            request = request_service.create_request(
                session, learner, expert, str(target.get("topic", "")), draft, now
            )
        except request_service.RequestRefused as refusal:
            ack(response_action="update", view=request_blocks.notice_view("Can't send it", str(refusal)))
            return
        request_flow.ask_expert(session, request, now)
        expert_name = expert.display_name
    ack(response_action="update", view=request_blocks.request_sent_view(expert_name))


def deliver_and_refresh(ctx: AppContext, body: dict[str, Any]) -> None:
    delivery.deliver(ctx)
    publish_home(ctx, clicking_user(body))


# -- the expert answers -----------------------------------------------------------


def accept_clicked(ctx: AppContext, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
    respond = responder(ctx, body, respond)
    request_id = shapes.as_id(action.get("value"))
    if request_id is None:
        return
    try:
        learner_id = request_flow.accept(ctx, request_id, clicking_user(body), utcnow())
    except request_service.NotAllowed as refusal:
        respond(**request_blocks.refusal_text(str(refusal)))
        return
    if learner_id is None:
        respond(**request_blocks.refusal_text("This request no longer exists."))
        return
    publish_home(ctx, clicking_user(body))
    publish_home(ctx, learner_id)


def _open_answer_modal(
    ctx: AppContext,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: Respond,
    build: Callable[[int, str], dict[str, Any]],
) -> None:
    """Decline / Suggest someone else: the modal, for the addressed expert of an open request only."""
    respond = responder(ctx, body, respond)
    request_id = shapes.as_id(action.get("value"))
    if request_id is None:
        return
    with ctx.db.session() as session:
        request = request_service.load_request(session, request_id)
        if request is None:
            return
        try:
            request_service.require_expert(request, clicking_user(body))
        except request_service.NotAllowed as refusal:
            respond(**request_blocks.refusal_text(str(refusal)))
            return
        answered = request.status != "open"
        learner_name = request.learner.display_name
    if answered:
        request_flow.refresh_request_dm(ctx, request_id)
        return
    ctx.slack.open_view(str(body.get("trigger_id", "")), build(request_id, learner_name))


def open_decline_modal(
    ctx: AppContext, body: dict[str, Any], action: dict[str, Any], respond: Respond
) -> None:
    _open_answer_modal(ctx, body, action, respond, request_blocks.decline_modal)


def open_redirect_modal(
    ctx: AppContext, body: dict[str, Any], action: dict[str, Any], respond: Respond
) -> None:
    _open_answer_modal(ctx, body, action, respond, request_blocks.redirect_modal)


def ack_decline(ctx: AppContext, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
    request_id = shapes.as_id(view.get("private_metadata"))
    try:
        request_flow.decline(ctx, request_id, clicking_user(body), _text(view, "reason"), utcnow())
    except request_service.NotAllowed as refusal:
        ack(response_action="errors", errors={"reason": str(refusal)})
        return
    ack()


def ack_redirect(ctx: AppContext, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
    request_id = shapes.as_id(view.get("private_metadata"))
    suggested_id = shapes.text_value(shapes.input_state(view, "colleague"), "selected_user")
    if not SLACK_USER_ID.fullmatch(suggested_id):
        ack(response_action="errors", errors={"colleague": "Pick the colleague you'd suggest."})
        return
    try:
        request_flow.redirect(
            ctx, request_id, clicking_user(body), suggested_id, _text(view, "note"), utcnow()
        )
    except request_service.NotAllowed as refusal:
        ack(response_action="errors", errors={"colleague": str(refusal)})
        return
    ack()


def after_answer(ctx: AppContext, body: dict[str, Any], view: dict[str, Any]) -> None:
    request_id = shapes.as_id(view.get("private_metadata"))
    delivery.deliver(ctx)
    if request_id is not None:
        request_flow.refresh_request_dm(ctx, request_id)
    publish_home(ctx, clicking_user(body))


# -- Mark as done -------------------------------------------------------------------


def mark_done_clicked(
    ctx: AppContext, body: dict[str, Any], action: dict[str, Any], respond: Respond
) -> None:
    respond = responder(ctx, body, respond)
    try:
        changed = chat_flow.change_chat(
            ctx, shapes.as_id(action.get("value")), clicking_user(body), chats.mark_done
        )
    except chats.NotParticipant as refusal:
        respond(**request_blocks.refusal_text(str(refusal)))
        return
    if changed is not None and changed.first:
        respond(response_type="in_channel", replace_original=False, text=request_blocks.done_text(changed.by))


LISTENERS = (
    on_action(request_blocks.ASK_ACTION, lazy=[open_request_modal]),
    on_view(request_blocks.REQUEST_CALLBACK, ack_request, lazy=[deliver_and_refresh]),
    on_action(request_blocks.ACCEPT_ACTION, lazy=[accept_clicked]),
    on_action(request_blocks.DECLINE_ACTION, lazy=[open_decline_modal]),
    on_action(request_blocks.REDIRECT_ACTION, lazy=[open_redirect_modal]),
    on_view(request_blocks.DECLINE_CALLBACK, ack_decline, lazy=[after_answer]),
    on_view(request_blocks.REDIRECT_CALLBACK, ack_redirect, lazy=[after_answer]),
    on_action(request_blocks.MARK_DONE_ACTION, lazy=[mark_done_clicked]),
)
