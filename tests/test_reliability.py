"""Hostile input, retries, lifecycle, database restarts and metrics."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from sqlalchemy import text

from bot.db import Database
from bot.devtools.runner import AppServer
from bot.devtools.slack_client import SlackAppClient
from bot.devtools.standin import SlackStandIn
from bot.models import OutboxMessage, OutboxStatus
from bot.services import outbox
from tests.conftest import pg_admin_url
from tests.factories import make_person


def home_opened(user: str = "U1") -> dict[str, str]:
    return {"type": "app_home_opened", "user": user, "tab": "home"}


def test_a_retried_event_is_handled_once(slack: SlackAppClient, standin: SlackStandIn) -> None:
    assert slack.event(home_opened(), event_id="Ev1").status_code == 200
    standin.wait_for(lambda: len(standin.calls_to("views.publish")) == 1)
    assert (
        slack.event(home_opened(), event_id="Ev1", retry_num=1, retry_reason="http_timeout").status_code
        == 200
    )
    assert (
        slack.event(home_opened(), event_id="Ev1", retry_num=2, retry_reason="http_timeout").status_code
        == 200
    )
    time.sleep(0.5)
    assert len(standin.calls_to("views.publish")) == 1


def test_a_retry_whose_original_never_arrived_is_processed(
    slack: SlackAppClient, standin: SlackStandIn
) -> None:
    assert (
        slack.event(home_opened(), event_id="Ev2", retry_num=1, retry_reason="http_error").status_code == 200
    )
    standin.wait_for(lambda: len(standin.calls_to("views.publish")) == 1)


def test_uninstall_stops_sending_and_nothing_is_lost(
    slack: SlackAppClient, standin: SlackStandIn, server: AppServer, db: Database
) -> None:
    make_person(db, standin, "UQ", "Quinn Ferreira", "Sales")
    assert slack.event({"type": "app_uninstalled"}).status_code == 200
    with db.session() as session:
        outbox.enqueue(session, "t:after-uninstall", users=["UQ"], text="queued while uninstalled")
    assert outbox.deliver(server.app.ctx).sent == 0
    assert standin.messages_in("UQ") == []
    # The app is used again (reinstalled): sending resumes and the message goes out once.
    slack.command("UQ", "help")
    report = outbox.deliver(server.app.ctx)
    assert report.sent == 1
    assert [m["text"] for m in standin.messages_in("UQ")] == ["queued while uninstalled"]
    with db.session() as session:
        row = session.query(OutboxMessage).filter_by(dedupe_key="t:after-uninstall").one()
        assert row.status == OutboxStatus.SENT


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"payload=%7Bnot-json", "application/x-www-form-urlencoded"),
        (b'{"type": "something_new"}', "application/json"),
        (b"payload=" + json.dumps({"type": "unheard_of"}).encode(), "application/x-www-form-urlencoded"),
        (b"\x00\x01", "application/octet-stream"),
    ],
    ids=["bad-json", "unknown-json-type", "unknown-payload-type", "binary"],
)
def test_malformed_or_unknown_payloads_never_500(
    slack: SlackAppClient, body: bytes, content_type: str
) -> None:
    response = slack.post(body, content_type)
    assert 200 <= response.status_code < 500
    assert "Traceback" not in response.text


def test_oversized_command_text_gets_a_short_friendly_reply(slack: SlackAppClient) -> None:
    for text_ in ("x" * 5000, "find " + "kubernetes " * 600):
        response = slack.command("U1", text_)
        assert response.status_code == 200
        reply = response.json()["text"]
        assert len(reply) < 600 and "/infochat" in reply


def test_metrics_expose_requests_latency_and_outbox(slack: SlackAppClient, server: AppServer) -> None:
    slack.command("U1", "help")
    body = httpx.get(server.root + "/metrics").text
    assert 'infochat_requests_total{kind="command",status="200"}' in body
    assert "infochat_ack_seconds_bucket" in body
    assert 'infochat_outbox_messages{status="pending"}' in body
    assert "infochat_outbox_oldest_due_seconds" in body


def test_slack_api_errors_are_counted_by_method(
    slack: SlackAppClient, standin: SlackStandIn, server: AppServer
) -> None:
    standin.fail("views.publish", error="invalid_blocks")
    slack.event(home_opened())
    standin.wait_for(lambda: bool(standin.calls_to("views.publish", include_failed=True)))
    time.sleep(0.2)
    body = httpx.get(server.root + "/metrics").text
    assert 'infochat_slack_api_errors_total{error="invalid_blocks",method="views.publish"}' in body


@pytest.mark.skipif(not pg_admin_url(), reason="restarting the database server is a PostgreSQL scenario")
def test_database_connections_dropped_mid_flight_are_replaced(
    slack: SlackAppClient, server: AppServer, db: Database
) -> None:
    """What a PostgreSQL restart does to the pool: every open connection dies. pool_pre_ping replaces them."""
    make_person(db, None, "UR", "Rosa Tanaka", "Sales")
    assert "paused until" in slack.command("UR", "pause 1w").json()["text"]
    name = db.url.database
    admin = Database(pg_admin_url() or "")
    with admin.engine.connect() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = :db AND pid <> pg_backend_pid()"
            ),
            {"db": name},
        )
        connection.commit()
    admin.dispose()
    assert "Welcome back" in slack.command("UR", "resume").json()["text"]
    assert httpx.get(server.root + "/readyz").status_code == 200
