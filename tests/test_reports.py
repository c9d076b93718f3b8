"""HR reports: periods, suppression, the figures, who may see them, Slack, files and the CLI."""

from __future__ import annotations

import argparse
import csv
import io
import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot import charts
from bot.blocks.reports import (
    CHECKING,
    REFUSAL,
    REPORT_DOWNLOAD_CSV_ACTION,
    REPORT_SHOW_ACTION,
    admin_home_blocks,
    report_message,
)
from bot.cli.report import _report as cli_report
from bot.clock import utcnow
from bot.db import Database
from bot.devtools.runner import AppServer
from bot.devtools.slack_client import SlackAppClient
from bot.devtools.standin import SlackStandIn, render_blocks
from bot.gateway import admins
from bot.models import (
    AuditEntry,
    Chat,
    ChatKind,
    ChatParticipant,
    ChatRequest,
    ChatRole,
    RequestStatus,
    Search,
    Share,
    Takeaway,
)
from bot.services import reports
from bot.services.reports import Cell, Period, PeriodError, parse_period, suppress_cells
from bot.settings import Settings
from tests.conftest import SIGNING_SECRET, make_settings
from tests.factories import make_person

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
K = 5


@pytest.fixture(autouse=True)
def _cold_admin_cache() -> Iterator[None]:
    admins.clear_admin_cache()
    yield
    admins.clear_admin_cache()


# -- periods ---------------------------------------------------------------------------------

NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)  # a Wednesday


@pytest.mark.parametrize(
    ("text", "first", "last", "prev_first", "prev_last"),
    [
        ("", date(2026, 10, 22), date(2026, 11, 18), date(2026, 9, 24), date(2026, 10, 21)),
        ("this month", date(2026, 11, 1), date(2026, 11, 18), date(2026, 10, 1), date(2026, 10, 18)),
        ("last month", date(2026, 10, 1), date(2026, 10, 31), date(2026, 9, 1), date(2026, 9, 30)),
        ("last quarter", date(2026, 7, 1), date(2026, 9, 30), date(2026, 4, 1), date(2026, 6, 30)),
        ("2026-Q3", date(2026, 7, 1), date(2026, 9, 30), date(2026, 4, 1), date(2026, 6, 30)),
        ("Q1 2026", date(2026, 1, 1), date(2026, 3, 31), date(2025, 10, 1), date(2025, 12, 31)),
        ("2026-03", date(2026, 3, 1), date(2026, 3, 31), date(2026, 2, 1), date(2026, 2, 28)),
        ("2026", date(2026, 1, 1), date(2026, 12, 31), date(2025, 1, 1), date(2025, 12, 31)),
        (
            "2026-01-01..2026-03-31",
            date(2026, 1, 1),
            date(2026, 3, 31),
            date(2025, 10, 3),
            date(2025, 12, 31),
        ),
        ("last 12 weeks", date(2026, 8, 27), date(2026, 11, 18), date(2026, 6, 4), date(2026, 8, 26)),
        ("last 2 years", date(2024, 11, 19), date(2026, 11, 18), date(2022, 11, 20), date(2024, 11, 18)),
    ],
)
def test_periods_parse_with_their_comparison(
    text: str, first: date, last: date, prev_first: date, prev_last: date
) -> None:
    period = parse_period(text, NOW, "UTC")
    assert (period.first_day, period.last_day) == (first, last)
    previous = period.previous()
    assert (previous.first_day, previous.last_day) == (prev_first, prev_last)
    assert parse_period(period.spec, NOW, "UTC").first_day == first  # button values round-trip


def test_period_boundaries_are_local_midnights() -> None:
    period = parse_period("2026-07-01..2026-07-31", NOW, "Europe/Paris")
    assert period.start == datetime(2026, 6, 30, 22, 0, tzinfo=UTC)
    assert period.end == datetime(2026, 7, 31, 22, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["yesterday-ish", "2026-13", "2026-02-30..2026-03-01", "2026-05-01..2026-04-01"]
)
def test_bad_periods_say_what_is_accepted(text: str) -> None:
    with pytest.raises(PeriodError, match="2026-Q3"):
        parse_period(text, NOW, "UTC")


# -- suppression ---------------------------------------------------------------------------------


def _grid(values: list[list[int]]) -> list[list[Cell]]:
    return [[reports.count_cell(v) for v in row] for row in values]


def _hidden(grid: list[list[Cell]]) -> list[list[bool]]:
    return [[c.suppressed for c in row] for row in grid]


def _assert_safe(grid: list[list[Cell]], k: int = K) -> None:
    for row in grid:
        for cell in row:
            assert cell.visible is None or not 0 < cell.people < k
    for line in [*grid, *map(list, zip(*grid, strict=True))]:
        assert sum(c.suppressed for c in line) != 1, "a single hidden cell could be recovered by subtraction"


def test_small_cells_and_the_next_smallest_are_hidden() -> None:
    grid = _grid([[20, 3, 9], [12, 15, 30], [7, 8, 40]])
    suppress_cells(grid, K)
    # 3 is primary; its row's next smallest (9) and its column's (8) go too; then
    # column 3 (9 alone) takes 30, row 3 (8 alone) takes 7, and row 2 (30 alone) takes 12.
    assert _hidden(grid) == [[False, True, True], [True, False, True], [True, True, False]]
    _assert_safe(grid)


def test_zero_describes_nobody_and_is_shown() -> None:
    grid = _grid([[0, 10], [12, 0]])
    suppress_cells(grid, K)
    assert _hidden(grid) == [[False, False], [False, False]]


def test_a_lone_small_cell_takes_a_zero_with_it() -> None:
    grid = _grid([[2, 0], [10, 12]])
    suppress_cells(grid, K)
    _assert_safe(grid)
    assert grid[0][0].show() == "*" and grid[0][1].show() == "*"


@pytest.mark.parametrize("seed", range(20))
def test_suppression_never_leaves_a_recoverable_cell(seed: int) -> None:
    import random

    rng = random.Random(seed)
    grid = _grid([[rng.choice([0, 1, 2, 4, 5, 6, 9, 20]) for _ in range(5)] for _ in range(4)])
    suppress_cells(grid, K)
    _assert_safe(grid)


# -- the figures ------------------------------------------------------------------------------------


def _chat(
    db: Database,
    learner: int,
    expert: int,
    *,
    created: datetime,
    done: datetime | None,
    pairing: bool = False,
) -> int:
    with db.session() as session:
        request = None
        if not pairing:
            request = ChatRequest(
                learner_id=learner,
                expert_id=expert,
                topic_text="Kubernetes",
                status=RequestStatus.ACCEPTED,
                created_at=created - timedelta(days=2),
                responded_at=created,
            )
            session.add(request)
            session.flush()
        chat = Chat(
            kind=ChatKind.PAIRING if pairing else ChatKind.REQUEST,
            request_id=request.id if request else None,
            created_at=created,
            done_at=done,
        )
        role_l, role_e = (ChatRole.PEER, ChatRole.PEER) if pairing else (ChatRole.LEARNER, ChatRole.EXPERT)
        chat.participants = [
            ChatParticipant(person_id=learner, role=role_l, checkins_sent=1, answered_at=done),
            ChatParticipant(person_id=expert, role=role_e, checkins_sent=1),
        ]
        session.add(chat)
        session.flush()
        return chat.id


@pytest.fixture
def company(db: Database, standin: SlackStandIn) -> dict[str, list[int]]:
    """6 engineers who speak, 6 sales people who learn, 2 in finance, 1 in legal."""
    eng = [
        make_person(
            db, standin, f"UENG{i}", f"Eng Person{i}", "Engineering", speaks=["Kubernetes"], weekly=True
        )
        for i in range(6)
    ]
    sales = [
        make_person(db, standin, f"USAL{i}", f"Sales Person{i}", "Sales", learns=["Kubernetes"])
        for i in range(6)
    ]
    fin = [
        make_person(db, standin, f"UFIN{i}", f"Fin Person{i}", "Finance", speaks=["Budgeting"])
        for i in range(2)
    ]
    legal = [make_person(db, standin, "ULEG0", "Leo Gal", "Legal")]
    return {"eng": eng, "sales": sales, "fin": fin, "legal": legal}


def _seed_activity(db: Database, company: dict[str, list[int]]) -> None:
    now = utcnow()
    recent, older = now - timedelta(days=5), now - timedelta(days=40)
    for i, learner in enumerate(company["sales"]):
        _chat(db, learner, company["eng"][i], created=recent - timedelta(days=1), done=recent)
    # One Finance→Engineering chat: a single learner, never shown on its own.
    _chat(db, company["fin"][0], company["eng"][0], created=recent - timedelta(days=1), done=recent)
    # Previous period: three chats.
    for i in range(3):
        _chat(db, company["sales"][i], company["eng"][i + 1], created=older - timedelta(days=1), done=older)
    with db.session() as session:
        for i, author in enumerate(company["sales"]):
            session.add(
                Takeaway(
                    chat_id=session.scalars(select(Chat.id).order_by(Chat.id)).all()[i],
                    author_id=author,
                    text="Deployments roll out gradually, with health checks.",
                    usefulness=4 + (i % 2),
                    topics=["Kubernetes"],
                    share=Share.EVERYONE,
                    created_at=recent,
                )
            )
        for i, author in enumerate(company["eng"]):
            session.add(
                Takeaway(
                    chat_id=session.scalars(select(Chat.id).order_by(Chat.id)).all()[i],
                    author_id=author,
                    text="Something private about a reorganisation.",
                    usefulness=2,
                    topics=["Secret Reorg"],
                    share=Share.ME,
                    created_at=recent,
                )
            )
        people = company["sales"] + company["eng"]
        for person in people[:7]:
            session.add(Search(person_id=person, query="Quantum Basketry", results=0, created_at=recent))
        for person in people[:3]:
            session.add(Search(person_id=person, query="my manager's divorce", results=0, created_at=recent))


def _report(db: Database, settings: Settings) -> reports.Report:
    with db.session() as session:
        period = parse_period("", utcnow(), settings.timezone)
        return reports.report_for(session, period, settings, utcnow())


def _everything(report: reports.Report) -> str:
    text, blocks = report_message(report)
    files = b"".join(reports.to_csv(t) + reports.to_json(t, report) for t in report.all_tables())
    return text + json.dumps(blocks) + files.decode()


def test_report_figures_against_the_previous_period(
    db: Database, settings: Settings, company: dict[str, list[int]]
) -> None:
    _seed_activity(db, company)
    report = _report(db, settings)
    summary = report.summary
    held = summary.metric("chats_held")
    assert held.current.show() == "7"
    assert held.previous.suppressed  # three learners last period: too few to show
    assert held.change == "–"
    assert summary.metric("experts").current.show() == "8"  # 6 engineers + 2 in finance
    assert summary.metric("weekly").current.show() == "6"
    assert summary.metric("requests_sent").current.show() == "7"
    assert summary.metric("requests_accepted").current.show() == "7"
    assert summary.metric("cross_function").current.show() == "100%"
    assert summary.metric("followup_rate").current.show() == "50%"  # learners answered, experts not
    assert summary.metric("days_to_chat").current.show() == "3.0"
    assert summary.metric("usefulness").current.show() == "3.0"  # 6×2, 3×4, 3×5 → (2 + 4) / 2
    assert summary.metric("takeaways").current.show() == "12"  # private ones count overall

    flow = report.table("function_flow")
    assert flow.cell("Sales", "Engineering").show() == "6"
    assert flow.cell("Finance", "Engineering").suppressed
    _assert_safe([cells for _, cells in flow.rows])

    part = report.table("participation_by_function")
    assert part.cell("Engineering", "experts").show() == "6"
    assert part.cell("Legal", "members").suppressed and part.cell("Finance", "members").suppressed
    _assert_safe([cells for _, cells in part.rows])

    weeks = report.table("chats_per_week")
    assert len(weeks.rows) >= 8
    assert sum(c.visible or 0 for _, cells in weeks.rows for c in cells) in (0, 7)

    assert [label for label, _ in report.table("topics_offered").rows] == ["Kubernetes"]
    wanted = report.table("wanted_not_offered")
    assert [(label, cells[2].show()) for label, cells in wanted.rows] == [("quantum basketry", "none")]
    learned = report.table("learnings_by_topic")
    assert [label for label, _ in learned.rows] == ["Kubernetes"]


def test_experts_at_their_monthly_capacity_are_not_over_it(
    db: Database, settings: Settings, company: dict[str, list[int]]
) -> None:
    """Four weeks are a little short of a month: an engineer who takes 4 chats a month and had
    4 in the last four weeks is at capacity (3.7 allowed, rounded up); a fifth is over it."""
    now = utcnow()
    for n in range(4):
        for i, engineer in enumerate(company["eng"]):
            day = now - timedelta(days=3 + 5 * n)
            _chat(db, company["sales"][i], engineer, created=day - timedelta(days=1), done=day)
    # Group size 1: these figures are about the threshold, not about hiding small groups.
    every_figure = settings.model_copy(update={"min_group_size": 1})
    load = _report(db, every_figure).table("expert_load")
    assert load.cell("Engineering", "experts").show() == "6"
    assert load.cell("Engineering", "over capacity").show() == "0"
    for i, engineer in enumerate(company["eng"]):
        day = now - timedelta(days=2)
        _chat(db, company["sales"][i], engineer, created=day - timedelta(days=1), done=day)
    load = _report(db, every_figure).table("expert_load")
    assert load.cell("Engineering", "over capacity").show() == "6"


def test_a_to_date_period_is_compared_with_the_same_days_only(
    db: Database, settings: Settings, company: dict[str, list[int]]
) -> None:
    """On 18 November, "this month" (1–18 Nov) is compared with 1–18 October:
    chats held on 25 October are in neither period."""
    now = datetime(2026, 11, 18, 12, tzinfo=UTC)
    for i in range(5):
        day = datetime(2026, 10, 10, 12, tzinfo=UTC)
        _chat(db, company["sales"][i], company["eng"][i], created=day - timedelta(days=1), done=day)
    for i in range(6):
        day = datetime(2026, 10, 25, 12, tzinfo=UTC)
        _chat(db, company["sales"][i], company["eng"][i], created=day - timedelta(days=1), done=day)
    with db.session() as session:
        period = parse_period("this month", now, settings.timezone)
        report = reports.report_for(session, period, settings, now)
    held = report.summary.metric("chats_held")
    assert held.current.show() == "0"
    assert held.previous.show() == "5"
    assert report.summary.metric("requests_sent").previous.show() == "5"


def test_private_takeaways_and_small_searches_never_appear(
    db: Database, settings: Settings, company: dict[str, list[int]]
) -> None:
    _seed_activity(db, company)
    shown = _everything(_report(db, settings))
    assert "Secret Reorg" not in shown
    assert "divorce" not in shown  # three people searched it: fewer than 5
    assert "private about" not in shown and "Deployments roll out" not in shown  # takeaway text, never
    for name in ("Eng Person", "Sales Person", "UENG", "USAL"):
        assert name not in shown  # nobody is named


def test_minimum_group_size_is_a_setting(
    db: Database, standin: SlackStandIn, settings: Settings, company: dict[str, list[int]]
) -> None:
    _seed_activity(db, company)
    strict = settings.model_copy(update={"min_group_size": 10})
    report = _report(db, strict)
    assert report.summary.metric("chats_held").current.suppressed
    assert report.table("topics_offered").rows == []
    assert "fewer than 10" in report.footer


def test_report_of_an_empty_database(db: Database, settings: Settings) -> None:
    report = _report(db, settings)
    assert report.summary.metric("chats_held").current.show() == "0"
    assert report.summary.metric("usefulness").current.show() == "–"
    _, blocks = report_message(report)
    assert "Nothing to show" in json.dumps(blocks)
    assert all(c.data.startswith(PNG_MAGIC) for c in charts.render(report))


# -- Slack: who may see, the report DM, charts, audit ---------------------------------------------------


def _audit(db: Database) -> list[AuditEntry]:
    with db.session() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def _pngs(standin: SlackStandIn) -> list[bytes]:
    return [data for name, data, _ in standin.uploaded_files.values() if name.endswith(".png")]


def test_admin_gets_the_report_and_charts_others_a_refusal(
    slack: SlackAppClient,
    standin: SlackStandIn,
    db: Database,
    company: dict[str, list[int]],
    tmp_path: Path,
) -> None:
    _seed_activity(db, company)
    started = time.monotonic()
    answer = slack.command("UADMIN", "report")
    assert time.monotonic() - started < 3
    assert answer.status_code == 200 and "Preparing your report" in answer.json()["text"]

    standin.wait_for(lambda: len(_pngs(standin)) >= 3, timeout=30)
    dm = standin.dm_channel("UADMIN")
    report_dm = next(m for m in standin.messages_in(dm) if m.get("blocks"))
    shown = render_blocks(report_dm["blocks"])
    assert "Chats held" in shown and "```" not in shown  # tables as lines, charts as files
    assert "Charts follow as pictures: _Chats held per week_" in shown
    assert "Download CSV" in shown and "fewer than 5 people" in shown
    assert "Secret Reorg" not in json.dumps(standin.messages_in(dm))
    for data in _pngs(standin):
        assert data.startswith(PNG_MAGIC)
        assert b"Matplotlib" in data[:400] or b"matplotlib" in data[:400]  # the Software tEXt chunk
    assert all(cid == dm for _, _, cid in standin.uploaded_files.values())
    (tmp_path / "heatmap.png").write_bytes(_pngs(standin)[1])
    standin.wait_for(lambda: any("in your direct messages" in str(r.payload) for r in standin.responses))

    audit = _audit(db)
    assert [(a.actor, a.action) for a in audit] == [("UADMIN", "report.view")]
    assert "period=" in audit[0].detail

    # Someone else: the refusal, nothing else.
    files_before, calls_before = len(standin.uploaded_files), len(standin.calls)
    refused = slack.command("USAL0", "report last quarter")
    assert refused.json()["text"] == REFUSAL
    time.sleep(0.5)
    assert len(standin.uploaded_files) == files_before
    assert [c.method for c in standin.calls[calls_before:] if c.method != "auth.test"] == []
    assert standin.messages_in(standin.dm_channel("USAL0")) == []
    assert len(_audit(db)) == 1


def test_bad_period_gets_help_and_no_report(
    slack: SlackAppClient, standin: SlackStandIn, db: Database
) -> None:
    answer = slack.command("UADMIN", "report someday")
    assert "can't read" in answer.json()["text"] and "last quarter" in answer.json()["text"]
    time.sleep(0.5)
    assert standin.uploaded_files == {} and _audit(db) == []


def test_download_csv_uploads_one_file_per_table(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, company: dict[str, list[int]]
) -> None:
    _seed_activity(db, company)
    slack.command("UADMIN", "report last 4 weeks")
    standin.wait_for(lambda: len(_pngs(standin)) >= 3, timeout=30)
    dm = standin.dm_channel("UADMIN")
    message = next(
        m for m in standin.messages_in(dm) if REPORT_DOWNLOAD_CSV_ACTION in json.dumps(m.get("blocks"))
    )
    slack.block_action("UADMIN", REPORT_DOWNLOAD_CSV_ACTION, message=message)
    standin.wait_for(lambda: sum(n.endswith(".csv") for n, _, _ in standin.uploaded_files.values()) >= 12)
    tables = {n: d for n, d, _ in standin.uploaded_files.values() if n.endswith(".csv")}
    assert any("function_flow" in n for n in tables) and any("summary" in n for n in tables)
    for data in tables.values():
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
        assert rows and rows[0][0]  # a header row
    flow = next(d for n, d in tables.items() if "function_flow" in n).decode()
    assert "Finance" in flow and "*" in flow
    assert [a.action for a in _audit(db)] == ["report.view", "report.export"]

    # The button is for admins too.
    files_before = len(standin.uploaded_files)
    slack.block_action("USAL0", REPORT_DOWNLOAD_CSV_ACTION, message=message)
    standin.wait_for(lambda: any(REFUSAL in str(r.payload) for r in standin.responses))
    assert len(standin.uploaded_files) == files_before and len(_audit(db)) == 2


def test_user_group_members_are_admins_with_a_cached_lookup(
    db: Database, standin: SlackStandIn, company: dict[str, list[int]]
) -> None:
    standin.add_usergroup("SHRADMINS", ["UHR"])
    make_person(db, standin, "UHR", "Hana Reyes", "People")
    settings = make_settings(
        str(db.url.render_as_string(hide_password=False)), standin, admin_usergroup="SHRADMINS"
    )
    with (
        AppServer(settings, db=db) as server,
        SlackAppClient(server.events_url, SIGNING_SECRET, standin) as slack,
    ):
        first = slack.command("UHR", "report")
        assert first.json()["text"] == CHECKING  # cold cache: decided after the ack
        standin.wait_for(lambda: len(_pngs(standin)) >= 3, timeout=30)
        assert len(standin.calls_to("usergroups.users.list")) == 1

        second = slack.command("UHR", "report this month")
        assert "Preparing your report" in second.json()["text"]
        assert slack.command("USAL1", "report").json()["text"] == REFUSAL  # known from the cache
        standin.wait_for(lambda: len(_audit(db)) == 2, timeout=30)
        assert len(standin.calls_to("usergroups.users.list")) == 1
        assert [a.actor for a in _audit(db)] == ["UHR", "UHR"]


def test_cold_cache_non_member_is_refused_after_the_check(
    db: Database, standin: SlackStandIn, company: dict[str, list[int]]
) -> None:
    standin.add_usergroup("SHRADMINS", ["UHR"])
    settings = make_settings(
        str(db.url.render_as_string(hide_password=False)), standin, admin_usergroup="SHRADMINS"
    )
    with (
        AppServer(settings, db=db) as server,
        SlackAppClient(server.events_url, SIGNING_SECRET, standin) as slack,
    ):
        assert slack.command("USAL2", "report").json()["text"] == CHECKING
        standin.wait_for(lambda: any(REFUSAL in str(r.payload) for r in standin.responses))
    assert standin.uploaded_files == {} and _audit(db) == []
    assert standin.messages_in(standin.dm_channel("USAL2")) == []


def test_admin_home_blocks_and_a_report_button(
    slack: SlackAppClient,
    standin: SlackStandIn,
    db: Database,
    server: AppServer,
    company: dict[str, list[int]],
) -> None:
    _seed_activity(db, company)
    with db.session() as session:
        summary = reports.headline(session, utcnow())
    assert summary.metric("chats_held").current.show() == "7"
    standin.add_user("UADMIN", name="admin", real_name="Ada Admin")
    home = {"type": "home", "blocks": admin_home_blocks(summary)}
    server.app.ctx.slack.publish_home("UADMIN", home)  # the stand-in validates the blocks
    shown = render_blocks(standin.home_view("UADMIN")["blocks"])
    assert "Chats held" in shown and "[View]" in shown and "[Download CSV]" in shown

    view = standin.home_view("UADMIN")
    assert any(b.get("accessory", {}).get("value") == "flow" for b in view["blocks"])
    slack.block_action("UADMIN", REPORT_SHOW_ACTION, view=view, value="flow")
    standin.wait_for(lambda: len(_pngs(standin)) == 1, timeout=30)  # just the heatmap
    message = next(m for m in standin.messages_in(standin.dm_channel("UADMIN")) if m.get("blocks"))
    assert "learner's function" in render_blocks(message["blocks"])
    assert [a.detail.split(" ")[1] for a in _audit(db)] == ["sections=flow"]


# -- the CLI ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "json", "png"])
def test_cli_writes_one_file_per_table_or_chart(
    fmt: str, db: Database, settings: Settings, company: dict[str, list[int]], tmp_path: Path
) -> None:
    _seed_activity(db, company)
    args = argparse.Namespace(period="last 4 weeks", format=fmt, out=str(tmp_path / "out"))
    assert cli_report(args, settings) == 0
    files = sorted((tmp_path / "out").iterdir())
    if fmt == "png":
        assert len(files) == 3 and all(f.read_bytes().startswith(PNG_MAGIC) for f in files)
    else:
        assert len(files) == 12 and all(f.suffix == f".{fmt}" for f in files)  # summary + 11 tables
        flow = next(f for f in files if "function_flow" in f.name).read_text(encoding="utf-8")
        if fmt == "json":
            document = json.loads(flow)
            finance = next(r for r in document["rows"] if r["learner's function"] == "Finance")
            assert finance["Engineering"] is None and "Engineering" in finance["suppressed"]
            assert document["min_group_size"] == 5
        else:
            assert flow.splitlines()[0].startswith("learner's function,")
    with db.session() as session:
        entry = session.scalars(select(AuditEntry)).one()
    assert (entry.actor, entry.action) == ("cli", "report.export") and f"format={fmt}" in entry.detail


def test_cli_rejects_a_bad_period(settings: Settings, tmp_path: Path, db: Database) -> None:
    args = argparse.Namespace(period="soon", format="csv", out=str(tmp_path))
    assert cli_report(args, settings) == 2
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_period_dataclass_rejects_reversed_days() -> None:
    with pytest.raises(PeriodError):
        Period(date(2026, 2, 1), date(2026, 1, 1))
