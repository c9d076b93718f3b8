"""Run Alembic migrations, once, even when several replicas start together.

PostgreSQL: a session-level advisory lock serialises replicas; the second one
waits, then finds the schema at head and does nothing. SQLite: an exclusive
file lock beside the database file does the same for processes on one host.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from bot.db import Database

log = logging.getLogger(__name__)

# Arbitrary but fixed: "infochat" as a 63-bit integer key for pg_advisory_lock.
MIGRATION_LOCK_KEY = 0x696E666F63686174 & 0x7FFFFFFFFFFFFFFF


def migrations_dir() -> Path:
    """`migrations/` in a source checkout, or its installed copy `bot/migrations/`."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "migrations", package.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError("Alembic scripts not found (expected migrations/env.py)")


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@contextmanager
def _sqlite_file_lock(db: Database) -> Iterator[None]:
    database = db.url.database
    if not database or database == ":memory:":
        yield
        return
    lock_path = Path(database).with_name(Path(database).name + ".migrate-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade(db: Database, revision: str = "head") -> str | None:
    """Upgrade the schema to `revision` under the migration lock; returns the new revision."""
    if db.is_sqlite:
        with _sqlite_file_lock(db), db.engine.connect() as connection:
            command.upgrade(alembic_config(connection), revision)
            connection.commit()
    else:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            connection.commit()
            try:
                command.upgrade(alembic_config(connection), revision)
                connection.commit()
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
                connection.commit()
    now = current_revision(db)
    log.info("database schema at revision %s", now)
    return now
