"""Weekly pairing messages, as pure functions of plain data."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from bot.blocks import Block, actions, button, context, escape, header, section, truncate
from bot.blocks.requests import FIND_TIME_ACTION, LEARN_NOT_JOB, MARK_DONE_ACTION, PersonCard, local_time

CANT_MAKE_IT_ACTION = "pairing_cant_make_it"
NO_REPEAT_ACTION = "pairing_dont_pair_again"


def pairing_questions(topics: list[str]) -> list[str]:
    """Three prepared questions suited to what they can teach each other."""
    first = topics[0] if topics else "your work"
    second = topics[1] if len(topics) > 1 else None
    questions = [
        f"What do you enjoy most about {first}, and what is harder than it looks?",
        f"How does {second} show up in your week?"
        if second
        else "What does a typical week look like for you?",
        "What would you tell someone new to your function — and who else should they talk to?",
    ]
    return questions


def pairing_intro(
    members: list[PersonCard], topics: list[str], reasons: list[str], chat_id: int, now: datetime
) -> tuple[str, list[Block]]:
    names = [escape(m.name) for m in members]
    text = "This week's infochat pairing: " + " and ".join(names)
    mentions = ", ".join(f"<@{m.slack_user_id}>" for m in members)
    who = "\n".join(f"• {m.describe()} — {local_time(now, m.tz)} now" for m in members)
    why = "\n".join(f"• {escape(reason)}" for reason in reasons[:6]) or "• You work in different functions."
    questions = "\n".join(f"• {escape(q)}" for q in pairing_questions(topics))
    blocks: list[Block] = [
        header("Your infochat pairing this week"),
        section(
            f"{mentions}: meet each other! You work in different functions "
            "and have something to teach each other."
        ),
        section(truncate("*Who you are*\n" + who, 3000)),
        section(truncate("*Why you were matched*\n" + why, 3000)),
        section("*A few questions to start*\n" + questions),
        section(
            "*20–30 minutes, your call on coffee, call or video.* Click *Find a time* and I'll propose "
            "times that fit everyone's working hours."
        ),
        context(
            "Close with “how can I help you?” and “who else should I talk to?” — and a thank-you. "
            + LEARN_NOT_JOB
        ),
        actions(
            button("Find a time", FIND_TIME_ACTION, str(chat_id), style="primary"),
            button("Mark as done", MARK_DONE_ACTION, str(chat_id)),
            button("Can't make it", CANT_MAKE_IT_ACTION, str(chat_id)),
            button("Don't pair us again", NO_REPEAT_ACTION, str(chat_id)),
            block_id=f"pairing_{chat_id}",
        ),
    ]
    return text, blocks


def unmatched_message(reason: str) -> tuple[str, list[Block]]:
    text = "No infochat pairing for you this week"
    return text, [
        section(
            f"I couldn't pair you this week: {escape(reason)}. You'll get priority in next week's round. "
            "Meanwhile, `/infochat find &lt;topic&gt;` finds someone to ask directly."
        )
    ]


def cant_make_it_text(name: str) -> str:
    return (
        f"{escape(name)} can't make it this time — no problem at all, and it doesn't count against anyone. "
        "You'll both be in next week's round."
    )


def round_summary(
    week: str,
    participants: int,
    pairs: int,
    trios: int,
    unmatched: list[tuple[str, str]],
    top_topics: list[tuple[str, int]],
    progress: Mapping[str, int],
) -> tuple[str, list[Block]]:
    text = f"infochat round {week}: {pairs} pairs, {trios} trios from {participants} people"
    reasons: dict[str, int] = {}
    for _, reason in unmatched:
        reasons[reason] = reasons.get(reason, 0) + 1
    unmatched_lines = (
        "\n".join(f"• {count} × {escape(reason)}" for reason, count in reasons.items()) or "• none"
    )
    topics = ", ".join(f"{escape(name)} ({count})" for name, count in top_topics) or "—"
    blocks: list[Block] = [
        header(f"Pairing round {week}"),
        section(
            f"*{participants}* people took part: *{pairs}* pairs and *{trios}* trios. "
            f"*{len(unmatched)}* could not be paired:\n{unmatched_lines}"
        ),
        section(f"*Top shared topics:* {topics}"),
        context(
            f"Delivery: {progress.get('sent', 0)} sent, {progress.get('pending', 0)} waiting "
            f"(held for local working hours or paced for Slack's limits), {progress.get('failed', 0)} failed."
        ),
    ]
    return text, blocks
