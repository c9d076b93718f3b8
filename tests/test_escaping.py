"""Hostile names and topics, end to end: nothing Slack renders as mrkdwn carries a control sequence.

People whose names and topics hold `&`, `<`, `>`, `<!channel>`, `<@U…>` (80-character names,
20 topics of 60 characters) play the app's journeys through the real app and the stand-in.
Every text Slack would render (the top-level ``text`` of messages, which notifications show,
mrkdwn in blocks of messages and views, App Home, response_url posts, the app's answers to
slash commands, ``initial_comment`` of uploads) is scanned: after the sequences the app makes on
purpose (mentions of real members, dates, links), no `<` or `>` may remain and every `&` must
begin an entity.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from bot.clock import utcnow
from bot.db import Database
from bot.devtools.runner import AppServer
from bot.devtools.slack_client import SlackAppClient, last_view_opened
from bot.devtools.standin import SlackStandIn
from bot.flows.followups import run_followups
from bot.flows.outbox import deliver
from bot.settings import Settings
from tests.conftest import make_settings
from tests.factories import ask, daytime_zone, make_person, make_round, request_dm

HOSTILE_BITS = ["&", "<", ">", "<!channel>", "<@UHOSTILE1>", "<!here|here>", "<https://evil.example|x>"]


def hostile_name(i: int) -> str:
    """An 80-character name full of Slack's control characters."""
    base = f"Eve{i} <!channel> & <@UHOSTILE{i}> >_< "
    return (base + "Mallory-" * 10)[:80]


def hostile_topics(i: int) -> list[str]:
    """20 topics of 60 characters each, every one hostile in its own way."""
    topics = []
    for j in range(20):
        bit = HOSTILE_BITS[j % len(HOSTILE_BITS)]
        topics.append(f"T{i}-{j} {bit} R&D <b>ops</b> ".ljust(60, "x")[:60])
    return topics


# Sequences the app writes on purpose: mentions of real members, dates, links (labels kept).
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)>")
_DATE = re.compile(r"<!date\^\d+\^[^|<>]+\|([^<>]*)>")
_LINK = re.compile(r"<(?:https?://|mailto:)[^|<> ]+(?:\|([^<>]*))?>")
_QUOTE = re.compile(r"(?m)^>")
_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")


def unescaped(text: str, members: set[str]) -> list[str]:
    """What in ``text`` Slack would read as a control sequence the app did not mean."""
    problems = [f"mention of a non-member {m!r}" for m in _MENTION.findall(text) if m not in members]
    rest = _MENTION.sub("", text)
    rest = _DATE.sub(lambda m: m.group(1), rest)
    rest = _LINK.sub(lambda m: m.group(1) or "", rest)
    rest = _QUOTE.sub("", rest)
    problems += [f"raw {c!r}" for c in "<>" if c in rest]
    if _ENTITY.search(rest):
        problems.append("raw '&'")
    return problems


def mrkdwn_texts(node: Any, where: str) -> Iterator[tuple[str, str]]:
    """(where, text) of every mrkdwn text object under ``node``."""
    if isinstance(node, Mapping):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            yield where, node["text"]
        for key, value in node.items():
            yield from mrkdwn_texts(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from mrkdwn_texts(value, f"{where}/{i}")


def rendered_texts(standin: SlackStandIn, answers: list[Any]) -> Iterator[tuple[str, str]]:
    """Every text Slack renders as mrkdwn, from every call, response_url post and app answer."""
    for call in standin.calls:
        params = call.params
        if call.method.startswith("chat.") and isinstance(params.get("text"), str):
            yield f"{call.method} text", params["text"]
        if call.method == "files.completeUploadExternal" and params.get("initial_comment"):
            yield "upload initial_comment", str(params["initial_comment"])
        for key in ("blocks", "attachments", "view"):
            yield from mrkdwn_texts(params.get(key), f"{call.method} {key}")
    messages = [r.payload for r in standin.responses] + [a for a in answers if isinstance(a, Mapping)]
    for payload in messages:
        if isinstance(payload.get("text"), str):
            yield "response text", payload["text"]
        yield from mrkdwn_texts(payload.get("blocks"), "response blocks")


@pytest.fixture
def settings(db: Database, standin: SlackStandIn) -> Settings:
    url = make_url(str(db.url)).render_as_string(hide_password=False)
    return make_settings(url, standin, followup_after="0s")


def test_hostile_names_and_topics_never_reach_slack_unescaped(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, server: AppServer
) -> None:
    tz = daytime_zone(utcnow())
    learner_topics, expert_topics = hostile_topics(1), hostile_topics(2)
    make_person(db, standin, "UHL", hostile_name(1), "Sales", learns=expert_topics[:5], tz=tz, weekly=True)
    make_person(db, standin, "UHE", hostile_name(2), "Engineering", speaks=expert_topics, tz=tz, weekly=True)
    make_person(db, standin, "UHO", hostile_name(3), "Finance", speaks=learner_topics, tz=tz, weekly=True)
    answers: list[Any] = []

    def command(user: str, text: str) -> None:
        response = slack.command(user, text)
        answers.append(response.json() if response.content[:1] == b"{" else response.text)

    for text in ["help", "nonsense <!channel> & <@UHOSTILE9>", f"find {expert_topics[3]}", "find <>&"]:
        command("UHL", text)
    command("UHL", "learnings")
    command("UHE", "profile")
    standin.wait_for(lambda: bool(standin.calls_to("views.open")))
    assert last_view_opened(standin, "UHE")["callback_id"] == "profile_modal"
    slack.event({"type": "app_home_opened", "user": "UHE", "channel": "D0", "tab": "home"})
    standin.wait_for(lambda: standin.home_view("UHE") is not None)

    # A request about a hostile topic, with hostile answers, accepted: the request DM, the intro.
    hostile_answers = {
        "introduce": hostile_name(4),
        "want to learn": " ".join(HOSTILE_BITS),
        "questions": "<!everyone> & <@UHOSTILE5>?",
    }
    ask(slack, standin, "UHL", "UHE", hostile_answers, topic=expert_topics[0])
    slack.block_action("UHE", "request_accept", message=request_dm(standin, "UHE"))
    standin.wait_for(lambda: "You accepted" in str(standin.messages_in("UHE")[-1]))
    # Follow-ups about that chat, and a weekly round between the three.
    run_followups(server.app.ctx, utcnow())
    make_round(server.app.ctx)
    deliver(server.app.ctx)
    server.settle()

    members = set(standin.workspace.users)
    found = [
        f"{where}: {problem} in {text[:200]!r}"
        for where, text in rendered_texts(standin, answers)
        for problem in unescaped(text, members)
    ]
    assert not found, "\n".join(found)
    shown = str([c.params for c in standin.calls])
    assert "&lt;!channel&gt;" in shown and "UHOSTILE1" in shown  # the hostile text did get there


def test_the_scanner_finds_what_slack_would_read_as_a_control_sequence() -> None:
    members = {"U1"}
    made = "Hi <@U1>, on <!date^1700000000^{date}|Nov 14> see <https://x.example|docs>"
    assert unescaped(made, members) == []
    assert unescaped("> quoted &amp; &lt;b&gt;", members) == []
    assert unescaped("Hi <!channel>", members) == ["raw '<'", "raw '>'"]
    assert unescaped("R&D", members) == ["raw '&'"]
    assert unescaped("ping <@UHOSTILE1>", members) == ["mention of a non-member 'UHOSTILE1'"]
