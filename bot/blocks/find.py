"""The `/infochat find` answer: an ephemeral message built from a SearchResult.

Pure functions. Every name, title, topic, function and query is user text and
goes through `escape`; names are shown as plain text, never as mentions, so a
search pings nobody.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.blocks import (
    MAX_BUTTON_VALUE,
    MAX_MESSAGE_BLOCKS,
    Block,
    actions,
    button,
    cap_blocks,
    context,
    escape,
    section,
    truncate,
)
from bot.clock import zone
from bot.services.find import MAX_HITS, MAX_QUERY_LENGTH, ExpertHit, QueryError, SearchResult

PAGE_SIZE = 5
ASK_FOR_CHAT_ACTION = "ask_for_chat"
FIND_PAGE_ACTION = "find_page"
FIND_OWN_FUNCTION_ACTION = "find_own_function"
# Topics listed per expert before "+N more": the section stays readable.
MAX_TOPICS_SHOWN = 4


def _quoted(text: str) -> str:
    return f"“{escape(truncate(text, 60))}”"


def page_value(query: str, page: int, include_own_function: bool) -> str:
    """What a paging button carries: enough to re-run the search for whoever clicks."""
    return json.dumps({"q": query, "p": page, "o": include_own_function}, separators=(",", ":"))


def parse_page_value(value: str | None) -> tuple[str, int, bool] | None:
    """(query, page, include_own_function) from a paging button, None if malformed."""
    try:
        data = json.loads(value or "")
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    query, page, own = data.get("q"), data.get("p", 0), data.get("o", False)
    if not isinstance(query, str) or not isinstance(page, int) or isinstance(page, bool):
        return None
    return query[:MAX_QUERY_LENGTH], max(0, page), bool(own)


def ask_value(hit: ExpertHit, topic: str) -> str:
    """The `Ask for a chat` button's value: who, and about what (read by the request flow)."""
    value = json.dumps({"expert": hit.slack_user_id, "topic": topic}, separators=(",", ":"))
    if len(value) > MAX_BUTTON_VALUE:  # cannot happen with 100-char queries; kept as a guard
        value = json.dumps({"expert": hit.slack_user_id, "topic": topic[:100]}, separators=(",", ":"))
    return value


def local_time(tz: str | None, now: datetime) -> str:
    """ "14:05 their time": the expert's wall clock, so a learner does not ask at midnight."""
    return f"{now.astimezone(zone(tz)):%H:%M} their time"


def usage_message(error: QueryError | None = None) -> str:
    """The hint for an empty or over-long `/infochat find`."""
    lead = f"{escape(str(error))}\n" if error is not None else ""
    return (
        f"{lead}Usage: `/infochat find &lt;topic&gt;`, for example `/infochat find kubernetes` or "
        "`/infochat find pricing strategy`. I'll list colleagues who can talk about it."
    )


def hidden_summary(result: SearchResult) -> str | None:
    """ "Not shown: 2 paused, 1 at their monthly limit." or None."""
    parts = []
    if result.hidden_paused:
        parts.append(f"{result.hidden_paused} paused")
    if result.hidden_at_capacity:
        parts.append(f"{result.hidden_at_capacity} at their monthly limit")
    if result.hidden_departed:
        parts.append(f"{result.hidden_departed} who left infochat")
    return f"Not shown: {', '.join(parts)}." if parts else None


def _hit_section(hit: ExpertHit, topic: str, now: datetime) -> Block:
    first = f"*{escape(hit.name)}*"
    details = [escape(d) for d in (hit.function or "", hit.title) if d]
    if hit.same_function:
        details.append("_your function_")
    if details:
        first += " · " + " · ".join(details)
    lines = [first]
    if hit.matching_topics:
        shown = ", ".join(escape(t) for t in hit.matching_topics[:MAX_TOPICS_SHOWN])
        more = len(hit.matching_topics) - MAX_TOPICS_SHOWN
        lines.append(f"Speaks about: {shown}" + (f" +{more} more" if more > 0 else ""))
    if hit.match == "ask" and hit.ask_me_about:
        lines.append(f"Ask me about: {escape(truncate(hit.ask_me_about, 200))}")
    lines.append(local_time(hit.tz, now))
    return section("\n".join(lines), button("Ask for a chat", ASK_FOR_CHAT_ACTION, ask_value(hit, topic)))


def _heading(result: SearchResult) -> str:
    subject = escape(result.topic) if result.topic else _quoted(result.query)
    if result.hits:
        return f"*Experts on {subject}*" if result.topic else f"*Experts matching {subject}*"
    if result.own_function_count:
        return f"*Only people in your own function can talk about {subject} right now.*"
    if result.hidden:
        return f"*No one who lists {subject} can take a chat right now.*"
    return f"*No one lists {subject} yet.*"


def search_message(
    result: SearchResult, *, page: int, include_own_function: bool, now: datetime
) -> dict[str, Any]:
    """The ephemeral answer: `{"text": ..., "blocks": [...]}`, five experts a page."""
    pages = max(1, -(-len(result.hits) // PAGE_SIZE))
    page = min(max(0, page), pages - 1)
    shown = result.hits[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    heading = _heading(result)
    blocks: list[Block] = [section(heading)]
    if shown:
        start = page * PAGE_SIZE + 1
        count = f"{start}–{start + len(shown) - 1} of {result.total}"
        if result.total > len(result.hits):
            count += f" (the best {MAX_HITS} can be paged through; a narrower topic finds the rest)"
        blocks.append(
            context(f"{count} · people from other functions first; it's a chat to learn, never a job ask.")
        )
    topic_for_ask = result.topic or result.query
    for hit in shown:
        topic = result.topic or (hit.matching_topics[0] if hit.matching_topics else topic_for_ask)
        blocks.append(_hit_section(hit, topic, now))

    notes = []
    hidden = hidden_summary(result)
    if hidden:
        notes.append(hidden)
    if result.own_function_count and not include_own_function:
        who = "person" if result.own_function_count == 1 else "people"
        verb = "matches" if result.own_function_count == 1 else "match"
        notes.append(f"{result.own_function_count} {who} in your own function also {verb}.")
    if notes:
        blocks.append(context(" ".join(notes)))
    if not result.hits:
        if result.suggestions:
            nearby = ", ".join(f"`{escape(s)}`" for s in result.suggestions)
            blocks.append(section(f"Nearby topics: {nearby}. Try `/infochat find` with one of them."))
        else:
            blocks.append(context("Try a broader word, or check `/infochat help`."))
        blocks.append(context("I've noted that colleagues are looking for this topic."))

    # Slack wants action_ids unique within a block: "Previous 5" gets a row of its own.
    if page > 0:
        value = page_value(result.query, page - 1, include_own_function)
        blocks.append(actions(button("Previous 5", FIND_PAGE_ACTION, value), block_id="find_prev"))
    row = []
    if page < pages - 1:
        row.append(
            button("Next 5", FIND_PAGE_ACTION, page_value(result.query, page + 1, include_own_function))
        )
    if result.own_function_count and not include_own_function:
        row.append(
            button("Show my function too", FIND_OWN_FUNCTION_ACTION, page_value(result.query, 0, True))
        )
    if row:
        blocks.append(actions(*row, block_id="find_more"))

    names = ", ".join(escape(hit.name) for hit in shown)
    text = heading.strip("*") + (f": {names}" if names else "")
    return {"text": truncate(text, 3000), "blocks": cap_blocks(blocks, MAX_MESSAGE_BLOCKS)}
