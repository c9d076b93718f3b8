"""A search's text: validation, the keys it is looked up by, and the words fuzzy matching uses.

Pure functions; nothing here reads the database.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

from bot.services.topics import topic_key

MAX_QUERY_LENGTH = 100

# Words that say nothing about a topic; dropped from the query's words when
# others remain, so "sales and marketing" does not need "and" in an ask line.
STOP_WORDS = frozenset(
    {"a", "an", "and", "or", "the", "of", "for", "in", "on", "to", "with", "at", "by", "about", "from"}
    | {"into", "my", "your", "how", "what"}
)

# A query's key, memoised: `topic_key` walks the text in Python and a search
# needs it several times; queries repeat (popular topics).
query_key = lru_cache(maxsize=4096)(topic_key)


class QueryError(ValueError):
    """The query is empty or too long; `reason` is "empty" or "too_long"."""

    def __init__(self, reason: Literal["empty", "too_long"], message: str) -> None:
        super().__init__(message)
        self.reason = reason


def normalise_query(query: str) -> str:
    """The query single-spaced; QueryError when it is empty or over MAX_QUERY_LENGTH."""
    text = " ".join(query.split())
    if not query_key(text):
        raise QueryError("empty", "Tell me what to look for, e.g. `/infochat find kubernetes`.")
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(
            "too_long",
            f"That's {len(text)} characters; a topic is a few words (at most {MAX_QUERY_LENGTH}).",
        )
    return text


def content_words(key: str) -> list[str]:
    """The words of a key that say something (all of them if only stop words remain)."""
    words = key.split()
    kept = [w for w in words if w not in STOP_WORDS]
    return kept or words


def allowed_edits(length: int) -> int:
    """Typos (OSA edits) tolerated in a word of this length."""
    # Short words are too alike to guess typos in ("sale"/"scale", "java"/"lava");
    # longer ones tolerate one edit, very long ones two (a transposition is one).
    if length <= 4:
        return 0
    if length <= 7:
        return 1
    return 2


_ASCII_WORD = re.compile(r"[a-z0-9+#]+")


@lru_cache(maxsize=65536)
def _fold(word: str) -> str:
    return topic_key(word)


def ask_words(text: str) -> frozenset[str]:
    """The words of an "ask me about" line, normalised exactly as topic keys are.

    `topic_key` walks every character in Python (~30 µs a line); ASCII lines, the
    usual case, take a regex path with the same result, so indexing 10,000 lines
    stays well under a second.
    """
    if text.isascii():
        lowered = text.lower().replace("'", "").replace("`", "")
        words = {_fold(w) for w in _ASCII_WORD.findall(lowered)}
    else:
        words = set(topic_key(text).split())
    return frozenset(w for w in words if w and w not in STOP_WORDS)
