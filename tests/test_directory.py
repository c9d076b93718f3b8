"""The workspace directory: member events, the nightly sync, the CSV import of functions."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.clock import utcnow
from bot.context import AppContext
from bot.db import Database
from bot.devtools.slack_client import SlackAppClient
from bot.devtools.standin import SlackStandIn
from bot.flows import directory as directory_flow
from bot.gateway.slack import SlackGateway, build_web_client
from bot.models import Person
from bot.services import directory
from bot.services.directory import DirectoryImportError
from bot.settings import Settings
from tests.conftest import BOT_TOKEN

FUNCTIONS = ["Engineering", "Product", "Design", "Sales", "Finance"]


def _person(db: Database, slack_user_id: str) -> Person | None:
    with db.session() as session:
        return session.scalar(select(Person).where(Person.slack_user_id == slack_user_id))


def _count(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Person)) or 0)


def _gateway(standin: SlackStandIn) -> SlackGateway:
    return SlackGateway(build_web_client(BOT_TOKEN, standin.url))


def _context(settings: Settings, db: Database, standin: SlackStandIn) -> AppContext:
    return AppContext(settings=settings, db=db, slack=_gateway(standin))


def _url(db: Database) -> str:
    return db.url.render_as_string(hide_password=False)


# --------------------------------------------------------------------------- events


def test_user_change_deleted_removes_member_before_the_response(
    slack: SlackAppClient, standin: SlackStandIn, db: Database
) -> None:
    user = standin.add_user("U1ADA", name="ada", real_name="Ada Lovelace", title="Engineer")
    with db.session() as session:
        person = directory.upsert_member(session, user).person
        person.joined_at = utcnow()
        person.function, person.function_source = "Engineering", "import"
    assert _person(db, "U1ADA").is_available(utcnow())  # type: ignore[union-attr]

    gone = standin.add_user("U1ADA", name="ada", real_name="Ada Lovelace", title="Engineer", deleted=True)
    response = slack.event({"type": "user_change", "user": gone})

    assert response.status_code == 200
    person = _person(db, "U1ADA")  # no waiting: the upsert ran before the ack
    assert person is not None and person.is_deleted
    assert not person.is_available(utcnow()) and not person.can_be_messaged
    # Slack's fields only: the infochat profile is untouched.
    assert (person.function, person.function_source, person.joined_at is not None) == (
        "Engineering",
        "import",
        True,
    )


def test_team_join_adds_a_member_with_directory_fields(
    slack: SlackAppClient, standin: SlackStandIn, db: Database
) -> None:
    user = standin.add_user(
        "U2BOB",
        name="bob",
        real_name="Bob Marley",
        title="Senior Software Engineer",
        tz="Europe/Paris",
        email="Bob@Example.com",
    )
    assert slack.event({"type": "team_join", "user": user}).status_code == 200

    person = _person(db, "U2BOB")
    assert person is not None
    assert (person.team_id, person.name, person.real_name, person.title, person.tz, person.email) == (
        standin.team_id,
        "bob",
        "Bob Marley",
        "Senior Software Engineer",
        "Europe/Paris",
        "Bob@Example.com",
    )
    assert person.can_be_messaged and person.function is None

    # No email in this object, as when the app lacks the users:read.email scope.
    renamed = standin.add_user("U2BOB", name="bob", real_name="Robert Marley", title="Staff Engineer")
    assert "email" not in renamed["profile"]
    assert slack.event({"type": "user_change", "user": renamed}).status_code == 200
    person = _person(db, "U2BOB")
    assert person is not None
    assert (person.real_name, person.title, person.email) == (
        "Robert Marley",
        "Staff Engineer",
        "Bob@Example.com",
    )


@pytest.mark.parametrize(
    ("flags", "flag"),
    [
        ({"is_restricted": True}, "is_restricted"),
        ({"is_restricted": True, "is_ultra_restricted": True}, "is_ultra_restricted"),
        ({"is_bot": True}, "is_bot"),
    ],
    ids=["guest", "single-channel-guest", "bot"],
)
def test_guests_and_bots_are_stored_but_never_messageable(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, flags: dict[str, bool], flag: str
) -> None:
    user = standin.add_user("U3GUEST", name="guest", **flags)
    assert slack.event({"type": "team_join", "user": user}).status_code == 200
    person = _person(db, "U3GUEST")
    assert person is not None and getattr(person, flag) and not person.can_be_messaged


def test_members_of_other_organisations_are_ignored(
    slack: SlackAppClient, standin: SlackStandIn, db: Database
) -> None:
    stranger = standin.add_user("U4EXT", name="stranger")
    stranger["team_id"] = "T0ELSEWHERE"
    assert slack.event({"type": "user_change", "user": stranger}).status_code == 200
    assert _person(db, "U4EXT") is None


def test_two_events_for_a_new_member_at_once_make_one_row(standin: SlackStandIn, db: Database) -> None:
    user = standin.add_user("U5TWIN", name="twin", title="Designer")
    barrier = threading.Barrier(4)
    failures: list[BaseException] = []

    def upsert() -> None:
        try:
            barrier.wait()
            with db.session() as session:
                directory.upsert_member(session, user)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=upsert) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert _count(db) == 1


def test_ensure_member_fetches_unknown_users_once(
    standin: SlackStandIn, settings: Settings, db: Database
) -> None:
    standin.add_user("U6NEW", name="newbie", real_name="New Bie")
    ctx = _context(settings, db, standin)
    with db.session() as session:
        person = directory_flow.ensure_member(ctx, session, "U6NEW")
        assert person is not None and person.real_name == "New Bie"
        assert directory_flow.ensure_member(ctx, session, "U6NOSUCH") is None
        assert directory_flow.ensure_member(ctx, session, "U6NEW") is person
    assert len(standin.calls_to("users.info", include_failed=True)) == 2


# --------------------------------------------------------------------------- sync


def test_sync_walks_every_page_once_and_survives_a_429(
    standin: SlackStandIn, settings: Settings, db: Database
) -> None:
    for i in range(450):
        standin.add_user(f"U{i:05d}", name=f"user{i}", title="Engineer", email=f"user{i}@example.com")
    total = 452  # plus the app's bot user and Slackbot
    ctx = _context(settings, db, standin)
    with db.session() as session:  # known to us but no longer listed by Slack
        session.add(Person(slack_user_id="U9VANISHED", name="vanished"))

    def throttle_next_page(report: directory.SyncReport) -> None:
        if report.pages == 1:
            standin.fail("users.list", status=429, retry_after=1)

    report = directory_flow.sync_directory(ctx, page_size=200, page_delay=0, on_page=throttle_next_page)

    assert (report.pages, report.seen, report.added, report.updated, report.deactivated) == (
        3,
        total,
        total,
        0,
        0,
    )
    attempts = standin.calls_to("users.list", include_failed=True)
    assert [call.status for call in attempts] == [200, 429, 200, 200]
    assert attempts[2].at - attempts[1].at >= 0.9  # Retry-After honoured
    assert all(call.params["limit"] in (200, "200") for call in attempts)
    assert _count(db) == total + 1
    vanished = _person(db, "U9VANISHED")
    assert vanished is not None and not vanished.is_deleted
    slackbot, bot = _person(db, "USLACKBOT"), _person(db, standin.bot_user_id)
    assert slackbot is not None and slackbot.is_bot and bot is not None and bot.is_bot

    standin.add_user("U00007", name="user7", title="Product Manager", email="user7@example.com")
    standin.add_user("U00008", name="user8", title="Engineer", email="user8@example.com", deleted=True)
    again = directory_flow.sync_directory(ctx, page_size=200, page_delay=0)
    assert (again.seen, again.added, again.updated, again.deactivated) == (total, 0, 2, 1)
    assert _person(db, "U00007").title == "Product Manager"  # type: ignore[union-attr]
    assert _person(db, "U00008").is_deleted  # type: ignore[union-attr]


# --------------------------------------------------------------------------- functions


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Senior Software Engineer", "Engineering"),
        ("Staff Engineer, Platform", "Engineering"),
        ("Frontend Developer", "Engineering"),
        ("Product Manager", "Product"),
        ("Lead Product Designer", "Product"),
        ("UX Researcher", "Design"),
        ("Designer", "Design"),
        ("Financial Analyst", "Finance"),
        ("VP Sales EMEA", "Sales"),
        ("Account Executive", None),
        ("Chief of Staff", None),
        ("", None),
    ],
)
def test_suggest_function(title: str, expected: str | None) -> None:
    assert directory.suggest_function(title, FUNCTIONS) == expected


def test_suggest_function_uses_configured_names_only() -> None:
    assert directory.suggest_function("HR Business Partner", ["People", "Engineering"]) == "People"
    assert directory.suggest_function("HR Business Partner", FUNCTIONS) is None
    assert directory.suggest_function("Customer Success Manager", ["Customer Success", "Sales"]) == (
        "Customer Success"
    )


def _members(db: Database, standin: SlackStandIn) -> None:
    with db.session() as session:
        directory.upsert_member(session, standin.add_user("U7ANN", name="ann", email="Ann@Example.com"))
        directory.upsert_member(session, standin.add_user("U7BEN", name="ben", email="ben@example.com"))


def test_import_functions_by_id_and_email(standin: SlackStandIn, db: Database) -> None:
    _members(db, standin)
    text = "\ufeffslack_user_id,function\nU7ANN,engineering\n\nann2@nowhere.example,Sales\n"
    text = text.replace("ann2@nowhere.example", "BEN@example.com") + "U7NEWCOMER, Finance \n"
    with db.session() as session:
        report = directory.import_functions(session, directory.read_csv_rows(text), FUNCTIONS)
    assert (report.imported, report.stubs) == (3, 1)
    for user_id, function in (("U7ANN", "Engineering"), ("U7BEN", "Sales"), ("U7NEWCOMER", "Finance")):
        person = _person(db, user_id)
        assert person is not None and (person.function, person.function_source) == (function, "import")
    stub = _person(db, "U7NEWCOMER")
    assert stub is not None and stub.name == "" and stub.team_id is None

    # The next event fills the stub in and keeps the imported function.
    with db.session() as session:
        directory.upsert_member(session, standin.add_user("U7NEWCOMER", name="newcomer", title="Controller"))
    stub = _person(db, "U7NEWCOMER")
    assert stub is not None and (stub.name, stub.function) == ("newcomer", "Finance")


BAD_CSV = """email,function
ann@example.com,Engineering
ghost@example.com,Sales
U7BEN,Astrology
not-an-email@,Sales
U7BEN,Design,extra
U7ANN,Product
u7lower,Sales
"""


def test_import_reports_every_bad_line_and_applies_nothing(standin: SlackStandIn, db: Database) -> None:
    _members(db, standin)
    with pytest.raises(DirectoryImportError) as raised, db.session() as session:
        directory.import_functions(session, directory.read_csv_rows(BAD_CSV), FUNCTIONS)
    errors = dict(raised.value.errors)
    assert sorted(errors) == [3, 4, 5, 6, 7, 8]
    assert "run `infochat directory sync` first" in errors[3]
    assert "unknown function 'Astrology'" in errors[4]
    assert "not a valid email" in errors[5]
    assert "expected 2 columns" in errors[6]
    assert "already" in errors[7] and "line 2" in errors[7]
    assert "neither a Slack user id" in errors[8]
    with db.session() as session:
        assert session.scalars(select(Person.function).where(Person.function.is_not(None))).all() == []
    assert _count(db) == 2


def _cli(db: Database, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("INFOCHAT_", "SLACK_"))} | {
        "INFOCHAT_DATABASE_URL": _url(db),
        "INFOCHAT_FUNCTIONS": ",".join(FUNCTIONS),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "directory", *args],
        cwd=tmp_path,  # away from any .env in the repository
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_import(standin: SlackStandIn, db: Database, tmp_path: Path) -> None:
    _members(db, standin)
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD_CSV)
    result = _cli(db, tmp_path, "import", str(bad))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert [line.split(":")[0] for line in lines[:6]] == [f"line {n}" for n in (3, 4, 5, 6, 7, 8)]
    assert "nothing imported" in lines[-1]
    assert _person(db, "U7ANN").function is None  # type: ignore[union-attr]

    good = tmp_path / "good.csv"
    good.write_text("U7ANN,Design\nben@example.com,product\n")
    result = _cli(db, tmp_path, "import", str(good))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported 2 functions"
    assert _person(db, "U7BEN").function == "Product"  # type: ignore[union-attr]


def test_cli_sync(standin: SlackStandIn, db: Database, tmp_path: Path) -> None:
    standin.add_user("U8CAT", name="cat", title="Product Designer")
    env: dict[str, Any] = {"SLACK_BOT_TOKEN": BOT_TOKEN, "INFOCHAT_SLACK_API_URL": standin.url}
    result = _cli(db, tmp_path, "sync", "--page-delay", "0", **env)
    assert result.returncode == 0, result.stderr
    assert "3 members seen in 1 pages: 3 added" in result.stdout
    assert _person(db, "U8CAT").title == "Product Designer"  # type: ignore[union-attr]

    missing = _cli(db, tmp_path, "sync")
    assert missing.returncode == 2 and "SLACK_BOT_TOKEN" in missing.stderr
