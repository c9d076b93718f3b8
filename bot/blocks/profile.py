"""The profile modal and its confirmation, as pure functions of plain data."""

from __future__ import annotations

from typing import Any

from bot.blocks import Block, context, escape, header, input_block, plain, section, truncate
from bot.services.profiles import FORMATS, MAX_ASK_ME_ABOUT, MAX_CHATS_PER_MONTH, ProfileSnapshot, TopicRef
from bot.services.scheduling.availability import CHAT_LENGTHS, DAY_NAMES

PROFILE_CALLBACK = "profile_modal"
SPEAK_ACTION = "speak_topics"
LEARN_ACTION = "learn_topics"
BEST_TIME_LABELS = {"any": "Any time", "mornings": "Mornings", "afternoons": "Afternoons"}


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": plain(text, 75), "value": value[:150]}


def _topic_option(topic: TopicRef) -> dict[str, Any]:
    return _option(topic.name, f"topic:{topic.id}")


def _topicsinput_block(block_id: str, action_id: str, label: str, chosen: list[TopicRef], hint: str) -> Block:
    element: Block = {
        "type": "multi_external_select",
        "action_id": action_id,
        "placeholder": plain("Start typing a topic…"),
        "min_query_length": 1,
        "max_selected_items": 20,
    }
    if chosen:
        element["initial_options"] = [_topic_option(t) for t in chosen[:20]]
    return input_block(block_id, label, element, optional=True, hint=hint)


def _capacity_label(n: int) -> str:
    return "0 — learner only" if n == 0 else f"{n} a month"


def _preference_blocks(profile: ProfileSnapshot) -> list[Block]:
    """How much and how: chats per month, preferred format, weekly pairing."""
    blocks: list[Block] = []
    capacity_options = [_option(_capacity_label(n), str(n)) for n in range(MAX_CHATS_PER_MONTH + 1)]
    blocks.append(
        input_block(
            "capacity",
            "Chats per month I can take",
            {
                "type": "static_select",
                "action_id": "capacity_select",
                "options": capacity_options,
                "initial_option": capacity_options[min(profile.chats_per_month, MAX_CHATS_PER_MONTH)],
            },
            hint="Requests stop once you reach it; weekly pairings count too.",
        )
    )
    format_options = [_option(label, value) for value, label in FORMATS.items()]
    blocks.append(
        input_block(
            "format",
            "Preferred format",
            {
                "type": "radio_buttons",
                "action_id": "format_radio",
                "options": format_options,
                "initial_option": format_options[list(FORMATS).index(profile.preferred_format)]
                if profile.preferred_format in FORMATS
                else format_options[0],
            },
        )
    )
    weekly_options = [
        _option("On — introduce me to someone from another function each week", "on"),
        _option("Off", "off"),
    ]
    blocks.append(
        input_block(
            "weekly",
            "Weekly pairing",
            {
                "type": "radio_buttons",
                "action_id": "weekly_radio",
                "options": weekly_options,
                "initial_option": weekly_options[0 if profile.weekly_pairing else 1],
            },
        )
    )
    return blocks


def profile_modal(
    profile: ProfileSnapshot, functions: list[str], suggested_function: str | None = None
) -> Block:
    blocks: list[Block] = [
        section(
            "Tell colleagues what you can speak about and what you'd like to learn. "
            "Chats are 20–30 minutes, to learn about each other's work — never a job ask."
        )
    ]
    if profile.function_locked:
        blocks.append(
            section(f"*Your function:* {escape(profile.function or '—')}\n_Set by your HR directory._")
        )
    else:
        select: Block = {
            "type": "static_select",
            "action_id": "function_select",
            "placeholder": plain("Choose your function"),
            "options": [_option(name, name) for name in functions[:100]],
        }
        current = profile.function if profile.function in functions else suggested_function
        if current in functions:
            select["initial_option"] = _option(current, current)
        blocks.append(input_block("function", "Your function", select))
    blocks.append(
        _topicsinput_block(
            "speak",
            SPEAK_ACTION,
            "Topics I can speak about",
            profile.speak,
            "Up to 20 topics, each 2–60 characters. New topics are welcome.",
        )
    )
    blocks.append(
        _topicsinput_block(
            "learn",
            LEARN_ACTION,
            "Topics I want to learn",
            profile.learn,
            "What would you like colleagues to explain to you?",
        )
    )
    ask: Block = {
        "type": "plain_text_input",
        "action_id": "ask_input",
        "max_length": MAX_ASK_ME_ABOUT,
        "placeholder": plain("e.g. moving from support into product"),
    }
    if profile.ask_me_about:
        ask["initial_value"] = profile.ask_me_about
    blocks.append(input_block("ask", "Ask me about (one line)", ask, optional=True))
    blocks += _preference_blocks(profile)
    blocks += availability_inputs(profile)
    return {
        "type": "modal",
        "callback_id": PROFILE_CALLBACK,
        "title": plain("Your infochat profile", 24),
        "submit": plain("Save", 24),
        "close": plain("Cancel", 24),
        "blocks": blocks,
    }


def availability_inputs(profile: ProfileSnapshot) -> list[Block]:
    """When chats can be scheduled: working hours and days, best times, chat length."""
    hours: Block = {
        "type": "plain_text_input",
        "action_id": "hours_input",
        "initial_value": profile.working_hours,
        "max_length": 40,
        "placeholder": plain("e.g. 10:00–17:00"),
    }
    days = [_option(name, str(index)) for index, name in enumerate(DAY_NAMES)]
    best = [_option(label, value) for value, label in BEST_TIME_LABELS.items()]
    lengths = [_option(f"{n} minutes", str(n)) for n in CHAT_LENGTHS]
    return [
        input_block(
            "hours",
            f"My working hours ({profile.tz or 'your Slack time zone'})",
            hours,
            hint="infochat proposes chat times inside them, in your Slack time zone.",
        ),
        input_block(
            "days",
            "My working days",
            {
                "type": "checkboxes",
                "action_id": "days_checkboxes",
                "options": days,
                "initial_options": [days[d] for d in profile.work_days if 0 <= d < 7] or days[:5],
            },
        ),
        input_block(
            "best",
            "Best times for chats",
            {
                "type": "radio_buttons",
                "action_id": "best_radio",
                "options": best,
                "initial_option": best[list(BEST_TIME_LABELS).index(profile.best_time)]
                if profile.best_time in BEST_TIME_LABELS
                else best[0],
            },
        ),
        input_block(
            "length",
            "Chat length",
            {
                "type": "radio_buttons",
                "action_id": "length_radio",
                "options": lengths,
                "initial_option": lengths[list(CHAT_LENGTHS).index(profile.chat_minutes)]
                if profile.chat_minutes in CHAT_LENGTHS
                else lengths[-1],
            },
        ),
    ]


def topic_list(topics: list[TopicRef], limit: int = 12) -> str:
    if not topics:
        return "_none yet_"
    names = ", ".join(escape(t.name) for t in topics[:limit])
    more = len(topics) - limit
    return truncate(names + (f" and {more} more" if more > 0 else ""), 1500)


def profile_summary(profile: ProfileSnapshot) -> str:
    return "\n".join(
        [
            f"*Function:* {escape(profile.function or '—')}",
            f"*I can speak about:* {topic_list(profile.speak)}",
            f"*I want to learn:* {topic_list(profile.learn)}",
            f"*Chats per month:* {_capacity_label(profile.chats_per_month)}"
            f" · *Format:* {FORMATS.get(profile.preferred_format, 'Any')}"
            f" · *Weekly pairing:* {'on' if profile.weekly_pairing else 'off'}",
            f"*Working hours:* {escape(profile.working_hours)}"
            f" {_day_span(profile.work_days)}"
            f" · *Best times:* {BEST_TIME_LABELS.get(profile.best_time, 'Any time').lower()}"
            f" · *Chat length:* {profile.chat_minutes} minutes",
        ]
    )


def _day_span(days: list[int]) -> str:
    if days == [0, 1, 2, 3, 4]:
        return "Monday–Friday"
    return ", ".join(DAY_NAMES[d][:3] for d in days if 0 <= d < 7)


def profile_saved_view(profile: ProfileSnapshot) -> Block:
    blocks: list[Block] = [
        header("Profile saved"),
        section(profile_summary(profile)),
        context("Colleagues can now find you with `/infochat find`. Edit any time from the App Home."),
    ]
    return {
        "type": "modal",
        "callback_id": "profile_saved",
        "title": plain("Your infochat profile", 24),
        "close": plain("Done", 24),
        "blocks": blocks,
    }
