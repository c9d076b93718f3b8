"""App Home, as a pure function of plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
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
from bot.blocks.followups import learnings_home_blocks
from bot.blocks.profile import profile_summary
from bot.blocks.requests import ACCEPT_ACTION, DECLINE_ACTION, REDIRECT_ACTION, RequestCard
from bot.blocks.scheduling import slack_date
from bot.services.learnings import MyTakeaway, ThanksCard
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


@dataclass(frozen=True)
class ChatCard:
    chat_id: int
    partners: list[str]
    topic: str
    introduced: datetime
    # The confirmed time (UTC) when `Find a time` settled one; None while the pair is still choosing.
    starts_at: datetime | None = None


@dataclass(frozen=True)
class HomeActivity:
    received: list[RequestCard] = field(default_factory=list)
    sent: list[RequestCard] = field(default_factory=list)
    chats: list[ChatCard] = field(default_factory=list)
    takeaways: list[MyTakeaway] = field(default_factory=list)
    thanks: list[ThanksCard] = field(default_factory=list)


def _about(topic: str) -> str:
    return f" about *{escape(topic)}*" if topic else ""


def _when(chat: ChatCard, zone: ZoneInfo) -> str:
    if chat.starts_at is not None:
        return f"*{slack_date(chat.starts_at)}*"
    return f"introduced {format_day(chat.introduced, zone)}, no time agreed yet"


def activity_blocks(activity: HomeActivity, zone: ZoneInfo) -> list[Block]:
    blocks: list[Block] = []
    if activity.received:
        blocks.append(header("Requests for you"))
        for card in activity.received[:10]:
            value = str(card.request_id)
            blocks.append(section(f"{card.learner.describe()} would like a chat{_about(card.topic)}."))
            blocks.append(
                actions(
                    button("Accept", ACCEPT_ACTION, value, style="primary"),
                    button("Decline", DECLINE_ACTION, value),
                    button("Suggest someone else", REDIRECT_ACTION, value),
                    block_id=f"home_request_{card.request_id}",
                )
            )
    if activity.sent:
        blocks.append(header("Your requests"))
        lines = [f"• Waiting for {escape(c.expert.name)}{_about(c.topic)}" for c in activity.sent[:10]]
        blocks.append(section("\n".join(lines)))
    if activity.chats:
        blocks.append(header("Your chats"))
        lines = [
            f"• With {escape(', '.join(c.partners))}{_about(c.topic)} — {_when(c, zone)}"
            for c in activity.chats[:10]
        ]
        blocks.append(section("\n".join(lines)))
    blocks += learnings_home_blocks(activity.takeaways, activity.thanks)
    return blocks


def home_view(
    profile: ProfileSnapshot | None,
    now: datetime,
    zone: ZoneInfo,
    activity: HomeActivity | None = None,
    admin: list[Block] | None = None,
) -> Block:
    """The App Home; programme admins also get `admin` (headline figures and report buttons) on top."""
    view = _member_home(profile, now, zone, activity)
    if admin:
        view["blocks"] = cap_blocks([*admin, divider(), *view["blocks"]], MAX_VIEW_BLOCKS)
    return view


def _member_home(
    profile: ProfileSnapshot | None, now: datetime, zone: ZoneInfo, activity: HomeActivity | None
) -> Block:
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
    if activity is not None:
        blocks += activity_blocks(activity, zone)
    blocks.append(divider())
    blocks.append(
        context(
            "`/infochat find &lt;topic&gt;` finds colleagues to learn from. "
            "`/infochat help` lists everything."
        )
    )
    return {"type": "home", "blocks": cap_blocks(blocks, MAX_VIEW_BLOCKS)}
