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
from bot.flows import requests as request_flow
from bot.listeners import ListenerRegistry, just_ack, shapes
from bot.listeners.home import publish_home
from bot.listeners.replies import clicking_user, responder
from bot.models import Chat, Person, RequestStatus
from bot.services import directory, followups, outbox, profiles
from bot.services import requests as request_service

log = logging.getLogger(__name__)

Ack = Callable[..., None]

# What a users_select submits: a Slack user id.
SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,31}")
Respond = Callable[..., Any]


def _user(body: dict[str, Any]) -> str:
    return clicking_user(body)


def _state_value(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return shapes.input_state(view, block_id)


def _text(view: dict[str, Any], block_id: str) -> str:
    return shapes.text_value(_state_value(view, block_id))


def _choice(view: dict[str, Any], block_id: str, default: str) -> str:
    return shapes.option_value(_state_value(view, block_id)) or default


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


def _request_id(value: object) -> int | None:
    return shapes.as_id(value)


def refresh_request_dm(ctx: AppContext, request_id: int) -> None:
    """Show the expert's request DM with its outcome instead of the buttons."""
    with ctx.db.session() as session:
        request = request_service.load_request(session, request_id)
        sent = request_flow.sent_request_dm(session, request_id)
        if request is None or sent is None or not sent.sent_ts or not sent.sent_channel:
            return
        if request.status == RequestStatus.OPEN:
            return  # unanswered (e.g. a refused or invalid answer): the DM keeps its buttons
        card = request_flow.request_card(request, ctx.settings.timezone)
        outcome = request_blocks.outcome_for(str(request.status))
        channel, ts = sent.sent_channel, sent.sent_ts
    text, blocks = request_blocks.request_outcome_blocks(card, outcome, utcnow())
    try:
        ctx.slack.update_message(channel, ts, text, blocks)
    except Exception:
        log.exception("could not update request DM", extra={"request_id": request_id})


def register(registry: ListenerRegistry, ctx: AppContext) -> None:
    tz = ctx.settings.timezone

    # -- Ask for a chat -> the request modal --------------------------------------
    def open_request_modal(body: dict[str, Any], action: dict[str, Any]) -> None:
        user_id = _user(body)
        target = shapes.json_object(action.get("value"))
        expert_id, topic = str(target.get("expert", "")), str(target.get("topic", ""))
        with ctx.db.session() as session:
            learner = directory.ensure_member(session, ctx.slack, user_id)
            expert = profiles.get_person(session, expert_id)
            if learner is None or expert is None:
                view = request_blocks.notice_view("Can't ask right now", "I couldn't find that colleague.")
            else:
                try:
                    request_service.check_can_request(session, learner, expert, utcnow())
                    view = request_blocks.request_modal(
                        request_flow.person_card(expert, tz),
                        topic,
                        _intro_prefill(learner, expert),
                        request_service.suggested_questions(topic),
                    )
                except request_service.RequestRefused as refusal:
                    view = request_blocks.notice_view("Can't ask right now", str(refusal))
        ctx.slack.open_view(str(body.get("trigger_id", "")), view)

    def ack_request(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        draft = parse_draft(view)
        errors = request_service.validate_draft(draft)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        target = shapes.json_object(view.get("private_metadata"))
        now = utcnow()
        with ctx.db.session() as session:
            learner = profiles.get_person(session, _user(body))
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
            request_flow.ask_expert(session, request, now, tz)
            expert_name = expert.display_name
        ack(response_action="update", view=request_blocks.request_sent_view(expert_name))

    def deliver_and_refresh(body: dict[str, Any]) -> None:
        outbox.deliver(ctx)
        publish_home(ctx, _user(body))

    # -- the expert answers -----------------------------------------------------------
    def accept_clicked(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        respond = responder(ctx, body, respond)
        request_id = _request_id(action.get("value"))
        if request_id is None:
            return
        now = utcnow()
        with ctx.db.session() as session:
            request = request_service.load_request(session, request_id)
            if request is None:
                respond(**request_blocks.refusal_text("This request no longer exists."))
                return
            try:
                chat = request_service.accept(session, request, _user(body), now)
            except request_service.NotAllowed as refusal:
                respond(**request_blocks.refusal_text(str(refusal)))
                return
            if chat is not None:
                request_flow.introduce(session, request, chat, now, tz)
            learner_id = request.learner.slack_user_id
        outbox.deliver(ctx)
        refresh_request_dm(ctx, request_id)
        publish_home(ctx, _user(body))
        publish_home(ctx, learner_id)

    def open_answer_modal(build: Callable[[int, str], dict[str, Any]]) -> Callable[..., None]:
        def handler(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
            respond = responder(ctx, body, respond)
            request_id = _request_id(action.get("value"))
            if request_id is None:
                return
            with ctx.db.session() as session:
                request = request_service.load_request(session, request_id)
                if request is None:
                    return
                if request.expert.slack_user_id != _user(body):
                    respond(
                        **request_blocks.refusal_text(
                            f"Only {request.expert.display_name} can answer this request."
                        )
                    )
                    return
                if request.status != "open":
                    refresh_request_dm(ctx, request_id)
                    return
                learner_name = request.learner.display_name
            ctx.slack.open_view(str(body.get("trigger_id", "")), build(request_id, learner_name))

        return handler

    def ack_decline(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        request_id = _request_id(view.get("private_metadata"))
        now = utcnow()
        with ctx.db.session() as session:
            request = request_service.load_request(session, request_id) if request_id else None
            if request is None:
                ack()
                return
            try:
                if request_service.decline(session, request, _user(body), _text(view, "reason"), now):
                    request_flow.tell_declined(session, request, now, tz)
            except request_service.NotAllowed as refusal:
                ack(response_action="errors", errors={"reason": str(refusal)})
                return
        ack()

    def ack_redirect(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        request_id = _request_id(view.get("private_metadata"))
        suggested_id = shapes.text_value(_state_value(view, "colleague"), "selected_user")
        if not SLACK_USER_ID.fullmatch(suggested_id):
            ack(response_action="errors", errors={"colleague": "Pick the colleague you'd suggest."})
            return
        now = utcnow()
        with ctx.db.session() as session:
            request = request_service.load_request(session, request_id) if request_id else None
            if request is None:
                ack()
                return
            try:
                # Before anything is stored: only the addressed expert may suggest someone.
                request_service.require_expert(request, _user(body))
            except request_service.NotAllowed as refusal:
                ack(response_action="errors", errors={"colleague": str(refusal)})
                return
            try:
                # A savepoint: a refused redirect leaves no stub person behind.
                with session.begin_nested():
                    suggested = profiles.get_person(session, suggested_id)
                    if suggested is None:
                        # Not in the directory yet: a stub the nightly sync completes.
                        suggested = Person(slack_user_id=suggested_id, name="", real_name="", title="")
                        session.add(suggested)
                        session.flush()
                    if request_service.redirect(
                        session, request, _user(body), suggested, _text(view, "note"), now
                    ):
                        request_flow.tell_redirected(session, request, suggested, tz)
            except request_service.NotAllowed as refusal:
                ack(response_action="errors", errors={"colleague": str(refusal)})
                return
        ack()

    def after_answer(body: dict[str, Any], view: dict[str, Any]) -> None:
        request_id = _request_id(view.get("private_metadata"))
        outbox.deliver(ctx)
        if request_id is not None:
            refresh_request_dm(ctx, request_id)
        publish_home(ctx, _user(body))

    # -- Mark as done -------------------------------------------------------------------
    def mark_done_clicked(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        respond = responder(ctx, body, respond)
        chat_id = _request_id(action.get("value"))
        if chat_id is None:
            return
        with ctx.db.session() as session:
            chat = session.get(Chat, chat_id)
            if chat is None:
                return
            try:
                now = utcnow()
                first = request_service.mark_done(session, chat, _user(body), now)
            except request_service.NotAllowed as refusal:
                respond(**request_blocks.refusal_text(str(refusal)))
                return
            # `Mark as done` counts as `We met` for everyone in the chat.
            for participant in chat.participants:
                followups.record_met(session, chat, participant.person_id, now)
            name = next(
                p.person.display_name for p in chat.participants if p.person.slack_user_id == _user(body)
            )
        if first:
            respond(response_type="in_channel", replace_original=False, text=request_blocks.done_text(name))

    registry.action(request_blocks.ASK_ACTION, ack=just_ack, lazy=[open_request_modal])
    registry.view(request_blocks.REQUEST_CALLBACK, ack=ack_request, lazy=[deliver_and_refresh])
    registry.action(request_blocks.ACCEPT_ACTION, ack=just_ack, lazy=[accept_clicked])
    registry.action(
        request_blocks.DECLINE_ACTION, ack=just_ack, lazy=[open_answer_modal(request_blocks.decline_modal)]
    )
    registry.action(
        request_blocks.REDIRECT_ACTION, ack=just_ack, lazy=[open_answer_modal(request_blocks.redirect_modal)]
    )
    registry.view(request_blocks.DECLINE_CALLBACK, ack=ack_decline, lazy=[after_answer])
    registry.view(request_blocks.REDIRECT_CALLBACK, ack=ack_redirect, lazy=[after_answer])
    registry.action(request_blocks.MARK_DONE_ACTION, ack=just_ack, lazy=[mark_done_clicked])
