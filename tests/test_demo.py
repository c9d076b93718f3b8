"""`infochat demo` is a test: its whole journey at instants that once broke it or could.

The demo's company spans London to Singapore, so at most hours someone's
messages wait for their working hours; the demo must release them before it
waits for them. Each instant is pinned through bot.clock (time runs on from it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.clock import travel_to
from bot.devtools.demo import run_demo
from tests.conftest import pg_admin_url

# The demo keeps its own SQLite database whatever the suite runs on: once, on the SQLite pass.
pytestmark = pytest.mark.skipif(pg_admin_url() is not None, reason="the demo always runs on SQLite")

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
    # Time is what these instants test: a smaller company with eight weeks behind it is enough
    # (its history still crosses the year at week 53 and the clock change on the DST nights).
    with travel_to(instant):
        assert run_demo(str(tmp_path), colleagues=60, history_weeks=8) == 0
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
    # The Home shown after someone resumes is theirs (an admin's Home also moves with the figures).
    resumed = out.split("is back early")[0].rsplit("▶ ", 1)[1].strip()
    after = out.split("is back early", 1)[1].split("\n▶ ", 1)[0]
    homes = [line.strip() for line in after.splitlines() if line.strip().startswith("App Home of")]
    assert homes and all(h.startswith(f"App Home of {resumed}:") for h in homes), after


def test_the_demo_company_has_history_so_the_report_shows_numbers_and_hides_small_groups(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with travel_to(datetime(2026, 6, 10, 15, 30, tzinfo=UTC)):
        assert run_demo(str(tmp_path)) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"infochat demo: the database, the report and the charts go to {tmp_path}"
    assert "The company so far: 264 colleagues over 26 weeks: 26 weekly rounds" in out
    report = tmp_path / "report"
    for fmt, least in (("csv", 8), ("json", 8), ("png", 3)):
        assert len(list(report.glob(f"*.{fmt}"))) >= least, fmt
    flow = next(report.glob("*function_flow*.csv")).read_text().splitlines()
    cells = [cell for line in flow[1:] for cell in line.split(",")[1:]]
    shown = [c for c in cells if c.isdigit() and int(c) >= 5]
    hidden = [c for c in cells if c == "*"]
    assert len(shown) >= 6 and hidden, flow  # bars to draw, and small groups still hidden
    participation = next(report.glob("*participation_by_function*.csv")).read_text().splitlines()
    assert all(int(line.split(",")[1]) >= 40 for line in participation[1:]), participation


LIBFAKETIME = sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))
# The app's server, started, asked for help once, stopped: in a process of its own, whose clocks
# libfaketime stands still (the wall clock at the instant, monotonic time with it).
STOP_UNDER_A_STILL_CLOCK = """
import sys
from bot.db import Database
from bot import migrate
from bot.devtools.runner import AppServer
from bot.devtools.slack_client import SlackAppClient
from bot.devtools.standin import SlackStandIn
from bot.settings import load_settings

with SlackStandIn(bot_token="xoxb-still", trigger_ttl=30.0) as standin:
    url = f"sqlite:///{sys.argv[1]}"
    settings = load_settings(slack_bot_token="xoxb-still", slack_signing_secret="still-secret",
                             slack_api_url=standin.url, database_url=url, auto_migrate=False)
    db = Database(url)
    migrate.upgrade(db)
    with AppServer(settings, db=db) as server:
        slack = SlackAppClient(server.events_url, "still-secret", standin)
        answer = slack.command("U0STILL", "help")
        slack.close()
print("help answered:", answer.status_code, "and the server stopped")
"""


@pytest.mark.skipif(not LIBFAKETIME, reason="libfaketime is not installed (Debian: faketime)")
def test_the_app_server_stops_when_the_clock_stands_still(tmp_path: Path) -> None:
    # `FAKETIME="2026-12-05 03:30:00"` (no '@') is how libfaketime pins an instant by default,
    # and it freezes monotonic time too: asyncio's timers never fire, so uvicorn cannot finish
    # its graceful stop. The demo then hung at its very end, its output still buffered.
    env = {
        **os.environ,
        "LD_PRELOAD": str(LIBFAKETIME[0]),
        "FAKETIME": "2026-12-05 03:30:00",
        "FAKETIME_NO_CACHE": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", STOP_UNDER_A_STILL_CLOCK, str(tmp_path / "still.db")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "help answered: 200 and the server stopped" in done.stdout
    assert "the clock stands still" in done.stderr
