"""Fuzzing /slack/events with validly signed, random and malformed payloads (issue #8).

Every request below carries a correct signature and a current timestamp, so it
passes Bolt's verification and reaches the listeners: random bytes and text,
slash commands with hostile `text` and missing or wrong-typed fields,
interactive payloads (random JSON, and realistic payloads for every registered
action and view with fields dropped, retyped or replaced), and Events API
envelopes. For every example:

- the answer is not a 5xx and carries no traceback or exception name;
- the app logged no unhandled error (Bolt's "Failed to run …", uvicorn's
  "Exception in ASGI application", any ERROR with a Python exception other than
  Slack refusing a Web API call about a made-up user or trigger);
- the database is unchanged: a content hash of every table in
  `bot.models.Base.metadata`, taken after the app's lazy work has settled.

Some payloads are, after mutation, still a genuine request by someone allowed
to make it (the addressed expert accepting their request; anyone pausing
themselves). Slack signed them, so acting on them is right; `_may_write` names
those cases and only their database check is skipped. Everything else must
leave every table as it was, except the tables a request legitimately writes
on arrival, which `Fuzzed.allowed` names per example with the reason.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.errors import SlackApiError
from sqlalchemy import select

from bot.blocks import LEAVE_CANCEL_ACTION, LEAVE_CONFIRM_ACTION
from bot.blocks import followups as followup_blocks
from bot.blocks import pairing as pairing_blocks
from bot.blocks import requests as request_blocks
from bot.blocks import scheduling as schedule_blocks
from bot.blocks.find import FIND_OWN_FUNCTION_ACTION, FIND_PAGE_ACTION, page_value
from bot.blocks.home import EDIT_PROFILE_ACTION, PAUSE_ACTION, RESUME_ACTION
from bot.blocks.profile import PROFILE_CALLBACK
from bot.blocks.reports import REPORT_DOWNLOAD_CSV_ACTION, REPORT_SHOW_ACTION, SECTION_KEYS
from bot.clock import utcnow
from bot.db import Database
from bot.devtools.runner import AppServer
from bot.devtools.slack_client import SlackAppClient
from bot.devtools.standin import APP_ID, TEAM_DOMAIN, Refusal, SlackStandIn
from bot.listeners.commands import parse
from bot.listeners.options import TOPIC_SELECTS
from bot.models import Base, Person
from bot.services import profiles
from bot.services import requests as request_service
from tests.factories import make_person

TEAM = "T0INFOCHAT"
TOKEN = "standin-verification-token"

# -- the seeded workspace ---------------------------------------------------------------------------

ALICE, BOB, CARA, DAN, EVE = "UALICE", "UBOB", "UCARA", "UDAN", "UEVE"
SEEDED = (ALICE, BOB, CARA, DAN, EVE)
# Known to nobody: not in the database, not in the stand-in's directory (users.info: user_not_found).
STRANGER = "UNOBODY42"


@dataclass(frozen=True)
class World:
    open_request: int  # BOB asked ALICE; open: only ALICE may answer it
    answered_request: int  # DAN asked CARA; accepted
    chat: int  # the chat of answered_request: CARA and DAN


def seed(db: Database, standin: SlackStandIn) -> World:
    make_person(db, standin, ALICE, "Alice Moreau", "Engineering", speaks=["Kubernetes", "Go"])
    make_person(db, standin, BOB, "Bob Okafor", "Sales", speaks=["Negotiation"], learns=["Kubernetes"])
    make_person(db, standin, CARA, "Cara Lindqvist", "Design", speaks=["Figma"], weekly=True)
    make_person(db, standin, DAN, "Dan Iwu", "Finance", learns=["Figma"], weekly=True)
    make_person(db, standin, EVE, "Eve Santos", "Product", speaks=["Roadmaps"], learns=["Go"])
    draft = request_service.RequestDraft(
        intro="Hi, I'm in sales.", goal="How deployments work", questions="What should I read first?"
    )
    now = utcnow()
    with db.session() as session:
        people = {p.slack_user_id: p for p in session.scalars(select(Person))}
        pending = request_service.create_request(
            session, people[BOB], people[ALICE], "Kubernetes", draft, now
        )
        answered = request_service.create_request(session, people[DAN], people[CARA], "Figma", draft, now)
        chat = request_service.accept(session, answered, CARA, now)
        assert chat is not None
        world = World(open_request=pending.id, answered_request=answered.id, chat=chat.id)
    with db.session() as session:
        assert all(profiles.get_person(session, u).has_joined for u in SEEDED)  # type: ignore[union-attr]
    return world


# -- what a request may legitimately write -------------------------------------------------------------


@dataclass
class Fuzzed:
    body: bytes
    content_type: str
    # Tables this request may change, each for a stated reason (see the strategies).
    allowed: frozenset[str] = frozenset()
    # A genuine request by someone entitled to make it: its writes are not checked.
    may_write: bool = False
    label: str = ""


def _digits(value: object) -> int | None:
    """How the listeners read an id out of a button value (`"12"` and `12` alike)."""
    text = str(value or "")
    try:
        return int(text) if text.isdigit() else None
    except ValueError:
        return None


def _get(obj: object, *path: object) -> object:
    for key in path:
        if isinstance(obj, Mapping):
            obj = obj.get(key)
        elif isinstance(obj, list) and isinstance(key, int) and -len(obj) <= key < len(obj):
            obj = obj[key]
        else:
            return None
    return obj


REQUEST_KEYED_ACTIONS = {
    request_blocks.ACCEPT_ACTION,
    request_blocks.DECLINE_ACTION,
    request_blocks.REDIRECT_ACTION,
}
CHAT_KEYED_ACTIONS = {
    request_blocks.MARK_DONE_ACTION,
    followup_blocks.MET_ACTION,
    followup_blocks.NOT_YET_ACTION,
    followup_blocks.COULDNT_ACTION,
    pairing_blocks.CANT_MAKE_IT_ACTION,
    pairing_blocks.NO_REPEAT_ACTION,
    schedule_blocks.FIND_ACTION,
    schedule_blocks.SUGGEST_ACTION,
    schedule_blocks.RESCHEDULE_ACTION,
    schedule_blocks.CANCEL_ACTION,
}
# Act on whoever clicked: any seeded member clicking them may change their own row.
SELF_ACTIONS = {
    PAUSE_ACTION,
    RESUME_ACTION,
    LEAVE_CONFIRM_ACTION,
    followup_blocks.STAY_ACTIVE_ACTION,
    followup_blocks.PAUSE_ME_ACTION,
}
READ_ONLY_ACTIONS = {
    request_blocks.ASK_ACTION,
    FIND_PAGE_ACTION,
    FIND_OWN_FUNCTION_ACTION,
    REPORT_SHOW_ACTION,
    REPORT_DOWNLOAD_CSV_ACTION,
    LEAVE_CANCEL_ACTION,
    EDIT_PROFILE_ACTION,
    schedule_blocks.GOOGLE_ACTION,  # calendar links: the browser opens them, the app only acks
    schedule_blocks.OUTLOOK_ACTION,
}
# The buttons App Home shows (blocks/home.py, blocks/reports.py): clicks there come without a response_url.
HOME_ACTIONS = {
    request_blocks.ACCEPT_ACTION,
    request_blocks.DECLINE_ACTION,
    request_blocks.REDIRECT_ACTION,
    EDIT_PROFILE_ACTION,
    PAUSE_ACTION,
    RESUME_ACTION,
    REPORT_SHOW_ACTION,
    REPORT_DOWNLOAD_CSV_ACTION,
}
ACTIONS = sorted(REQUEST_KEYED_ACTIONS | CHAT_KEYED_ACTIONS | SELF_ACTIONS | READ_ONLY_ACTIONS)
REQUEST_KEYED_VIEWS = {request_blocks.DECLINE_CALLBACK, request_blocks.REDIRECT_CALLBACK}
CHAT_KEYED_VIEWS = {
    followup_blocks.LEARNED_CALLBACK,
    followup_blocks.COULDNT_CALLBACK,
    schedule_blocks.PICK_CALLBACK,
    schedule_blocks.SUGGEST_CALLBACK,
    schedule_blocks.CANCEL_CALLBACK,
}
SELF_VIEWS = {PROFILE_CALLBACK, request_blocks.REQUEST_CALLBACK}  # save my profile / send my request
VIEWS = sorted(REQUEST_KEYED_VIEWS | CHAT_KEYED_VIEWS | SELF_VIEWS)


def _may_write(payload: object, world: World) -> bool:
    """True when the payload is still a request its sender is entitled to make.

    Mirrors how the listeners read the payload (the clicking user, the id in a
    button value or in private_metadata); it errs towards True when unsure.
    """
    if not isinstance(payload, Mapping):
        return False
    actor = _get(payload, "user", "id")
    if actor is None:
        return False
    actor = str(actor)
    kind = payload.get("type")
    if kind == "block_actions":
        action = _get(payload, "actions", 0)
        name, key = _get(action, "action_id"), _digits(_get(action, "value"))
        if not isinstance(name, str):
            return False  # no listener matches it
        if name in REQUEST_KEYED_ACTIONS:
            return actor == ALICE and key == world.open_request
        if name in CHAT_KEYED_ACTIONS:
            return actor in (CARA, DAN) and key == world.chat
        return name in SELF_ACTIONS and actor in SEEDED
    if kind == "view_submission":
        name, metadata = _get(payload, "view", "callback_id"), _get(payload, "view", "private_metadata")
        if not isinstance(name, str):
            return False
        if name in REQUEST_KEYED_VIEWS:
            return actor == ALICE and _digits(metadata) == world.open_request
        if name in CHAT_KEYED_VIEWS:
            try:
                chat = json.loads(str(metadata or "{}")).get("chat")
            except (ValueError, AttributeError):
                chat = None
            return actor in (CARA, DAN) and chat == world.chat
        return name in SELF_VIEWS and actor in SEEDED
    return False


# -- strategies ------------------------------------------------------------------------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
HOSTILE_STRINGS = st.sampled_from(
    [
        "",
        " ",
        "0",
        "-1",
        "1.5",
        "²",  # str.isdigit() is True, int() refuses it
        "٣",  # an Arabic-Indic digit: int() reads 3
        "99999999999999999999999",
        "9223372036854775808",
        "1e400",
        "null",
        "{}",
        "[]",
        '{"chat": 99999999999999999999999}',
        '{"chat": "1"}',
        '{"q": 5, "p": "x"}',
        '{"q": "go", "p": 99999999999999999999999}',
        '{"expert": ["U1"], "topic": {}}',
        "\x00",
        "\ud7ff\ufffd",
        "<!channel> <@UALICE> &amp; <>",
        "U" + "A" * 200,
        "x" * 5000,
        "2026-02-30",
        "9999w",
    ]
)
TEXT = st.text(max_size=60) | st.text(alphabet=st.characters(codec="utf-8"), max_size=300) | HOSTILE_STRINGS
JUNK = JSON_VALUES | HOSTILE_STRINGS | st.just("y" * 20_000)


def _real_refs(world: World) -> st.SearchStrategy[Any]:
    ids = [world.open_request, world.answered_request, world.chat]
    return st.sampled_from(
        [
            *ids,
            *[str(i) for i in ids],
            *SEEDED,
            json.dumps({"chat": world.chat}),
            json.dumps({"expert": ALICE, "topic": "Kubernetes"}),
            {"id": ALICE},
        ]
    )


def _user(user_id: object) -> dict[str, Any]:
    return {"id": user_id, "username": str(user_id).lower(), "name": str(user_id).lower(), "team_id": TEAM}


def _envelope(kind: str, user_id: object) -> dict[str, Any]:
    return {
        "type": kind,
        "user": _user(user_id),
        "api_app_id": APP_ID,
        "token": TOKEN,
        "team": {"id": TEAM, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
    }


def _view(callback_id: str, metadata: str, values: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "VFUZZ0001",
        "team_id": TEAM,
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": metadata,
        "hash": "1700000000.abcd1234",
        "title": {"type": "plain_text", "text": "infochat"},
        "blocks": [],
        "state": {"values": values},
        "root_view_id": "VFUZZ0001",
        "previous_view_id": None,
        "app_id": APP_ID,
        "notify_on_close": False,
    }


def _option(value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": value, "emoji": True}, "value": value}


class Payloads:
    """Realistic payloads, as Slack sends them, for every listener the app registers."""

    def __init__(self, world: World, standin: SlackStandIn) -> None:
        self.world = world
        self.standin = standin

    def action_value(self, action_id: str) -> Any:
        w = self.world
        if action_id in REQUEST_KEYED_ACTIONS:
            return str(w.open_request)
        if action_id in CHAT_KEYED_ACTIONS:
            return str(w.chat)
        return {
            request_blocks.ASK_ACTION: json.dumps({"expert": ALICE, "topic": "Kubernetes"}),
            FIND_PAGE_ACTION: page_value("kubernetes", 1, False),
            FIND_OWN_FUNCTION_ACTION: page_value("kubernetes", 0, True),
            REPORT_SHOW_ACTION: SECTION_KEYS[0],
            REPORT_DOWNLOAD_CSV_ACTION: "",
        }.get(action_id)

    def block_action(self, user_id: str, action_id: str, *, in_home: bool) -> dict[str, Any]:
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": "fuzz",
            "type": "button",
            "action_ts": f"{time.time():.6f}",
            "text": {"type": "plain_text", "text": action_id, "emoji": True},
        }
        if action_id == PAUSE_ACTION:
            action.update(type="static_select", selected_option=_option("2w"))
        else:
            value = self.action_value(action_id)
            if value is not None:
                action["value"] = value
        payload = _envelope("block_actions", user_id)
        payload["trigger_id"] = self.standin.new_trigger_id(user_id)
        payload["actions"] = [action]
        if in_home:  # App Home: Slack sends the view and no response_url
            payload["container"] = {"type": "view", "view_id": "VHOME0001"}
            payload["view"] = {**_view("", "", {}), "type": "home", "id": "VHOME0001"}
        else:
            channel = "D0FUZZ"
            payload["container"] = {
                "type": "message",
                "message_ts": "1700000000.000100",
                "channel_id": channel,
                "is_ephemeral": False,
            }
            payload["channel"] = {"id": channel, "name": "directmessage"}
            payload["message"] = {"type": "message", "ts": "1700000000.000100", "text": "hi", "blocks": []}
            payload["state"] = {"values": {}}
            payload["response_url"] = self.standin.new_response_url(user_id=user_id, channel_id=channel)
        return payload

    def view_submission(self, user_id: str, callback_id: str) -> dict[str, Any]:
        w = self.world
        metadata, values = {
            PROFILE_CALLBACK: (
                "",
                {
                    "function": {"function": {"type": "static_select", "selected_option": _option("Design")}},
                    "speak": {
                        "speak_topics": {"type": "multi_external_select", "selected_options": [_option("Go")]}
                    },
                    "learn": {"learn_topics": {"type": "multi_external_select", "selected_options": []}},
                    "capacity": {"capacity": {"type": "static_select", "selected_option": _option("2")}},
                    "weekly": {"weekly": {"type": "radio_buttons", "selected_option": _option("on")}},
                    "ask": {"ask": {"type": "plain_text_input", "value": "anything"}},
                },
            ),
            request_blocks.REQUEST_CALLBACK: (
                json.dumps({"expert": ALICE, "topic": "Kubernetes"}),
                {
                    "intro": {
                        "intro": {"type": "plain_text_input", "value": "Hi Alice, I'm Eve in product."}
                    },
                    "goal": {"goal": {"type": "plain_text_input", "value": "how you run clusters"}},
                    "questions": {"questions": {"type": "plain_text_input", "value": "What to read?"}},
                    "format": {"format": {"type": "radio_buttons", "selected_option": _option("video")}},
                    "duration": {"duration": {"type": "radio_buttons", "selected_option": _option("30")}},
                },
            ),
            request_blocks.DECLINE_CALLBACK: (
                str(w.open_request),
                {"reason": {"reason": {"type": "plain_text_input", "value": "busy this month"}}},
            ),
            request_blocks.REDIRECT_CALLBACK: (
                str(w.open_request),
                {
                    "colleague": {"colleague": {"type": "users_select", "selected_user": "UFUZZSTUB"}},
                    "note": {"note": {"type": "plain_text_input", "value": "ask them"}},
                },
            ),
            followup_blocks.LEARNED_CALLBACK: (
                json.dumps({"chat": w.chat}),
                {
                    "learned": {"learned": {"type": "plain_text_input", "value": "Design reviews matter."}},
                    "useful": {"useful": {"type": "static_select", "selected_option": _option("4")}},
                    "share": {"share": {"type": "radio_buttons", "selected_option": _option("everyone")}},
                    "topics": {"topics": {"type": "plain_text_input", "value": "Figma"}},
                    "thanks": {"thanks": {"type": "plain_text_input", "value": "Thank you!"}},
                    "referral": {"referral": {"type": "users_select", "selected_user": EVE}},
                    "show_name": {"show_name": {"type": "checkboxes", "selected_options": [_option("yes")]}},
                },
            ),
            followup_blocks.COULDNT_CALLBACK: (
                json.dumps({"chat": w.chat}),
                {"reason": {"reason": {"type": "radio_buttons", "selected_option": _option("no_reply")}}},
            ),
            schedule_blocks.PICK_CALLBACK: (
                json.dumps({"chat": w.chat, "round": 1}),
                {"slots": {"slots_checkboxes": {"type": "checkboxes", "selected_options": [_option("1")]}}},
            ),
            schedule_blocks.SUGGEST_CALLBACK: (
                json.dumps({"chat": w.chat, "round": 1}),
                {
                    "when": {
                        "when_picker": {
                            "type": "datetimepicker",
                            "selected_date_time": int(utcnow().timestamp()) + 86400,
                        }
                    }
                },
            ),
            schedule_blocks.CANCEL_CALLBACK: (
                json.dumps({"chat": w.chat}),
                {"reason": {"reason_input": {"type": "plain_text_input", "value": "Something came up"}}},
            ),
        }[callback_id]
        payload = _envelope("view_submission", user_id)
        payload.update(
            trigger_id=self.standin.new_trigger_id(user_id),
            view=_view(callback_id, metadata, values),
            response_urls=[],
        )
        return payload

    def block_suggestion(self, user_id: str, action_id: str) -> dict[str, Any]:
        payload = _envelope("block_suggestion", user_id)
        payload.update(
            action_id=action_id,
            block_id=action_id.split("_")[0],
            value="kub",
            container={"type": "view", "view_id": "VFUZZ0001"},
            view=_view(PROFILE_CALLBACK, "", {}),
        )
        return payload

    def other(self, user_id: str, kind: str) -> dict[str, Any]:
        payload = _envelope(kind, user_id)
        if kind == "view_closed":
            payload.update(view=_view(PROFILE_CALLBACK, "", {}), is_cleared=False)
        elif kind in ("shortcut", "message_action"):
            payload.update(callback_id="infochat_shortcut", trigger_id=self.standin.new_trigger_id(user_id))
            if kind == "message_action":
                payload.update(
                    channel={"id": "C0GENERAL", "name": "general"},
                    message={"type": "message", "ts": "1700000000.000200", "text": "hello", "user": BOB},
                    response_url=self.standin.new_response_url(user_id=user_id, channel_id="C0GENERAL"),
                )
        return payload


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON document that a mutation can touch."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            yield (*prefix, index)
            yield from _paths(value, (*prefix, index))


def _mutate(data: st.DataObject, payload: dict[str, Any], world: World) -> dict[str, Any]:
    """Drop fields, give them wrong types, or swap in random strings or other real ids."""
    doc = json.loads(json.dumps(payload))
    for _ in range(data.draw(st.integers(min_value=0, max_value=4), label="mutations")):
        # Slack's own URL for the answer: present for clicks in messages (App Home is
        # modelled by `in_home`), and never anything else.
        paths = [p for p in _paths(doc) if "response_url" not in p]
        if not paths:
            break
        path = data.draw(st.sampled_from(paths), label="path")
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        op = data.draw(st.sampled_from(["drop", "junk", "text", "real"]), label="op")
        if op == "drop":
            del parent[path[-1]]
        elif op == "junk":
            parent[path[-1]] = data.draw(JUNK, label="junk")
        elif op == "text":
            parent[path[-1]] = data.draw(TEXT, label="text")
        else:
            parent[path[-1]] = data.draw(_real_refs(world), label="real")
    return doc


def _form(fields: Mapping[str, str]) -> bytes:
    return urlencode(fields).encode()


def _as_payload(payload: object, label: str, world: World) -> Fuzzed:
    body = _form({"payload": json.dumps(payload, separators=(",", ":"))})
    return Fuzzed(
        body,
        "application/x-www-form-urlencoded",
        may_write=_may_write(payload, world),
        label=label,
    )


ACTORS_ANYONE = st.sampled_from([*SEEDED, STRANGER])


@st.composite
def interactive(draw: st.DrawFn, world: World, standin: SlackStandIn) -> Fuzzed:
    """A realistic interactive payload for a registered listener, then mutated."""
    made = Payloads(world, standin)
    kind = draw(st.sampled_from(["action", "action", "view", "view", "suggestion", "other"]), label="kind")
    actor = draw(ACTORS_ANYONE, label="actor")
    if kind == "action":
        name = draw(st.sampled_from(ACTIONS), label="action_id")
        in_home = name in HOME_ACTIONS and draw(st.booleans(), label="in_home")
        payload = made.block_action(actor, name, in_home=in_home)
    elif kind == "view":
        name = draw(st.sampled_from(VIEWS), label="callback_id")
        payload = made.view_submission(actor, name)
    elif kind == "suggestion":
        name = draw(st.sampled_from(TOPIC_SELECTS), label="action_id")
        payload = made.block_suggestion(actor, name)
    else:
        name = draw(st.sampled_from(["view_closed", "shortcut", "message_action"]), label="type")
        payload = made.other(actor, name)
    mutated = _mutate(draw(st.data()), payload, world)
    return _as_payload(mutated, f"{kind}:{name}", world)


@st.composite
def random_interactive(draw: st.DrawFn, world: World) -> Fuzzed:
    """`payload=` holding random JSON, or a dict with a known type and random fields."""
    if draw(st.booleans()):
        payload: Any = draw(JSON_VALUES)
    else:
        payload = draw(st.dictionaries(st.text(max_size=12), JSON_VALUES, max_size=6))
        payload["type"] = draw(
            st.sampled_from(
                ["block_actions", "view_submission", "view_closed", "block_suggestion", "shortcut"]
            )
            | st.text(max_size=10)
        )
    return _as_payload(payload, "payload:random", world)


CONTENT_TYPES = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/json",
        "application/x-www-form-urlencoded; charset=utf-8",
        "application/json; charset=latin-1",
        "text/plain",
        "multipart/form-data; boundary=xyz",
        "application/octet-stream",
        "",
        "garbage/\x7f",
    ]
) | st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


@st.composite
def raw_bodies(draw: st.DrawFn) -> Fuzzed:
    """Random bytes or text under a random content type."""
    body = draw(
        st.binary(max_size=300)
        | st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass"))
        | st.sampled_from([b"payload=", b"payload=%00", b"payload=null", b"payload=[]", b"command=", b"="])
        | JSON_VALUES.map(lambda v: json.dumps(v).encode())
    )
    return Fuzzed(body, draw(CONTENT_TYPES), label="raw")


@st.composite
def slash_commands(draw: st.DrawFn, world: World, standin: SlackStandIn) -> Fuzzed:
    """`/infochat` with hostile text, missing or wrong fields, or another command name."""
    user_id = draw(st.sampled_from([*SEEDED, STRANGER, ""]) | TEXT, label="user_id")
    words = draw(
        st.sampled_from(
            ["", "help", "find", "pause", "resume", "leave", "learnings", "report", "profile", "join"]
        ),
        label="subcommand",
    )
    text = draw(TEXT | st.just("z" * 50_000), label="argument")
    fields: dict[str, str] = {
        "token": TOKEN,
        "team_id": TEAM,
        "team_domain": TEAM_DOMAIN,
        "channel_id": "C0GENERAL",
        "channel_name": "general",
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": "/infochat",
        "text": f"{words} {text}" if words else text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": standin.new_response_url(user_id=user_id, channel_id="C0GENERAL"),
        "trigger_id": standin.new_trigger_id(user_id),
    }
    # Slack always sends a response_url with a command; the app answers there after the ack.
    fuzzable = sorted(set(fields) - {"response_url"})
    for name in draw(st.lists(st.sampled_from(fuzzable), max_size=3, unique=True), label="drop"):
        del fields[name]
    for name in draw(st.lists(st.sampled_from(fuzzable), max_size=2, unique=True), label="retype"):
        fields[name] = draw(TEXT, label=name)
    if draw(st.integers(0, 9), label="other command") == 0:
        fields["command"] = draw(st.sampled_from(["/infochatx", "/INFOCHAT", "/help", ""]) | TEXT)
    body = _form(fields)
    if draw(st.integers(0, 9), label="duplicate") == 0:  # the same field twice
        body += b"&user_id=" + draw(st.sampled_from([b"UBOB", b"", b"%FF%FE"]))
    allowed: set[str] = set()
    subcommand = parse(fields.get("text"))[0]
    if subcommand == "find":
        allowed.add("searches")  # every /infochat find is recorded as demand for HR's report
    actor = fields.get("user_id")
    # Pausing or resuming yourself is what those subcommands are for.
    may_write = subcommand in ("pause", "resume") and actor in SEEDED
    return Fuzzed(
        body, "application/x-www-form-urlencoded", frozenset(allowed), may_write, f"/infochat {words}"
    )


EVENT_TYPES = [
    "app_home_opened",
    "user_change",
    "team_join",
    "message",
    "app_mention",
    "member_joined_channel",
    "reaction_added",
    "",
]


@st.composite
def events(draw: st.DrawFn, world: World) -> Fuzzed:
    """Events API envelopes: event callbacks, url_verification, app_rate_limited."""
    kind = draw(st.sampled_from(["event_callback", "url_verification", "app_rate_limited", "random"]))
    body: dict[str, Any]
    allowed: set[str] = set()
    if kind == "event_callback":
        event: dict[str, Any] = {
            "type": draw(st.sampled_from(EVENT_TYPES) | TEXT, label="event type"),
            "user": draw(st.sampled_from([*SEEDED, STRANGER]) | JUNK, label="user"),
            "tab": draw(st.sampled_from(["home", "messages"]) | JUNK, label="tab"),
            "event_ts": "1700000000.000300",
        }
        event.update(draw(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=3), label="extra"))
        if event["type"] in ("user_change", "team_join") and draw(st.booleans(), label="foreign"):
            # A Slack Connect member of another organisation: never stored.
            event["user"] = {"id": draw(TEXT), "team_id": "T0OTHERORG", "name": "ext", "deleted": True}
        body = {
            "token": TOKEN,
            "team_id": TEAM,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": draw(st.text(min_size=1, max_size=12).map(lambda s: "Ev" + s) | JUNK),
            "event_time": draw(st.integers() | JUNK),
            "authorizations": [{"team_id": TEAM, "user_id": "U0BOT", "is_bot": True}],
        }
        if draw(st.booleans(), label="drop event_id"):
            del body["event_id"]
        if body.get("event_id"):
            # Every delivery is recorded on arrival, before any listener, to drop Slack's retries.
            allowed.add("slack_events")
    elif kind == "url_verification":
        body = {"token": TOKEN, "type": "url_verification", "challenge": draw(JUNK, label="challenge")}
    elif kind == "app_rate_limited":
        body = {
            "token": TOKEN,
            "type": "app_rate_limited",
            "team_id": TEAM,
            "minute_rate_limited": draw(JUNK),
            "api_app_id": APP_ID,
        }
    else:
        body = draw(st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=5))
        body["type"] = draw(st.sampled_from(["event_callback", "url_verification"]) | TEXT)
        if body["type"] == "event_callback" and body.get("event_id"):
            allowed.add("slack_events")
    if kind == "event_callback" and draw(st.booleans(), label="mutate"):
        body = _mutate(draw(st.data()), body, world)
        allowed = {"slack_events"} if body.get("type") == "event_callback" and body.get("event_id") else set()
    event = body.get("event") if isinstance(body.get("event"), dict) else {}
    user = event.get("user")
    # A directory update for a colleague is applied whatever else the envelope holds.
    may_write = (
        body.get("type") == "event_callback"
        and event.get("type") in ("user_change", "team_join")
        and isinstance(user, Mapping)
        and isinstance(user.get("id"), str)
        and not (user.get("team_id") not in (None, "", TEAM) and body.get("team_id"))
    )
    # An uninstall stops sending for good: not something to fuzz into.
    assert event.get("type") not in ("app_uninstalled", "tokens_revoked")
    payload = json.dumps(body).encode()
    return Fuzzed(payload, "application/json", frozenset(allowed), bool(may_write), f"event:{kind}")


# -- the harness -------------------------------------------------------------------------------------------

LEAKS = re.compile(
    r"Traceback|File \"|\b(TypeError|ValueError|KeyError|AttributeError|IndexError|OverflowError"
    r"|UnicodeDecodeError|UnicodeEncodeError|JSONDecodeError|RecursionError|IntegrityError"
    r"|OperationalError|DataError|ProgrammingError|StatementError|SlackApiError)\b|sqlalchemy|psycopg"
)


class ErrorLog(logging.Handler):
    """Collects unhandled errors logged anywhere in the process (the app runs in-process)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock:
            self.records.append(record)

    def take(self) -> list[str]:
        with self._lock:
            records, self.records = self.records, []
        return [self.describe(r) for r in records if not self.tolerated(r)]

    @staticmethod
    def tolerated(record: logging.LogRecord) -> bool:
        """Slack refusing a Web API call about a made-up user, trigger or channel is Slack's answer,
        handled and logged; a Python exception in the app is not."""
        if record.name == "bot.gateway.slack":
            return True
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None:
            return isinstance(exc, SlackApiError)
        message = record.getMessage()
        if message.startswith(("Failed to run an internal function", "Failed to run listener function")):
            return "The request to the Slack API failed" in message
        return record.name.startswith("bot.") and "Slack" in message and "failed" in message

    @staticmethod
    def describe(record: logging.LogRecord) -> str:
        text = f"{record.name}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            text += f" [{record.exc_info[0].__name__}: {record.exc_info[1]}]"  # type: ignore[union-attr]
        return text


def table_rows(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, in primary-key order."""
    with db.engine.connect() as connection:
        return {
            table.name: [
                dict(row._mapping)
                for row in connection.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
        }


# What the app last published on someone's App Home: a record of what Slack was sent (any
# request may refresh the sender's own Home), not a change to what anyone can do or see.
PUBLISHED = frozenset({"home_views"})


def table_hashes(db: Database) -> dict[str, str]:
    """A content hash of every table."""
    return {
        name: hashlib.sha256(repr([tuple(row.values()) for row in rows]).encode()).hexdigest()
        for name, rows in table_rows(db).items()
    }


def restore(db: Database, saved: dict[str, list[dict[str, Any]]]) -> None:
    """Put every table back as it was (same ids), after a request that was entitled to change it."""
    with db.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
        for table in Base.metadata.sorted_tables:
            if saved[table.name]:
                connection.execute(table.insert(), saved[table.name])


# A mutated payload may carry a trigger_id the stand-in never issued, one already used, or none.
MADE_UP_TRIGGER = frozenset({"invalid_trigger_id", "exchanged_trigger_id", "expired_trigger_id"})


def _made_up_trigger(refusal: Refusal) -> bool:
    return refusal.error in MADE_UP_TRIGGER or "missing required field: trigger_id" in str(refusal)


@dataclass
class Harness:
    db: Database
    slack: SlackAppClient
    server: AppServer
    errors: ErrorLog
    world: World
    standin: SlackStandIn
    seen: Counter[str] = field(default_factory=Counter)
    baseline: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    before: dict[str, str] = field(default_factory=dict)

    def check(self, fuzzed: Fuzzed) -> None:
        if not self.baseline:
            self.baseline = table_rows(self.db)
            self.before = table_hashes(self.db)
        self.errors.take()
        response = self.slack.post(fuzzed.body, fuzzed.content_type)
        self.server.settle()
        # Slack's contract holds for fuzzed requests too, except where the fuzz made up the trigger.
        refused = [str(r) for r in self.standin.refusals if not _made_up_trigger(r)]
        self.standin.reset()  # the stand-in's call log only grows otherwise
        after = table_hashes(self.db)
        problems = []
        if response.status_code >= 500:
            problems.append(f"HTTP {response.status_code}")
        if leak := LEAKS.search(response.text):
            problems.append(f"the answer leaks {leak.group(0)!r}: {response.text[:300]!r}")
        problems += [f"logged: {line}" for line in self.errors.take()]
        problems += [f"Slack would refuse: {line}" for line in refused]
        if fuzzed.may_write:
            self.seen["may write"] += 1
            if after != self.before:
                # Entitled to change things; later examples assume the seeded state again.
                restore(self.db, self.baseline)
                after = table_hashes(self.db)
        else:
            changed = sorted(
                name
                for name in after
                if after[name] != self.before[name] and name not in fuzzed.allowed | PUBLISHED
            )
            if changed:
                problems.append(f"changed {changed}")
            self.seen["checked"] += 1
        self.before = after
        self.seen[fuzzed.label.split(":")[0]] += 1
        assert not problems, f"{fuzzed.label}: {problems}\nbody: {unquote_to_bytes(fuzzed.body[:8000])!r}"


@pytest.fixture
def harness(
    db: Database, standin: SlackStandIn, server: AppServer, slack: SlackAppClient
) -> Iterator[Harness]:
    world = seed(db, standin)
    errors = ErrorLog()
    root = logging.getLogger()
    root.addHandler(errors)
    try:
        yield Harness(db, slack, server, errors, world, standin)
    finally:
        root.removeHandler(errors)


FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def test_random_bodies_under_random_content_types(harness: Harness) -> None:
    @FUZZ
    @given(raw_bodies())
    def run(fuzzed: Fuzzed) -> None:
        harness.check(fuzzed)

    run()
    assert harness.seen["checked"] >= 50


def test_hostile_slash_commands(harness: Harness) -> None:
    @FUZZ
    @given(slash_commands(harness.world, harness.standin))
    def run(fuzzed: Fuzzed) -> None:
        harness.check(fuzzed)

    run()
    assert harness.seen["checked"] >= 45


def test_random_interactive_payloads(harness: Harness) -> None:
    @settings(FUZZ, max_examples=40)
    @given(random_interactive(harness.world))
    def run(fuzzed: Fuzzed) -> None:
        harness.check(fuzzed)

    run()
    assert harness.seen["checked"] >= 35


def test_mutated_interactive_payloads_for_every_listener(harness: Harness) -> None:
    @settings(FUZZ, max_examples=200)
    @given(interactive(harness.world, harness.standin))
    def run(fuzzed: Fuzzed) -> None:
        harness.check(fuzzed)

    run()
    assert harness.seen["checked"] >= 80
    assert harness.seen["action"] >= 50 and harness.seen["view"] >= 40


def test_events_api_envelopes(harness: Harness) -> None:
    @FUZZ
    @given(events(harness.world))
    def run(fuzzed: Fuzzed) -> None:
        harness.check(fuzzed)

    run()
    assert harness.seen["checked"] >= 45


def test_every_listener_with_every_kind_of_sender(harness: Harness, server: AppServer) -> None:
    """The realistic payload of every registered action and view, unmutated, from each seeded
    member and a stranger (and from App Home where the button is there): only the entitled
    change anything."""
    assert set(ACTIONS) == server.app.registry.actions
    assert set(VIEWS) == server.app.registry.views
    assert set(TOPIC_SELECTS) == server.app.registry.options
    made = Payloads(harness.world, harness.standin)
    for actor in (*SEEDED, STRANGER):
        for name in ACTIONS:
            for in_home in (False, True) if name in HOME_ACTIONS else (False,):
                harness.check(
                    _as_payload(made.block_action(actor, name, in_home=in_home), name, harness.world)
                )
        for name in VIEWS:
            harness.check(_as_payload(made.view_submission(actor, name), name, harness.world))
    assert harness.seen["checked"] >= 130


# -- regressions: what the fuzz found, one example each -------------------------------------------------


def _payload(harness: Harness, payload: dict[str, Any]) -> Fuzzed:
    return _as_payload(payload, "regression", harness.world)


def test_block_actions_with_no_action_is_refused_not_a_500(harness: Harness) -> None:
    payload = Payloads(harness.world, harness.standin).block_action(
        BOB, request_blocks.ASK_ACTION, in_home=False
    )
    payload["actions"] = []
    harness.check(_payload(harness, payload))


def test_interactive_payload_from_nobody_is_refused(harness: Harness) -> None:
    payload = Payloads(harness.world, harness.standin).block_action(BOB, FIND_PAGE_ACTION, in_home=False)
    del payload["user"]
    harness.check(_payload(harness, payload))


def test_a_view_whose_state_block_is_not_an_object_gets_field_errors(harness: Harness) -> None:
    payload = Payloads(harness.world, harness.standin).view_submission(
        STRANGER, request_blocks.REQUEST_CALLBACK
    )
    payload["view"]["state"]["values"]["duration"] = " "
    harness.check(_payload(harness, payload))


@pytest.mark.parametrize("metadata", ["²", "99999999999999999999999", "1" * 5000])
def test_request_ids_that_are_not_ids_change_nothing(harness: Harness, metadata: str) -> None:
    payload = Payloads(harness.world, harness.standin).view_submission(ALICE, request_blocks.DECLINE_CALLBACK)
    payload["view"]["private_metadata"] = metadata
    harness.check(_payload(harness, payload))


def test_a_refused_redirect_leaves_no_stub_person(harness: Harness) -> None:
    """Only the addressed expert may suggest someone else; EVE's forged submission stores nobody."""
    payload = Payloads(harness.world, harness.standin).view_submission(EVE, request_blocks.REDIRECT_CALLBACK)
    harness.check(_payload(harness, payload))
    with harness.db.session() as session:
        assert profiles.get_person(session, "UFUZZSTUB") is None


def test_accept_clicked_in_app_home_by_someone_else_is_answered_by_dm(harness: Harness) -> None:
    """App Home clicks carry no response_url: the refusal goes to the clicker's DM instead of raising."""
    payload = Payloads(harness.world, harness.standin).block_action(
        EVE, request_blocks.ACCEPT_ACTION, in_home=True
    )
    harness.check(_payload(harness, payload))
    replies = harness.standin.messages_in(harness.standin.dm_channel(EVE))
    assert any("Only Alice Moreau can answer" in m.get("text", "") for m in replies)
