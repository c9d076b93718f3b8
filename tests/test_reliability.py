"""Hostile input, retries, lifecycle, database restarts and metrics."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from bot import clock, retry
from bot.db import Database
from bot.devtools.runner import AppServer
from bot.devtools.slack_client import SlackAppClient
from bot.devtools.standin import SlackStandIn
from bot.flows import outbox as delivery
from bot.models import Chat, ChatRequest, OutboxMessage, OutboxStatus, Person, RequestStatus
from bot.services import outbox, profiles
from bot.services import requests as request_service
from tests.conftest import pg_admin_url
from tests.factories import ask, group_dms, make_person, request_dm


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
    assert delivery.deliver(server.app.ctx).sent == 0
    assert standin.messages_in("UQ") == []
    # The app is used again (reinstalled): sending resumes and the message goes out once.
    slack.command("UQ", "help")
    report = delivery.deliver(server.app.ctx)
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
    # The slow work after acks, queued or running: none once the App Home is published.
    slack.event(home_opened())
    server.settle()
    assert "infochat_slow_work_pending 0.0" in httpx.get(server.root + "/metrics").text


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
    """What a PostgreSQL restart does to the pool: every open connection dies. The one
    just used is not pinged again; its first statement fails and bot.retry runs the
    command again on a fresh connection."""
    make_person(db, None, "UR", "Rosa Tanaka", "Sales")
    assert "paused until" in slack.command("UR", "pause 1w").json()["text"]
    _terminate_backends(str(db.url.database))
    assert "Welcome back" in slack.command("UR", "resume").json()["text"]
    assert httpx.get(server.root + "/readyz").status_code == 200


@contextmanager
def connection_killed_mid_transaction(db: Database, lock_sql: str) -> Iterator[None]:
    """What a PostgreSQL restart does to a unit of work in flight, made deterministic.

    The body starts the app's work; `lock_sql` (a SELECT … FOR UPDATE on the
    rows it writes) holds it inside its transaction. The backend waiting on the
    lock is then killed, as a restart would, and the lock released, so the retry
    (on a fresh connection) can go through.
    """
    admin = Database(pg_admin_url() or "")
    locker = db.engine.connect()
    try:
        locker.execute(text(lock_sql))
        yield
        deadline = time.monotonic() + 5
        while not (waiting := _backends_waiting_on_a_lock(admin, str(db.url.database))):
            assert time.monotonic() < deadline, "the app's work never reached the locked rows"
            time.sleep(0.02)
        with admin.engine.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": waiting[0]})
            connection.commit()
        time.sleep(0.2)  # the retry now waits on the same lock
        locker.commit()
    finally:
        locker.close()
        admin.dispose()


def _backends_waiting_on_a_lock(admin: Database, database: str) -> list[int]:
    with admin.engine.connect() as connection:
        return list(
            connection.scalars(
                text(
                    "SELECT pid FROM pg_stat_activity"
                    " WHERE datname = :db AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                ),
                {"db": database},
            )
        )


@pytest.mark.skipif(not pg_admin_url(), reason="a connection dying mid-transaction is a PostgreSQL scenario")
def test_a_command_whose_connection_dies_mid_transaction_is_run_again(
    slack: SlackAppClient, server: AppServer, db: Database
) -> None:
    """A PostgreSQL restart kills connections inside transactions, not only idle ones.
    The user must still get their answer, from a second attempt on a fresh
    connection, and the pause is recorded once."""
    make_person(db, None, "UR", "Rosa Tanaka", "Sales")
    with ThreadPoolExecutor(max_workers=1) as pool:
        with connection_killed_mid_transaction(
            db, "SELECT 1 FROM people WHERE slack_user_id = 'UR' FOR UPDATE"
        ):
            reply = pool.submit(slack.command, "UR", "pause 1w")
        response = reply.result(timeout=5)
    assert response.status_code == 200
    assert "paused until" in response.json()["text"]
    with db.session() as session:
        person = profiles.get_person(session, "UR")
        assert person is not None and person.paused_until is not None
    metrics = httpx.get(server.root + "/metrics").text
    assert 'infochat_db_retries_total{unit_of_work="/infochat pause"} 1.0' in metrics


@pytest.mark.skipif(not pg_admin_url(), reason="a connection dying mid-transaction is a PostgreSQL scenario")
def test_an_accept_whose_connection_dies_mid_transaction_still_introduces_once(
    slack: SlackAppClient, standin: SlackStandIn, server: AppServer, db: Database
) -> None:
    """The same for work after the ack: the expert's Accept is applied by a lazy
    function; killed mid-UPDATE, it runs again and the intro goes out exactly once."""
    make_person(db, standin, "ULENA", "Lena Park", "Sales", learns=["Kubernetes"])
    make_person(db, standin, "UEXP", "Omar Haddad", "Engineering", speaks=["Kubernetes"])
    ask(slack, standin, "ULENA", "UEXP")
    dm = request_dm(standin, "UEXP")
    with connection_killed_mid_transaction(db, "SELECT 1 FROM chat_requests FOR UPDATE"):
        assert slack.block_action("UEXP", "request_accept", message=dm).status_code == 200
    standin.wait_for(lambda: len(group_dms(standin)) == 1)
    with db.session() as session:
        assert session.scalar(select(ChatRequest.status)) == RequestStatus.ACCEPTED
        assert session.scalar(select(func.count()).select_from(Chat)) == 1
    delivery.deliver(server.app.ctx)
    time.sleep(0.3)
    assert len(group_dms(standin)) == 1
    assert (
        'infochat_db_retries_total{unit_of_work="bot.listeners.requests.'
        in httpx.get(server.root + "/metrics").text
    )


def test_a_unit_of_work_that_already_reached_slack_is_not_repeated(db: Database) -> None:
    """Retrying after a message went out would send it twice: the failure is raised instead."""
    attempts: list[int] = []

    def send_then_fail() -> None:
        attempts.append(1)
        retry.note_side_effect("chat.postMessage")
        raise OperationalError("UPDATE people", {}, _ServerGone("server closed the connection"))

    with pytest.raises(OperationalError):
        retry.retrying(send_then_fail, label="test")
    assert len(attempts) == 1


def test_a_connection_failure_before_anything_left_is_retried_and_a_bad_query_is_not(db: Database) -> None:
    calls: list[int] = []

    def fails_once(session: Session) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("SELECT 1", {}, _ServerGone("terminating connection due to shutdown"))
        make_person_row(session)
        return len(calls)

    assert db.run(fails_once, label="test") == 2
    with db.session() as session:
        assert profiles.get_person(session, "UF") is not None

    bad: list[int] = []

    def bad_sql(session: Session) -> None:
        bad.append(1)
        session.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(DBAPIError):
        db.run(bad_sql, label="test")
    assert len(bad) == 1


class _ServerGone(Exception):
    """What psycopg raises when the server is unreachable: an error without a SQLSTATE."""

    sqlstate = None


def make_person_row(session: Session) -> None:
    session.add(Person(slack_user_id="UF", name="Fern", real_name="Fern Okafor"))


@pytest.mark.skipif(not pg_admin_url(), reason="restarting the database server is a PostgreSQL scenario")
def test_an_idle_pooled_connection_killed_by_a_restart_is_pinged_and_replaced(db: Database) -> None:
    """Connections idle in the pool longer than idle_ping_seconds are pinged before use,
    so the first unit of work after a restart does not fail on a dead connection."""
    pooled = Database(str(db.url.render_as_string(hide_password=False)), idle_ping_seconds=0.0)
    try:
        with pooled.session() as session:
            session.execute(text("SELECT 1"))
        _terminate_backends(str(db.url.database))
        with pooled.session() as session:  # no retry: the ping found the dead connection
            assert session.scalar(text("SELECT 2")) == 2
    finally:
        pooled.dispose()


def _terminate_backends(database: str) -> None:
    admin = Database(pg_admin_url() or "")
    try:
        with admin.engine.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = :db AND pid <> pg_backend_pid()"
                ),
                {"db": database},
            )
            connection.commit()
    finally:
        admin.dispose()


def test_a_request_written_under_a_savepoint_goes_when_its_unit_of_work_fails(db: Database) -> None:
    """A request is stored only with the rest of its unit of work (its DM, its log line).

    On SQLite a savepoint taken before the first write used to run outside the
    transaction, so its release committed the request alone: a crash afterwards left a
    request the expert was never told about, blocking the learner's next ask.
    """
    make_person(db, None, "ULEARN", "Lea Learner", "Sales")
    make_person(db, None, "UEXPERT", "Eve Expert", "Engineering", speaks=["Kubernetes"])
    draft = request_service.RequestDraft(
        intro="I run the EMEA sales team.", goal="Understand our deploys.", questions="How do releases work?"
    )

    class CrashAfterTheRequest(Exception):
        pass

    with pytest.raises(CrashAfterTheRequest), db.session() as session:
        learner = profiles.get_person(session, "ULEARN")
        expert = profiles.get_person(session, "UEXPERT")
        assert learner is not None and expert is not None
        request_service.create_request(session, learner, expert, "Kubernetes", draft, clock.utcnow())
        raise CrashAfterTheRequest

    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(ChatRequest)) == 0
