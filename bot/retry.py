"""Run an idempotent unit of work again when the database connection fails under it.

A PostgreSQL restart or failover kills every open connection. `pool_pre_ping`
replaces connections that died while idle in the pool, but a connection that
dies *inside* a transaction fails the statement running on it. The server has
then rolled that transaction back, so running the whole unit of work again on a
fresh connection is safe, provided that:

- the failure is a connection-level one (or a serialisation failure/deadlock,
  which PostgreSQL asks the client to retry); constraint violations, bad SQL
  and the like are bugs or answers and are never retried;
- it did not happen during COMMIT itself, where the outcome is unknown
  (`Database.session` marks those errors; they are never retried: a second
  attempt could record a request twice);
- nothing outside the database happened in the failed attempt: a Slack message
  sent before the failure would be sent again. Every Web API call that changes
  something notes itself here (`note_side_effect`), as do `respond`/`say`.

Listeners get this for free (`ListenerRegistry` wraps ack and lazy functions),
jobs call `Database.run`. The scheduler's jobs are periodic, so a run that still
fails is simply picked up by the next one.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from prometheus_client import Counter
from sqlalchemy import exc as sa_exc

log = logging.getLogger(__name__)

# Served by bot.metrics with the other counters; defined here so that the engine's module
# (bot.db uses bot.retry) never imports the metrics, which read the database.
DB_RETRIES = Counter(
    "infochat_db_retries",
    "Units of work run again after the database connection failed under them",
    ["unit_of_work"],
)

T = TypeVar("T")

COMMIT_OUTCOME_UNKNOWN = "infochat_commit_outcome_unknown"

# PostgreSQL SQLSTATEs worth another attempt: serialization_failure, deadlock_detected,
# admin_shutdown / crash_shutdown / cannot_connect_now (server restarting), and
# the connection_exception class.
TRANSIENT_SQLSTATES = frozenset(
    {"40001", "40P01", "57P01", "57P02", "57P03", "08000", "08001", "08003", "08004", "08006"}
)

# Budgets: an ack must reach Slack within 3 s, so its retries stop after 1.5 s;
# work after the ack (lazy listeners, jobs) can wait for a restart to finish.
ACK_BUDGET_SECONDS = 1.5
BACKGROUND_BUDGET_SECONDS = 15.0
_BACKOFF = (0.05, 0.15, 0.3, 0.6, 1.0)

# The side effects of the attempt running in this context, or None outside any attempt.
_effects: ContextVar[list[str] | None] = ContextVar("infochat_side_effects", default=None)


def note_side_effect(what: str) -> None:
    """Record that the current attempt did something outside the database."""
    effects = _effects.get()
    if effects is not None:
        effects.append(what)


def is_transient(error: BaseException) -> bool:
    """True for a database error that another attempt on a fresh connection may not hit."""
    if getattr(error, COMMIT_OUTCOME_UNKNOWN, False):
        return False
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    driver_error = error.orig
    if not hasattr(driver_error, "sqlstate"):  # sqlite3: no server to restart
        return False
    sqlstate = driver_error.sqlstate
    if sqlstate in TRANSIENT_SQLSTATES:
        return True
    # psycopg raises OperationalError without a SQLSTATE when it cannot reach the
    # server at all (connection refused, server closed the connection).
    return sqlstate is None and isinstance(error, sa_exc.OperationalError)


def retrying(fn: Callable[[], T], *, label: str, budget: float = BACKGROUND_BUDGET_SECONDS) -> T:
    """Call `fn`, and call it again while it fails transiently, nothing left the
    database, and the budget (seconds) allows."""
    started = time.monotonic()
    attempt = 0
    while True:
        effects: list[str] = []
        token = _effects.set(effects)
        try:
            return fn()
        except sa_exc.DBAPIError as error:
            delay = _BACKOFF[min(attempt, len(_BACKOFF) - 1)]
            elapsed = time.monotonic() - started
            if not is_transient(error) or effects or elapsed + delay > budget:
                if is_transient(error):
                    log.error(
                        "database failed under %s; not retried (%s)",
                        label,
                        "it already reached Slack" if effects else "out of time",
                        extra={"unit_of_work": label, "attempts": attempt + 1, "side_effects": effects},
                    )
                raise
            attempt += 1
            DB_RETRIES.labels(label).inc()
            log.warning(
                "database connection failed under %s; retrying (attempt %d)",
                label,
                attempt + 1,
                extra={"unit_of_work": label, "error": error.__class__.__name__, "detail": str(error.orig)},
            )
            time.sleep(delay)
        finally:
            _effects.reset(token)
            # A retrying call nested in another: what reached Slack in here
            # also rules out repeating the outer unit of work.
            outer = _effects.get()
            if outer is not None:
                outer.extend(effects)


def _noting(callback: Callable[..., Any], what: str) -> Callable[..., Any]:
    @functools.wraps(callback)
    def noted(*args: Any, **kwargs: Any) -> Any:
        note_side_effect(what)
        return callback(*args, **kwargs)

    return noted


def retry_listener(listener: Callable[..., Any], *, budget: float) -> Callable[..., Any]:
    """Wrap a Bolt listener function so its database work is retried.

    Bolt injects arguments by the names of the wrapped function's parameters
    (it unwraps `functools.wraps`), so the wrapper receives exactly what the
    listener asked for. `respond` and `say` reach Slack, so they count as side
    effects; `ack` only sets the HTTP response, which a retry overwrites.
    """
    label = f"{listener.__module__}.{listener.__name__}"

    @functools.wraps(listener)
    def with_retries(**kwargs: Any) -> Any:
        for name in ("respond", "say"):
            if name in kwargs:
                kwargs[name] = _noting(kwargs[name], name)
        return retrying(lambda: listener(**kwargs), label=label, budget=budget)

    return with_retries
