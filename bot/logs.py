"""Logging set-up: human-readable text by default, JSON lines for log pipelines."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime

# The id of the HTTP request being handled, added to every log line written while it is.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        rid = request_id.get()
        if rid is not None and not hasattr(record, "request_id"):
            record.request_id = rid
        return True


# Attributes every LogRecord has; anything else was passed via `extra=` and is context.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _SchemaCheckChatter(logging.Filter):
    """Alembic's two lines on opening any migration context; its "Running upgrade" lines stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(("Context impl ", "Will assume "))


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Bolt logs every unhandled request at WARNING with the whole payload; keep that at DEBUG level.
    logging.getLogger("slack_bolt").setLevel(max(logging.getLevelName(level), logging.INFO))
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # Unless debugging: Alembic says "Context impl SQLiteImpl." on every schema check (bot.migrate
    # logs the revision), and APScheduler logs each job twice at start ("Adding job tentatively",
    # "Added job"), named after the function they share, then every run of every job (the outbox
    # every 30 s); bot.scheduler logs one line per job with its name and next run, and outcomes.
    chatty = logging.DEBUG if level == "DEBUG" else logging.WARNING
    for name in ("apscheduler.scheduler", "apscheduler.executors"):
        logging.getLogger(name).setLevel(chatty)
    migration = logging.getLogger("alembic.runtime.migration")
    migration.filters[:] = [] if level == "DEBUG" else [_SchemaCheckChatter()]
