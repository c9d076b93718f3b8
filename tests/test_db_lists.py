"""`bot.db.one_of` / `none_of`: a list of ids bound as one parameter (an array on PostgreSQL,
a JSON text read by json_each on SQLite), so a list longer than SQLite's variable limit works."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import BigInteger, String, event, insert, select

from bot.clock import utcnow
from bot.db import Database, none_of, one_of
from bot.models import Person
from bot.services import pairing
from tests.factories import make_chat, make_person

# SQLite's own default SQLITE_MAX_VARIABLE_NUMBER since 3.32 (python.org's, Homebrew's and
# Alpine's builds); Debian's libsqlite allows 250,000.
DEFAULT_VARIABLE_LIMIT = 32_766


def _people(db: Database, slack_ids: list[str]) -> dict[str, int]:
    with db.session() as session:
        session.execute(insert(Person), [{"slack_user_id": s, "name": s.lower()} for s in slack_ids])
        return {s: i for s, i in session.execute(select(Person.slack_user_id, Person.id))}


def _where(db: Database, condition: Any, values: Any) -> set[str]:
    with db.session() as session:
        return set(session.scalars(select(Person.slack_user_id).where(condition), {"items": values}))


@pytest.mark.parametrize(
    "chosen",
    [[], ["U2"], ["U1", "U3", "U4"], ["U1", "U2", "U3", "U4", "UNKNOWN"]],
    ids=["empty", "one", "many", "all and one unknown"],
)
def test_one_of_and_none_of_by_int_and_by_str(db: Database, chosen: list[str]) -> None:
    everyone = ["U1", "U2", "U3", "U4"]
    ids = _people(db, everyone)
    postgres = db.is_postgres
    int_ids = [ids.get(s, 10**9) for s in chosen]  # UNKNOWN: an id nobody has
    expected = set(chosen) & set(everyone)

    assert _where(db, one_of(Person.id, "items", BigInteger, postgres), int_ids) == expected
    assert _where(db, none_of(Person.id, "items", BigInteger, postgres), int_ids) == set(everyone) - expected
    assert _where(db, one_of(Person.slack_user_id, "items", String, postgres), chosen) == expected
    assert _where(db, none_of(Person.slack_user_id, "items", String, postgres), chosen) == (
        set(everyone) - expected
    )
    # `many` (SQLite: not through the column's index) finds the same rows.
    assert _where(db, one_of(Person.id, "items", BigInteger, postgres, many=True), int_ids) == expected
    assert _where(db, one_of(Person.slack_user_id, "items", String, postgres, many=True), chosen) == expected
    # Callers pass lists, tuples or sets alike.
    assert _where(db, one_of(Person.id, "items", BigInteger, postgres), set(int_ids)) == expected
    assert _where(db, one_of(Person.slack_user_id, "items", String, postgres), tuple(chosen)) == expected


def test_strings_keep_quotes_backslashes_and_non_ascii(db: Database) -> None:
    odd = ['U"1', "U\\2", "Ü😀3", "U 4", "U,5", "[6]"]
    _people(db, [*odd, "U7"])
    condition = one_of(Person.slack_user_id, "items", String, db.is_postgres)
    assert _where(db, condition, odd) == set(odd)
    assert _where(db, condition, ["Ü😀3"]) == {"Ü😀3"}


def test_a_string_is_not_taken_for_a_list(db: Database) -> None:
    _people(db, ["U1"])
    if db.is_postgres:
        pytest.skip("psycopg refuses a string for an array by itself")
    with pytest.raises(Exception, match="list of ids"):
        _where(db, one_of(Person.slack_user_id, "items", String, False), "U1")


def test_one_statement_text_for_every_length(db: Database) -> None:
    """The list is one parameter: the SQL sent is the same whatever the list's length."""
    ids = list(_people(db, ["U1", "U2", "U3"]).values())
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        for n in (0, 1, 3):
            _where(db, one_of(Person.id, "items", BigInteger, db.is_postgres), ids[:n])
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    selects = [s for s in sent if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 3 and len(set(selects)) == 1


@pytest.fixture
def low_variable_limit(db: Database) -> Database:
    """On SQLite, this database's connections refuse more than SQLite's default 32,766
    variables, as python.org's, Homebrew's and Alpine's builds do."""
    if db.is_sqlite:

        def limit(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, DEFAULT_VARIABLE_LIMIT)

        event.listen(db.engine, "connect", limit)
        db.engine.dispose()  # no connection opened before the limit
        with db.engine.connect() as connection:
            driver = connection.connection.driver_connection
            assert driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) == DEFAULT_VARIABLE_LIMIT
    return db


@pytest.mark.ranking_rows_unchecked("40,001 people seeded in bulk; their rows are not the point")
def test_a_round_of_40000_people_past_sqlites_default_variable_limit(low_variable_limit: Database) -> None:
    """Eligibility's capacity count and the round's topic names take every participant's id:
    40,000 of them, more than SQLite's default limit on a statement's variables."""
    db = low_variable_limit
    now = utcnow()
    busy = make_person(db, None, "UBUSY", "Bea Busy", "Engineering", speaks=["Kubernetes"], weekly=True)
    learner = make_person(db, None, "ULEARN", "Lea Learner", "Product", learns=["Kubernetes"], weekly=True)
    with db.session() as session:
        session.execute(
            insert(Person),
            [
                {
                    "slack_user_id": f"U{i:08d}",
                    "name": f"p{i}",
                    "joined_at": now - timedelta(days=30),
                    "function": "Sales",
                    "chats_per_month": 2,
                    "weekly_pairing": True,
                }
                for i in range(40_000)
            ],
        )
        session.execute(Person.__table__.update().where(Person.id == busy).values(chats_per_month=1))
    make_chat(db, learner, busy)  # Bea's one chat this month: she is at capacity

    with db.session() as session:
        people = pairing.eligible_people(session, now)
        names = pairing.topic_names(session, people)

    ids = {p.id for p in people}
    assert len(people) == 40_001 > DEFAULT_VARIABLE_LIMIT
    assert learner in ids and busy not in ids
    assert set(names.values()) == {"Kubernetes"}  # Lea wants to learn it; nobody else has topics
