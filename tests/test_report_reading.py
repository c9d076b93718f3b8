"""The Slack report as HR reads it: rendered from real reports (SQL over seeded chats, the
same suppression), then read as text the way Slack shows it, for the shapes a company
has: forty functions with long names, one function, everything hidden.

What is asserted is what a person would notice: a label cut mid-word, a figure that
contradicts the one beside it, a rate of a hidden count, a headline that reads oddly.
"""

from __future__ import annotations

import json
import random
import re
from datetime import timedelta

import pytest

from bot.blocks import MAX_MESSAGE_BLOCKS, MAX_SECTION_TEXT
from bot.blocks.reports import REPORT_SHOW_ACTION, admin_home_blocks, figure, report_message
from bot.clock import utcnow
from bot.db import Database
from bot.devtools.runner import AppServer
from bot.devtools.slack_client import SlackAppClient
from bot.devtools.standin import SlackStandIn, render_blocks
from bot.gateway import admins
from bot.models import Chat, ChatKind, ChatParticipant, ChatRequest, ChatRole, Outcome, RequestStatus
from bot.services import reports
from bot.services.reports import count_cell, part_of, rate_cell, suppress_cells
from bot.settings import Settings
from tests.conftest import SIGNING_SECRET, make_settings
from tests.factories import make_person

K = 5
# Long, realistic function names, with the characters mrkdwn must escape.
LONG_FUNCTIONS = [
    f"Customer Success Operations & Enablement <EMEA> {i:02d}" if i % 2 else f"Platform Engineering {i:02d}"
    for i in range(40)
]


def read(blocks: list[dict[str, object]]) -> str:
    """What a person reads: the blocks as Slack renders them, bold and italics as plain words."""
    text = render_blocks(blocks)
    for _ in range(2):  # nested bold inside italics
        text = re.sub(r"(?<![\w*_])([*_])([^*_\n]+?)\1(?![\w*_])", r"\2", text)
    return text


def lines_of(text: str, title: str) -> list[str]:
    """The lines of one titled part of the report, up to its note or the next part."""
    lines = text.splitlines()
    start = lines.index(title) + 1
    out = []
    for line in lines[start:]:
        if line == f"{title} (continued)":
            continue
        if line == "---" or not (
            " — " in line or " learned from " in line or line.startswith(("Hidden", "Every"))
        ):
            break
        out.append(line)
    return out


def assert_reads_whole(blocks: list[dict[str, object]]) -> str:
    """Slack's limits kept, no cut words, no monospace table, nothing unescaped: the read text."""
    assert len(blocks) <= MAX_MESSAGE_BLOCKS
    for block in blocks:
        texts = [block.get("text"), *(block.get("fields") or []), *(block.get("elements") or [])]  # type: ignore[misc]
        for item in texts:
            if isinstance(item, dict) and "text" in item and isinstance(item["text"], str):
                assert len(item["text"]) <= MAX_SECTION_TEXT
                assert "(shortened)" not in item["text"]
                assert "<EMEA>" not in item["text"]  # escaped as &lt;EMEA&gt;
    shown = read(blocks)
    assert "…" not in shown and "```" not in shown
    return shown


@pytest.fixture(autouse=True)
def _cold_admin_cache() -> None:
    admins.clear_admin_cache()


def staff(db: Database, function: str, n: int, tag: str, *, speakers: int | None = None) -> list[int]:
    """`n` members of `function`; the first `speakers` (all by default) offer a topic."""
    speakers = n if speakers is None else speakers
    return [
        make_person(
            db,
            None,
            f"U{tag}{i:03d}",
            f"{tag} Person{i}",
            function,
            speaks=["Kubernetes"] if i < speakers else [],
            weekly=i % 2 == 0,
        )
        for i in range(n)
    ]


def chats(
    db: Database,
    pairs: list[tuple[int, int]],
    *,
    days_ago: int = 5,
    held: bool = True,
    answered: bool = True,
) -> None:
    """One accepted request and chat per (learner, expert), introduced `days_ago` days ago."""
    made = utcnow() - timedelta(days=days_ago)
    with db.session() as session:
        for learner, expert in pairs:
            request = ChatRequest(
                learner_id=learner,
                expert_id=expert,
                topic_text="Kubernetes",
                status=RequestStatus.ACCEPTED,
                created_at=made - timedelta(days=1),
                responded_at=made,
            )
            session.add(request)
            session.flush()
            done = made + timedelta(days=1) if held else None
            chat = Chat(kind=ChatKind.REQUEST, request_id=request.id, created_at=made, done_at=done)
            chat.participants = [
                ChatParticipant(
                    person_id=learner,
                    role=ChatRole.LEARNER,
                    checkins_sent=1,
                    answered_at=done if answered else None,
                    outcome=Outcome.MET if answered and held else None,
                ),
                ChatParticipant(person_id=expert, role=ChatRole.EXPERT, checkins_sent=1),
            ]
            session.add(chat)


def report_of(db: Database, settings: Settings) -> reports.Report:
    now = utcnow()
    with db.session() as session:
        return reports.report_for(session, reports.parse_period("", now, settings.timezone), settings, now)


def forty_functions(db: Database) -> dict[str, list[int]]:
    people = {name: staff(db, name, 6, f"F{i:02d}") for i, name in enumerate(LONG_FUNCTIONS)}
    pairs = []
    for i, name in enumerate(LONG_FUNCTIONS):
        for step in (1, 2, 3):  # each function learns from the next three
            other = LONG_FUNCTIONS[(i + step) % len(LONG_FUNCTIONS)]
            pairs += [(people[name][j], people[other][j]) for j in range(2 * step)]
    chats(db, pairs)
    return people


# -- contradictions are impossible ---------------------------------------------------------------


def test_a_rate_is_hidden_with_its_parts_and_a_row_with_its_group(db: Database, settings: Settings) -> None:
    """Thirty chats introduced, two held and answered: the answer rate would read 3 % beside
    chats held hidden. A function of three members hides the next smallest members cell
    too; that function's experts go with it rather than read 6 beside members hidden."""
    eng = staff(db, "Engineering", 30, "ENG")
    sales = staff(db, "Sales", 30, "SAL", speakers=0)
    staff(db, "Finance", 6, "FIN")  # 6 members, 6 experts: the next smallest members cell
    staff(db, "Legal", 3, "LEG")  # fewer than 5 members
    chats(db, list(zip(sales[:2], eng[:2], strict=True)), held=True, answered=True)
    chats(db, list(zip(sales[2:30], eng[2:30], strict=True)), held=False, answered=False)
    report = report_of(db, settings)

    summary = report.summary
    assert summary.metric("chats_held").current.suppressed
    assert summary.metric("followup_rate").current.suppressed  # 2 of 60 asked answered: 3 %
    assert summary.metric("cross_function").current.suppressed  # a share of a hidden count
    shown = assert_reads_whole(report_message(report)[1])
    assert "Chats held: hidden" in shown
    assert "Follow-up answer rate: hidden" in shown and "3%" not in shown
    assert "Chats across functions: hidden" in shown

    part = report.table("participation_by_function")
    for label, cells in part.rows:
        if cells[0].suppressed:  # members hidden: nothing about that group shows
            assert all(c.suppressed for c in cells), label
    participation = lines_of(shown, "Participation by function")
    assert not any("members: hidden" in line for line in participation)
    hidden_line = next(line for line in participation if line.startswith("Hidden"))
    assert "Legal" in hidden_line  # and the next smallest members cell with it, whole row
    assert sum(cells[0].suppressed for _, cells in part.rows) >= 2


@pytest.mark.parametrize("seed", range(30))
def test_a_group_and_its_parts_are_hidden_together_and_stay_safe(seed: int) -> None:
    """Rows like participation's (members, then parts of them), suppressed: a hidden group
    hides its row, and still no row or column keeps a single hidden cell."""
    rng = random.Random(seed)
    grid = []
    for _ in range(rng.randint(1, 8)):
        members = rng.choice([0, 1, 3, 5, 6, 9, 20, 40])
        group = count_cell(members)
        grid.append([group, *(part_of(count_cell(rng.randint(0, members)), group) for _ in range(4))])
    suppress_cells(grid, K)
    for row in grid:
        assert not row[0].suppressed or all(c.suppressed for c in row)
        assert all(c.suppressed or not 0 < c.people < K for c in row)
    for line in [*grid, *map(list, zip(*grid, strict=True))]:
        # (A column of one row has nothing to hide with; its total is the same cell.)
        assert len(line) == 1 or sum(c.suppressed for c in line) != 1


@pytest.mark.parametrize(
    ("answered", "asked", "people_asked", "hidden"),
    [(2, 60, 40, True), (10, 60, 40, False), (0, 60, 40, False), (3, 4, 3, True), (20, 40, 30, False)],
)
def test_a_rate_is_hidden_when_its_numerator_or_denominator_is(
    answered: int, asked: int, people_asked: int, hidden: bool
) -> None:
    rate = rate_cell(answered, asked, people_asked, part_people=answered)
    suppress_cells([[rate]], K, "none")
    assert rate.suppressed is hidden
    assert figure(rate) == ("hidden" if hidden else f"{100 * answered / asked:.0f}%")


def test_everything_hidden_reads_as_hidden_not_as_numbers(db: Database, settings: Settings) -> None:
    eng = staff(db, "Engineering", 3, "ENG")
    sales = staff(db, "Sales", 3, "SAL")
    chats(db, list(zip(sales, eng, strict=True)))
    report = report_of(db, settings)
    shown = assert_reads_whole(report_message(report)[1])
    for label in ("Active learners", "Requests sent", "Chats held"):
        assert f"\n{label}: hidden — previous period: 0\n" in shown
    participation = lines_of(shown, "Participation by function")
    assert participation == [
        "Every figure 0: Product, Design, Finance",
        "Hidden (fewer than 5 people, or hidden so that totals cannot reveal another): Engineering, Sales",
    ]
    assert "Sales learned from" not in shown  # the one flow cell is hidden, and said so
    for line in shown.splitlines():
        if line.startswith(("Follow-up answer rate", "Chats across functions")):
            assert line.split(": ")[1].startswith(("hidden", "–")), line


def test_one_function_reads_as_one_line_each(db: Database, settings: Settings) -> None:
    eng = staff(db, "Engineering", 12, "ENG")
    chats(db, list(zip(eng[:6], eng[6:], strict=True)))
    report = report_of(db, settings)
    shown = assert_reads_whole(report_message(report)[1])
    assert lines_of(shown, "Participation by function") == [
        "Engineering — members: 12 · experts: 12 · active learners: 6 · weekly pairing: 6 · held a chat: 12",
        "Every figure 0: Product, Design, Sales, Finance",
    ]
    assert lines_of(shown, "Who learns from whom: chats held, by the learner's function") == [
        "Engineering learned from Engineering: 6"
    ]
    assert "Chats across functions: 0% — previous period: –" in shown


# -- App Home ----------------------------------------------------------------------------------------


def test_app_home_headline_reads_label_figure_change(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, server: AppServer
) -> None:
    """Opened in Slack by an admin: each headline figure reads "Active learners: 36 (+36)"."""
    standin.add_user("UADMIN", name="ada", real_name="Ada Admin")
    eng = staff(db, "Engineering", 36, "ENG")
    sales = staff(db, "Sales", 36, "SAL", speakers=0)
    chats(db, list(zip(sales, eng, strict=True)))
    slack.event({"type": "app_home_opened", "user": "UADMIN", "tab": "home"})
    standin.wait_for(lambda: standin.home_view("UADMIN") is not None)
    shown = read(standin.home_view("UADMIN")["blocks"])  # type: ignore[index]
    headline = next(line for line in shown.splitlines() if line.startswith("Experts"))
    figures = headline.split(" | ")
    assert "Active learners: 36 (+36)" in figures
    assert "Chats held: 36 (+36)" in figures
    assert "Experts (offer topics): 36 (+36)" in figures
    for text in figures:
        assert re.fullmatch(r"[A-Z][\w ()-]+: (\d+|hidden)( \([^()]+\))?", text), text


def test_app_home_headline_hides_change_with_a_hidden_figure(db: Database, standin: SlackStandIn) -> None:
    eng = staff(db, "Engineering", 3, "ENG")
    chats(db, [(eng[0], eng[1])])
    with db.session() as session:
        summary = reports.headline(session, utcnow())
    shown = read(admin_home_blocks(summary))
    figures = next(line for line in shown.splitlines() if line.startswith("Experts")).split(" | ")
    assert "Chats held: hidden" in figures and "Experts (offer topics): hidden" in figures


# -- end to end ----------------------------------------------------------------------------------------


def test_forty_long_function_names_read_whole_and_over_slack(db: Database, standin: SlackStandIn) -> None:
    """Forty functions with long names: the whole report rendered, then the real app asked
    over HTTP through the stand-in (App Home's "View" on participation, which has no chart
    to draw), each read as HR would."""
    forty_functions(db)
    settings = make_settings(
        str(db.url.render_as_string(hide_password=False)), standin, functions=LONG_FUNCTIONS
    )
    shown = assert_reads_whole(report_message(report_of(db, settings))[1])
    participation = lines_of(shown, "Participation by function")
    flow = lines_of(shown, "Who learns from whom: chats held, by the learner's function")
    for name in LONG_FUNCTIONS:
        # Every function's whole name starts its own line (6 members each: none is hidden),
        # and so does whom it learned from.
        assert any(line.startswith(f"{name} — members: 6 · experts: ") for line in participation), name
        assert any(line.startswith(f"{name} learned from ") for line in flow), name
    # Each learned from the third function along in 6 chats; from the next two in 2 and 4
    # (fewer than 5 learners each), which are named as hidden rather than shown.
    first = next(line for line in flow if line.startswith(f"{LONG_FUNCTIONS[0]} learned from "))
    one, two, three = LONG_FUNCTIONS[1:4]
    assert first == f"{LONG_FUNCTIONS[0]} learned from {three}: 6 · hidden: {one}, {two}"
    assert "Summary" in shown and "Follow-up answers" in shown and "Finding a time" in shown

    standin.add_user("UADMIN", name="ada", real_name="Ada Admin")
    with (
        AppServer(settings, db=db) as server,
        SlackAppClient(server.events_url, SIGNING_SECRET, standin) as slack,
    ):
        slack.event({"type": "app_home_opened", "user": "UADMIN", "tab": "home"})
        standin.wait_for(lambda: standin.home_view("UADMIN") is not None)
        slack.block_action(
            "UADMIN", REPORT_SHOW_ACTION, view=standin.home_view("UADMIN"), value="participation"
        )
        dm = standin.dm_channel("UADMIN")
        standin.wait_for(lambda: any(m.get("blocks") for m in standin.messages_in(dm)), timeout=30)
        message = next(m for m in standin.messages_in(dm) if m.get("blocks"))
    raw = json.dumps(message["blocks"])
    assert "Customer Success Operations &amp; Enablement &lt;EMEA&gt; 01" in raw  # escaped once
    in_slack = lines_of(assert_reads_whole(message["blocks"]), "Participation by function")
    assert in_slack == participation and len(in_slack) == 40
