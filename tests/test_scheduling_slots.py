"""Slot proposal as a pure function: properties (hypothesis) and the cases people meet."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.services.scheduling.countries import country_for_zone, holiday_dates
from bot.services.scheduling.slots import (
    LEAD,
    Availability,
    Interval,
    add_working_days,
    propose_slots,
)

ZONES = [
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Sydney",
    "Pacific/Auckland",
    "UTC",
]

# Instants around DST changes in Europe (last Sunday of March/October), the US (second Sunday of
# March, first of November) and the southern hemisphere, plus arbitrary ones in 2026–2027.
DST_EDGES = [
    datetime(2026, 3, 6, 12, tzinfo=UTC),
    datetime(2026, 3, 26, 16, tzinfo=UTC),
    datetime(2026, 10, 23, 9, tzinfo=UTC),
    datetime(2026, 10, 30, 20, tzinfo=UTC),
    datetime(2026, 4, 2, 23, tzinfo=UTC),
    datetime(2026, 9, 25, 3, tzinfo=UTC),
]

quarter_hours = st.integers(min_value=6 * 4, max_value=21 * 4).map(lambda q: time(q // 4, q % 4 * 15))


@st.composite
def availabilities(draw: st.DrawFn) -> Availability:
    start = draw(quarter_hours)
    end = draw(quarter_hours.filter(lambda t: t > start))
    days = draw(st.frozensets(st.integers(0, 6), min_size=1, max_size=7))
    return Availability(
        tz=draw(st.sampled_from(ZONES)),
        days=days,
        start=start,
        end=end,
        best=draw(st.sampled_from(["any", "mornings", "afternoons"])),
    )


nows = st.one_of(
    st.sampled_from(DST_EDGES),
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)).map(
        lambda d: d.replace(tzinfo=UTC)
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(people=st.lists(availabilities(), min_size=2, max_size=3), now=nows, minutes=st.sampled_from([20, 30]))
def test_any_proposed_slot_fits_everyone_when_hours_overlap(
    people: list[Availability], now: datetime, minutes: int
) -> None:
    proposal = propose_slots(people, now, minutes=minutes)
    assert len(proposal.slots) <= 5
    assert len({s.start for s in proposal.slots}) == len(proposal.slots)
    for slot in proposal.slots:
        assert slot.start >= now + LEAD, "never in the next two hours (nor in the past)"
        assert slot.end - slot.start == timedelta(minutes=minutes)
        for person in people:
            local = slot.start.astimezone(ZoneInfo(person.tz))
            assert local.weekday() in person.days, "only on each person's own working days"
        if proposal.overlap:
            assert slot.inside_hours
            for person in people:
                start = slot.start.astimezone(ZoneInfo(person.tz))
                end = slot.end.astimezone(ZoneInfo(person.tz))
                assert start.date() == end.date()
                assert person.start <= start.time() and end.time() <= person.end


@settings(max_examples=150, deadline=None)
@given(
    a=st.sampled_from(ZONES),
    b=st.sampled_from(ZONES),
    now=nows,
)
def test_default_hours_never_propose_a_weekend_and_find_three_when_they_overlap(
    a: str, b: str, now: datetime
) -> None:
    people = [Availability(tz=a), Availability(tz=b)]
    proposal = propose_slots(people, now)
    for slot in proposal.slots:
        for person in people:
            assert slot.start.astimezone(ZoneInfo(person.tz)).weekday() < 5
    if proposal.overlap:
        # Default hours that overlap at all do so on most days: 3–5 slots, on different days first.
        assert 3 <= len(proposal.slots) <= 5
        days = [s.start.astimezone(ZoneInfo(a)).date() for s in proposal.slots]
        assert len(set(days)) >= min(3, len(days))


def test_london_pair_gets_five_slots_on_five_days_at_different_times() -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday 09:00 in London
    people = [Availability(tz="Europe/London"), Availability(tz="Europe/London")]
    slots = propose_slots(people, now).slots
    local = [s.start.astimezone(ZoneInfo("Europe/London")) for s in slots]
    assert [d.strftime("%a") for d in local] == ["Mon", "Tue", "Wed", "Thu", "Fri"]
    assert local[0].time() >= time(11, 0)  # two hours' notice
    assert len({d.time() for d in local}) >= 4  # spread over the day
    assert all(d.minute in (0, 30) for d in local)


def test_best_times_are_honoured_when_they_can_be() -> None:
    now = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    people = [Availability(tz="Europe/London", best="mornings"), Availability(tz="Europe/Paris")]
    slots = propose_slots(people, now).slots
    assert slots and all(s.start.astimezone(ZoneInfo("Europe/London")).hour < 12 for s in slots)


def test_europe_and_us_east_meet_in_the_london_afternoon() -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    people = [Availability(tz="Europe/London"), Availability(tz="America/New_York")]
    proposal = propose_slots(people, now)
    assert proposal.overlap and len(proposal.slots) >= 3
    for slot in proposal.slots:
        london = slot.start.astimezone(ZoneInfo("Europe/London"))
        new_york = slot.start.astimezone(ZoneInfo("America/New_York"))
        assert london.hour >= 15 and new_york.hour >= 10 and london.hour < 17


def test_tokyo_and_new_york_get_least_bad_slots_flagged() -> None:
    now = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    people = [Availability(tz="Asia/Tokyo"), Availability(tz="America/New_York")]
    proposal = propose_slots(people, now)
    assert not proposal.overlap
    assert 3 <= len(proposal.slots) <= 5
    for slot in proposal.slots:
        assert not slot.inside_hours
        tokyo = slot.start.astimezone(ZoneInfo("Asia/Tokyo"))
        new_york = slot.start.astimezone(ZoneInfo("America/New_York"))
        assert tokyo.weekday() < 5 and new_york.weekday() < 5
        # Nobody is asked before 07:00 or after 21:00, and it is at most ~2.5 h outside anyone's hours.
        assert time(7) <= tokyo.time() and new_york.time() <= time(21)
        assert slot.early_for == (0,) or slot.late_for == (1,)


def test_a_public_holiday_of_either_country_is_skipped() -> None:
    # Monday 25 May 2026 is a bank holiday in the UK and Memorial Day in the US.
    now = datetime(2026, 5, 22, 9, tzinfo=UTC)  # Friday
    window = (date(2026, 5, 20), date(2026, 6, 10))
    people = [
        Availability(tz="Europe/London", holidays=holiday_dates(country_for_zone("Europe/London"), *window)),
        Availability(tz="Europe/Madrid", holidays=holiday_dates(country_for_zone("Europe/Madrid"), *window)),
    ]
    days = {s.start.date() for s in propose_slots(people, now).slots}
    assert date(2026, 5, 25) not in days and days


def test_countries_come_from_the_time_zone() -> None:
    assert country_for_zone("Europe/London") == "GB"
    assert country_for_zone("America/New_York") == "US"
    assert country_for_zone("Asia/Tokyo") == "JP"
    assert country_for_zone("Asia/Calcutta") == "IN"  # an old name, linked to Asia/Kolkata
    assert country_for_zone("UTC") is None and country_for_zone(None) is None
    assert date(2026, 12, 25) in holiday_dates("GB", date(2026, 12, 1), date(2026, 12, 31))


def test_trio_across_three_zones_fits_all_three() -> None:
    now = datetime(2026, 10, 22, 8, tzinfo=UTC)  # the week Europe leaves summer time
    people = [
        Availability(tz="Europe/Berlin"),
        Availability(tz="America/New_York"),
        Availability(tz="America/Sao_Paulo", start=time(9), end=time(18)),
    ]
    proposal = propose_slots(people, now)
    assert proposal.overlap and len(proposal.slots) >= 3
    assert all(s.inside_hours for s in proposal.slots)


def test_busy_times_from_a_calendar_are_avoided() -> None:
    now = datetime(2026, 3, 2, 6, tzinfo=UTC)
    busy_all_monday = Interval(datetime(2026, 3, 2, 0, tzinfo=UTC), datetime(2026, 3, 3, 0, tzinfo=UTC))
    people = [Availability(tz="Europe/London", busy=(busy_all_monday,)), Availability(tz="Europe/London")]
    assert all(s.start.date() != date(2026, 3, 2) for s in propose_slots(people, now).slots)


def test_working_days_skip_weekends_and_holidays() -> None:
    friday = datetime(2026, 12, 24, 15, tzinfo=UTC)  # Thursday 24 Dec
    london = Availability(
        tz="Europe/London", holidays=holiday_dates("GB", date(2026, 12, 1), date(2027, 1, 31))
    )
    # 25 Dec (Fri) and 28 Dec (Mon, Boxing Day substitute) are holidays; the weekend does not count.
    assert add_working_days(friday, 3, london).date() == date(2026, 12, 31)
