"""Options for the topic type-ahead (multi_external_select), built as plain data.

Option text is plain_text, so user text needs no mrkdwn escaping here; Slack
shows it literally.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.blocks import plain
from bot.models import Topic
from bot.services.topics import (
    MAX_KEY_LENGTH,
    MAX_TOPIC_LENGTH,
    MIN_TOPIC_LENGTH,
    OPTION_NEW_PREFIX,
    OPTION_TOPIC_PREFIX,
    tidy_name,
    topic_key,
)

Option = dict[str, Any]

# Slack's limits for options in an external select's response.
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_OPTIONS = 100


def topic_option(topic: Topic) -> Option:
    return {"text": plain(topic.name, MAX_OPTION_TEXT), "value": f"{OPTION_TOPIC_PREFIX}{topic.id}"}


def new_topic_option(text: str) -> Option:
    """The "add a new topic" choice; its value carries the typed text to the submission."""
    name = tidy_name(text)
    value = f"{OPTION_NEW_PREFIX}{name}"
    if len(value) > MAX_OPTION_VALUE:
        raise ValueError(f"new topic option value exceeds {MAX_OPTION_VALUE} characters")
    return {"text": plain(f"Add “{name}”", MAX_OPTION_TEXT), "value": value}


def can_be_new_topic(text: str) -> bool:
    """Whether `text` is a valid name for a new topic (length limits, some letter or digit)."""
    name = tidy_name(text)
    key = topic_key(name)
    return MIN_TOPIC_LENGTH <= len(name) <= MAX_TOPIC_LENGTH and 0 < len(key) <= MAX_KEY_LENGTH


def topic_options(topics: Sequence[Topic], query: str, *, exact: bool | None = None) -> list[Option]:
    """Existing matches, then an "Add …" option unless the query already names a topic.

    `exact` says whether the query names an existing topic (the listener knows,
    aliases included); when not given, it is judged from the keys of `topics`.
    """
    options = [topic_option(topic) for topic in topics[:MAX_OPTIONS]]
    if exact is None:
        key = topic_key(query)
        exact = any(topic.key == key for topic in topics)
    if not exact and can_be_new_topic(query):
        options = [*options[: MAX_OPTIONS - 1], new_topic_option(query)]
    return options
