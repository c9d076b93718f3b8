"""Instants that break naive date code: ISO week 53, the nights clocks change, a Sunday night
in one zone that is Monday in another. Pinned through bot.clock where the app asks for "now"."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.blocks.find import local_time
from bot.clock import frozen_at, set_home_zone, utcnow
from bot.services import pairing

LONDON, NEW_YORK, SINGAPORE = (ZoneInfo(z) for z in ("Europe/London", "America/New_York", "Asia/Singapore"))


@pytest.mark.parametrize(
    ("night", "zone", "first_delivery"),
    [
        # 00:30 GMT; clocks go forward at 01:00 UTC, so the morning's 08:00 is BST (07:00 UTC).
        (datetime(2026, 3, 29, 0, 30, tzinfo=UTC), LONDON, datetime(2026, 3, 29, 7, 0, tzinfo=UTC)),
        # 01:30 BST; clocks go back at 01:00 UTC, so 08:00 is GMT again (08:00 UTC).
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), LONDON, datetime(2026, 10, 25, 8, 0, tzinfo=UTC)),
        # 01:30 EST; 08:00 is EDT (12:00 UTC).
        (datetime(2026, 3, 8, 6, 30, tzinfo=UTC), NEW_YORK, datetime(2026, 3, 8, 12, 0, tzinfo=UTC)),
        # 01:30 EDT, the hour that happens twice; 08:00 is EST (13:00 UTC).
        (datetime(2026, 11, 1, 5, 30, tzinfo=UTC), NEW_YORK, datetime(2026, 11, 1, 13, 0, tzinfo=UTC)),
    ],
    ids=["europe-spring", "europe-autumn", "us-spring", "us-autumn"],
)
def test_held_messages_go_out_at_local_8_on_the_nights_clocks_change(
    night: datetime, zone: ZoneInfo, first_delivery: datetime
) -> None:
    with frozen_at(night):
        assert pairing.not_before(utcnow(), [zone]) == first_delivery
        # Someone already at work elsewhere does not bring it earlier; someone asleep later does.
        assert pairing.not_before(utcnow(), [zone, SINGAPORE]) >= first_delivery


def test_the_week_of_new_year_2027_is_2026_w53_and_follows_w52() -> None:
    with frozen_at(datetime(2026, 12, 31, 23, 50, tzinfo=UTC)):
        assert pairing.iso_week(utcnow(), ZoneInfo("UTC")) == "2026-W53"
    assert pairing.previous_week("2027-W01") == "2026-W53"
    assert pairing.previous_week("2026-W53") == "2026-W52"


def test_a_round_belongs_to_the_week_of_the_schedules_zone_not_of_the_server() -> None:
    # Sunday 23:59 in New York is Monday 04:59 UTC and Monday 12:59 in Singapore.
    sunday_night_in_new_york = datetime(2027, 1, 3, 23, 59, tzinfo=NEW_YORK)
    with frozen_at(sunday_night_in_new_york):
        assert pairing.iso_week(utcnow(), NEW_YORK) == "2026-W53"
        assert pairing.iso_week(utcnow(), SINGAPORE) == "2027-W01"
        assert pairing.iso_week(utcnow(), ZoneInfo("UTC")) == "2027-W01"


def test_the_scheduler_claims_the_weekly_round_under_the_rounds_own_week() -> None:
    from bot.context import AppContext
    from bot.scheduler import jobs
    from bot.settings import load_settings

    settings = load_settings(timezone="America/New_York")
    job = next(
        j for j in jobs(AppContext(settings=settings, db=None, slack=None)) if j.name == "pairing-round"
    )  # type: ignore[arg-type]
    assert job.period is not None
    sunday_night_in_new_york = datetime(2027, 1, 3, 23, 59, tzinfo=NEW_YORK)
    assert job.period(sunday_night_in_new_york) == pairing.iso_week(sunday_night_in_new_york, NEW_YORK)
    assert job.period(sunday_night_in_new_york) == "2026-W53"


def test_someone_slack_gives_no_zone_sees_the_workspaces_time_from_infochat_timezone() -> None:
    from bot.context import make_context
    from bot.settings import load_settings

    noon_utc = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    previous = set_home_zone("UTC")
    try:
        ctx = make_context(
            load_settings(timezone="Asia/Singapore", database_url="sqlite://"), require_slack=False
        )
        ctx.db.engine.dispose()
        assert local_time(None, noon_utc) == "20:00 their time"
        assert local_time("Mars/Olympus", noon_utc) == "20:00 their time"  # a zone this system lacks
        assert local_time("Europe/London", noon_utc) == "12:00 their time"
    finally:
        set_home_zone(previous)
