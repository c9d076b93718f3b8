"""The one clock of the app: what "now" is for services, flows, the outbox, jobs and the demo.

Everything that asks for the current instant calls `utcnow()`. In production it
is the system clock. Tests and the demo pin the app to another instant with
`travel_to` (time then runs on from there, so leases, pacing and "in two
hours" still behave) or `frozen_at` (time stands still), so nothing in the
product depends on the hour a test happens to run.

Slack's side of the edge keeps real time: request signatures and their
5-minute window are checked against the real clock (Slack signs with it),
and so are monotonic timers for caches.

Waiting is an input too: pacing towards Slack (the gateway's token bucket),
Retry-After and backoff wait with `sleep()` and measure with `monotonic()`.
`simulated_time` makes those waits move the clock on instead of blocking, so a
bench or a test can deliver a whole round against Slack's rate limits in
seconds of real time (bench/round.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Now = Callable[[], datetime]


def system_now() -> datetime:
    return datetime.now(UTC)


_lock = threading.Lock()
_now: Now = system_now


def utcnow() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return _now()


def set_clock(now: Now) -> Now:
    """Replace the app's clock; returns the previous one (to restore it)."""
    global _now
    with _lock:
        previous, _now = _now, now
    return previous


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("pin the clock to an aware datetime (with a time zone)")
    return instant.astimezone(UTC)


def running_from(instant: datetime) -> Now:
    """A clock that reads `instant` now and runs on at the real pace."""
    start, started = _aware(instant), time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - started)


def standing_at(instant: datetime) -> Now:
    """A clock that always reads `instant`."""
    start = _aware(instant)
    return lambda: start


@contextmanager
def travel_to(instant: datetime) -> Iterator[None]:
    """Run the app as if it were `instant` now (time moves on from there)."""
    previous = set_clock(running_from(instant))
    try:
        yield
    finally:
        set_clock(previous)


@contextmanager
def frozen_at(instant: datetime) -> Iterator[None]:
    """Run the app with the clock stopped at `instant`."""
    previous = set_clock(standing_at(instant))
    try:
        yield
    finally:
        set_clock(previous)


def advance(delta: timedelta) -> None:
    """Move the app's clock on by `delta` (the demo skipping to the morning, a test to next week)."""
    current = _now

    def later() -> datetime:
        return current() + delta

    set_clock(later)


# -- waiting ------------------------------------------------------------------------------------

_monotonic: Callable[[], float] = time.monotonic
_sleep: Callable[[float], None] = time.sleep


def monotonic() -> float:
    """Seconds on a clock that never goes back: for pacing and rate limits."""
    return _monotonic()


def sleep(seconds: float) -> None:
    """Wait `seconds` (pacing, Retry-After, backoff); under `simulated_time`, skip them."""
    if seconds > 0:
        _sleep(seconds)


class SimulatedTime:
    """Real time plus every wait skipped: `sleep(s)` returns at once and moves the clock on by s.

    The app's "now", `monotonic()` and anything reading them (the Slack stand-in's rate
    limiter, given `monotonic`) then agree, as if the process had waited. Work still
    takes its real time, so pacing overlaps with it as it would in production.
    """

    def __init__(self, start: datetime) -> None:
        self.start = _aware(start)
        self.started = time.monotonic()
        self.skipped = 0.0
        self.lock = threading.Lock()

    def monotonic(self) -> float:
        return time.monotonic() + self.skipped

    def elapsed(self) -> float:
        """Seconds since the start on this clock (real work plus skipped waits)."""
        return self.monotonic() - self.started

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed())

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.skipped += max(0.0, seconds)


@contextmanager
def simulated_time(start: datetime) -> Iterator[SimulatedTime]:
    """Run the app from `start` with waits simulated (see `SimulatedTime`)."""
    global _monotonic, _sleep
    simulated = SimulatedTime(start)
    previous = set_clock(simulated.now)
    with _lock:
        saved, (_monotonic, _sleep) = (_monotonic, _sleep), (simulated.monotonic, simulated.sleep)
    try:
        yield simulated
    finally:
        with _lock:
            _monotonic, _sleep = saved
        set_clock(previous)


# The zone of people Slack gives none (or one this system lacks): the workspace's own,
# INFOCHAT_TIMEZONE, set once when the app is built from its settings. Module state like
# the clock, so that no function below the flows carries it as a parameter.
_home = "UTC"


def set_home_zone(name: str) -> str:
    """Make `name` the workspace's zone (the fallback of `zone`); returns the previous one."""
    global _home
    ZoneInfo(name)  # settings validated it; a bad name fails here, not at the first DM
    with _lock:
        previous, _home = _home, name
    return previous


def zone(name: str | None) -> ZoneInfo:
    """The IANA time zone `name`, else the workspace's, else UTC: the one place a zone name is read.

    Slack may send no zone for a member, or one this system's tz database lacks;
    settings validate the workspace's own zone (INFOCHAT_TIMEZONE) at start-up.
    `zone(name).key` is the name that was used.
    """
    for candidate in (name, _home):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")
