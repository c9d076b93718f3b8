"""The one place that owns the engine, sessions and transactions.

A unit of work is `with db.session() as session: ...`: it commits when the
block ends and rolls back when it raises. Listeners and jobs open one inside
themselves (never in Bolt middleware, which runs before the listener rather
than around it). `db.run(work)` runs a unit of work given as a function and runs
it again if the connection fails under it (see bot.retry for when that is safe).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Engine,
    Enum,
    Integer,
    String,
    Text,
    TypeDecorator,
    all_,
    any_,
    bindparam,
    cast,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from bot import retry

log = logging.getLogger(__name__)

T = TypeVar("T")


def normalise_url(url: str) -> URL:
    """Accept the URLs operators paste (`postgres://`, `postgresql://`) and use psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def one_of(
    column: Any, name: str, item_type: Any, postgres: bool, *, many: bool = False
) -> ColumnElement[bool]:
    """`column` is one of the list bound as `:name`, which is ONE parameter whatever its length.

    PostgreSQL: `column = ANY(:name)`, an array. SQLite: `column IN (SELECT value FROM
    json_each(:name))`, the list sent as JSON text. An expanding IN would be rendered into the
    SQL at every execution with one parameter per item: the statement's text would change with
    the list's length (SQLAlchemy renders it, the database parses it, neither can cache it), and
    SQLite refuses more than SQLITE_MAX_VARIABLE_NUMBER parameters (32,766 by default since
    3.32, the limit of python.org's, Homebrew's and Alpine's builds), fewer than a weekly
    round's 50,000 ids. Callers pass a Python list (tuple, set) of ints or strings either way.

    Same rows as `column IN (…)` for lists without NULLs; an empty list matches nothing. On
    SQLite, json_each gives JSON numbers as INTEGER and strings as TEXT, compared as a bound
    int or str would be (see `_json_items` for text columns). Item types other than integers
    and strings (datetimes, decimals, bytes, enums) have no faithful JSON form: they keep the
    expanding IN on SQLite.

    `many`: the list may hold a large share of the table (a round's participants). SQLite
    plans without knowing a json_each list's length (it assumes a couple of dozen items), so
    it looks every item up through the column's index; for 50,000 ids, reading the rows the
    other conditions select and testing each against the list can be far cheaper (it was the
    plan SQLite chose for a 50,000-item IN list). `many` keeps SQLite off the column's index
    (`+column`). PostgreSQL plans with the array's length: nothing changes there.
    """
    if postgres:
        return column == any_(bindparam(name, type_=postgresql.ARRAY(item_type)))
    if not _json_carries(item_type):
        return column.in_(bindparam(name, expanding=True))
    if many:
        unindexed = UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)
        return unindexed.in_(_json_items(name, item_type, cast_all=True))
    return column.in_(_json_items(name, item_type))


def none_of(column: Any, name: str, item_type: Any, postgres: bool) -> ColumnElement[bool]:
    """`column NOT IN (:name…)`; on PostgreSQL `column <> ALL(:name)` (see `one_of`): an
    empty list matches every row."""
    if postgres:
        return column != all_(bindparam(name, type_=postgresql.ARRAY(item_type)))
    if not _json_carries(item_type):
        return column.not_in(bindparam(name, expanding=True))
    return column.not_in(_json_items(name, item_type))


class JSONList(TypeDecorator[Any]):
    """A list (tuple, set, any iterable but a string) of ints or strings bound as one JSON text."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str:
        if isinstance(value, str | bytes) or value is None:
            # A string would be one JSON string, i.e. one item: a caller's mistake, not a list.
            raise TypeError(f"a list of ids is expected, not {type(value).__name__}")
        return json.dumps(list(value), ensure_ascii=False, separators=(",", ":"))


def _kind(item_type: Any) -> type:
    return item_type if isinstance(item_type, type) else type(item_type)


def _json_carries(item_type: Any) -> bool:
    """Items of this SQL type go through JSON unchanged: integers and strings."""
    return issubclass(_kind(item_type), Integer | String) and not issubclass(_kind(item_type), Enum)


def _json_items(name: str, item_type: Any, *, cast_all: bool = False) -> Any:
    """`SELECT value FROM json_each(:name)`, the list bound as one JSON text (SQLite).

    For a text column the values are CAST to TEXT: SQLite applies a column's TEXT affinity to
    the items of an IN list but not to json_each's values, so an int given for a text column
    would match nothing (a number compared with text). Integer columns convert by themselves,
    but not through `+column` (no affinity): `cast_all` casts integers too.
    """
    items = func.json_each(bindparam(name, type_=JSONList())).table_valued("value")
    value = items.c.value
    if issubclass(_kind(item_type), String):
        return select(cast(value, Text))
    return select(cast(value, Integer) if cast_all else value)


def insert_rows(connection: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert many rows (dicts with the same keys, values as the driver takes them) in the
    connection's transaction: COPY on PostgreSQL, executemany on SQLite. For derived rows
    written by the hundred thousand (a weekly round's search ranking), where SQLAlchemy's
    per-row parameter handling and one INSERT each were most of the time."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        connection.execute(table.insert(), rows)
        return
    columns = list(rows[0])
    names = ", ".join(f'"{c}"' for c in columns)
    cursor = connection.connection.driver_connection.cursor()
    try:
        with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
    finally:
        cursor.close()


def core(executor: Session | Connection) -> Connection:
    """The Core connection under a session (joining its transaction), or the connection itself."""
    return executor if isinstance(executor, Connection) else executor.connection()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (health checks, App Home) run while a round writes;
    # busy_timeout makes concurrent writers wait instead of failing at once.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _begin_before_savepoint(connection: Any, _name: str) -> None:
    """Open the DBAPI transaction before a SAVEPOINT on SQLite.

    pysqlite (Python < 3.12, legacy transaction control) emits BEGIN only before
    INSERT/UPDATE/DELETE, so a SAVEPOINT in a unit of work that has only read so far
    runs outside any transaction: it starts one of its own, and its RELEASE commits
    it. A request or takeaway written under a savepoint would then be kept even if
    the unit of work failed afterwards (say, before its DM was queued). BEGIN here
    keeps the savepoint inside the unit of work, which commits or rolls back whole;
    IMMEDIATE, because a savepoint guards a write that may read first (see
    `write_lock_now`).
    """
    _begin_immediate(connection)


def write_lock_now(session: Session) -> None:
    """On SQLite, take the database's write lock before a unit of work that reads and then writes.

    In WAL mode a transaction that has read cannot start writing once another connection has
    committed since its first read: SQLite answers "database is locked" at once, without
    waiting (busy_timeout does not apply). BEGIN IMMEDIATE waits for the lock first, so the
    reads and the writes that follow see one state. A unit of work already writing holds the
    lock; PostgreSQL needs nothing here.
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        _begin_immediate(connection)


def _begin_immediate(connection: Any) -> None:
    """BEGIN IMMEDIATE on the SQLite driver connection, unless it is in a transaction already."""
    driver_connection = connection.connection.driver_connection
    if not driver_connection.in_transaction:
        driver_connection.execute("BEGIN IMMEDIATE")


# A pooled connection idle for longer than this is pinged before use (see _ping_if_idle).
IDLE_PING_SECONDS = 5.0


def _mark_checked_in(_dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in_at"] = time.monotonic()


def insert_ignoring_duplicates(session: Session | Connection, table: Any, *conflict_columns: str) -> Any:
    """INSERT … ON CONFLICT (conflict_columns, or any unique key) DO NOTHING, for the backend of
    the session (or Core connection).

    Add `.values(...)` or `.from_select(...)`; `.returning(...)` tells whether a row
    was inserted (psycopg's rowcount is not reliable for this statement).
    """
    dialect = session.dialect.name if isinstance(session, Connection) else session.get_bind().dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql.insert(table)
    elif dialect == "sqlite":
        statement = sqlite.insert(table)
    else:  # settings only accept the two backends above
        raise RuntimeError(f"unsupported database {dialect!r}")
    return statement.on_conflict_do_nothing(index_elements=list(conflict_columns) or None)


def insert_once(session: Session, model: Any, values: dict[str, Any]) -> bool:
    """Insert one row unless a unique key already holds it; True when this call inserted it.

    A double click, a redelivered event or a second replica then changes nothing.
    """
    key = list(model.__table__.primary_key.columns)
    statement = insert_ignoring_duplicates(session, model).values(**values).returning(*key)
    return session.execute(statement).first() is not None


class Database:
    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int = 10,
        idle_ping_seconds: float = IDLE_PING_SECONDS,
    ) -> None:
        self.url = normalise_url(url)
        self.idle_ping_seconds = idle_ping_seconds
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 10}
        else:
            kwargs["connect_args"] = {"connect_timeout": 3}
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = pool_size
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "savepoint", _begin_before_savepoint)
        else:
            event.listen(self.engine.pool, "checkin", _mark_checked_in)
            event.listen(self.engine.pool, "checkout", self._ping_if_idle)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def _ping_if_idle(self, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        """Pre-ping, for connections that sat idle in the pool.

        SQLAlchemy's `pool_pre_ping` pings on every checkout: one more round trip
        per unit of work (~5 % of a search's server CPU, bench/load.py). A server
        restart is what kills pooled connections, and a connection used moments
        ago is very likely alive; if it is not, its first statement fails, the
        pool drops every connection older than the failure, and bot.retry runs
        the unit of work again on a fresh one. Raising DisconnectionError here
        makes the pool discard this connection and check out another.
        """
        checked_in_at = record.info.get("checked_in_at")
        if checked_in_at is not None and time.monotonic() - checked_in_at < self.idle_ping_seconds:
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
        except Exception as error:  # any driver error: the connection is unusable
            raise DisconnectionError(f"pooled connection failed its ping: {error}") from error

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.url.get_backend_name() == "postgresql"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: commit at the end, roll back on error."""
        session = self._sessions()
        try:
            yield session
            # Flush first: a failure while flushing is still inside the transaction,
            # which the server rolls back; only a failure of COMMIT itself leaves
            # the outcome unknown, and bot.retry must not repeat such a unit.
            session.flush()
            try:
                session.commit()
            except Exception as error:
                setattr(error, retry.COMMIT_OUTCOME_UNKNOWN, True)
                raise
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def run(
        self, work: Callable[[Session], T], *, label: str, budget: float = retry.BACKGROUND_BUDGET_SECONDS
    ) -> T:
        """Run `work` in one unit of work, again on a fresh connection if the
        connection fails under it. `work` must be safe to repeat from the start."""

        def attempt() -> T:
            with self.session() as session:
                return work(session)

        return retry.retrying(attempt, label=label, budget=budget)

    def run_statements(
        self,
        work: Callable[[Connection], T],
        *,
        label: str,
        budget: float = retry.BACKGROUND_BUDGET_SECONDS,
    ) -> T:
        """`run` for a unit of work of a few Core statements: one connection and its transaction,
        no ORM session (whose set-up, flush and commit cost an ack more than one small statement
        does: docs/performance.md, Ack path). No flush hooks run here, so `work` must not write
        what they keep in step (people, their topics, chats)."""

        def attempt() -> T:
            with self.engine.connect() as connection:
                transaction = connection.begin()
                try:
                    result = work(connection)
                except BaseException:
                    transaction.rollback()
                    raise
                try:
                    transaction.commit()
                except Exception as error:  # as in `session`: the outcome is unknown, never repeat
                    setattr(error, retry.COMMIT_OUTCOME_UNKNOWN, True)
                    raise
                return result

        return retry.retrying(attempt, label=label, budget=budget)

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for a few Core reads, without an ORM session; whatever it began is rolled
        back when the block ends (it writes nothing)."""
        with self.engine.connect() as connection:
            yield connection

    def ping(self) -> bool:
        """True when the database answers a trivial query (used by /readyz)."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except Exception as exc:  # any driver error means "not ready"
            log.warning("database not reachable: %s", exc.__class__.__name__, extra={"error": str(exc)})
            return False

    def dispose(self) -> None:
        self.engine.dispose()
