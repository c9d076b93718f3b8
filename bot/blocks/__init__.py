"""Block Kit, built by pure functions: data in, dicts out, unit-testable as data.

Every piece of user-supplied text goes through `escape` (or `plain`) before it
is placed in a block, so `<!channel>`, `<@U…>`, `&`, `<` and `>` can neither
ping anyone nor break formatting.
"""

from __future__ import annotations

from datetime import date
from typing import Any

Block = dict[str, Any]

# Slack's limits (https://api.slack.com/reference/block-kit); builders enforce them.
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_BUTTON_VALUE = 2000
MAX_PLAIN_TEXT = 150
TRUNCATION_MARK = "… (shortened)"


def escape(text: str) -> str:
    """Escape user text for mrkdwn: Slack's three control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    """Shorten to `limit` characters, saying so, never cutting an escape entity in half."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(TRUNCATION_MARK)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + TRUNCATION_MARK


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": truncate(text, MAX_SECTION_TEXT)}


def plain(text: str, limit: int = MAX_PLAIN_TEXT) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit), "emoji": True}


def section(text: str, accessory: Block | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if accessory is not None:
        block["accessory"] = accessory
    return block


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text)}


def context(text: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(text)]}


def divider() -> Block:
    return {"type": "divider"}


def button(label: str, action_id: str, value: str | None = None, style: str | None = None) -> Block:
    element: Block = {"type": "button", "text": plain(label, 75), "action_id": action_id}
    if value is not None:
        if len(value) > MAX_BUTTON_VALUE:
            raise ValueError(f"button value for {action_id} exceeds {MAX_BUTTON_VALUE} characters")
        element["value"] = value
    if style is not None:
        element["style"] = style
    return element


def actions(*elements: Block, block_id: str | None = None) -> Block:
    block: Block = {"type": "actions", "elements": list(elements)[:25]}
    if block_id is not None:
        block["block_id"] = block_id
    return block


def input_block(
    block_id: str, label: str, element: Block, *, optional: bool = False, hint: str | None = None
) -> Block:
    """A modal input. Labels matter: people (and acceptance runs) find fields by them."""
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, 2000),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def cap_blocks(blocks: list[Block], limit: int, note: str = "More items are hidden.") -> list[Block]:
    """Keep within Slack's block limit, replacing the overflow with a note that says so."""
    if len(blocks) <= limit:
        return blocks
    return [*blocks[: limit - 1], context(note)]


# -- /infochat help -------------------------------------------------------------

SUBCOMMANDS: list[tuple[str, str]] = [
    ("help", "show this message"),
    ("profile", "set up or edit what you can speak about and want to learn (alias: `join`)"),
    ("find <topic>", "find colleagues who can talk about a topic, and ask one for a 20–30 minute chat"),
    ("pause [2w | 2026-12-24]", "take a break from requests and weekly pairing"),
    ("resume", "come back from a pause"),
    ("leave", "stop taking part (asks to confirm)"),
    ("learnings [topic]", "read what colleagues learned and chose to share"),
    ("report [period]", "participation reports (programme admins only)"),
]


def help_text(command: str = "/infochat") -> str:
    lines = [
        "*infochat* helps you learn from colleagues in other functions through short "
        "informational chats: 20–30 minutes to understand someone's work, never a job ask.",
        "",
    ]
    lines += [f"• `{command} {escape(usage)}` — {what}" for usage, what in SUBCOMMANDS]
    return "\n".join(lines)


def help_blocks(command: str = "/infochat") -> list[Block]:
    return [section(help_text(command))]


def usage_message(unknown: str, command: str = "/infochat") -> str:
    return (
        f"I don't know `{escape(truncate(unknown, 40))}`. "
        f"Try `{command} help` to see what I can do, or `{command} find &lt;topic&gt;`."
    )


# -- App Home ---------------------------------------------------------------------


def welcome_home_view(display_name: str | None = None) -> Block:
    greeting = f"Hi {escape(display_name)}!" if display_name else "Hi!"
    blocks: list[Block] = [
        header("Welcome to infochat"),
        section(
            f"{greeting} infochat connects you with colleagues in *other functions* for short "
            "informational chats: 20–30 minutes over coffee, a call or video, to learn how "
            "their work really happens. It is a conversation to learn, never a job ask."
        ),
        section(
            "*How it works*\n"
            "1. List the topics you can speak about and those you want to learn.\n"
            "2. Find someone with `/infochat find &lt;topic&gt;` and ask for a chat, "
            "or let the weekly pairing introduce you to someone new.\n"
            "3. Come with a few questions, and close with “who else should I talk to?”.\n"
            "4. Afterwards, note what you learned and thank them."
        ),
        context("Type `/infochat help` for every command."),
    ]
    return {"type": "home", "blocks": cap_blocks(blocks, MAX_VIEW_BLOCKS)}


# -- short messages ------------------------------------------------------------------

SOMETHING_WENT_WRONG = "Sorry, something went wrong on our side. Please try again in a minute."
LEAVE_QUESTION = "Leave infochat? You'll disappear from search and weekly pairing."
LEAVE_CONFIRM_ACTION = "leave_confirm"
LEAVE_CANCEL_ACTION = "leave_cancel"


def format_date(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def paused_message(first_day_back: date) -> str:
    return (
        f"You're paused until {format_date(first_day_back)}. Until then nobody can find you, "
        "send you a request or pair with you. `/infochat resume` brings you back sooner."
    )


def resumed_message(was_paused: bool) -> str:
    if not was_paused:
        return "You weren't paused — colleagues can already find you and you're in weekly pairing if it's on."
    return "Welcome back! Colleagues can find you again, and weekly pairing includes you if it's on."


def leave_confirmation_blocks() -> list[Block]:
    return [
        section(
            LEAVE_QUESTION + " Your past chats stay in your partners' history; "
            "you can come back any time with `/infochat profile`."
        ),
        actions(
            button("Yes, leave", LEAVE_CONFIRM_ACTION, style="danger"),
            button("Cancel", LEAVE_CANCEL_ACTION),
            block_id="leave",
        ),
    ]


LEFT_MESSAGE = (
    "You've left infochat: you're out of search and weekly pairing. "
    "Thanks for the chats! `/infochat profile` brings you back."
)
STAYED_MESSAGE = "Good — nothing changed, you're still in."
