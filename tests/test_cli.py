"""The `infochat` command as an operator meets it: what README documents exists, and a
database without the schema gets one line saying what to do (or is migrated), never a
traceback or a stray empty SQLite file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot import migrate
from bot.cli import build_parser
from bot.db import Database
from tests import test_migrations

# The fixture of a database with nothing in it (a SQLite file not made yet, or a new PostgreSQL one).
empty_database_url = test_migrations.empty_database_url

README = Path(__file__).resolve().parent.parent / "README.md"


def documented_commands() -> list[list[str]]:
    """Each command in README's operator table, as argv words (placeholders and options dropped).

    A row such as "`infochat topics list` / `alias A B` / `merge A B`" names its group once;
    the later spellings are relative to it.
    """
    section = README.read_text().split("Operator commands", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("  | `infochat")]
    commands = []
    for row in rows:
        first_cell = row.split(" | ")[1]
        spans = re.findall(r"`([^`]+)`", first_cell)
        group = spans[0].split()[1]
        for span in spans:
            words = span.split()
            if words[0] == "infochat":
                words = words[1:]
            elif words[0] != group:
                words = [group, *words]
            # Stop at the first option, [optional] part or PLACEHOLDER (FILE, USER, P, A …).
            kept = []
            for word in words:
                if word.startswith(("-", "[")) or word.isupper():
                    break
                kept.append(word)
            commands.append(kept)
    return commands


def test_readme_table_is_read() -> None:
    commands = documented_commands()
    assert ["serve"] in commands and ["report"] in commands and ["topics", "merge"] in commands
    assert len(commands) >= 15


@pytest.mark.parametrize("words", documented_commands(), ids=" ".join)
def test_every_documented_command_exists(words: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([*words, "--help"])
    assert exit_info.value.code == 0, capsys.readouterr().err
    assert "usage: infochat " + " ".join(words) in capsys.readouterr().out


def test_every_command_is_documented() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    documented = {words[0] for words in documented_commands()}
    assert set(commands) <= documented, f"not in README's operator table: {set(commands) - documented}"


# -- a database without the schema ----------------------------------------------------------------


def _infochat(cwd: Path, database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("INFOCHAT_", "SLACK_"))}
    environment |= {"INFOCHAT_DATABASE_URL": database_url, "SLACK_BOT_TOKEN": "xoxb-test", **env}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,  # away from any .env in the repository
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["pair", "--dry-run"],
        ["topics", "list"],
        ["privacy", "export", "U123"],
        ["report", "--format", "json", "--out", "reports"],
    ],
    ids=" ".join,
)
def test_without_auto_migrate_a_command_on_an_empty_database_says_to_upgrade(
    args: list[str], empty_database_url: str, tmp_path: Path
) -> None:
    result = _infochat(tmp_path, empty_database_url, *args, INFOCHAT_AUTO_MIGRATE="false")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "infochat db upgrade" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.glob("*.db*")) == []  # no empty SQLite file left behind
    db = Database(empty_database_url)
    try:
        assert migrate.current_revision(db) is None  # and nothing half-made in PostgreSQL
    finally:
        db.dispose()


def test_with_auto_migrate_a_command_on_an_empty_database_migrates_it(
    empty_database_url: str, tmp_path: Path
) -> None:
    result = _infochat(tmp_path, empty_database_url, "topics", "list", INFOCHAT_AUTO_MIGRATE="true")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].split() == ["topic", "key", "speak", "learn"]
    db = Database(empty_database_url)
    try:
        assert migrate.current_revision(db) == migrate.head_revision()
    finally:
        db.dispose()


def test_db_current_on_a_missing_sqlite_file_creates_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'infochat.db'}"
    result = _infochat(tmp_path, url, "db", "current")
    assert result.returncode == 1
    assert "empty database (no file at" in result.stdout
    assert not (tmp_path / "infochat.db").exists()
