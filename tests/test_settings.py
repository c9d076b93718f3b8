"""Settings: the names README.md lists, clear one-line errors."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bot.settings import ConfigError, Settings, load_settings, parse_duration

CLEAN_ENV = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in list(__import__("os").environ):
        if name.startswith(("INFOCHAT_", "SLACK_")):
            monkeypatch.delenv(name)


def test_defaults_follow_the_contract() -> None:
    s = Settings()
    assert s.database_url.startswith("sqlite:///")
    assert s.slack_api_url == "https://slack.com/api/"
    assert s.port == 3000
    assert s.pairing_schedule == "0 9 * * mon"
    assert s.followup_after == timedelta(days=3)
    assert s.min_group_size == 5
    assert s.auto_migrate is True
    assert s.workers == 1 and s.http_threads == 4


def test_reads_prefixed_env_and_comma_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFOCHAT_ADMINS", "U1, U2,,U3")
    monkeypatch.setenv("INFOCHAT_FUNCTIONS", "Engineering,Sales")
    monkeypatch.setenv("INFOCHAT_FOLLOWUP_AFTER", "36h")
    monkeypatch.setenv("INFOCHAT_SLACK_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    s = load_settings()
    assert s.admins == ["U1", "U2", "U3"]
    assert s.functions == ["Engineering", "Sales"]
    assert s.followup_after == timedelta(hours=36)
    assert s.slack_api_url == "http://127.0.0.1:9/api/"
    assert s.bot_token() == "xoxb-1"
    assert "xoxb-1" not in repr(s)  # tokens are secrets


def test_reads_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("INFOCHAT_PORT=4123\nSLACK_SIGNING_SECRET=abc\n")
    s = load_settings()
    assert s.port == 4123 and s.signing_secret() == "abc"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("INFOCHAT_PORT", "abc"),
        ("INFOCHAT_PORT", "70000"),
        ("INFOCHAT_FOLLOWUP_AFTER", "three days"),
        ("INFOCHAT_TIMEZONE", "Mars/Olympus"),
        ("INFOCHAT_PAIRING_SCHEDULE", "every monday"),
        ("INFOCHAT_AUTO_MIGRATE", "perhaps"),
        ("INFOCHAT_DATABASE_URL", "mysql://x@y/z"),
        ("INFOCHAT_FUNCTIONS", " , "),
        ("INFOCHAT_MIN_GROUP_SIZE", "0"),
        ("INFOCHAT_HTTP_THREADS", "0"),
        ("INFOCHAT_RETENTION_DAYS", "a year"),
        ("INFOCHAT_LOG_LEVEL", "LOUD"),
        ("SLACK_BOT_TOKEN", "bogus"),
        ("SLACK_APP_TOKEN", "xoxb-not-an-app-token"),
        ("INFOCHAT_ADMINS", "bob"),
        ("INFOCHAT_ADMIN_USERGROUP", "devs"),
        ("INFOCHAT_DATABASE_URL", "sqlite:////nonexistent/dir/infochat.db"),
    ],
)
def test_malformed_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert name in message
    assert "\n" not in message


def test_durations() -> None:
    assert parse_duration("0s") == timedelta(0)
    assert parse_duration("3d") == timedelta(days=3)
    assert parse_duration(" 2W ") == timedelta(weeks=2)
    with pytest.raises(ValueError):
        parse_duration("3 days")


def test_missing_token_stops_serve_with_one_clear_line(tmp_path: Path) -> None:
    env = {**CLEAN_ENV, "INFOCHAT_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_malformed_setting_stops_cli_without_traceback(tmp_path: Path) -> None:
    env = {**CLEAN_ENV, "INFOCHAT_PORT": "abc"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "INFOCHAT_PORT" in result.stderr and "Traceback" not in result.stderr


def test_numbers_are_worded_like_the_other_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFOCHAT_PORT", "abc")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value) == "INFOCHAT_PORT: expected a whole number from 1 to 65535, got 'abc'"


def test_every_problem_in_one_message_and_no_secret_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "SLACK_BOT_TOKEN": "hunter2-secret",
        "SLACK_APP_TOKEN": "xoxp-user-token-secret",
        "INFOCHAT_PORT": "abc",
        "INFOCHAT_ADMINS": "U012AB3CD, bob",
        "INFOCHAT_FOLLOWUP_AFTER": "soon",
    }.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    names = ["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "INFOCHAT_PORT", "INFOCHAT_ADMINS"]
    names.append("INFOCHAT_FOLLOWUP_AFTER")
    assert all(name in message for name in names), message
    assert "'bob'" in message and "U012AB3CD" not in message.split("INFOCHAT_ADMINS")[1].split(";")[0]
    assert "secret" not in message and "\n" not in message
    assert "a token starting with xoxp-" in message  # says what it is, not what it says


def test_slack_ids_and_tokens_of_the_right_shape_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1-2-abc")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-A-2-abc")
    monkeypatch.setenv("INFOCHAT_ADMINS", "U012AB3CD,W0ENTERPRISE")
    monkeypatch.setenv("INFOCHAT_ADMIN_USERGROUP", "S0PEOPLE")
    settings = load_settings()
    assert settings.admins == ["U012AB3CD", "W0ENTERPRISE"] and settings.admin_usergroup == "S0PEOPLE"


def test_a_missing_sqlite_folder_is_reported_not_created(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("INFOCHAT_DATABASE_URL", f"sqlite:///{tmp_path}/missing/infochat.db")
    with pytest.raises(ConfigError, match=r"INFOCHAT_DATABASE_URL: the folder .*missing .*does not exist"):
        load_settings()
    assert not (tmp_path / "missing").exists()


def test_serve_names_every_missing_credential_at_once(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "serve", "--socket"],
        env={**CLEAN_ENV, "INFOCHAT_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert all(name in lines[0] for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"))
    assert not (tmp_path / "x.db").exists()
