"""The stand-in refuses what Slack refuses: one test per kind of refusal, so strictness cannot rot.

Each call below is one real Slack would refuse; the stand-in must answer it the way Slack does
and keep a ``Refusal`` (which fails any app test at teardown, tests/conftest.py).
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.devtools.slack_client import SlackAppClient, last_view_opened
from bot.devtools.standin import SlackStandIn, spec

TOKEN = "xoxb-contract"
SECRET = "contract-signing-secret"
SPEC = Path(__file__).resolve().parents[1].parent / "shared" / "slack" / "slack_web_openapi_v2.json"


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with SlackStandIn(bot_token=TOKEN) as stand_in:
        stand_in.add_user("U1", name="alice", real_name="Alice Smith")
        stand_in.add_user("U2", name="bob", real_name="Bob Jones")
        yield stand_in


@pytest.fixture
def client(standin: SlackStandIn) -> WebClient:
    return WebClient(base_url=standin.url, token=TOKEN)


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def option(i: int) -> dict[str, Any]:
    return {"text": plain(f"Option {i}"), "value": f"v{i}"}


def section(text: str = "Hello") -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def actions(element: dict[str, Any]) -> dict[str, Any]:
    return {"type": "actions", "elements": [{"action_id": "a", **element}]}


def text_input(**element: Any) -> dict[str, Any]:
    return {
        "type": "input",
        "label": plain("Goal"),
        "element": {"type": "plain_text_input", "action_id": "goal", **element},
    }


def modal(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"type": "modal", "title": plain("Ask"), "submit": plain("Send"), "blocks": list(blocks)}


def refused(call: Any) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as info:
        call()
    return dict(info.value.response.data)  # type: ignore[arg-type]


INVALID_BLOCKS = {
    "section without text": [{"type": "section"}],
    "radio buttons with 11 options": [
        actions({"type": "radio_buttons", "options": [option(i) for i in range(11)]})
    ],
    "overflow with 1 option": [actions({"type": "overflow", "options": [option(1)]})],
    "overflow with 6 options": [actions({"type": "overflow", "options": [option(i) for i in range(6)]})],
    "initial_option not among the options": [
        actions({"type": "static_select", "options": [option(1)], "initial_option": option(2)})
    ],
    "emoji on mrkdwn": [{"type": "section", "text": {"type": "mrkdwn", "text": "x", "emoji": True}}],
    "section text over 3000": [section("x" * 3001)],
    "51 blocks": [section() for _ in range(51)],
    "unknown block type": [{"type": "carousel"}],
    "button text over 75": [actions({"type": "button", "text": plain("b" * 76)})],
    "empty context": [{"type": "context", "elements": []}],
}


@pytest.mark.parametrize("blocks", INVALID_BLOCKS.values(), ids=INVALID_BLOCKS.keys())
def test_invalid_blocks_in_a_message_are_refused(
    standin: SlackStandIn, client: WebClient, blocks: list[dict[str, Any]]
) -> None:
    answer = refused(lambda: client.chat_postMessage(channel="U1", text="fallback", blocks=blocks))
    assert answer["error"] == "invalid_blocks" and answer["response_metadata"]["messages"]
    assert [r.error for r in standin.refusals] == ["invalid_blocks"]
    assert standin.messages_in("U1") == []


INVALID_VIEWS = {
    "button in an input block": modal(
        {"type": "input", "label": plain("x"), "element": {"type": "button", "text": plain("b")}}
    ),
    "max_length 5000": modal(text_input(max_length=5000)),
    "hint over 2000": modal({**text_input(), "hint": plain("h" * 2001)}),
    "101 blocks": modal(*[section() for _ in range(101)]),
    "inputs without submit": {**modal(text_input()), "submit": None},
    "title over 24": {**modal(section()), "title": plain("A title far longer than allowed")},
    "checkboxes with 11 options": modal(
        {
            "type": "input",
            "label": plain("x"),
            "element": {"type": "checkboxes", "action_id": "c", "options": [option(i) for i in range(11)]},
        }
    ),
}


@pytest.mark.parametrize("view", INVALID_VIEWS.values(), ids=INVALID_VIEWS.keys())
def test_invalid_views_are_refused(standin: SlackStandIn, client: WebClient, view: dict[str, Any]) -> None:
    trigger = standin.new_trigger_id("U1")
    answer = refused(lambda: client.views_open(trigger_id=trigger, view=view))
    assert answer["error"] == "invalid_arguments" and answer["response_metadata"]["messages"]
    home = {"type": "home", "blocks": view["blocks"]}
    if view["blocks"] != modal(text_input())["blocks"] and "title" not in str(answer):
        assert refused(lambda: client.views_publish(user_id="U1", view=home))["error"] == "invalid_arguments"
    assert {r.error for r in standin.refusals} == {"invalid_arguments"}


def test_messages_beyond_slacks_limits_are_refused(standin: SlackStandIn, client: WebClient) -> None:
    assert refused(lambda: client.chat_postMessage(channel="U1", text="x" * 40001))["error"] == "msg_too_long"
    no_event_type = {"event_payload": {"id": 1}}
    assert (
        refused(lambda: client.chat_postMessage(channel="U1", text="x", metadata=no_event_type))["error"]
        == "invalid_metadata_format"
    )
    # Blocks need a text fallback: notifications and screen readers show nothing without it.
    assert (
        refused(lambda: client.api_call("chat.postMessage", json={"channel": "U1", "blocks": [section()]}))[
            "error"
        ]
        == "invalid_arguments"
    )
    assert [r.error for r in standin.refusals] == [
        "msg_too_long",
        "invalid_metadata_format",
        "invalid_arguments",
    ]


def test_unknown_methods_and_missing_arguments_are_refused(standin: SlackStandIn, client: WebClient) -> None:
    assert refused(lambda: client.api_call("chat.nonsense"))["error"] == "unknown_method"
    answer = refused(lambda: client.api_call("usergroups.users.list", params={}))
    assert answer["error"] == "invalid_arguments"
    assert answer["response_metadata"]["messages"] == ["[ERROR] missing required field: usergroup"]
    assert refused(lambda: client.api_call("users.info", params={}))["error"] == "invalid_arguments"


def test_scopes_come_from_the_manifest_and_missing_ones_are_refused(standin: SlackStandIn) -> None:
    granted = set(spec.manifest_scopes())
    assert {"im:history", "mpim:history", "chat:write", "files:write"} <= granted
    answer = httpx.post(f"{standin.url}auth.test", headers={"Authorization": f"Bearer {TOKEN}"})
    assert set(answer.headers["X-OAuth-Scopes"].split(",")) == granted

    with SlackStandIn(bot_token=TOKEN, scopes=tuple(granted - {"im:history", "mpim:write"})) as narrow:
        narrow.add_user("U1", name="alice")
        client = WebClient(base_url=narrow.url, token=TOKEN)
        dm = client.conversations_open(users="U1")["channel"]["id"]  # im:write is there
        answer = refused(lambda: client.conversations_history(channel=dm))
        assert (answer["error"], answer["needed"]) == ("missing_scope", "im:history")
        assert "im:history" not in answer["provided"].split(",")
        narrow.add_user("U2", name="bob")
        assert refused(lambda: client.conversations_open(users="U1,U2"))["needed"] == "mpim:write"
        # users.profile.get needs users.profile:read, which infochat never asks for.
        assert refused(lambda: client.users_profile_get(user="U1"))["needed"] == "users.profile:read"
        assert [r.error for r in narrow.refusals] == ["missing_scope"] * 3


def test_trigger_ids_must_be_issued_fresh_and_used_once(standin: SlackStandIn, client: WebClient) -> None:
    view = modal(text_input())
    assert refused(lambda: client.views_open(trigger_id="1.2.made-up", view=view))["error"] == (
        "invalid_trigger_id"
    )
    late = standin.new_trigger_id("U1")
    standin.advance(3.01)  # the stand-in's clock: no sleeping, and a loaded machine cannot fake it
    assert refused(lambda: client.views_open(trigger_id=late, view=view))["error"] == "expired_trigger_id"
    fresh = standin.new_trigger_id("U1")
    client.views_open(trigger_id=fresh, view=view)
    assert refused(lambda: client.views_open(trigger_id=fresh, view=view))["error"] == "exchanged_trigger_id"
    assert [r.error for r in standin.refusals] == [
        "invalid_trigger_id",
        "expired_trigger_id",
        "exchanged_trigger_id",
    ]


def test_channels_need_the_bot_as_a_member(standin: SlackStandIn, client: WebClient) -> None:
    assert (
        refused(lambda: client.chat_postMessage(channel="C0GENERAL", text="hi"))["error"] == "not_in_channel"
    )
    # Reading it needs channels:history first, which infochat does not ask for.
    assert refused(lambda: client.conversations_history(channel="C0GENERAL"))["error"] == "missing_scope"
    assert refused(lambda: client.chat_postMessage(channel="C0NOWHERE", text="hi"))["error"] == (
        "channel_not_found"
    )
    standin.add_channel("C0HR", name="hr")
    assert client.chat_postMessage(channel="C0HR", text="hi")["ok"]
    assert [r.error for r in standin.refusals] == ["not_in_channel", "missing_scope"]


def test_uploads_are_shared_in_a_conversation_not_to_a_user_id(
    standin: SlackStandIn, client: WebClient
) -> None:
    url = client.files_getUploadURLExternal(filename="r.csv", length=3)
    assert httpx.post(url["upload_url"], content=b"a,b").status_code == 200
    files = [{"id": url["file_id"], "title": "r"}]
    answer = refused(lambda: client.files_completeUploadExternal(files=files, channel_id="U1"))
    assert answer["error"] == "invalid_channel"
    dm = client.conversations_open(users="U1")["channel"]["id"]
    assert client.files_completeUploadExternal(files=files, channel_id=dm)["ok"]
    assert [r.error for r in standin.refusals] == ["invalid_channel"]


def test_response_urls_take_valid_messages_five_times_within_30_minutes(standin: SlackStandIn) -> None:
    url = standin.new_response_url(user_id="U1", channel_id="C0GENERAL")
    too_many = httpx.post(url, json={"text": "x", "blocks": [section() for _ in range(51)]})
    assert (too_many.status_code, too_many.json()["error"]) == (400, "invalid_blocks")
    shout = httpx.post(url, json={"text": "x", "response_type": "shout"})
    assert (shout.status_code, shout.json()["error"]) == (400, "invalid_response_type")
    assert httpx.post(url, json={}).json()["error"] == "no_text"
    for _ in range(5):
        assert httpx.post(url, json={"text": "fine", "response_type": "ephemeral"}).status_code == 200
    assert httpx.post(url, json={"text": "sixth"}).json()["error"] == "used_url"
    later = standin.new_response_url(user_id="U1")
    standin.advance(30 * 60 + 1)
    assert httpx.post(later, json={"text": "late"}).json()["error"] == "expired_url"
    assert [r.error for r in standin.refusals] == [
        "invalid_blocks",
        "invalid_response_type",
        "no_text",
        "used_url",
        "expired_url",
    ]
    assert len(standin.responses) == 5


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # the base class's signature
        pass


def test_the_apps_own_answers_are_checked_when_the_client_receives_them(standin: SlackStandIn) -> None:
    """A Bolt app answering badly: each answer Slack would refuse is kept as a refusal."""
    app = App(signing_secret=SECRET, client=WebClient(base_url=standin.url, token=TOKEN))
    view = modal(text_input())
    view["blocks"][0]["block_id"] = "goal"

    @app.command("/infochat")
    def on_command(ack: Any, body: dict[str, Any]) -> None:
        ack(response_type="shout", text="Hello")

    @app.view("ask")
    def on_submit(ack: Any) -> None:
        ack(response_action="errors", errors={"not_an_input": "Nope"})

    @app.view("push")
    def on_push(ack: Any) -> None:
        ack(response_action="push", view={**view, "title": plain("x" * 30)})

    @app.options("topics")
    def on_options(ack: Any) -> None:
        ack(options=[{"text": plain("t" * 80), "value": "t"}])

    server: WSGIServer = make_server("127.0.0.1", 0, SlackRequestHandler(app), handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    slack = SlackAppClient(f"http://127.0.0.1:{server.server_port}/slack/events", SECRET, standin)
    try:
        slack.command("U1", "hi")
        slack.view_submission("U1", {**view, "callback_id": "ask"}, {})
        slack.view_submission("U1", {**view, "callback_id": "push"}, {})
        slack.block_suggestion("U1", "topics", "t")
    finally:
        slack.close()
        server.shutdown()
        server.server_close()
    assert [(r.source, r.what) for r in standin.refusals] == [
        ("app_answer", "slash_command"),
        ("app_answer", "view_submission"),
        ("app_answer", "view_submission"),
        ("app_answer", "block_suggestion"),
    ]
    details = " ".join(d for r in standin.refusals for d in r.details)
    assert "shout" in details and "not_an_input" in details and "title" in details and "75" in details


def test_valid_calls_pass_and_leave_no_refusal(standin: SlackStandIn, client: WebClient) -> None:
    blocks = [
        section(),
        actions({"type": "overflow", "options": [option(1), option(2)]}),
        {
            "type": "actions",
            "elements": [
                {
                    "type": "radio_buttons",
                    "action_id": "r",
                    "options": [option(i) for i in range(10)],
                    "initial_option": option(3),
                }
            ],
        },
    ]
    client.chat_postMessage(
        channel="U1", text="ok", blocks=blocks, metadata={"event_type": "x", "event_payload": {"id": 1}}
    )
    client.views_open(trigger_id=standin.new_trigger_id("U1"), view=modal(text_input(max_length=3000)))
    view = last_view_opened(standin, "U1")
    client.views_update(view_id=view["id"], view=modal(copy.deepcopy(text_input())))
    assert standin.refusals == []


@pytest.mark.skipif(not SPEC.exists(), reason="Slack's spec lives in ../shared, beside the repository")
def test_the_shipped_method_table_matches_slacks_spec() -> None:
    assert spec.build_table(json.loads(SPEC.read_text())) == json.loads(spec.TABLE.read_text())
    for method in ("files.getUploadURLExternal", "files.completeUploadExternal", "apps.connections.open"):
        assert method in spec.methods()
