"""App Home, as a pure function of plain data."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.blocks import (
    MAX_VIEW_BLOCKS,
    Block,
    actions,
    button,
    cap_blocks,
    context,
    divider,
    escape,
    header,
    plain,
    section,
    welcome_home_view,
)
from bot.blocks.profile import profile_summary
from bot.services.profiles import ProfileSnapshot

EDIT_PROFILE_ACTION = "home_edit_profile"
PAUSE_ACTION = "home_pause"
RESUME_ACTION = "home_resume"
PAUSE_CHOICES = (("1w", "1 week"), ("2w", "2 weeks"), ("4w", "4 weeks"))


def format_day(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%A} {local.day} {local:%B %Y}"


def _pause_select() -> Block:
    return {
        "type": "static_select",
        "action_id": PAUSE_ACTION,
        "placeholder": plain("Pause for…"),
        "options": [{"text": plain(label), "value": value} for value, label in PAUSE_CHOICES],
    }


def home_view(profile: ProfileSnapshot | None, now: datetime, zone: ZoneInfo) -> Block:
    if profile is None or not profile.joined:
        view = welcome_home_view(profile.display_name if profile else None)
        if profile is None or profile.can_take_part:
            view["blocks"].insert(
                2,
                actions(
                    button("Set up my profile", EDIT_PROFILE_ACTION, style="primary"), block_id="home_join"
                ),
            )
        return view
    blocks: list[Block] = [header("Your infochat"), section(profile_summary(profile))]
    if profile.ask_me_about:
        blocks.append(context(f"Ask me about: {escape(profile.ask_me_about)}"))
    paused = profile.paused_until is not None and profile.paused_until > now
    if paused and profile.paused_until is not None:
        blocks.append(
            section(
                f":double_vertical_bar: *Paused until {format_day(profile.paused_until, zone)}.* "
                "You won't be found, requested or paired until then."
            )
        )
        controls: list[Block] = [
            button("Edit profile", EDIT_PROFILE_ACTION),
            button("Resume now", RESUME_ACTION),
        ]
    else:
        controls = [button("Edit profile", EDIT_PROFILE_ACTION), _pause_select()]
    blocks.append(actions(*controls, block_id="home_controls"))
    blocks.append(divider())
    blocks.append(
        context(
            "`/infochat find &lt;topic&gt;` finds colleagues to learn from. "
            "`/infochat help` lists everything."
        )
    )
    return {"type": "home", "blocks": cap_blocks(blocks, MAX_VIEW_BLOCKS)}
