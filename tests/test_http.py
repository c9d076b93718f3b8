"""The app over real HTTP: signed requests, signature checks, health, retries."""

from __future__ import annotations

import html
import json
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func, select

from bot.blocks import SUBCOMMANDS
from bot.db import Database
from bot.devtools.runner import AppServer
from bot.devtools.slack_client import SlackAppClient
from bot.devtools.standin import SlackStandIn
from bot.models import SlackEvent
from bot.settings import Settings
from tests.conftest import make_settings

FORM = "application/x-www-form-urlencoded"


def test_signed_help_answers_within_ack_deadline_with_every_subcommand(slack: SlackAppClient) -> None:
    started = time.monotonic()
    response = slack.command("U1", "help")
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert elapsed < 3.0
    body = response.json()
    assert body["response_type"] == "ephemeral"
    shown = html.unescape(body["text"])  # what Slack renders
    for usage, _ in SUBCOMMANDS:
        assert f"/infochat {usage}" in shown
    assert "<topic>" not in body["text"]  # raw angle brackets would render as a link


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_command_shows_help(slack: SlackAppClient, text: str) -> None:
    assert "/infochat find &lt;topic&gt;" in slack.command("U1", text).json()["text"]


def test_unknown_subcommand_gets_short_usage_not_a_trace(slack: SlackAppClient) -> None:
    response = slack.command("U1", "frobnicate <!channel> now")
    assert response.status_code == 200
    text = response.json()["text"]
    assert "frobnicate" in text and "/infochat help" in text
    assert "Traceback" not in text
    assert len(text) < 300


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param({"signed": False}, id="unsigned"),
        pytest.param({"headers": {"X-Slack-Signature": "v0=" + "0" * 64}}, id="wrong-signature"),
        pytest.param({"timestamp": int(time.time()) - 6 * 60}, id="six-minutes-old"),
        pytest.param({"headers": {"X-Slack-Request-Timestamp": "soon"}}, id="timestamp-not-a-number"),
        pytest.param({"headers": {"X-Slack-Request-Timestamp": "9" * 30}}, id="timestamp-far-future"),
    ],
)
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(
            b"command=%2Finfochat&text=help&user_id=U1&team_id=T0INFOCHAT&trigger_id=t1", FORM, id="help"
        ),
        pytest.param(
            b"command=%2Finfochat&text=pause+1w&user_id=U1&team_id=T0INFOCHAT&trigger_id=t1", FORM, id="pause"
        ),
        pytest.param(
            b"payload="
            + quote(
                json.dumps({"type": "block_suggestion", "action_id": "speak_topics", "value": "py"})
            ).encode(),
            FORM,
            id="options",
        ),
        pytest.param(
            b"payload="
            + quote(
                json.dumps({"type": "block_actions", "user": {"id": "U1"}, "actions": [{"action_id": "x"}]})
            ).encode(),
            FORM,
            id="block-actions",
        ),
        pytest.param(
            json.dumps(
                {
                    "type": "event_callback",
                    "event_id": "EvForged",
                    "event": {"type": "app_home_opened", "user": "U1", "tab": "home"},
                }
            ).encode(),
            "application/json",
            id="event",
        ),
    ],
)
def test_bad_signatures_are_rejected_and_change_nothing(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, tamper: dict, body: bytes, content_type: str
) -> None:
    response = slack.post(body, content_type, **tamper)
    assert response.status_code == 401
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(SlackEvent)) == 0
    time.sleep(0.2)
    assert standin.calls == []


def test_app_home_is_published_even_when_slack_answers_429_first(
    slack: SlackAppClient, standin: SlackStandIn
) -> None:
    standin.fail("views.publish", status=429, retry_after=1)
    response = slack.event({"type": "app_home_opened", "user": "U1", "tab": "home", "channel": "D1"})
    assert response.status_code == 200
    standin.wait_for(lambda: len(standin.calls_to("views.publish")) == 1, timeout=10)
    attempts = standin.calls_to("views.publish", include_failed=True)
    assert [call.status for call in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 0.9  # Retry-After honoured
    view = standin.calls_to("views.publish")[0].params["view"]
    assert view["type"] == "home"
    assert "Welcome to infochat" in str(view)


def test_health_and_readiness(server: AppServer) -> None:
    assert httpx.get(server.root + "/healthz").status_code == 200
    assert httpx.get(server.root + "/readyz").status_code == 200
    assert httpx.get(server.root + "/nope").status_code == 404
    assert httpx.get(server.events_url).status_code == 405


@pytest.mark.parametrize(
    "unreachable",
    ["postgresql://infochat@127.0.0.1:1/nowhere", "sqlite:///{tmp}/gone/x.db"],
    ids=["postgresql-down", "sqlite-missing"],
)
def test_readyz_fails_when_database_unreachable(
    standin: SlackStandIn, unreachable: str, tmp_path: Path
) -> None:
    (tmp_path / "gone").mkdir()
    settings: Settings = make_settings(unreachable.format(tmp=tmp_path), standin)
    (tmp_path / "gone").rmdir()  # settings insist that the SQLite folder exists; it vanished since
    with AppServer(settings) as running:
        assert httpx.get(running.root + "/healthz").status_code == 200
        ready = httpx.get(running.root + "/readyz", timeout=10)
        assert ready.status_code == 503
        assert "database" in ready.json()["status"]


def test_oversized_and_malformed_bodies_get_4xx(server: AppServer, slack: SlackAppClient) -> None:
    huge = b"command=%2Finfochat&text=" + b"a" * 1_100_000
    assert slack.post(huge, "application/x-www-form-urlencoded").status_code == 413
    assert slack.post(b"\xff\xfe", "application/x-www-form-urlencoded").status_code == 400
