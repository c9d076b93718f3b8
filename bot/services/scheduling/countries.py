"""Which country's public holidays apply to someone, and which dates they are.

infochat knows a person's Slack time zone (users.info `tz`), not where they
work. The IANA time zone database maps every zone to one country
(`zone.tab`: Europe/London → GB, America/New_York → US, Asia/Tokyo → JP),
so that is the country inferred. Slack's `locale` is a language setting
("en-US" for many people in Europe too), so it is not used. Zones shared by
several countries in practice (Europe/Berlin is also Oslo's) give the zone's
own country; a zone that maps to no country (UTC, Etc/GMT+5) gives none, and
then only weekends and working days count. Holidays are national ones from
the `holidays` package; regional ones (a US state's, a German Land's) are not
applied because the zone does not say the region.
"""

from __future__ import annotations

import logging
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path

log = logging.getLogger(__name__)

SYSTEM_ZONEINFO = Path("/usr/share/zoneinfo")


def _read(name: str) -> str:
    try:
        return (resources.files("tzdata.zoneinfo") / name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        path = SYSTEM_ZONEINFO / name
        return path.read_text(encoding="utf-8") if path.exists() else ""


@cache
def _zone_countries() -> dict[str, str]:
    countries: dict[str, str] = {}
    for line in _read("zone.tab").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) >= 3:
            countries[parts[2]] = parts[0]
    # Links ("Asia/Calcutta" → "Asia/Kolkata") share their target's country.
    for line in _read("tzdata.zi").splitlines():
        if line.startswith("L "):
            _, target, link = line.split()[:3]
            if target in countries and link not in countries:
                countries[link] = countries[target]
    return countries


def country_for_zone(tz: str | None) -> str | None:
    """The ISO 3166 country code of a time zone, or None (UTC, Etc/…, unknown)."""
    if not tz:
        return None
    return _zone_countries().get(tz)


@cache
def _holidays(country: str, year: int) -> frozenset[date]:
    try:
        # Imported on first use: the holiday tables are ~3 MB a serving process
        # needs only once someone schedules a chat (docs/performance.md, Memory).
        import holidays as holiday_data

        return frozenset(holiday_data.country_holidays(country, years=year).keys())
    except (NotImplementedError, KeyError):
        return frozenset()


def holiday_dates(country: str | None, first: date, last: date) -> frozenset[date]:
    """Public holidays of `country` between `first` and `last` (inclusive)."""
    if country is None:
        return frozenset()
    found: set[date] = set()
    for year in range(first.year, last.year + 1):
        found |= {d for d in _holidays(country, year) if first <= d <= last}
    return frozenset(found)
