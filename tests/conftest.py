"""Shared fixtures: a real database (SQLite, or PostgreSQL when
INFOCHAT_TEST_DATABASE_URL is set), the Slack Web API stand-in, and the real
app served over HTTP by uvicorn on a random port."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot import migrate
from bot.db import Database, normalise_url
from bot.devtools.runner import AppServer
from bot.devtools.slack_client import SlackAppClient
from bot.devtools.standin import SlackStandIn
from bot.models import Base
from bot.services import expert_ranks
from bot.settings import Settings, load_settings

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"
PG_ADMIN_URL = os.environ.get("INFOCHAT_TEST_DATABASE_URL")


def pytest_report_header() -> str:
    return f"infochat database: {'PostgreSQL' if PG_ADMIN_URL else 'SQLite'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, migrated database for this test run, dropped at the end."""
    if not PG_ADMIN_URL:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'infochat.db'}"
        _migrate(url)
        yield url
        return
    admin_url = normalise_url(PG_ADMIN_URL)
    name = f"infochat_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        _migrate(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _migrate(url: str) -> None:
    db = Database(url)
    try:
        migrate.upgrade(db)
    finally:
        db.dispose()


@pytest.fixture
def db(database_url: str, request: pytest.FixtureRequest) -> Iterator[Database]:
    """The run's database, emptied after each test."""
    database = Database(database_url)
    yield database
    # Search's precomputed ranking must agree with what it is computed from, whatever the test
    # did through the app (a Core write that forgot to refresh the rows fails here). A test
    # that puts them out of step on purpose says why with @pytest.mark.ranking_rows_unchecked.
    disagreements: list[str] = []
    if request.node.get_closest_marker("ranking_rows_unchecked") is None:
        with database.session() as session:
            disagreements = expert_ranks.disagreements(session)
    with database.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    database.dispose()
    assert not disagreements, "search's ranking rows disagree with the data:\n" + "\n".join(disagreements)


def pg_admin_url() -> str | None:
    return PG_ADMIN_URL


def fresh_sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'fresh.db'}"


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with SlackStandIn(bot_token=BOT_TOKEN) as stand_in:
        yield stand_in
        # The stand-in is as strict as Slack: a test passes only if the app kept Slack's contract
        # all along (tests that provoke a refusal on purpose clear it once they have seen it).
        refusals = list(stand_in.refusals)
    assert not refusals, "Slack would have refused:\n" + "\n".join(f"  {r}" for r in refusals)


def make_settings(database_url: str, standin: SlackStandIn, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "database_url": database_url,
        "slack_api_url": standin.url,
        "auto_migrate": False,
        "functions": ["Engineering", "Product", "Design", "Sales", "Finance"],
        "admins": ["UADMIN"],
    }
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture
def settings(db: Database, standin: SlackStandIn) -> Settings:
    return make_settings(make_url(str(db.url)).render_as_string(hide_password=False), standin)


@pytest.fixture
def server(settings: Settings, db: Database) -> Iterator[AppServer]:
    with AppServer(settings, db=db) as running:
        yield running


@pytest.fixture
def slack(server: AppServer, standin: SlackStandIn) -> Iterator[SlackAppClient]:
    client = SlackAppClient(server.events_url, SIGNING_SECRET, standin)
    yield client
    client.close()
