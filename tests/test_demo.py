"""`infochat demo` is a test: its whole journey at instants that once broke it or could.

The demo's company spans London to Singapore, so at most hours someone's
messages wait for their working hours; the demo must release them before it
waits for them. Each instant is pinned through bot.clock (time runs on from it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.clock import travel_to
from bot.devtools.demo import run_demo

INSTANTS = [
    pytest.param(datetime(2026, 6, 10, 3, 30, tzinfo=UTC), id="ordinary-day-0330"),
    pytest.param(datetime(2026, 6, 10, 15, 30, tzinfo=UTC), id="ordinary-day-1530"),
    # Thursday of ISO week 2026-W53 (2026 has 53 ISO weeks); ten minutes later it is 2027.
    pytest.param(datetime(2026, 12, 31, 23, 50, tzinfo=UTC), id="iso-week-53"),
    # Just before clocks change: Europe at 01:00 UTC, New York at 07:00 / 06:00 UTC.
    pytest.param(datetime(2026, 3, 29, 0, 59, 30, tzinfo=UTC), id="europe-to-summer-time"),
    pytest.param(datetime(2026, 10, 25, 0, 59, 30, tzinfo=UTC), id="europe-to-winter-time"),
    pytest.param(datetime(2026, 3, 8, 6, 59, 30, tzinfo=UTC), id="us-to-summer-time"),
    pytest.param(datetime(2026, 11, 1, 5, 59, 30, tzinfo=UTC), id="us-to-winter-time"),
]


@pytest.mark.parametrize("instant", INSTANTS)
def test_the_whole_demo_journey_passes_at(
    instant: datetime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with travel_to(instant):
        assert run_demo(str(tmp_path)) == 0
    out = capsys.readouterr().out
    week = instant.strftime("%G-W%V")
    for step in [
        "profiles saved",  # profiles
        "Experts on Negotiation",  # find
        "Meet your infochat partner",  # request accepted
        f"round {week}:",  # the weekly round, in this instant's ISO week
        "a second run the same week: nothing new",
        "How did your chat with",  # follow-up check-in
        "says thank you",  # the thank-you DM, held for the expert's working hours at most hours
        "What colleagues learned about",  # learnings
    ]:
        assert step in out, f"the demo at {instant:%Y-%m-%d %H:%M} UTC never got to {step!r}"
