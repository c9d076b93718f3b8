"""The database of an operator command: its schema checked first, its connections closed after.

Every `infochat` command that reads or writes data goes through `operator_database`
(or `operator_context`, which adds the Slack gateway). On a database without the
infochat schema it migrates when INFOCHAT_AUTO_MIGRATE is on, and otherwise stops
with one line naming `infochat db upgrade`. It never creates an empty SQLite file
just by looking: SQLite makes the file on first connect, so a missing file is
noticed before any connection is opened.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from bot.db import Database, normalise_url
from bot.settings import Settings

if TYPE_CHECKING:  # imported when used: `infochat --help` should not load Alembic and slack_sdk
    from bot.context import AppContext


class CommandError(Exception):
    """The command cannot go on; the message is one line for the operator."""


UPGRADE_HINT = "run `infochat db upgrade` (or set INFOCHAT_AUTO_MIGRATE=true)"


def sqlite_path(settings: Settings) -> Path | None:
    """The SQLite file of the settings' database, or None for PostgreSQL and in-memory SQLite."""
    url = normalise_url(settings.database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def where(settings: Settings) -> str:
    """The database as an operator would name it (never its password)."""
    path = sqlite_path(settings)
    if path is not None:
        return str(path)
    return normalise_url(settings.database_url).render_as_string(hide_password=True)


def ensure_schema(settings: Settings, db: Database) -> None:
    """Migrate to the latest schema (auto-migrate on) or stop with what to run."""
    from bot import migrate

    current, head = migrate.current_revision(db), migrate.head_revision()
    if current == head:
        return
    if settings.auto_migrate:
        migrate.upgrade(db)
        return
    if current is None:
        raise CommandError(f"the database at {where(settings)} has no infochat schema: {UPGRADE_HINT}")
    raise CommandError(
        f"the database at {where(settings)} is at schema revision {current}, not the latest ({head}): "
        f"{UPGRADE_HINT}"
    )


def open_database(settings: Settings) -> Database:
    """The command's database with the latest schema; the caller disposes of it."""
    path = sqlite_path(settings)
    if path is not None and not path.exists() and not settings.auto_migrate:
        raise CommandError(f"no infochat database at {path}: {UPGRADE_HINT}")
    db = Database(settings.database_url)
    try:
        ensure_schema(settings, db)
    except BaseException:
        db.dispose()
        raise
    return db


@contextmanager
def operator_database(settings: Settings) -> Iterator[Database]:
    """`with operator_database(settings) as db:` the checked database, closed afterwards."""
    db = open_database(settings)
    try:
        yield db
    finally:
        db.dispose()


@contextmanager
def operator_context(settings: Settings, *, require_slack: bool = True) -> Iterator[AppContext]:
    """The context of a command that also talks to Slack (`pair`, `followups`, `directory sync`)."""
    from bot.context import make_context

    open_database(settings).dispose()  # check (or migrate) before the context opens its own
    ctx = make_context(settings, require_slack=require_slack)
    try:
        yield ctx
    finally:
        ctx.db.dispose()
