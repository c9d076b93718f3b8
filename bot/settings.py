"""Settings: read once from the environment (and `.env`), validated, passed in.

Nothing else in infochat reads the environment. Names follow README.md ("Settings"):
`INFOCHAT_*` for the app's own settings and Slack's usual `SLACK_*` names for
credentials.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_FUNCTIONS = (
    "Engineering,Product,Design,Data,Sales,Marketing,Customer Success,Finance,People,Operations,Legal"
)
SLACK_API_URL = "https://slack.com/api/"
SLACK_OAUTH_URL = "https://slack.com/openid/connect/authorize"

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


# Slack's member ids start with U (or W in Enterprise Grid), user group ids with S.
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]+$")
SLACK_USERGROUP_ID = re.compile(r"^S[A-Z0-9]+$")
TOKEN_SHAPES = {
    "slack_bot_token": ("xoxb-", "the bot token"),
    "slack_app_token": ("xapp-", "an app-level token"),
}
KNOWN_TOKEN_PREFIXES = ("xoxb-", "xoxp-", "xapp-", "xoxe-", "xoxa-")


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line for the operator."""


def parse_duration(text: str) -> timedelta:
    """`3d`, `36h`, `90m`, `0s`, `2w` -> timedelta. Raises ValueError otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"expected a duration such as 3d, 36h, 90m or 0s, got {text!r}")
    amount, unit = int(match.group(1)), match.group(2).lower()
    return timedelta(**{_DURATION_UNITS[unit]: amount})


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


CommaList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="INFOCHAT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    # Slack credentials keep Slack's own variable names.
    slack_bot_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_BOT_TOKEN", "slack_bot_token")
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_SIGNING_SECRET", "slack_signing_secret")
    )
    slack_app_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_APP_TOKEN", "slack_app_token")
    )

    database_url: str = "sqlite:///infochat.db"
    slack_api_url: str = SLACK_API_URL
    host: str = "0.0.0.0"
    port: int = Field(default=3000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    # Threads per worker running Bolt's acks (slow work has a pool of its own). The acks are
    # CPU under one GIL: more threads only contend for it (docs/performance.md, "Ack path").
    http_threads: int = Field(default=4, ge=1, le=64)
    admins: CommaList = Field(default_factory=list)
    admin_usergroup: str | None = None
    functions: CommaList = Field(default_factory=lambda: _split_commas(DEFAULT_FUNCTIONS))
    timezone: str = "UTC"
    pairing_schedule: str = "0 9 * * mon"
    pairing_cooldown_weeks: int = Field(default=12, ge=0, le=520)
    followup_after: timedelta = timedelta(days=3)
    min_group_size: int = Field(default=5, ge=1, le=1000)
    auto_migrate: bool = True
    # `serve` calls auth.test at start and stops when Slack cannot be reached; true starts
    # anyway (a warning is logged), for set-ups whose Web API is reachable only later.
    start_without_slack: bool = False
    # Free text (intros, questions, takeaways, thanks, search queries) older than
    # this is blanked nightly; counts stay for reports. None keeps it.
    retention_days: int | None = Field(default=None, ge=1, le=36500)
    # The HR dashboard (/admin): Sign in with Slack (OpenID Connect).
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_oauth_url: str = SLACK_OAUTH_URL
    # Where browsers reach this app (e.g. https://infochat.example.com); the Sign in
    # with Slack redirect URL is built from it. Unset: from each request's host.
    public_url: str | None = None
    dashboard_session_hours: int = Field(default=8, ge=1, le=24 * 30)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("admins", "functions", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        return _split_commas(value)

    @field_validator("slack_bot_token", "slack_app_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        prefix, what = TOKEN_SHAPES[str(info.field_name)]
        token = value.get_secret_value().strip()
        if not token.startswith(prefix):
            # Never echo a secret: only say what it starts with when that is a known token kind.
            kind = next((k for k in KNOWN_TOKEN_PREFIXES if token.startswith(k)), None)
            got = f"a token starting with {kind}" if kind else "something else"
            raise ValueError(f"expected {what} starting with {prefix}, got {got}")
        return SecretStr(token)

    @field_validator("admins")
    @classmethod
    def _slack_user_ids(cls, value: list[str]) -> list[str]:
        wrong = [v for v in value if not SLACK_USER_ID.match(v)]
        if wrong:
            raise ValueError(
                "expected Slack user ids such as U0123ABCD or W0123ABCD (in Slack: the person's "
                f"profile → ⋯ → Copy member ID), got {', '.join(repr(w) for w in wrong)}"
            )
        return value

    @field_validator("admin_usergroup")
    @classmethod
    def _usergroup_id(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not SLACK_USERGROUP_ID.match(value.strip()):
            raise ValueError(f"expected a Slack user group id such as S0123ABCD, got {value!r}")
        return value.strip()

    @field_validator("functions")
    @classmethod
    def _functions_not_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("expected at least one function name, comma-separated")
        seen: set[str] = set()
        for name in value:
            if name.casefold() in seen:
                raise ValueError(f"function {name!r} is listed twice")
            seen.add(name.casefold())
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"expected an IANA time zone such as Europe/Paris, got {value!r}") from None
        return value

    @field_validator("pairing_schedule")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError:
            raise ValueError(
                f"expected a 5-field cron expression such as '0 9 * * mon', got {value!r}"
            ) from None
        return value

    @field_validator("followup_after", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_duration(value)
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"expected an http(s) URL such as {SLACK_API_URL}, got {value!r}")
        return value if value.endswith("/") else value + "/"

    @field_validator("slack_oauth_url", "public_url")
    @classmethod
    def _http_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            example = (
                SLACK_OAUTH_URL if info.field_name == "slack_oauth_url" else "https://infochat.example.com"
            )
            raise ValueError(f"expected an http(s) URL such as {example}, got {value!r}")
        return value.rstrip("/") if value and info.field_name == "public_url" else value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(
                "expected a database URL such as sqlite:///infochat.db or postgresql://user@host/db"
            ) from None
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError(f"expected a sqlite or postgresql URL, got {url.get_backend_name()!r}")
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            folder = Path(url.database).absolute().parent
            if not folder.is_dir():
                # infochat never makes folders: a typo would otherwise become a new, empty database.
                raise ValueError(f"the folder {folder} for the SQLite file does not exist: create it first")
        return value

    # -- derived -------------------------------------------------------------
    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def bot_token(self) -> str:
        return _required(self.slack_bot_token, "SLACK_BOT_TOKEN", "the bot token (xoxb-…) of your Slack app")

    def signing_secret(self) -> str:
        return _required(
            self.slack_signing_secret,
            "SLACK_SIGNING_SECRET",
            "the signing secret from your Slack app's Basic Information page",
        )

    def client_id(self) -> str:
        if not (self.slack_client_id or "").strip():
            raise ConfigError(
                "INFOCHAT_SLACK_CLIENT_ID is not set: expected the Client ID from your Slack app's "
                "Basic Information page, for Sign in with Slack"
            )
        return (self.slack_client_id or "").strip()

    def client_secret(self) -> str:
        return _required(
            self.slack_client_secret,
            "INFOCHAT_SLACK_CLIENT_SECRET",
            "the Client Secret from your Slack app's Basic Information page, for Sign in with Slack",
        )

    def app_token(self) -> str:
        return _required(
            self.slack_app_token,
            "SLACK_APP_TOKEN",
            "an app-level token (xapp-…) with connections:write, for Socket Mode",
        )


def require_credentials(settings: Settings, *names: str) -> None:
    """Stop with one line naming every credential in `names` that is not set."""
    readers = {
        "SLACK_BOT_TOKEN": settings.bot_token,
        "SLACK_SIGNING_SECRET": settings.signing_secret,
        "SLACK_APP_TOKEN": settings.app_token,
    }
    problems = []
    for name in names:
        try:
            readers[name]()
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("; ".join(problems))


def _required(value: SecretStr | None, name: str, what: str) -> str:
    if value is None or not value.get_secret_value().strip():
        raise ConfigError(f"{name} is not set: expected {what}")
    return value.get_secret_value().strip()


_ALIASES = {
    "slack_bot_token": "SLACK_BOT_TOKEN",
    "slack_signing_secret": "SLACK_SIGNING_SECRET",
    "slack_app_token": "SLACK_APP_TOKEN",
}


def env_name(field: str) -> str:
    if field in _ALIASES.values():
        return field
    return _ALIASES.get(field, f"INFOCHAT_{field.upper()}")


def load_settings(**overrides: Any) -> Settings:
    """Read settings once. Raises ConfigError with one line naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            name = env_name(field)
            if error["type"] == "value_error":
                message = str(error["msg"]).removeprefix("Value error, ")
            else:
                message = _expected(field, str(error["type"]), error.get("ctx") or {})
                if not name.startswith("SLACK_"):  # never echo a secret
                    message += f", got {error.get('input')!r}"
            problems.append(f"{name}: {message}")
        raise ConfigError("; ".join(problems)) from None


def _expected(field: str, kind: str, ctx: dict[str, Any]) -> str:
    """What a setting should look like, in the words of the other settings (not pydantic's)."""
    if kind.startswith("int_") or kind in ("greater_than_equal", "less_than_equal"):
        low, high = _bounds(field)
        if low is not None and high is not None:
            return f"expected a whole number from {low} to {high}"
        return "expected a whole number"
    if kind.startswith("bool_"):
        return "expected true or false"
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected', '')}".replace("'", "")
    if kind.startswith(("string_", "str_")):
        return "expected text"
    return f"not a valid value ({kind})"


def _bounds(field: str) -> tuple[Any, Any]:
    low = high = None
    for rule in Settings.model_fields[field].metadata if field in Settings.model_fields else []:
        low = getattr(rule, "ge", low)
        high = getattr(rule, "le", high)
    return low, high
