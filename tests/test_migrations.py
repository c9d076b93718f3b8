"""Migrations: `infochat db upgrade`, idempotent, once across replicas."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

from bot import migrate
from bot.db import Database, normalise_url
from bot.models import Base
from tests.conftest import pg_admin_url


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    admin = pg_admin_url()
    if not admin:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    admin_url = normalise_url(admin)
    name = f"infochat_mig_{secrets.token_hex(4)}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def test_upgrade_creates_every_model_table_and_is_idempotent(empty_database_url: str) -> None:
    db = Database(empty_database_url)
    try:
        assert migrate.current_revision(db) is None
        head = migrate.upgrade(db)
        assert head == migrate.head_revision()
        assert migrate.upgrade(db) == head
        tables = set(inspect(db.engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
    finally:
        db.dispose()


def test_models_match_migrations(empty_database_url: str) -> None:
    """Autogenerate finds nothing to do: the migrations describe the models."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    db = Database(empty_database_url)
    try:
        migrate.upgrade(db)
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diff == []
    finally:
        db.dispose()


def test_replicas_upgrading_at_once_migrate_once(empty_database_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "INFOCHAT_DATABASE_URL": empty_database_url}
    cmd = [sys.executable, "-m", "bot", "db", "upgrade"]
    procs = [
        subprocess.Popen(
            cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], results
    logs = "".join(err for _, err in results)
    assert logs.count("Running upgrade  -> 0001") == 1
    db = Database(empty_database_url)
    try:
        with db.engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        assert versions == [migrate.head_revision()]
    finally:
        db.dispose()


def test_db_current_reports_state(empty_database_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "INFOCHAT_DATABASE_URL": empty_database_url}
    cmd = [sys.executable, "-m", "bot", "db", "current"]
    before = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert before.returncode == 1 and "empty database" in before.stdout
    subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade"], env=env, cwd=tmp_path, check=True, timeout=60
    )
    after = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert after.returncode == 0


def _table_as_of(connection: Any, model_table: Any) -> Any:
    """The model's table cut down to the columns an older revision has (later ones added theirs)."""
    import sqlalchemy as sa

    present = {column["name"] for column in sa.inspect(connection).get_columns(model_table.name)}
    return sa.Table(
        model_table.name, sa.MetaData(), *(c._copy() for c in model_table.columns if c.name in present)
    )


def test_person_usage_is_backfilled_from_existing_chats(empty_database_url: str) -> None:
    """0008 counts the chats already there, as the flush hook would have."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert, select

    from bot.models import Chat, ChatKind, ChatParticipant, ChatRole, Person, PersonUsage

    db = Database(empty_database_url)
    try:
        migrate.upgrade(db, "0007")
        now = datetime.now(UTC)
        with db.engine.begin() as connection:
            for i in (1, 2):
                people = _table_as_of(connection, Person.__table__)
                connection.execute(insert(people).values(id=i, slack_user_id=f"U{i}", name=f"p{i}"))
            for chat_id, days in ((1, 1), (2, 100)):
                connection.execute(
                    insert(Chat.__table__).values(
                        id=chat_id, kind=ChatKind.REQUEST, created_at=now - timedelta(days=days)
                    )
                )
                connection.execute(
                    insert(ChatParticipant.__table__),
                    [
                        {"chat_id": chat_id, "person_id": 1, "role": ChatRole.EXPERT},
                        {"chat_id": chat_id, "person_id": 2, "role": ChatRole.LEARNER},
                    ],
                )
        migrate.upgrade(db)
        with db.session() as session:
            rows = {row.person_id: row for row in session.scalars(select(PersonUsage))}
        assert set(rows) == {1, 2}
        assert rows[1].recent == rows[2].recent == 1
        assert rows[1].recent_oldest == now - timedelta(days=1)
        assert rows[1].recent_before == now - timedelta(days=100)
        assert rows[1].month is not None and rows[1].month_chats == 1
        assert rows[2].month is None and rows[2].month_chats == 0
    finally:
        db.dispose()
