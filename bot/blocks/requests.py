"""Chat requests and intros, as pure functions of plain data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.blocks import Block, actions, button, context, escape, header, input_block, plain, section, truncate
from bot.clock import zone

REQUEST_CALLBACK = "chat_request_modal"
DECLINE_CALLBACK = "decline_modal"
REDIRECT_CALLBACK = "redirect_modal"
ASK_ACTION = "ask_for_chat"
ACCEPT_ACTION = "request_accept"
DECLINE_ACTION = "request_decline"
REDIRECT_ACTION = "request_redirect"
MARK_DONE_ACTION = "chat_mark_done"
FIND_TIME_ACTION = "schedule_find"  # handled by bot.listeners.scheduling

LEARN_NOT_JOB = "infochat chats are conversations to learn about each other's work — never a job ask."
FORMAT_LABELS = {"any": "Your call", "coffee": "Coffee", "call": "Call", "video": "Video"}


@dataclass(frozen=True)
class PersonCard:
    """Who someone is, as shown in messages."""

    slack_user_id: str
    name: str
    function: str | None
    title: str
    tz: str

    def describe(self) -> str:
        parts = [p for p in (self.title, self.function) if p]
        return f"*{escape(self.name)}*" + (f" ({escape(', '.join(parts))})" if parts else "")


@dataclass(frozen=True)
class RequestCard:
    request_id: int
    learner: PersonCard
    expert: PersonCard
    topic: str
    intro: str
    goal: str
    questions: str
    preferred_format: str
    duration_minutes: int


def ask_button_value(expert_slack_id: str, topic: str) -> str:
    return json.dumps({"expert": expert_slack_id, "topic": topic[:100]})


def ask_button(expert_slack_id: str, topic: str) -> Block:
    return button("Ask for a chat", ASK_ACTION, ask_button_value(expert_slack_id, topic), style="primary")


def local_time(now: datetime, tz: str) -> str:
    return f"{now.astimezone(zone(tz)):%H:%M} ({tz})"


def _textinput_block(
    action_id: str, value: str, *, multiline: bool, max_length: int, placeholder: str = ""
) -> Block:
    element: Block = {"type": "plain_text_input", "action_id": action_id, "multiline": multiline}
    element["max_length"] = max_length
    if value:
        element["initial_value"] = value[:max_length]
    if placeholder:
        element["placeholder"] = plain(placeholder)
    return element


def _radio(action_id: str, options: list[tuple[str, str]], selected: str) -> Block:
    built = [{"text": plain(label), "value": value} for value, label in options]
    element: Block = {"type": "radio_buttons", "action_id": action_id, "options": built}
    chosen = next((o for o in built if o["value"] == selected), built[0])
    element["initial_option"] = chosen
    return element


def request_modal(
    expert: PersonCard, topic: str, intro: str, questions: list[str], minutes: int = 30
) -> Block:
    """The request form; `minutes` preselects the learner's usual chat length from their profile."""
    metadata = json.dumps({"expert": expert.slack_user_id, "topic": topic[:100]})
    blocks: list[Block] = [
        section(
            f"Ask {expert.describe()} for a 20–30 minute chat"
            + (f" about *{escape(topic)}*" if topic else "")
            + ". Say who you are and what you'd like to understand; good questions make it work."
        ),
        context(LEARN_NOT_JOB),
        input_block(
            "intro",
            "Introduce yourself briefly",
            _textinput_block("intro_input", intro, multiline=True, max_length=1000),
        ),
        input_block(
            "goal",
            "What I want to learn",
            _textinput_block(
                "goal_input",
                "",
                multiline=True,
                max_length=1000,
                placeholder="e.g. how pricing decisions are made, and what data you look at",
            ),
        ),
        input_block(
            "questions",
            "Questions I'd like to ask",
            _textinput_block(
                "questions_input", "\n".join(f"• {q}" for q in questions), multiline=True, max_length=3000
            ),
            optional=True,
            hint="Keep, edit or replace them. “Who else should I talk to?” often leads to the next chat.",
        ),
        input_block(
            "format",
            "Format",
            _radio(
                "format_radio",
                [("any", "Their call"), ("coffee", "Coffee"), ("call", "Call"), ("video", "Video")],
                "any",
            ),
        ),
        input_block(
            "duration",
            "Length",
            _radio("duration_radio", [("20", "20 minutes"), ("30", "30 minutes")], str(minutes)),
        ),
    ]
    return {
        "type": "modal",
        "callback_id": REQUEST_CALLBACK,
        "private_metadata": metadata,
        "title": plain("Ask for a chat", 24),
        "submit": plain("Send request", 24),
        "close": plain("Cancel", 24),
        "blocks": blocks,
    }


def notice_view(title: str, text: str) -> Block:
    """A modal that only says something (a refusal, a confirmation)."""
    return {
        "type": "modal",
        "title": plain(title, 24),
        "close": plain("OK", 24),
        "blocks": [section(escape(text))],
    }


def request_sent_view(expert_name: str) -> Block:
    return notice_view(
        "Request sent",
        f"Sent! {expert_name} will get your request with your questions. "
        "I'll tell you as soon as they answer; requests expire after a week.",
    )


def _quoted(text: str) -> str:
    return "\n".join("> " + line for line in escape(text).splitlines() if line.strip()) or "> —"


def expert_request_message(card: RequestCard, now: datetime) -> tuple[str, list[Block]]:
    topic = f" about *{escape(card.topic)}*" if card.topic else ""
    about = f" about {escape(card.topic)}" if card.topic else ""
    text = f"{escape(card.learner.name)} would like a 20–30 minute chat{about}"
    blocks: list[Block] = [
        section(
            f":wave: {card.learner.describe()} would like a {card.duration_minutes}-minute chat "
            f"with you{topic}."
        ),
        section(truncate("*Who they are*\n" + _quoted(card.intro), 3000)),
        section(truncate("*What they want to learn*\n" + _quoted(card.goal), 3000)),
    ]
    if card.questions.strip():
        blocks.append(section(truncate("*Their questions*\n" + _quoted(card.questions), 3000)))
    blocks.append(
        context(
            f"Format: {FORMAT_LABELS.get(card.preferred_format, 'Your call')} · "
            f"their time now: {local_time(now, card.learner.tz)} · {LEARN_NOT_JOB}"
        )
    )
    value = str(card.request_id)
    blocks.append(
        actions(
            button("Accept", ACCEPT_ACTION, value, style="primary"),
            button("Decline", DECLINE_ACTION, value),
            button("Suggest someone else", REDIRECT_ACTION, value),
            block_id=f"request_{card.request_id}",
        )
    )
    return text, blocks


def request_outcome_blocks(card: RequestCard, outcome: str, now: datetime) -> tuple[str, list[Block]]:
    """The expert's DM after they answered: the request, without buttons, and what happened."""
    text, blocks = expert_request_message(card, now)
    return text, [*blocks[:-1], context(f"*{escape(outcome)}*")]


def _span(start: datetime, end: datetime, tz: str) -> str:
    local = zone(tz)
    return f"{start.astimezone(local):%H:%M}–{end.astimezone(local):%H:%M}"


def _times_line(
    learner: PersonCard, expert: PersonCard, now: datetime, overlap: tuple[datetime, datetime] | None
) -> str:
    a, b = escape(learner.name), escape(expert.name)
    line = f"Now it's {local_time(now, learner.tz)} for {a} and {local_time(now, expert.tz)} for {b}."
    if overlap is None:
        return line + " Your working hours barely overlap: try an early or late slot."
    start, end = overlap
    return line + (
        f" Working hours overlap {_span(start, end, learner.tz)} for {a}, "
        f"{_span(start, end, expert.tz)} for {b}."
    )


def intro_message(
    card: RequestCard, chat_id: int, now: datetime, overlap: tuple[datetime, datetime] | None
) -> tuple[str, list[Block]]:
    learner, expert = card.learner, card.expert
    text = f"Introducing {escape(learner.name)} and {escape(expert.name)} for a 20–30 minute chat"
    about = f" about *{escape(card.topic)}*" if card.topic else ""
    times = _times_line(learner, expert, now, overlap)
    blocks: list[Block] = [
        header("Meet your infochat partner"),
        section(
            f"<@{learner.slack_user_id}>, meet <@{expert.slack_user_id}>! {learner.describe()} would like "
            f"to learn from {expert.describe()}{about}, and {escape(expert.name)} said yes. :tada:"
        ),
        section(truncate("*What " + escape(learner.name) + " wants to learn*\n" + _quoted(card.goal), 3000)),
    ]
    if card.questions.strip():
        blocks.append(section(truncate("*Questions to start with*\n" + _quoted(card.questions), 3000)))
    blocks += [
        section(
            f"*Next step:* find {card.duration_minutes} minutes this week — "
            f"{FORMAT_LABELS.get(card.preferred_format, 'your call').lower()} on format. {times} "
            "Click *Find a time* and I'll propose times for you both."
        ),
        context(
            "Close with “how can I help you?” and “who else should I talk to?” — "
            "and say thank you afterwards. " + LEARN_NOT_JOB
        ),
        actions(
            button("Find a time", FIND_TIME_ACTION, str(chat_id), style="primary"),
            button("Mark as done", MARK_DONE_ACTION, str(chat_id)),
            block_id=f"chat_{chat_id}",
        ),
    ]
    return text, blocks


def alternatives_blocks(alternatives: list[PersonCard], topic: str) -> list[Block]:
    blocks: list[Block] = []
    for person in alternatives[:2]:
        blocks.append(section(person.describe(), accessory=ask_button(person.slack_user_id, topic)))
    return blocks


def declined_message(
    card: RequestCard, reason: str, alternatives: list[PersonCard]
) -> tuple[str, list[Block]]:
    text = f"{card.expert.name} can't take your chat request this time"
    blocks: list[Block] = [
        section(
            f"{escape(card.expert.name)} can't take your chat request"
            + (f" about *{escape(card.topic)}*" if card.topic else "")
            + " this time. It happens — timing, workload, focus — and it's not about you."
        )
    ]
    if reason.strip():
        blocks.append(section(f"Their note:\n{_quoted(reason)}"))
    if alternatives:
        blocks.append(section("Here are others who can speak about it:"))
        blocks += alternatives_blocks(alternatives, card.topic)
    else:
        blocks.append(context("`/infochat find` helps you find someone else."))
    return text, blocks


def redirected_message(card: RequestCard, suggested: PersonCard, note: str) -> tuple[str, list[Block]]:
    text = f"{card.expert.name} suggests you talk to {suggested.name}"
    blocks: list[Block] = [
        section(
            f"{escape(card.expert.name)} thinks {suggested.describe()} is a better person to talk to"
            + (f" about *{escape(card.topic)}*" if card.topic else "")
            + ".",
            accessory=ask_button(suggested.slack_user_id, card.topic),
        )
    ]
    if note.strip():
        blocks.append(section(f"Their note:\n{_quoted(note)}"))
    return text, blocks


def nudge_message(card: RequestCard, now: datetime) -> tuple[str, list[Block]]:
    text, blocks = expert_request_message(card, now)
    reminder = section(
        f":hourglass: A gentle reminder: {escape(card.learner.name)} is waiting for your answer. "
        "Declining is fine too — it frees them to ask someone else."
    )
    return "Reminder: " + text, [reminder, *blocks]


def expired_message(card: RequestCard, alternatives: list[PersonCard]) -> tuple[str, list[Block]]:
    text = f"Your chat request to {card.expert.name} expired"
    blocks: list[Block] = [
        section(
            f"Your request to {escape(card.expert.name)}"
            + (f" about *{escape(card.topic)}*" if card.topic else "")
            + " got no answer within a week, so I've closed it. People get busy; it's not about you."
        )
    ]
    if alternatives:
        blocks.append(section("You could ask one of these colleagues instead:"))
        blocks += alternatives_blocks(alternatives, card.topic)
    return text, blocks


def closed_message(card: RequestCard) -> tuple[str, list[Block]]:
    text = f"Your chat request to {card.expert.name} was closed"
    return text, [
        section(
            f"{escape(card.expert.name)} is no longer available on infochat, so I've closed your request. "
            "`/infochat find` shows who else can help."
        )
    ]


def decline_modal(request_id: int, learner_name: str) -> Block:
    return {
        "type": "modal",
        "callback_id": DECLINE_CALLBACK,
        "private_metadata": str(request_id),
        "title": plain("Decline request", 24),
        "submit": plain("Decline", 24),
        "close": plain("Back", 24),
        "blocks": [
            section(f"I'll let {escape(learner_name)} know kindly and suggest others who can help."),
            input_block(
                "reason",
                "A short note for them (optional)",
                _textinput_block(
                    "reason_input",
                    "",
                    multiline=True,
                    max_length=500,
                    placeholder="e.g. I'm on a deadline this month",
                ),
                optional=True,
            ),
        ],
    }


def redirect_modal(request_id: int, learner_name: str) -> Block:
    return {
        "type": "modal",
        "callback_id": REDIRECT_CALLBACK,
        "private_metadata": str(request_id),
        "title": plain("Suggest someone else", 24),
        "submit": plain("Suggest", 24),
        "close": plain("Back", 24),
        "blocks": [
            section(f"Who could help {escape(learner_name)} better? I'll pass on your suggestion."),
            input_block(
                "colleague",
                "Who could help instead?",
                {"type": "users_select", "action_id": "colleague_select"},
            ),
            input_block(
                "note",
                "A short note (optional)",
                _textinput_block("note_input", "", multiline=True, max_length=500),
                optional=True,
            ),
        ],
    }


def outcome_for(status: str) -> str:
    return {
        "accepted": "You accepted — I've introduced you both in a group DM.",
        "declined": "You declined; I've let them know kindly and suggested others.",
        "redirected": "You suggested someone else; I've passed it on.",
        "expired": "This request expired after a week without an answer.",
        "closed": "This request was closed.",
    }.get(status, f"This request is {status}.")


def refusal_text(message: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "replace_original": False, "text": message}


def done_text(name: str) -> str:
    return f":white_check_mark: {escape(name)} marked this chat as done. Thank you both!"
