"""The dashboard in a real browser: Debian's Chromium driven by Playwright.

One browser for the whole session (a fresh context per test). The browser signs in
through the stand-in's Slack (its consent page and OpenID Connect methods), opens
every page, hovers a chart mark, downloads a table, and saves a full-page
screenshot of each page under artifacts/dashboard/ (INFOCHAT_ARTIFACTS to change).

Playwright's own browser builds are never downloaded: the tests use
/usr/bin/chromium (`apt-get install chromium`) and are skipped, saying so, when it
or the playwright package is missing. .ci/run installs both.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.blocks.reports import REPORT_DOWNLOAD_CSV_ACTION
from bot.clock import utcnow
from bot.db import Database
from bot.devtools.runner import AppServer
from bot.devtools.slack_client import SlackAppClient
from bot.devtools.standin import SlackStandIn
from bot.gateway import admins
from bot.models import AuditEntry
from tests.conftest import SIGNING_SECRET
from tests.dashboard_data import seed_company
from tests.test_dashboard import CLIENT_ID, CLIENT_SECRET, dashboard_settings

CHROMIUM = os.environ.get("INFOCHAT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(os.environ.get("INFOCHAT_ARTIFACTS", Path(__file__).resolve().parent.parent / "artifacts"))
SHOTS = ARTIFACTS / "dashboard"
PAGES = [
    ("overview", "/admin", "Overview"),
    ("flow", "/admin/flow", "Who learns from whom"),
    ("topics", "/admin/topics", "Topics"),
    ("load", "/admin/load", "Expert load"),
    ("outcomes", "/admin/outcomes", "Follow-up outcomes"),
]


def _missing(reason: str) -> None:
    # Locally a missing browser skips these tests; CI (CI=true) installs it, so there it fails.
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the browser tests: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


try:
    from playwright import sync_api
except ImportError:
    _missing("the playwright package is not installed (pip install '.[test]')")
if shutil.which(CHROMIUM) is None:
    _missing(f"no Chromium at {CHROMIUM}: `apt-get install -y chromium` (as .ci/run does) to run these")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Watched:
    """A page whose console errors, page errors and off-site requests are collected."""

    def __init__(self, page: Any, allowed: tuple[str, ...]) -> None:
        self.page = page
        self.errors: list[str] = []
        self.offsite: list[str] = []
        page.on(
            "console", lambda m: self.errors.append(f"{m.text} {m.location}") if m.type == "error" else None
        )
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: None if r.url.startswith(allowed) else self.offsite.append(r.url))


@pytest.fixture
def app(db: Database, standin: SlackStandIn) -> Iterator[AppServer]:
    admins.clear_admin_cache()
    standin.add_user("UADMIN", name="ada", real_name="Ada Admin")
    standin.add_user("UPEER", name="pat", real_name="Pat Peer")
    with AppServer(dashboard_settings(db, standin), db=db) as server:
        standin.oidc.register(CLIENT_ID, CLIENT_SECRET, [server.root + "/admin/auth/callback"])
        yield server


@pytest.fixture
def tab(browser: Any, app: AppServer, standin: SlackStandIn) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    watched = Watched(context.new_page(), (app.root, standin.root))
    yield watched
    context.close()


def sign_in(tab: Watched, app: AppServer, standin: SlackStandIn, user_id: str, path: str = "/admin") -> None:
    standin.oidc.signed_in_as = user_id  # who is signed in to "Slack" in this browser
    tab.page.goto(app.root + path)
    tab.page.get_by_role("link", name="Sign in with Slack").click()
    tab.page.get_by_role("link", name="Allow").click()
    tab.page.wait_for_load_state()


def test_admin_signs_in_and_every_page_draws_its_charts_and_filters(
    tab: Watched, app: AppServer, standin: SlackStandIn, db: Database
) -> None:
    seed_company(db, standin, utcnow())
    sign_in(tab, app, standin, "UADMIN", "/admin/topics")
    page = tab.page
    assert page.url == app.root + "/admin/topics"  # back where the sign-in started
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name, path, heading in PAGES:
        page.goto(app.root + path)
        assert page.get_by_role("heading", level=1).inner_text() == heading
        charts = page.locator("svg.chart")
        if name != "overview" or charts.count():
            assert charts.count() >= 1, name
            marks = page.locator("svg.chart .mark")
            assert marks.count() >= 3, name
            # Hovering a mark shows its value; every chart has its table beside it.
            marks.first.hover()
            tooltip = page.locator(".tooltip")
            assert tooltip.is_visible() and any(ch.isdigit() or ch == "*" for ch in tooltip.inner_text())
        assert page.locator("table.data").count() >= 1
        page.mouse.move(0, 0)  # no tooltip in the screenshot
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    assert tab.errors == []
    assert tab.offsite == []  # everything came from the app (and the stand-in's Slack)
    with db.session() as session:
        views = session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "report.view")).all()
    assert len(views) == len(PAGES) + 1 and all("via=dashboard" in v for v in views)

    # The period picker and the function filter (same company, same browser).
    page.goto(app.root + "/admin/load")
    page.get_by_label("Period", exact=True).select_option("last 12 weeks")
    page.get_by_label("Function", exact=True).select_option("Sales")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state()
    assert "period=last+12+weeks" in page.url and "function=Sales" in page.url
    assert page.locator("#expert_load table.data tbody th").all_inner_texts() == ["Sales"]
    # The filters follow the tabs.
    page.get_by_role("link", name="Who learns from whom").click()
    assert "function=Sales" in page.url
    assert page.locator("#function_flow h2").inner_text() == "Chats held with Sales"
    reach = page.locator("#filter-reach").inner_text()
    assert "narrows Participation by function" in reach and "Topics most searched" in reach
    page.mouse.move(0, 0)
    page.screenshot(path=str(SHOTS / "flow-sales.png"), full_page=True)
    # Follow-up outcomes: what people answered, drawn and tabled, small groups hidden.
    page.get_by_role("link", name="Follow-up outcomes").click()
    answers = page.locator("#followup_answers table.data tbody th").all_inner_texts()
    assert answers[:3] == ["We met", "Not yet", "We couldn't meet"]
    assert page.locator("#followup_answers svg.chart .mark").count() >= 3
    assert "the Sales filter does not apply" in page.locator("#followup_answers").inner_text()
    assert tab.errors == []


def test_someone_who_is_not_an_admin_is_refused(
    tab: Watched, app: AppServer, standin: SlackStandIn, db: Database
) -> None:
    sign_in(tab, app, standin, "UPEER")
    page = tab.page
    assert "Only programme admins" in page.locator("h1").inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "refused.png"))
    page.goto(app.root + "/admin/flow")
    assert page.get_by_role("link", name="Sign in with Slack").is_visible()
    assert not any(c["name"] == "infochat_admin" for c in page.context.cookies())
    with db.session() as session:
        assert session.scalars(select(AuditEntry)).all() == []


def test_a_download_is_suppressed_like_the_slack_report(
    tab: Watched, app: AppServer, standin: SlackStandIn, db: Database
) -> None:
    seed_company(db, standin, utcnow())
    # The Slack report's CSV of the function × function table (the Download CSV button).
    slack = SlackAppClient(app.events_url, SIGNING_SECRET, standin)
    try:
        slack.command("UADMIN", "report")
        standin.wait_for(lambda: _dm_with_download(standin) is not None, timeout=30)
        slack.block_action("UADMIN", REPORT_DOWNLOAD_CSV_ACTION, message=_dm_with_download(standin))
        standin.wait_for(lambda: _slack_csv(standin, "function_flow") is not None, timeout=30)
    finally:
        slack.close()
    from_slack = _slack_csv(standin, "function_flow")

    sign_in(tab, app, standin, "UADMIN", "/admin/flow")
    with tab.page.expect_download() as info:
        tab.page.locator("#function_flow").get_by_role("link", name="CSV").click()
    download = info.value
    from_dashboard = Path(download.path()).read_bytes()
    assert download.suggested_filename.startswith("infochat_function_flow_")
    assert from_dashboard == from_slack
    cells = [cell for row in csv.reader(io.StringIO(from_dashboard.decode())) for cell in row[1:]]
    assert "*" in cells  # small groups are hidden, as in Slack
    # The page shows the same hidden cells, hatched in the chart and * in the table.
    hidden = tab.page.locator("#function_flow table.data td.hidden-cell").count()
    assert hidden == cells.count("*")
    with db.session() as session:
        exports = session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "report.export")).all()
    assert any("via=dashboard" in e and "table=function_flow" in e for e in exports)
    assert tab.errors == []


def test_sign_out(browser: Any, tab: Watched, app: AppServer, standin: SlackStandIn) -> None:
    sign_in(tab, app, standin, "UADMIN")
    cookies = tab.page.context.cookies()
    tab.page.get_by_role("button", name="Sign out").click()
    tab.page.wait_for_load_state()
    assert tab.page.get_by_role("status").inner_text() == "You are signed out."
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.page.screenshot(path=str(SHOTS / "signin.png"))
    tab.page.goto(app.root + "/admin")
    assert tab.page.get_by_role("link", name="Sign in with Slack").is_visible()
    # The cookie copied before signing out, in another browser, signs nobody in.
    other = browser.new_context()
    try:
        other.add_cookies(cookies)
        copy = other.new_page()
        copy.goto(app.root + "/admin")
        assert copy.get_by_role("link", name="Sign in with Slack").is_visible()
    finally:
        other.close()


def _dm_with_download(standin: SlackStandIn) -> dict[str, Any] | None:
    messages = standin.messages_in(standin.dm_channel("UADMIN"))
    return next((m for m in messages if REPORT_DOWNLOAD_CSV_ACTION in json.dumps(m.get("blocks"))), None)


def _slack_csv(standin: SlackStandIn, key: str) -> bytes | None:
    return next(
        (
            data
            for name, data, _ in standin.uploaded_files.values()
            # The chart of the same table is uploaded as infochat_<key>_….png: the CSV only.
            if name.startswith(f"infochat_{key}_") and name.endswith(".csv")
        ),
        None,
    )
