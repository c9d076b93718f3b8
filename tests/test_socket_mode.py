"""Socket Mode: the stand-in's WebSocket side, then `infochat serve --socket` as an operator runs it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.devtools.standin import APP_ID, SlackStandIn
from tests.conftest import BOT_TOKEN, SIGNING_SECRET


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _slash_command(standin: SlackStandIn, user_id: str, text: str) -> dict[str, Any]:
    """A slash command as Slack puts it in a Socket Mode envelope: the HTTP form fields as a dict."""
    return {
        "token": "unused-in-socket-mode",
        "team_id": standin.team_id,
        "team_domain": "infochat-test",
        "channel_id": "C0GENERAL",
        "channel_name": "general",
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": "/infochat",
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": standin.new_response_url(user_id=user_id, channel_id="C0GENERAL"),
        "trigger_id": standin.new_trigger_id(user_id),
    }


def _event_callback(standin: SlackStandIn, event: dict[str, Any]) -> dict[str, Any]:
    return {
        "token": "unused-in-socket-mode",
        "team_id": standin.team_id,
        "api_app_id": APP_ID,
        "event": {"event_ts": f"{time.time():.6f}", **event},
        "type": "event_callback",
        "event_id": f"Ev{time.monotonic_ns()}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": standin.team_id,
                "user_id": standin.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }


# --------------------------------------------------------------------------- the stand-in alone


@pytest.fixture
def sm_client(standin: SlackStandIn) -> Iterator[SocketModeClient]:
    """slack_sdk's built-in client (what Bolt's SocketModeHandler uses), acking every envelope."""
    client = SocketModeClient(
        app_token=standin.app_token,
        web_client=WebClient(base_url=standin.url),
        ping_interval=1,
    )

    def ack(client: SocketModeClient, req: SocketModeRequest) -> None:
        payload = {"text": f"got {req.type}"} if req.accepts_response_payload else None
        client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id, payload=payload))

    client.socket_mode_request_listeners.append(ack)  # type: ignore[arg-type]
    yield client
    # Hang up from the server side first: the client's own close otherwise waits out its 3 s recv timeout.
    client.auto_reconnect_enabled = False
    standin.socket_close(1000, "test over")
    _wait(lambda: not client.is_connected(), 2)
    client.close()


def test_apps_connections_open_takes_only_the_app_level_token(standin: SlackStandIn) -> None:
    opened = WebClient(base_url=standin.url).apps_connections_open(app_token=standin.app_token)
    assert opened["url"].startswith("ws://127.0.0.1:") and "/link/?ticket=" in opened["url"]
    for token, error in ((BOT_TOKEN, "not_allowed_token_type"), ("xapp-wrong", "invalid_auth")):
        with pytest.raises(SlackApiError) as refused:
            WebClient(base_url=standin.url).apps_connections_open(app_token=token)
        assert refused.value.response["error"] == error
    with pytest.raises(SlackApiError) as wrong_way:
        WebClient(base_url=standin.url, token=standin.app_token).auth_test()
    assert wrong_way.value.response["error"] == "not_allowed_token_type"
    # Provoked on purpose: each wrong kind of token is a refusal of Slack's contract.
    assert [r.error for r in standin.refusals] == ["not_allowed_token_type"] * 2
    standin.refusals.clear()


def test_link_refuses_a_plain_request_and_an_unknown_ticket(standin: SlackStandIn) -> None:
    opened = WebClient(base_url=standin.url).apps_connections_open(app_token=standin.app_token)
    link = opened["url"].replace("ws://", "http://").split("?", 1)[0]
    upgrade = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZQ==",
        "Sec-WebSocket-Version": "13",
    }
    assert httpx.get(f"{link}?ticket=nope", headers=upgrade).status_code == 401
    assert httpx.get(f"{link}?ticket=nope").status_code == 426
    assert standin.socket_connected(timeout=0.2) is False
    with pytest.raises(RuntimeError, match="no open Socket Mode connection"):
        standin.socket_send("events_api", {})


def test_builtin_client_connects_gets_hello_pongs_and_acks(
    standin: SlackStandIn, sm_client: SocketModeClient
) -> None:
    received: list[dict[str, Any]] = []
    sm_client.message_listeners.append(lambda _client, message, _raw: received.append(message))
    sm_client.connect()
    assert standin.socket_connected(timeout=5)
    assert _wait(lambda: any(m.get("type") == "hello" for m in received), 5)
    assert received[0]["connection_info"] == {"app_id": APP_ID}

    command = standin.socket_send("slash_commands", _slash_command(standin, "U1", "help"))
    assert standin.socket_ack(command) == {"text": "got slash_commands"}
    event = standin.socket_send("events_api", _event_callback(standin, {"type": "app_home_opened"}))
    assert standin.socket_ack(event) == {}  # events are acked without a payload
    envelope = next(m for m in received if m.get("envelope_id") == event)
    assert envelope["accepts_response_payload"] is False
    assert (envelope["retry_attempt"], envelope["retry_reason"]) == (0, "")
    assert standin.socket_ack("never-sent", timeout=0.1) is None

    # The client's pings come back as pongs echoing its "session:time" payload.
    session = sm_client.current_session
    assert session is not None
    assert _wait(lambda: session.last_ping_pong_time is not None, 5)
    assert sm_client.is_connected()


def test_disconnect_message_and_server_close_make_the_client_reconnect(
    standin: SlackStandIn, sm_client: SocketModeClient
) -> None:
    hellos: list[dict[str, Any]] = []
    sm_client.message_listeners.append(
        lambda _client, message, _raw: hellos.append(message) if message.get("type") == "hello" else None
    )
    sm_client.connect()
    assert _wait(lambda: len(hellos) == 1, 5)
    standin.socket_disconnect("refresh_requested")
    # The client opens a new connection first, then drops the old one.
    assert _wait(lambda: len(hellos) == 2, 10)
    assert _wait(lambda: standin.socket_connections == 1, 10)
    assert len(standin.calls_to("apps.connections.open")) == 2
    standin.socket_close()
    assert _wait(lambda: len(hellos) == 3, 10)
    assert len(standin.calls_to("apps.connections.open")) == 3
    assert standin.socket_connected(timeout=10)
    envelope_id = standin.socket_send("interactive", {"type": "block_actions"})
    assert standin.socket_ack(envelope_id) == {"text": "got interactive"}


# --------------------------------------------------------------------------- `infochat serve --socket`


def _serve_env(standin: SlackStandIn, database_url: str, port: int) -> dict[str, str]:
    return {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("INFOCHAT_", "SLACK_")) and "proxy" not in k.lower()
        },
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_APP_TOKEN": standin.app_token,
        "INFOCHAT_SLACK_API_URL": standin.url,
        "INFOCHAT_DATABASE_URL": database_url,
        "INFOCHAT_PORT": str(port),
        "INFOCHAT_HOST": "127.0.0.1",
    }


@pytest.fixture
def socket_process(
    tmp_path: Path, standin: SlackStandIn, database_url: str
) -> Iterator[tuple[subprocess.Popen, int]]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--socket"],
        env=_serve_env(standin, database_url, port),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )

    def output() -> str:
        if proc.poll() is None:
            proc.kill()
        return proc.stdout.read().decode() if proc.stdout else ""

    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"infochat serve --socket did not come up:\n{output()}")
        time.sleep(0.1)
    if not standin.socket_connected(timeout=max(1.0, deadline - time.monotonic())):
        pytest.fail(f"infochat serve --socket did not open a Socket Mode connection:\n{output()}")
    yield proc, port
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_serve_socket_answers_commands_and_events_then_stops_cleanly_on_sigterm(
    socket_process: tuple[subprocess.Popen, int], standin: SlackStandIn
) -> None:
    proc, port = socket_process
    standin.add_user("U1", name="alice", real_name="Alice Smith")
    assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
    opened = standin.calls_to("apps.connections.open")
    assert len(opened) == 1 and opened[0].token == standin.app_token

    help_id = standin.socket_send("slash_commands", _slash_command(standin, "U1", "help"))
    help_ack = standin.socket_ack(help_id, timeout=10)
    assert help_ack is not None, f"no ack; the app sent {standin.socket_messages}"
    assert "/infochat find" in str(help_ack.get("text", "")) + str(help_ack.get("blocks", ""))

    event = {"type": "app_home_opened", "user": "U1", "channel": "D0HOME", "tab": "home"}
    home_id = standin.socket_send("events_api", _event_callback(standin, event))
    assert standin.socket_ack(home_id, timeout=10) == {}
    standin.wait_for(lambda: len(standin.calls_to("views.publish")) == 1, timeout=10)
    published = standin.calls_to("views.publish")[0]
    assert published.params["user_id"] == "U1" and published.token == BOT_TOKEN

    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"serve --socket ignored SIGTERM for 30 s:\n{proc.stdout.read().decode()}")
    assert code == 0, proc.stdout.read().decode() if proc.stdout else ""
    assert _wait(lambda: standin.socket_connections == 0, 5), "the WebSocket was left open"


def test_sigterm_hangs_up_the_socket_first_then_finishes_work_in_flight(
    socket_process: tuple[subprocess.Popen, int], standin: SlackStandIn
) -> None:
    proc, _ = socket_process
    standin.add_user("U1", name="alice", real_name="Alice Smith")
    # The App Home's slow part (views.publish) waits out a 429 when SIGTERM arrives.
    standin.fail("views.publish", status=429, retry_after=6)
    event = {"type": "app_home_opened", "user": "U1", "channel": "D0HOME", "tab": "home"}
    assert standin.socket_ack(standin.socket_send("events_api", _event_callback(standin, event)), 10) == {}
    standin.wait_for(lambda: len(standin.calls_to("views.publish", include_failed=True)) == 1, timeout=10)
    proc.send_signal(signal.SIGTERM)
    # No new envelopes: the connection closes at once (Slack sends them to another one) ...
    assert _wait(lambda: standin.socket_connections == 0, 10), "the WebSocket stayed open"
    assert standin.calls_to("views.publish") == [], "socket closed only after the work drained"
    # ... while the work already acked still completes before the process exits 0.
    assert proc.wait(timeout=30) == 0, proc.stdout.read().decode() if proc.stdout else ""
    assert len(standin.calls_to("views.publish")) == 1


def test_serve_socket_with_a_refused_app_token_stops_with_one_line(
    tmp_path: Path, standin: SlackStandIn, database_url: str
) -> None:
    env = {**_serve_env(standin, database_url, _free_port()), "SLACK_APP_TOKEN": "xapp-revoked"}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "serve", "--socket"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "SLACK_APP_TOKEN" in done.stderr and "invalid_auth" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_serve_socket_without_app_token_names_the_variable(
    tmp_path: Path, standin: SlackStandIn, database_url: str
) -> None:
    env = _serve_env(standin, database_url, _free_port())
    del env["SLACK_APP_TOKEN"]
    done = subprocess.run(
        [sys.executable, "-m", "bot", "serve", "--socket"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and "SLACK_APP_TOKEN" in lines[0], lines


def test_socket_mode_retry_attempt_of_a_handled_event_is_dropped(
    socket_process: tuple[subprocess.Popen, int], standin: SlackStandIn
) -> None:
    standin.add_user("U1", name="alice", real_name="Alice Smith")
    envelope = _event_callback(standin, {"type": "app_home_opened", "user": "U1", "tab": "home"})
    first = standin.socket_send("events_api", envelope)
    assert standin.socket_ack(first, 10) == {}
    assert _wait(lambda: len(standin.calls_to("views.publish")) == 1)
    retry = standin.socket_send("events_api", envelope, retry_attempt=1, retry_reason="timeout")
    assert standin.socket_ack(retry, 10) == {}  # acked, so Slack stops retrying
    time.sleep(0.5)
    assert len(standin.calls_to("views.publish")) == 1
