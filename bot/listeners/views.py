"""Modals: opening the profile modal and handling its submission."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.blocks.profile import PROFILE_CALLBACK, profile_modal, profile_saved_view
from bot.clock import utcnow
from bot.context import AppContext
from bot.flows import directory as directory_flow
from bot.listeners import on_view, shapes
from bot.listeners.home import publish_home
from bot.listeners.replies import clicking_user
from bot.services import directory, profiles

log = logging.getLogger(__name__)

NOT_ELIGIBLE = "infochat is open to full members of this workspace; guest and bot accounts can't take part."


def open_profile_modal(ctx: AppContext, user_id: str, trigger_id: str) -> bool:
    """Open the profile modal with the saved values; False when the person can't take part."""
    with ctx.db.session() as session:
        stored = profiles.read_snapshot(session, user_id)  # a known member: one statement
        if stored is not None and not stored.stub:
            snapshot = stored.snapshot
        else:
            person = directory_flow.ensure_member(ctx, session, user_id)
            if person is None:
                return False
            snapshot = profiles.snapshot(person)
        if not snapshot.can_take_part:
            return False
        suggested = directory.suggest_function(snapshot.title, ctx.settings.functions)
    ctx.slack.open_view(trigger_id, profile_modal(snapshot, ctx.settings.functions, suggested))
    return True


def _selected(values: dict[str, Any], block_id: str) -> dict[str, Any]:
    return shapes.input_state({"state": {"values": values}}, block_id)


def _option_text(option: dict[str, Any]) -> str:
    text = option.get("text")
    return str(text.get("text", "")) if isinstance(text, dict) else ""


def parse_profile_submission(state_values: dict[str, Any]) -> profiles.ProfileInput:
    """Slack's view state -> plain input. Missing or null fields become empty values."""

    def option_value(block_id: str) -> str | None:
        return shapes.option_value(_selected(state_values, block_id))

    def topic_values(block_id: str) -> list[str]:
        options = shapes.option_values(_selected(state_values, block_id))
        return [str(o.get("value") or _option_text(o)) for o in options]

    capacity = option_value("capacity")
    return profiles.ProfileInput(
        function=option_value("function"),
        speak=topic_values("speak"),
        learn=topic_values("learn"),
        ask_me_about=shapes.text_value(_selected(state_values, "ask")),
        chats_per_month=shapes.as_small_int(capacity),
        preferred_format=option_value("format") or "any",
        weekly_pairing=option_value("weekly") == "on",
        # Availability: a block that was not shown keeps what is stored (None).
        working_hours=shapes.text_value(_selected(state_values, "hours")) or None,
        work_days=[
            int(v)
            for o in shapes.option_values(_selected(state_values, "days"))
            if (v := str(o.get("value"))).isdigit()
        ]
        if "days" in state_values
        else None,
        best_time=option_value("best"),
        chat_minutes=shapes.as_small_int(option_value("length")),
    )


def ack_profile(
    ctx: AppContext, ack: Callable[..., None], body: dict[str, Any], view: dict[str, Any]
) -> None:
    user_id = clicking_user(body)
    state = view.get("state")
    submitted = parse_profile_submission(state.get("values", {}) if isinstance(state, dict) else {})
    # Validation and saving happen before the ack: field errors must come
    # back in this response, and the confirmation shows what was stored.
    with ctx.db.session() as session:
        stored = profiles.read_snapshot(session, user_id)
        if stored is None or not stored.snapshot.can_take_part:
            ack(response_action="errors", errors={"speak": NOT_ELIGIBLE})
            return
        errors = profiles.validate_profile(
            submitted, ctx.settings.functions, function_locked=stored.snapshot.function_locked
        )
        if errors:
            ack(response_action="errors", errors=errors)
            return
        profiles.store_profile(session, stored.person_id, submitted, utcnow())
        saved = profiles.read_snapshot(session, user_id)
    ack(response_action="update", view=profile_saved_view(saved.snapshot if saved else stored.snapshot))


def refresh_home(ctx: AppContext, body: dict[str, Any]) -> None:
    publish_home(ctx, clicking_user(body))


LISTENERS = (on_view(PROFILE_CALLBACK, ack_profile, lazy=[refresh_home]),)
