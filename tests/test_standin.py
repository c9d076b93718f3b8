"""Tests of the Slack Web API stand-in and the signed-request client, through real slack_sdk clients."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier

from bot.devtools.slack_client import SlackAppClient, last_view_opened
from bot.devtools.standin import SlackStandIn, render_blocks

TOKEN = "xoxb-standin-test"
SECRET = "standin-signing-secret"


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with SlackStandIn(bot_token=TOKEN) as stand_in:
        stand_in.add_user("U1", name="alice", real_name="Alice Smith", email="alice@example.com")
        stand_in.add_user("U2", name="bob", real_name="Bob Jones")
        stand_in.add_user("U3", name="carol", real_name="Carol White")
        stand_in.add_user("UGONE", name="gone", deleted=True)
        stand_in.add_user("UBOT2", name="otherbot", is_bot=True)
        yield stand_in


@pytest.fixture
def client(standin: SlackStandIn) -> WebClient:
    # No retry handlers beyond slack_sdk's default (connection errors only).
    return WebClient(base_url=standin.url, token=TOKEN)


SAMPLE_MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "profile",
    "private_metadata": "v1",
    "title": {"type": "plain_text", "text": "Your profile"},
    "submit": {"type": "plain_text", "text": "Save"},
    "blocks": [
        {
            "type": "input",
            "block_id": "function",
            "label": {"type": "plain_text", "text": "Your function"},
            "element": {
                "type": "static_select",
                "action_id": "pick",
                "options": [
                    {"text": {"type": "plain_text", "text": "Engineering"}, "value": "eng"},
                    {"text": {"type": "plain_text", "text": "Finance"}, "value": "fin"},
                ],
            },
        },
        {
            "type": "input",
            "block_id": "speak",
            "label": {"type": "plain_text", "text": "Topics I can speak about"},
            "element": {"type": "multi_external_select", "action_id": "topics"},
        },
        {
            "type": "input",
            "block_id": "learn",
            "label": {"type": "plain_text", "text": "Topics I want to learn"},
            "element": {"type": "plain_text_input", "action_id": "text"},
        },
        {
            "type": "input",
            "block_id": "pm",
            "label": {"type": "plain_text", "text": "Chats per month"},
            "element": {"type": "number_input", "action_id": "n", "is_decimal_allowed": False},
        },
        {
            "type": "input",
            "block_id": "weekly",
            "optional": True,
            "label": {"type": "plain_text", "text": "Weekly pairing"},
            "element": {
                "type": "radio_buttons",
                "action_id": "on",
                "initial_option": {"text": {"type": "plain_text", "text": "Off"}, "value": "off"},
                "options": [
                    {"text": {"type": "plain_text", "text": "On"}, "value": "on"},
                    {"text": {"type": "plain_text", "text": "Off"}, "value": "off"},
                ],
            },
        },
        {
            "type": "input",
            "block_id": "who",
            "optional": True,
            "label": {"type": "plain_text", "text": "Who else should I talk to?"},
            "element": {"type": "users_select", "action_id": "u"},
        },
    ],
}


def test_posted_message_is_recorded_and_shown_in_transcript(standin: SlackStandIn, client: WebClient) -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "A chat request"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "<@U2> asks about *pricing* &amp; more"}},
        {
            "type": "actions",
            "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Accept"}, "value": "1"}],
        },
    ]
    resp = client.chat_postMessage(channel="U1", text="fallback", blocks=blocks)
    assert resp["ok"] and resp["channel"].startswith("D") and resp["message"]["blocks"] == blocks

    [call] = standin.calls_to("chat.postMessage")
    assert call.token == TOKEN and call.params["blocks"] == blocks and call.status == 200
    assert standin.transcript() == [
        "DM to Alice Smith: # A chat request\n@Bob Jones asks about *pricing* & more\n[Accept]"
    ]
    second = client.chat_postMessage(channel=resp["channel"], text="again")
    assert float(second["ts"]) > float(resp["ts"])
    history = client.conversations_history(channel=resp["channel"], oldest=resp["ts"])
    assert [m["text"] for m in history["messages"]] == ["again"]
    assert [m["ts"] for m in client.conversations_history(channel=resp["channel"])["messages"]] == [
        second["ts"],
        resp["ts"],
    ]


def test_a_request_cut_off_by_a_dying_client_is_no_call(standin: SlackStandIn, client: WebClient) -> None:
    # A sender killed between its headers and the end of its body: Slack never sees a call, so
    # the stand-in must neither act on the part that arrived nor refuse it for missing fields.
    body = b"channel=U1&text=hello"
    for framing in (
        b"Content-Length: 200\r\n\r\n" + body,
        b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % 200 + body,
        b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(body) + body + b"\r\n",
    ):
        host, port = standin.url.removeprefix("http://").split("/")[0].split(":")
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(
                b"POST /api/chat.postMessage HTTP/1.1\r\nHost: slack.com\r\n"
                b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n" + framing
            )
            sock.shutdown(socket.SHUT_WR)
            assert sock.recv(100) == b""  # hung up on, no answer
    # The same stand-in still answers a whole request.
    assert client.chat_postMessage(channel="U1", text="whole")["ok"]
    assert [c.params["text"] for c in standin.calls_to("chat.postMessage", include_failed=True)] == ["whole"]
    assert list(standin.refusals) == []


def test_429_raises_without_retry_and_is_retried_with_handler(
    standin: SlackStandIn, client: WebClient
) -> None:
    standin.fail("chat.postMessage", status=429, retry_after=1)
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel="U1", text="hi")
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "1"
    assert info.value.response["error"] == "ratelimited"

    standin.reset()
    standin.fail("chat.postMessage", status=429, retry_after=1)
    retrying = WebClient(base_url=standin.url, token=TOKEN, retry_handlers=[RateLimitErrorRetryHandler()])
    started = time.monotonic()
    assert retrying.chat_postMessage(channel="U1", text="hi")["ok"]
    assert time.monotonic() - started >= 0.9
    attempts = standin.calls_to("chat.postMessage", include_failed=True)
    assert [(c.status, c.ok) for c in attempts] == [(429, False), (200, True)]
    assert attempts[1].at - attempts[0].at >= 0.9


def test_injected_errors_are_consumed_in_order(standin: SlackStandIn, client: WebClient) -> None:
    standin.fail("chat.postMessage", error="user_disabled")
    standin.fail("*", status=503, times=2)
    with pytest.raises(SlackApiError) as first:
        client.chat_postMessage(channel="U1", text="x")
    assert first.value.response.status_code == 200 and first.value.response["error"] == "user_disabled"
    for _ in range(2):
        with pytest.raises(SlackApiError) as other:
            client.users_info(user="U1")
        assert other.value.response.status_code == 503
    assert client.users_info(user="U1")["user"]["real_name"] == "Alice Smith"
    assert [c.ok for c in standin.calls] == [False, False, False, True]
    assert standin.transcript() == []


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_real_slack_errors(standin: SlackStandIn, client: WebClient) -> None:
    def error(call: Any) -> str:
        with pytest.raises(SlackApiError) as info:
            call()
        return str(info.value.response["error"])

    assert error(lambda: WebClient(base_url=standin.url).auth_test()) == "not_authed"
    assert error(lambda: WebClient(base_url=standin.url, token="xoxb-wrong").auth_test()) == "invalid_auth"
    assert error(lambda: client.api_call("chat.nonsense")) == "unknown_method"
    assert error(lambda: client.chat_postMessage(channel="UGONE", text="x")) == "user_disabled"
    assert error(lambda: client.chat_postMessage(channel="UBOT2", text="x")) == "cannot_dm_bot"
    assert error(lambda: client.conversations_open(users="UGONE")) == "user_disabled"
    assert error(lambda: client.users_info(user="UNOPE")) == "user_not_found"
    assert error(lambda: client.users_lookupByEmail(email="nobody@example.com")) == "users_not_found"
    assert error(lambda: client.views_open(trigger_id="", view=SAMPLE_MODAL)) == "invalid_arguments"
    assert error(lambda: client.views_open(trigger_id="1.2.never", view=SAMPLE_MODAL)) == "invalid_trigger_id"
    long_title = {**SAMPLE_MODAL, "title": {"type": "plain_text", "text": "A title far longer than allowed"}}
    assert error(lambda: client.views_open(trigger_id="t", view=long_title)) == "invalid_arguments"
    assert error(lambda: client.chat_postMessage(channel="U1")) == "no_text"
    assert client.users_lookupByEmail(email="ALICE@example.com")["user"]["id"] == "U1"
    assert client.auth_test()["user_id"] == "U0BOT"
    assert len(standin.calls_to("chat.nonsense", include_failed=True)) == 1


def test_users_list_paginates_every_user_once(standin: SlackStandIn, client: WebClient) -> None:
    mine = {f"UP{i:04d}" for i in range(250)}
    for uid in sorted(mine):
        standin.add_user(uid, name=uid.lower())
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = client.users_list(limit=100, cursor=cursor)
        pages += 1
        assert len(page["members"]) <= 100
        seen += [m["id"] for m in page["members"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen))
    assert mine <= set(seen) and pages == 3
    assert {"U0BOT", "USLACKBOT"} <= set(seen)  # Slack lists the app's bot user and Slackbot too


def test_conversations_open_gives_stable_ids(standin: SlackStandIn, client: WebClient) -> None:
    dm = client.conversations_open(users="U1")["channel"]["id"]
    assert dm.startswith("D") and client.conversations_open(users=["U1"])["channel"]["id"] == dm
    group = client.conversations_open(users="U1,U2,U3")["channel"]["id"]
    assert group[0] in "GC" and group != dm
    again = client.conversations_open(users=["U3", "U1", "U2"], return_im=True)
    assert again["channel"]["id"] == group and again["already_open"]
    assert client.conversations_open(users="U1,U2")["channel"]["id"] != group
    assert client.conversations_open(users="U1", return_im=True)["channel"]["user"] == "U1"
    client.chat_postMessage(channel=group, text="Meet each other: <@U1> <@U2> <@U3>")
    assert standin.transcript() == [
        "group DM Alice Smith, Bob Jones, Carol White: Meet each other: @Alice Smith @Bob Jones @Carol White"
    ]


def test_file_upload_round_trip(standin: SlackStandIn, client: WebClient) -> None:
    data = b"topic,chats\npricing,3\n"
    dm = client.conversations_open(users="U1")["channel"]["id"]
    resp = client.files_upload_v2(
        channel=dm, filename="report.csv", content=data, initial_comment="Your report"
    )
    file_id = resp["file"]["id"]
    assert standin.uploaded_files[file_id] == ("report.csv", data, dm)
    assert standin.transcript()[-1] == "DM to Alice Smith: [file: report.csv] Your report"
    [complete] = standin.calls_to("files.completeUploadExternal")
    assert complete.params["files"][0]["id"] == file_id


def test_modals_home_and_response_urls(standin: SlackStandIn, client: WebClient) -> None:
    trigger = standin.new_trigger_id("U1")
    opened = client.views_open(trigger_id=trigger, view=SAMPLE_MODAL)["view"]
    assert opened["id"].startswith("V") and opened["state"] == {"values": {}} and opened["hash"]
    with pytest.raises(SlackApiError, match="exchanged_trigger_id"):
        client.views_open(trigger_id=trigger, view=SAMPLE_MODAL)
    updated = client.views_update(view_id=opened["id"], view={**SAMPLE_MODAL, "private_metadata": "v2"})
    assert last_view_opened(standin, "U1")["private_metadata"] == "v2"
    with pytest.raises(SlackApiError, match="hash_conflict"):
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=SAMPLE_MODAL)
    assert updated["view"]["id"] == opened["id"]
    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi *Alice*"}}]}
    client.views_publish(user_id="U1", view=home)
    url = standin.new_response_url(user_id="U2", channel_id="C0GENERAL")
    assert httpx.post(url, json={"text": "Only you can see this"}).status_code == 200
    assert standin.responses[0].payload == {"text": "Only you can see this"}
    assert standin.transcript() == [
        "modal opened for Alice Smith: Your profile",
        "modal updated for Alice Smith: Your profile",
        "App Home of Alice Smith: Hi *Alice*",
        "ephemeral to Bob Jones: Only you can see this",
    ]


def test_wait_for_times_out_with_useful_message(standin: SlackStandIn, client: WebClient) -> None:
    client.chat_postMessage(channel="U1", text="hello")
    threading.Timer(0.2, lambda: client.chat_postMessage(channel="U2", text="later")).start()
    standin.wait_for(lambda: len(standin.calls_to("chat.postMessage")) == 2)
    with pytest.raises(
        AssertionError, match=r"(?s)not met within 0.1s.*chat.postMessage.*DM to Bob Jones: later"
    ):
        standin.wait_for(lambda: standin.calls_to("views.open")[0].ok, timeout=0.1)


def test_render_blocks_covers_common_blocks() -> None:
    text = render_blocks(
        [
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "<https://x.example|docs> &lt;3"}]},
            {"type": "divider"},
            {
                "type": "input",
                "label": {"type": "plain_text", "text": "Your function"},
                "element": {"type": "static_select", "placeholder": {"type": "plain_text", "text": "Pick"}},
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "<!channel> hi"},
                "accessory": {"type": "button", "text": {"type": "plain_text", "text": "We met"}},
            },
        ]
    )
    assert text == "docs <3\n---\nYour function: [Pick v]\n@channel hi  [We met]"


def test_sign_is_verified_by_slack_sdk() -> None:
    client = SlackAppClient("http://127.0.0.1:9/slack/events", SECRET)
    try:
        body = b"token=x&command=%2Finfochat&text=help"
        headers = client.sign(body)
        verifier = SignatureVerifier(SECRET)
        assert verifier.is_valid_request(body, headers)
        assert not SignatureVerifier("other").is_valid_request(body, headers)
        assert not verifier.is_valid_request(body, client.sign(body, timestamp=int(time.time()) - 600))
    finally:
        client.close()


def test_fill_builds_state_values_by_label(standin: SlackStandIn) -> None:
    client = SlackAppClient("http://127.0.0.1:9/slack/events", SECRET, standin)
    try:
        values = client.fill(
            SAMPLE_MODAL,
            {
                "function": "finance",
                "speak about": ["pricing", "SQL"],
                "learn": ["design", "sales"],
                "per month": 2,
            },
        )
        assert values["function"]["pick"] == {
            "type": "static_select",
            "selected_option": {"text": {"type": "plain_text", "text": "Finance"}, "value": "fin"},
        }
        assert [o["value"] for o in values["speak"]["topics"]["selected_options"]] == ["pricing", "SQL"]
        assert values["learn"]["text"] == {"type": "plain_text_input", "value": "design, sales"}
        assert values["pm"]["n"] == {"type": "number_input", "value": "2"}
        assert values["weekly"]["on"]["selected_option"]["value"] == "off"  # initial value kept
        assert values["who"]["u"] == {"type": "users_select", "selected_user": None}
        on = client.fill(SAMPLE_MODAL, {"weekly": True, "who else": "U2"})
        assert (
            on["weekly"]["on"]["selected_option"]["value"] == "on" and on["who"]["u"]["selected_user"] == "U2"
        )
        with pytest.raises(KeyError, match="Your function"):
            client.fill(SAMPLE_MODAL, {"favourite colour": "red"})
        with pytest.raises(ValueError, match="Engineering"):
            client.fill(SAMPLE_MODAL, {"function": "Marketing"})
    finally:
        client.close()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # the base class's signature
        pass


def test_bolt_app_round_trip(standin: SlackStandIn) -> None:
    """A real Bolt app accepts every kind of signed request the client sends, and its calls land here."""
    app = App(signing_secret=SECRET, client=WebClient(base_url=standin.url, token=TOKEN))
    seen: dict[str, Any] = {}

    @app.command("/infochat")
    def on_command(ack: Any, body: dict[str, Any], client: WebClient, respond: Any) -> None:
        ack()
        seen["command"] = body
        client.views_open(trigger_id=body["trigger_id"], view=SAMPLE_MODAL)
        respond("Opening your profile")

    @app.view("profile")
    def on_submit(ack: Any, view: dict[str, Any]) -> None:
        seen["values"] = view["state"]["values"]
        ack(response_action="errors", errors={"function": "Pick one"})

    @app.action("accept")
    def on_accept(ack: Any, body: dict[str, Any], respond: Any) -> None:
        ack()
        seen["action"] = body["actions"][0]
        respond(replace_original=True, text="Accepted")

    @app.event("app_home_opened")
    def on_home(event: dict[str, Any]) -> None:
        seen["event"] = event

    server: WSGIServer = make_server("127.0.0.1", 0, SlackRequestHandler(app), handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    slack = SlackAppClient(f"http://127.0.0.1:{server.server_port}/slack/events", SECRET, standin)
    try:
        assert slack.command("U1", "profile").status_code == 200
        standin.wait_for(lambda: len(standin.responses) == 1 and bool(standin.calls_to("views.open")))
        assert seen["command"]["user_name"] == "alice"
        assert seen["command"]["response_url"].startswith(standin.root + "/respond/")
        view = last_view_opened(standin, "U1")
        answer = slack.submit("U1", view, {"function": "Engineering", "per month": 3})
        assert answer.json() == {"response_action": "errors", "errors": {"function": "Pick one"}}
        assert seen["values"][view["blocks"][0]["block_id"]]["pick"]["selected_option"]["value"] == "eng"

        posted = WebClient(base_url=standin.url, token=TOKEN).chat_postMessage(
            channel="U2",
            text="Request",
            blocks=[
                {
                    "type": "actions",
                    "block_id": "req",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": "accept",
                            "value": "42",
                            "text": {"type": "plain_text", "text": "Accept"},
                        }
                    ],
                }
            ],
        )
        assert slack.block_action("U2", "accept", message=posted["message"]).status_code == 200
        standin.wait_for(lambda: len(standin.responses) == 2)
        assert seen["action"]["value"] == "42" and seen["action"]["block_id"] == "req"
        assert standin.transcript()[-1] == "message replaced for Bob Jones: Accepted"

        assert slack.event({"type": "app_home_opened", "user": "U1", "tab": "home"}).status_code == 200
        standin.wait_for(lambda: "event" in seen)
        assert slack.post(b"{}", "application/json", signed=False).status_code == 401
        assert slack.post(b"{}", "application/json", headers={"X-Slack-Signature": "v0=0"}).status_code == 401
    finally:
        slack.close()
        server.shutdown()
        server.server_close()
