"""Follow-up messages, the "what I learned" modal, the learnings library and App Home parts.

Pure functions of plain data. Every piece of user text (takeaways, thank-you
notes, topics, names) goes through `escape`, so it can neither ping anyone nor
break formatting.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.blocks import (
    MAX_MESSAGE_BLOCKS,
    Block,
    actions,
    button,
    cap_blocks,
    context,
    escape,
    header,
    input_block,
    plain,
    section,
    truncate,
)
from bot.blocks.requests import LEARN_NOT_JOB, PersonCard, ask_button, notice_view
from bot.clock import zone
from bot.services.followups import MAX_CHECKINS, REASONS
from bot.services.learnings import (
    MAX_TAKEAWAY,
    MAX_THANKS,
    LearningCard,
    LearningInput,
    MyTakeaway,
    ThanksCard,
)

MET_ACTION = "followup_met"
NOT_YET_ACTION = "followup_not_yet"
COULDNT_ACTION = "followup_couldnt"
STAY_ACTIVE_ACTION = "followup_stay_active"
PAUSE_ME_ACTION = "followup_pause_me"
LEARNED_CALLBACK = "learned_modal"
COULDNT_CALLBACK = "couldnt_modal"

SHARE_LABELS = {
    "me": "Only me",
    "expert": "Me and {partners}",
    "everyone": "Everyone who searches this topic",
}
SHARED_WITH = {"me": "only you", "expert": "you and {partners}", "everyone": "everyone"}


def _names(partners: list[PersonCard] | list[str]) -> str:
    names = [p.name if isinstance(p, PersonCard) else p for p in partners]
    if len(names) <= 1:
        return names[0] if names else "your partner"
    return ", ".join(names[:-1]) + " and " + names[-1]


def _about(topic: str) -> str:
    return f" about *{escape(topic)}*" if topic else ""


def _day(moment: datetime, tz: str) -> str:
    local = moment.astimezone(zone(tz))
    return f"{local:%A} {local.day} {local:%B}"


def _quoted(text: str) -> str:
    return "\n".join("> " + line for line in escape(text).splitlines() if line.strip()) or "> —"


def month(moment: datetime) -> str:
    return f"{moment:%B %Y}"


# -- the check-in -----------------------------------------------------------------------------


def checkin_buttons(chat_id: int) -> Block:
    # Every button carries the chat it asks about, so a late answer updates that chat.
    value = str(chat_id)
    return actions(
        button("We met", MET_ACTION, value, style="primary"),
        button("Not yet", NOT_YET_ACTION, value),
        button("We couldn't meet", COULDNT_ACTION, value),
        block_id=f"checkin_{chat_id}",
    )


def checkin_message(
    partners: list[PersonCard], topic: str, introduced: datetime, chat_id: int, number: int, tz: str
) -> tuple[str, list[Block]]:
    """Check-in `number` (1 = first) to one participant."""
    who = _names(partners)
    if number == 1:
        opening = f":wave: How did your chat with *{escape(who)}*{_about(topic)} go? Did you manage to meet?"
    elif number < MAX_CHECKINS:
        opening = f":wave: Checking in again: did you and *{escape(who)}* manage to meet{_about(topic)}?"
    else:
        opening = (
            f":wave: Last check-in about your chat with *{escape(who)}*{_about(topic)}: did it happen? "
            "After this I won't ask again."
        )
    text = f"Did you meet {escape(who)}?"
    blocks: list[Block] = [
        section(opening),
        context(
            f"Introduced {_day(introduced, tz)}. If you met: a minute to note what you learned and "
            "to thank them makes the chat stick — the relationship is the point."
        ),
        checkin_buttons(chat_id),
    ]
    return text, blocks


def learned_prompt_message(partners: list[PersonCard], topic: str, chat_id: int) -> tuple[str, list[Block]]:
    """For someone who already said they met (`Mark as done`): what they learned, and a thank-you."""
    who = _names(partners)
    text = f"What did you learn from {who}?"
    blocks: list[Block] = [
        section(
            f":tada: Glad you met *{escape(who)}*{_about(topic)}! Take a minute to note what you learned "
            "and send a thank-you."
        ),
        actions(
            button("Note what I learned", MET_ACTION, str(chat_id), style="primary"),
            block_id=f"checkin_{chat_id}",
        ),
    ]
    return text, blocks


def answered_message(
    partners: list[PersonCard],
    topic: str,
    chat_id: int,
    outcome: str,
    *,
    reason: str | None = None,
    next_at: datetime | None = None,
    last: bool = False,
    wrote: bool = False,
    tz: str = "UTC",
) -> tuple[str, list[Block]]:
    """The check-in DM after it was answered: what was recorded, and what can still be done."""
    who = escape(_names(partners))
    if outcome == "met":
        text = f"You met {_names(partners)}"
        if wrote:
            return text, [
                section(f":white_check_mark: You met *{who}*{_about(topic)}. Thanks for the notes!"),
                context("Your takeaways are in App Home. `/infochat learnings` shows what others shared."),
                actions(
                    button("Edit what I learned", MET_ACTION, str(chat_id)), block_id=f"checkin_{chat_id}"
                ),
            ]
        return text, [
            section(f":white_check_mark: You met *{who}*{_about(topic)}. Great!"),
            actions(
                button("Note what I learned", MET_ACTION, str(chat_id), style="primary"),
                block_id=f"checkin_{chat_id}",
            ),
        ]
    if outcome == "not_yet":
        if last:
            when = "If you still meet, tell me with the buttons below"
        elif next_at is not None:
            when = f"I'll ask again on {_day(next_at, tz)}"
        else:
            when = "I'll ask again in a few days"
        text = f"Not yet — {when}"
        return text, [
            section(f"Did you and *{who}* manage to meet{_about(topic)}?"),
            context(f"You said *not yet* — no problem. {when}; answer here any time."),
            checkin_buttons(chat_id),
        ]
    if outcome == "couldnt":
        label = REASONS.get(reason or "", "")
        text = f"You couldn't meet {_names(partners)}"
        return text, [
            section(
                f"Noted: you and *{who}* couldn't meet"
                + (f" ({escape(label.split(' — ')[0].lower())})" if label else "")
                + ". Thanks for telling me — it happens. `/infochat find` finds someone else any time."
            ),
            actions(
                button("We met after all", MET_ACTION, str(chat_id)),
                block_id=f"checkin_{chat_id}",
            ),
        ]
    text = f"No answer recorded for your chat with {_names(partners)}"
    return text, [
        section(f"I stopped asking about your chat with *{who}*{_about(topic)}."),
        actions(button("We met after all", MET_ACTION, str(chat_id)), block_id=f"checkin_{chat_id}"),
    ]


# -- modals ------------------------------------------------------------------------------------


def _text(action_id: str, value: str, *, multiline: bool, max_length: int, placeholder: str = "") -> Block:
    element: Block = {
        "type": "plain_text_input",
        "action_id": action_id,
        "multiline": multiline,
        "max_length": max_length,
    }
    if value:
        element["initial_value"] = value[:max_length]
    if placeholder:
        element["placeholder"] = plain(placeholder)
    return element


def _radio(action_id: str, options: list[tuple[str, str]], selected: str | None) -> Block:
    built = [{"text": plain(label, 75), "value": value} for value, label in options]
    element: Block = {"type": "radio_buttons", "action_id": action_id, "options": built}
    chosen = next((o for o in built if o["value"] == selected), None)
    if chosen is not None:
        element["initial_option"] = chosen
    return element


USEFULNESS = [
    ("1", "1 — not really"),
    ("2", "2"),
    ("3", "3 — somewhat"),
    ("4", "4"),
    ("5", "5 — very"),
]


def _sharing_and_thanks(who: str, before: LearningInput) -> list[Block]:
    """The learned modal's inputs for everyone: who may read the notes, the name on them, a thank-you."""
    share_options = [
        ("me", SHARE_LABELS["me"]),
        ("expert", truncate(SHARE_LABELS["expert"].format(partners=who), 75)),
        ("everyone", SHARE_LABELS["everyone"]),
    ]
    return [
        input_block(
            "share",
            "Share with",
            _radio("share_radio", share_options, before.share),
            optional=False,
            hint="Shared notes show no name unless you tick the box below.",
        ),
        input_block(
            "show_name",
            "Show my name",
            {
                "type": "checkboxes",
                "action_id": "show_name_box",
                "options": [{"text": plain("Show my name with my notes"), "value": "yes"}],
                **(
                    {"initial_options": [{"text": plain("Show my name with my notes"), "value": "yes"}]}
                    if before.show_name
                    else {}
                ),
            },
            optional=True,
        ),
        input_block(
            "thanks",
            f"A thank-you note for {who}",
            _text(
                "thanks_input",
                "",
                multiline=True,
                max_length=MAX_THANKS,
                placeholder="I'll send it to them from infochat.",
            ),
            optional=True,
        ),
    ]


def learned_modal(
    chat_id: int,
    partners: list[str],
    topic_prefill: list[str],
    *,
    full: bool,
    existing: LearningInput | None = None,
) -> Block:
    """After `We met`. The full form for learners and peers; the expert gets a shorter one.

    Labels contain `learned`, `useful`, `share`, `thank`, `who else` — each in
    exactly one label, so the form can be filled by label.
    """
    who = _names(partners)
    before = existing or LearningInput(topics=topic_prefill)
    blocks: list[Block] = [
        section(
            f"How was your chat with *{escape(who)}*? Your notes are private unless you choose otherwise."
            if full
            else f"Thanks for making time for *{escape(who)}*. Two quick things, both optional."
        ),
        input_block(
            "learned",
            "What I learned" if full else "What I learned too (optional)",
            _text(
                "learned_input",
                before.text,
                multiline=True,
                max_length=MAX_TAKEAWAY,
                placeholder="e.g. how they decide what ships each quarter, and the one metric they watch",
            ),
            optional=not full,
        ),
    ]
    if full:
        blocks += [
            input_block(
                "useful",
                "How useful was it? (1–5)",
                _radio("useful_radio", USEFULNESS, str(before.usefulness) if before.usefulness else None),
                optional=True,
            ),
            input_block(
                "topics",
                "Topics covered",
                _text("topics_input", ", ".join(before.topics), multiline=False, max_length=300),
                optional=True,
                hint="Comma-separated. They help colleagues find your notes.",
            ),
        ]
    blocks += _sharing_and_thanks(who, before)
    if full:
        blocks.append(
            input_block(
                "referral",
                "Who else should I talk to?",
                {"type": "users_select", "action_id": "referral_select", "placeholder": plain("A colleague")},
                optional=True,
                hint="Did they suggest someone? I'll offer to ask them for a chat for you.",
            )
        )
    return {
        "type": "modal",
        "callback_id": LEARNED_CALLBACK,
        "private_metadata": json.dumps({"chat": chat_id}),
        "title": plain("After your chat", 24),
        "submit": plain("Save", 24),
        "close": plain("Later", 24),
        "blocks": blocks,
    }


def couldnt_modal(chat_id: int, partners: list[str]) -> Block:
    return {
        "type": "modal",
        "callback_id": COULDNT_CALLBACK,
        "private_metadata": json.dumps({"chat": chat_id}),
        "title": plain("Couldn't meet", 24),
        "submit": plain("Send", 24),
        "close": plain("Back", 24),
        "blocks": [
            section(
                f"Sorry it didn't work out with *{escape(_names(partners))}*. What got in the way? "
                "Only infochat sees your answer."
            ),
            input_block(
                "reason", "Reason", _radio("reason_radio", list(REASONS.items()), None), optional=False
            ),
        ],
    }


def saved_view(shared: str, thanked: list[str], referred: str | None) -> Block:
    lines = ["Saved — thank you!"]
    if thanked:
        lines.append(f"I've sent your thank-you to {_names(thanked)}.")
    if referred:
        lines.append(f"I've sent you a message about {referred}.")
    lines.append(
        "Your notes are private."
        if shared == "me"
        else "Your notes are shared with the people you met."
        if shared == "expert"
        else "Your notes are in the learnings library: `/infochat learnings`."
    )
    return notice_view("Saved", " ".join(lines))


def couldnt_saved_view() -> Block:
    return notice_view("Thanks", "Thanks for letting me know. `/infochat find` finds someone else any time.")


# -- messages caused by the form ------------------------------------------------------------------


def thanks_message(
    sender: PersonCard, topic: str, note: str, shared_takeaway: str | None
) -> tuple[str, list[Block]]:
    text = f"{sender.name} says thank you for your chat"
    blocks: list[Block] = [
        section(f":sparkles: {sender.describe()} says thank you for your chat{_about(topic)}:"),
        section(truncate(_quoted(note), 3000)),
    ]
    if shared_takeaway:
        blocks.append(section(truncate("*What they learned*\n" + _quoted(shared_takeaway), 3000)))
    blocks.append(context("Thanks you receive are in your App Home."))
    return text, blocks


def learned_shared_message(sender: PersonCard, topic: str, takeaway: str) -> tuple[str, list[Block]]:
    """When someone shares what they learned with their partner but wrote no thank-you note."""
    text = f"{sender.name} shared what they learned from your chat"
    return text, [
        section(f":bulb: {sender.describe()} shared what they learned from your chat{_about(topic)}:"),
        section(truncate(_quoted(takeaway), 3000)),
    ]


def referral_message(
    suggested_by: list[str], referred: PersonCard, topic: str, available: bool
) -> tuple[str, list[Block]]:
    """Offer to ask the referred colleague for a chat, with the context of the one just had."""
    text = f"Ask {referred.name} for a chat?"
    via = escape(_names(suggested_by))
    # A stub not yet synced from the directory has no name: show the Slack mention instead.
    shown = f"<@{referred.slack_user_id}>" if referred.name == referred.slack_user_id else referred.describe()
    if available:
        return text, [
            section(
                f"You noted that {referred.describe()} is someone to talk to next"
                + (f" — a lead from your chat with {via}" if suggested_by else "")
                + f"{_about(topic)}. Want me to ask them for a chat? "
                "You'll see the request before it goes out.",
                accessory=ask_button(referred.slack_user_id, topic),
            ),
            context(LEARN_NOT_JOB),
        ]
    return text, [
        section(
            f"You noted {shown} as someone to talk to next. They aren't taking "
            "infochat requests right now — message them directly, and mention who suggested them."
        )
    ]


def ghost_pause_message(until: datetime, tz: str) -> tuple[str, list[Block]]:
    text = "I've paused your infochat chats for now"
    return text, [
        section(
            "Your last few infochat partners said they didn't hear back from you — it happens when "
            f"things get busy. So nobody is left waiting, I've paused you until *{_day(until, tz)}*: "
            "no requests and no weekly pairings until then."
        ),
        context("Nobody else is told. Still up for chats? Stay active and I'll include you again."),
        actions(
            button("Stay active", STAY_ACTIVE_ACTION, "stay", style="primary"),
            button("Pause me", PAUSE_ME_ACTION, "pause"),
            block_id="ghost_pause",
        ),
    ]


def stayed_active_text() -> str:
    return "Welcome back — you're active again. Please answer requests and intros when you can!"


def paused_text(until: datetime, tz: str) -> str:
    return f"OK — you're paused until {_day(until, tz)}. `/infochat resume` brings you back sooner."


# -- the learnings library ---------------------------------------------------------------------------


def _stars(usefulness: int | None) -> str:
    return f" · useful {usefulness}/5" if usefulness else ""


def learning_block(card: LearningCard) -> Block:
    topics = ", ".join(escape(t) for t in card.topics[:5]) or "General"
    by = f"\n— {escape(card.author_name)}" if card.author_name else ""
    return section(
        truncate(
            f"*{topics}* · {month(card.created_at)}{_stars(card.usefulness)}\n"
            + _quoted(truncate(card.text, 800))
            + by,
            3000,
        )
    )


def learnings_message(query: str, topic_name: str | None, cards: list[LearningCard]) -> dict[str, Any]:
    """The ephemeral answer to `/infochat learnings [topic]`."""
    subject = escape(topic_name or query.strip())
    if not cards:
        text = (
            f"No shared learnings on *{subject}* yet."
            if subject
            else "Nobody has shared what they learned yet."
        )
        text += " After your next chat, share yours with everyone — it helps the next person."
        return {"text": text, "blocks": [section(text)]}
    title = f"What colleagues learned about *{subject}*" if subject else "What colleagues learned lately"
    blocks: list[Block] = [section(title + " (newest first):")]
    blocks += [learning_block(card) for card in cards]
    blocks.append(context("Shared by their authors with everyone. Names appear only if the author chose."))
    return {
        "text": title.replace("*", ""),
        "blocks": cap_blocks(blocks, MAX_MESSAGE_BLOCKS),
    }


def learnings_usage() -> dict[str, Any]:
    # `&lt;topic&gt;`: Slack's mrkdwn reads a raw <topic> as a link.
    return {
        "text": "Try `/infochat learnings` or `/infochat learnings &lt;topic&gt;`, e.g. `learnings pricing`."
    }


# -- App Home ------------------------------------------------------------------------------------------


def learnings_home_blocks(mine: list[MyTakeaway], thanks: list[ThanksCard]) -> list[Block]:
    """My takeaways (with who can read each) and the thanks I received, for my App Home."""
    blocks: list[Block] = []
    if mine:
        blocks.append(header("What I learned"))
        for item in mine[:5]:
            partners = _names(item.partners)
            shared = SHARED_WITH.get(item.share, "only you").format(partners=partners)
            topics = ", ".join(escape(t) for t in item.topics[:5])
            blocks.append(
                section(
                    truncate(
                        f"*With {escape(partners)}*"
                        + (f" · {topics}" if topics else "")
                        + f" · {month(item.created_at)}{_stars(item.usefulness)}\n"
                        + _quoted(truncate(item.text, 600)),
                        3000,
                    )
                )
            )
            blocks.append(context(f"Visible to {escape(shared)}."))
    if thanks:
        blocks.append(header("Thanks you received"))
        for card in thanks[:5]:
            blocks.append(
                section(
                    truncate(
                        f"*{escape(card.from_name)}* · {month(card.created_at)}\n"
                        + _quoted(truncate(card.text, 600)),
                        3000,
                    )
                )
            )
    return blocks
