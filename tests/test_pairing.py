"""Weekly rounds end to end: who takes part, one round a week, every intro exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from bot.clock import utcnow
from bot.db import Database
from bot.devtools.runner import AppServer
from bot.devtools.slack_client import SlackAppClient
from bot.devtools.standin import SlackStandIn
from bot.flows.pairing import run_round
from bot.models import Chat, ChatKind, PairingRound, Person, RoundUnmatched
from bot.services import pairing
from tests.conftest import BOT_TOKEN
from tests.factories import daytime_zone, make_person

FUNCTIONS = ["Engineering", "Product", "Design", "Sales", "Finance"]
TOPICS = {
    "Engineering": ["Kubernetes", "Python", "Incident response"],
    "Product": ["Roadmapping", "User research", "Pricing"],
    "Design": ["Accessibility", "Design systems", "Prototyping"],
    "Sales": ["Negotiation", "Forecasting", "Cold outreach"],
    "Finance": ["Budgeting", "Unit economics", "Procurement"],
}


def make_company(
    db: Database, standin: SlackStandIn, size: int = 30, tz: str | None = None
) -> dict[str, str]:
    """`size` people in 5 functions, weekly pairing on; returns slack id -> function."""
    zone = tz or daytime_zone(utcnow())
    functions: dict[str, str] = {}
    for i in range(size):
        function = FUNCTIONS[i % len(FUNCTIONS)]
        other = FUNCTIONS[(i + 1 + i // 5) % len(FUNCTIONS)]
        if other == function:
            other = FUNCTIONS[(i + 2) % len(FUNCTIONS)]
        slack_id = f"UP{i:03d}"
        make_person(
            db,
            standin,
            slack_id,
            f"Person {i}",
            function,
            speaks=TOPICS[function][: 1 + i % 3],
            learns=TOPICS[other][:2],
            tz=zone,
            weekly=True,
        )
        functions[slack_id] = function
    return functions


def intros(standin: SlackStandIn) -> list[list[str]]:
    """The members of each pairing intro posted, from conversations.open of the channel it went to."""
    members_by_channel = {
        str(call.response["channel"]["id"]): str(call.params["users"]).split(",")
        for call in standin.calls_to("conversations.open")
    }
    return [
        sorted(members_by_channel[str(call.params["channel"])])
        for call in standin.calls_to("chat.postMessage")
        if "This week's infochat pairing" in str(call.params.get("text", ""))
    ]


@pytest.fixture
def pair_env(database_url: str, standin: SlackStandIn, db: Database, tmp_path: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("INFOCHAT_", "SLACK_"))},
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "INFOCHAT_SLACK_API_URL": standin.url,
        "INFOCHAT_DATABASE_URL": database_url,
        "INFOCHAT_FUNCTIONS": ",".join(FUNCTIONS),
        "INFOCHAT_ADMINS": "UADMIN",
        "INFOCHAT_LOG_LEVEL": "WARNING",
    }


def infochat(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_pair_gives_everyone_one_intro_across_functions_once(
    db: Database, standin: SlackStandIn, pair_env: dict[str, str]
) -> None:
    functions = make_company(db, standin, 30)
    standin.add_user("UADMIN", name="admin", real_name="Ada Admin")
    first = infochat(pair_env, "pair")
    assert first.returncode == 0, first.stderr
    groups = intros(standin)
    seen = Counter(member for group in groups for member in group)
    assert set(seen) == set(functions) and set(seen.values()) == {1}
    for group in groups:
        assert len({functions[m] for m in group}) == len(group), group
    summary = [m for m in standin.messages_in("UADMIN") if "Pairing round" in str(m.get("blocks"))]
    assert len(summary) == 1 and "15" in str(summary[0]["blocks"])

    second = infochat(pair_env, "pair")
    assert second.returncode == 0, second.stderr
    assert "already exists" in second.stdout
    assert intros(standin) == groups
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(PairingRound)) == 1


def test_dry_run_prints_pairs_scores_reasons_and_sends_nothing(
    db: Database, standin: SlackStandIn, pair_env: dict[str, str]
) -> None:
    make_company(db, standin, 11)
    result = infochat(pair_env, "pair", "--dry-run", "--seed", "7")
    assert result.returncode == 0, result.stderr
    assert "11 eligible" in result.stdout and "score" in result.stdout and "deliver" in result.stdout
    assert "teach" in result.stdout or "learn" in result.stdout  # the reasons
    assert standin.calls_to("chat.postMessage") == []
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(PairingRound)) == 0
    again = infochat(pair_env, "pair", "--dry-run", "--seed", "7")

    # Same seed, same pairs, scores and reasons (the planned delivery minute moves with the clock).
    def plan(output: str) -> list[str]:
        return [line.split("  deliver")[0] for line in output.splitlines()[1:]]

    assert plan(again.stdout) == plan(result.stdout)


def test_dry_run_delivery_times_are_in_the_workspace_zone_whatever_the_machine_keeps(
    db: Database, standin: SlackStandIn, pair_env: dict[str, str]
) -> None:
    make_company(db, standin, 11)
    berlin = {**pair_env, "INFOCHAT_TIMEZONE": "Europe/Berlin", "TZ": "America/St_Johns"}
    result = infochat(berlin, "pair", "--dry-run", "--seed", "7")
    assert result.returncode == 0, result.stderr
    times = [line.split("deliver ≈ ")[1] for line in result.stdout.splitlines() if "deliver ≈ " in line]
    assert times and all(t.endswith((" CET", " CEST")) for t in times), times


def test_two_processes_at_once_make_one_round(
    db: Database, standin: SlackStandIn, pair_env: dict[str, str]
) -> None:
    functions = make_company(db, standin, 20)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "pair"],
            env=pair_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(PairingRound)) == 1
    seen = Counter(member for group in intros(standin) for member in group)
    assert set(seen) == set(functions) and set(seen.values()) == {1}


def test_429_on_the_third_open_delays_but_loses_nothing(
    server: AppServer, db: Database, standin: SlackStandIn
) -> None:
    functions = make_company(db, standin, 12)
    standin.fail("conversations.open", status=429, retry_after=2, after=2)
    started = time.monotonic()
    run_round(server.app.ctx, utcnow(), seed=1)
    assert time.monotonic() - started >= 2
    seen = Counter(member for group in intros(standin) for member in group)
    assert set(seen) == set(functions) and set(seen.values()) == {1}
    assert [c.status for c in standin.calls_to("conversations.open", include_failed=True)].count(429) == 1


def test_killed_sender_resumes_without_duplicates(
    db: Database, standin: SlackStandIn, pair_env: dict[str, str]
) -> None:
    functions = make_company(db, standin, 30)
    standin.slow("chat.postMessage", 0.4)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "pair"],
        env=pair_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    standin.wait_for(lambda: len(intros(standin)) >= 4, timeout=60)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    delivered_before = len(intros(standin))
    assert delivered_before < 15
    standin.slow("chat.postMessage", 0)
    # Let the dead sender's lease on its in-flight message lapse, as time would.
    with db.session() as session:
        from bot.models import OutboxMessage

        session.execute(update(OutboxMessage).values(claimed_until=None))
    resumed = infochat(pair_env, "pair")
    assert resumed.returncode == 0, resumed.stderr
    seen = Counter(member for group in intros(standin) for member in group)
    assert set(seen) == set(functions) and set(seen.values()) == {1}


def test_who_takes_part(db: Database, standin: SlackStandIn, server: AppServer) -> None:
    make_company(db, standin, 10)
    now = utcnow()
    with db.session() as session:
        people = {p.slack_user_id: p for p in session.scalars(select(Person))}
        people["UP000"].weekly_pairing = False
        people["UP001"].paused_until = now + timedelta(days=3)
        people["UP002"].left_at = now
        people["UP003"].is_restricted = True
        people["UP004"].chats_per_month = 0
    with db.session() as session:
        eligible = {p.slack_user_id for p in pairing.eligible_people(session, now)}
    assert eligible == {f"UP{i:03d}" for i in range(5, 10)}


def test_unmatched_person_is_told_why_and_gets_priority_next_week(
    db: Database, standin: SlackStandIn, server: AppServer
) -> None:
    # Three people, all in one function but one: only one cross-function pair exists.
    zone = daytime_zone(utcnow())
    make_person(
        db, standin, "UA", "Ana", "Sales", speaks=["Negotiation"], learns=["Python"], tz=zone, weekly=True
    )
    make_person(
        db, standin, "UB", "Ben", "Sales", speaks=["Forecasting"], learns=["Python"], tz=zone, weekly=True
    )
    make_person(
        db,
        standin,
        "UC",
        "Cy",
        "Engineering",
        speaks=["Python"],
        learns=["Negotiation"],
        tz=zone,
        weekly=True,
    )
    report = run_round(server.app.ctx, utcnow(), seed=3)
    assert report.pairs == 1 and len(report.unmatched) == 1
    left_out = report.unmatched[0][0]
    left_id = "UB" if left_out == "Ben" else "UA"
    told = [m for m in standin.messages_in(left_id) if "couldn't pair you" in str(m.get("blocks"))]
    assert len(told) == 1 and "priority" in str(told[0]["blocks"])
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(RoundUnmatched)) == 1
        people = list(session.scalars(select(Person).order_by(Person.id)))
        next_week = pairing.build_input(
            session,
            people,
            utcnow() + timedelta(weeks=1),
            cooldown_weeks=12,
            week=pairing.iso_week(utcnow() + timedelta(weeks=1), ZoneInfo("UTC")),
            seed=1,
        )
        assert {c.id for c in next_week.candidates if c.priority} == {
            p.id for p in people if p.slack_user_id == left_id
        }


def test_cant_make_it_tells_partner_and_does_not_count_as_met(
    db: Database, standin: SlackStandIn, server: AppServer, slack: SlackAppClient
) -> None:
    zone = daytime_zone(utcnow())
    make_person(
        db, standin, "UA", "Ana", "Sales", speaks=["Negotiation"], learns=["Python"], tz=zone, weekly=True
    )
    make_person(
        db,
        standin,
        "UC",
        "Cy",
        "Engineering",
        speaks=["Python"],
        learns=["Negotiation"],
        tz=zone,
        weekly=True,
    )
    run_round(server.app.ctx, utcnow(), seed=3)
    intro = next(
        c
        for c in standin.calls_to("chat.postMessage")
        if "This week's infochat pairing" in str(c.params.get("text"))
    )
    message = {"blocks": intro.params["blocks"]}
    slack.block_action("UZZ", "pairing_cant_make_it", message=message)
    standin.wait_for(
        lambda: any("Only the people in this pairing" in str(r.payload) for r in standin.responses)
    )
    slack.block_action("UA", "pairing_cant_make_it", message=message)
    standin.wait_for(lambda: any("can't make it this time" in str(r.payload) for r in standin.responses))
    with db.session() as session:
        chat = session.scalar(select(Chat).where(Chat.kind == ChatKind.PAIRING))
        assert chat is not None and chat.cancelled_at is not None and chat.done_at is None
        ids = [p.person_id for p in chat.participants]
        assert pairing.met_pairs(session, ids, None) == set()


def test_dont_pair_again_is_respected(
    db: Database, standin: SlackStandIn, server: AppServer, slack: SlackAppClient
) -> None:
    zone = daytime_zone(utcnow())
    make_person(
        db, standin, "UA", "Ana", "Sales", speaks=["Negotiation"], learns=["Python"], tz=zone, weekly=True
    )
    make_person(
        db,
        standin,
        "UC",
        "Cy",
        "Engineering",
        speaks=["Python"],
        learns=["Negotiation"],
        tz=zone,
        weekly=True,
    )
    run_round(server.app.ctx, utcnow(), seed=3)
    intro = next(
        c
        for c in standin.calls_to("chat.postMessage")
        if "This week's infochat pairing" in str(c.params.get("text"))
    )
    slack.block_action("UA", "pairing_dont_pair_again", message={"blocks": intro.params["blocks"]})
    standin.wait_for(
        lambda: any("won't pair you with them again" in str(r.payload) for r in standin.responses)
    )
    report = run_round(server.app.ctx, utcnow() + timedelta(weeks=1), seed=3)
    assert report.pairs == 0 and len(report.unmatched) == 2


def test_met_pairs_wait_for_the_cooldown(db: Database, standin: SlackStandIn, server: AppServer) -> None:
    zone = daytime_zone(utcnow())
    make_person(
        db, standin, "UA", "Ana", "Sales", speaks=["Negotiation"], learns=["Python"], tz=zone, weekly=True
    )
    make_person(
        db,
        standin,
        "UC",
        "Cy",
        "Engineering",
        speaks=["Python"],
        learns=["Negotiation"],
        tz=zone,
        weekly=True,
    )
    first = run_round(server.app.ctx, utcnow(), seed=3)
    assert first.pairs == 1
    with db.session() as session:
        session.execute(update(Chat).values(done_at=utcnow()))
    assert run_round(server.app.ctx, utcnow() + timedelta(weeks=1), seed=3).pairs == 0
    assert run_round(server.app.ctx, utcnow() + timedelta(weeks=13), seed=3).pairs == 1


# -- pure pieces -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "week"),
    [
        (datetime(2026, 12, 31, 12, tzinfo=UTC), "2026-W53"),
        (datetime(2027, 1, 1, 12, tzinfo=UTC), "2026-W53"),
        (datetime(2027, 1, 4, 12, tzinfo=UTC), "2027-W01"),
        (datetime(2029, 12, 31, 12, tzinfo=UTC), "2030-W01"),
    ],
)
def test_round_key_is_the_iso_week_across_new_year(moment: datetime, week: str) -> None:
    assert pairing.iso_week(moment, ZoneInfo("UTC")) == week


def test_previous_week_across_new_year() -> None:
    assert pairing.previous_week("2027-W01") == "2026-W53"
    assert pairing.previous_week("2026-W48") == "2026-W47"


def test_intros_wait_for_morning_in_every_members_zone() -> None:
    now = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # 07:00 London, 16:00 Tokyo, 02:00 New York
    london, tokyo, new_york = ZoneInfo("Europe/London"), ZoneInfo("Asia/Tokyo"), ZoneInfo("America/New_York")
    assert pairing.not_before(now, [tokyo]) == now
    assert pairing.not_before(now, [london]) == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    assert pairing.not_before(now, [london, new_york]) == datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    late = datetime(2026, 11, 23, 19, 30, tzinfo=UTC)  # 19:30 London: tomorrow 08:00
    assert pairing.not_before(late, [london]) == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def test_held_intro_is_not_sent_before_its_time(
    db: Database, standin: SlackStandIn, server: AppServer
) -> None:
    london = ZoneInfo("Europe/London")
    tomorrow = (utcnow() + timedelta(days=1)).astimezone(london).date()
    night = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 2, 0, tzinfo=london).astimezone(UTC)
    make_person(
        db,
        standin,
        "UA",
        "Ana",
        "Sales",
        speaks=["Negotiation"],
        learns=["Python"],
        tz="Europe/London",
        weekly=True,
    )
    make_person(
        db,
        standin,
        "UC",
        "Cy",
        "Engineering",
        speaks=["Python"],
        learns=["Negotiation"],
        tz="Europe/London",
        weekly=True,
    )
    report = run_round(server.app.ctx, night, seed=3)
    assert report.pairs == 1
    assert intros(standin) == []  # 02:00 in London: held until 08:00
    with db.session() as session:
        progress = pairing.delivery_progress(session, report.week)
    assert progress["pending"] == 1


def test_a_round_that_fails_before_its_commit_leaves_nothing_behind(
    db: Database, standin: SlackStandIn
) -> None:
    """The round row is written in the planner's transaction: a crash mid-round leaves no empty
    round that would make next runs skip the week."""
    make_company(db, standin, 6)
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    with pytest.raises(RuntimeError), db.session() as session:
        _, created, chats, _ = pairing.create_round(
            session, now, cooldown_weeks=8, zone=ZoneInfo("UTC"), seed=1
        )
        assert created is not None and chats
        raise RuntimeError("the process dies before the round commits")
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(PairingRound)) == 0
        assert session.scalar(select(func.count()).select_from(Chat)) == 0
    with db.session() as session:  # the next run plans the week afresh
        _, created, chats, _ = pairing.create_round(
            session, now, cooldown_weeks=8, zone=ZoneInfo("UTC"), seed=1
        )
        assert created is not None and len(chats) == 3
