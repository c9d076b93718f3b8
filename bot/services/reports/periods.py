"""Report periods: whole local days, how admins type them, and the period each is compared with."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

DEFAULT_WEEKS = 4
MAX_PERIOD_DAYS = 3 * 366 + 1
TREND_MIN_WEEKS = 8
TREND_MAX_WEEKS = 53


class PeriodError(ValueError):
    """The period text could not be read; the message says what is accepted."""


PERIOD_HELP = (
    "Periods: `this month`, `last month`, `this quarter`, `last quarter`, `this year`, `last year`, "
    "`last 12 weeks`, `last 90 days`, `last 2 years`, `2026-Q3`, `2026-03`, `2026`, "
    "or `2026-01-01..2026-03-31`. "
    "Without one, the last 4 weeks."
)

Unit = Literal["days", "month", "quarter", "year"]


@dataclass(frozen=True)
class Period:
    """Whole local days `first_day`..`last_day` (inclusive) in `zone`."""

    first_day: date
    last_day: date
    zone: str = "UTC"
    unit: Unit = "days"

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            raise PeriodError(f"The period ends before it starts. {PERIOD_HELP}")
        if self.days > MAX_PERIOD_DAYS:
            raise PeriodError(f"Reports cover at most three years. {PERIOD_HELP}")

    @property
    def start(self) -> datetime:
        return local_midnight(self.first_day, self.zone)

    @property
    def end(self) -> datetime:
        """Exclusive: local midnight after the last day."""
        return local_midnight(self.last_day + timedelta(days=1), self.zone)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def spec(self) -> str:
        """Canonical text that parses back to this period (button values, audit details)."""
        return f"{self.first_day.isoformat()}..{self.last_day.isoformat()}"

    @property
    def label(self) -> str:
        a, b = self.first_day, self.last_day
        if a.year == b.year:
            return f"{a.day} {a:%b} – {b.day} {b:%b %Y}"
        return f"{a.day} {a:%b %Y} – {b.day} {b:%b %Y}"

    def previous(self) -> Period:
        """The period to compare with: the previous month/quarter/year (the same days of
        it when this one is to date), otherwise the same number of days just before."""
        months = {"month": 1, "quarter": 3, "year": 12}.get(self.unit)
        if months is None:
            last = self.first_day - timedelta(days=1)
            return Period(last - timedelta(days=self.days - 1), last, self.zone, "days")
        first = _shift_months(self.first_day, -months)
        unit_end = _shift_months(self.first_day, months) - timedelta(days=1)
        if self.last_day == unit_end:  # a whole unit: compare with the whole previous one
            last = self.first_day - timedelta(days=1)
        else:
            last = min(_shift_months(self.last_day, -months), self.first_day - timedelta(days=1))
        return Period(first, last, self.zone, self.unit)


def local_midnight(day: date, zone: str) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def week_starts(period: Period) -> list[date]:
    """Mondays of the weeks shown in the trend: those of the period, at least 8, at most 53."""
    last_monday = period.last_day - timedelta(days=period.last_day.weekday())
    first_monday = period.first_day - timedelta(days=period.first_day.weekday())
    weeks = (last_monday - first_monday).days // 7 + 1
    weeks = max(TREND_MIN_WEEKS, min(TREND_MAX_WEEKS, weeks))
    return [last_monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


def _shift_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


_RANGE = re.compile(r"^(\d{4}-\d{1,2}-\d{1,2})\s*(?:\.\.\.?|…|to|–|—|/)\s*(\d{4}-\d{1,2}-\d{1,2})$")
_QUARTER = re.compile(r"^(?:(\d{4})\s*-?\s*q([1-4])|q([1-4])\s*-?\s*(\d{4}))$")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_YEAR = re.compile(r"^(\d{4})$")
_LAST_N = re.compile(r"^(?:last|past)\s+(\d{1,4})\s*(day|week|month|year)s?$")


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat("-".join(part.zfill(2) for part in text.split("-")))
    except ValueError:
        raise PeriodError(f"`{text}` is not a date (YYYY-MM-DD). {PERIOD_HELP}") from None


def _named(spec: str, today: date, zone: str) -> Period | None:
    """Periods named relative to today ("last quarter"), or None."""
    if spec in ("", "last 4 weeks", "last four weeks", "4w"):
        return Period(today - timedelta(days=7 * DEFAULT_WEEKS - 1), today, zone)
    this_quarter = _quarter_start(today)
    named: dict[str, tuple[date, date, Unit]] = {
        "this month": (today.replace(day=1), today, "month"),
        "last month": (
            _shift_months(today.replace(day=1), -1),
            today.replace(day=1) - timedelta(days=1),
            "month",
        ),
        "this quarter": (this_quarter, today, "quarter"),
        "last quarter": (_shift_months(this_quarter, -3), this_quarter - timedelta(days=1), "quarter"),
        "this year": (date(today.year, 1, 1), today, "year"),
        "last year": (date(today.year - 1, 1, 1), date(today.year - 1, 12, 31), "year"),
    }
    if spec in named:
        first, last, unit = named[spec]
        return Period(first, last, zone, unit)
    if match := _LAST_N.match(spec):
        amount, unit_name = int(match.group(1)), match.group(2)
        days = amount * {"day": 1, "week": 7, "month": 30, "year": 365}[unit_name]
        if amount < 1:
            raise PeriodError(f"A period needs at least one day. {PERIOD_HELP}")
        if days > MAX_PERIOD_DAYS:
            raise PeriodError(f"Reports cover at most three years. {PERIOD_HELP}")
        return Period(today - timedelta(days=days - 1), today, zone)
    return None


def parse_period(text: str | None, now: datetime, zone: str = "UTC") -> Period:
    """Read a period as admins type it; empty means the last 4 weeks up to today."""
    spec = " ".join((text or "").strip().lower().split())
    today = now.astimezone(ZoneInfo(zone)).date()
    if (named := _named(spec, today, zone)) is not None:
        return named
    if match := _RANGE.match(spec):
        return Period(_parse_day(match.group(1)), _parse_day(match.group(2)), zone)
    if match := _QUARTER.match(spec):
        year = int(match.group(1) or match.group(4))
        quarter = int(match.group(2) or match.group(3))
        first = date(year, 3 * (quarter - 1) + 1, 1)
        return Period(first, _shift_months(first, 3) - timedelta(days=1), zone, "quarter")
    if match := _MONTH.match(spec):
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            raise PeriodError(f"`{text}` is not a month. {PERIOD_HELP}")
        first = date(year, month, 1)
        return Period(first, _shift_months(first, 1) - timedelta(days=1), zone, "month")
    if match := _YEAR.match(spec):
        year = int(match.group(1))
        return Period(date(year, 1, 1), date(year, 12, 31), zone, "year")
    raise PeriodError(f"I can't read `{(text or '').strip()[:40]}` as a period. {PERIOD_HELP}")
