"""The /admin dashboard over real HTTP: Sign in with Slack through the stand-in, cookies,
who gets in, pages, downloads and the audit log. (tests/test_dashboard_browser.py looks
at the same pages in a real browser.)"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot.clock import advance, travel_to, utcnow
from bot.dashboard.auth import CALLBACK_PATH
from bot.db import Database
from bot.devtools.runner import AppServer
from bot.devtools.standin import SlackStandIn
from bot.devtools.standin.oidc import sign_in_without_a_browser
from bot.gateway import admins
from bot.gateway.signin import SCOPES
from bot.models import AppState, AuditEntry
from bot.services import reports
from bot.settings import Settings
from tests.conftest import make_settings
from tests.dashboard_data import seed_company
from tests.factories import make_person

CLIENT_ID, CLIENT_SECRET = "1234.5678", "dashboard-client-secret"


def dashboard_settings(db: Database, standin: SlackStandIn, **overrides: object) -> Settings:
    standin.oidc.register(CLIENT_ID, CLIENT_SECRET)
    return make_settings(
        make_url(str(db.url)).render_as_string(hide_password=False),
        standin,
        slack_client_id=CLIENT_ID,
        slack_client_secret=CLIENT_SECRET,
        slack_oauth_url=standin.oidc.authorize_url,
        **overrides,
    )


@pytest.fixture
def app(db: Database, standin: SlackStandIn) -> Iterator[AppServer]:
    admins.clear_admin_cache()
    standin.add_user("UADMIN", name="ada", real_name="Ada Admin")
    standin.add_user("UPEER", name="pat", real_name="Pat Peer")
    with AppServer(dashboard_settings(db, standin), db=db) as server:
        standin.oidc.register(CLIENT_ID, CLIENT_SECRET, [server.root + "/admin/auth/callback"])
        yield server


def sign_in(server: AppServer, standin: SlackStandIn, user_id: str, **headers: str) -> httpx.Response:
    """Follow the browser's path: /admin -> sign-in page -> Slack's consent -> callback."""
    client = httpx.Client(base_url=server.root, headers=headers)
    server.client = client  # type: ignore[attr-defined]
    assert client.get("/admin").headers["location"] == "/admin/signin?next=%2Fadmin"
    return sign_in_without_a_browser(client, standin.oidc, user_id)


def audit(db: Database) -> list[tuple[str, str, str]]:
    with db.session() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        return [(r.actor, r.action, r.detail) for r in rows]


def test_admin_signs_in_with_slack_and_sees_every_page(
    app: AppServer, standin: SlackStandIn, db: Database
) -> None:
    callback = sign_in(app, standin, "UADMIN")
    assert callback.status_code == 303 and callback.headers["location"] == "/admin"
    cookie = callback.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookie if c.startswith("infochat_admin="))
    assert "HttpOnly" in session_cookie and "SameSite=lax" in session_cookie
    assert "Secure" not in session_cookie  # plain http on loopback
    assert "Max-Age=28800" in session_cookie  # INFOCHAT_DASHBOARD_SESSION_HOURS, 8 by default
    # Slack's side saw a proper OpenID Connect exchange.
    token_call = standin.calls_to("openid.connect.token")[-1]
    assert token_call.ok and token_call.params["redirect_uri"] == app.root + "/admin/auth/callback"
    assert standin.calls_to("openid.connect.userInfo")[-1].token.startswith("xoxp-")

    client: httpx.Client = app.client  # type: ignore[attr-defined]
    for path, heading in [
        ("/admin", "Overview"),
        ("/admin/flow", "Who learns from whom"),
        ("/admin/topics", "Topics"),
        ("/admin/load", "Expert load"),
        ("/admin/outcomes", "Follow-up outcomes"),
    ]:
        page = client.get(path)
        assert page.status_code == 200, path
        assert f"<h1>{heading}</h1>" in page.text
        assert "Signed in as <strong>Ada Admin</strong>" in page.text
        assert page.headers["cache-control"] == "no-store"
        assert "default-src 'none'" in page.headers["content-security-policy"]
    assert [a[1] for a in audit(db)] == ["report.view"] * 5
    assert all(a[0] == "UADMIN" and "via=dashboard" in a[2] for a in audit(db))


def test_someone_who_is_not_an_admin_is_refused_and_gets_no_session(
    app: AppServer, standin: SlackStandIn, db: Database
) -> None:
    refused = sign_in(app, standin, "UPEER")
    assert refused.status_code == 403
    assert "Only programme admins" in refused.text
    assert not any(c.startswith("infochat_admin=ey") for c in refused.headers.get_list("set-cookie"))
    client: httpx.Client = app.client  # type: ignore[attr-defined]
    assert client.get("/admin").status_code == 303
    assert client.get("/admin/download/summary.csv").status_code == 303
    assert audit(db) == []


def test_admin_user_group_members_get_in(db: Database, standin: SlackStandIn) -> None:
    admins.clear_admin_cache()
    standin.add_user("UHR", name="hana", real_name="Hana HR")
    standin.add_usergroup("SHR", ["UHR"])
    with AppServer(dashboard_settings(db, standin, admins=[], admin_usergroup="SHR"), db=db) as server:
        assert sign_in(server, standin, "UHR").status_code == 303


def test_cookies_are_secure_behind_an_https_proxy(app: AppServer, standin: SlackStandIn) -> None:
    https_callback = app.root.replace("http://", "https://") + "/admin/auth/callback"
    standin.oidc.register(CLIENT_ID, CLIENT_SECRET, [https_callback])
    # The proxy terminates TLS and says so; an http client jar would not send Secure
    # cookies back, so this test carries them itself, as the browser would over https.
    proxy = httpx.Client(base_url=app.root, headers={"X-Forwarded-Proto": "https"})
    start = proxy.get("/admin/auth/start")
    assert "redirect_uri=https%3A%2F%2F" in start.headers["location"]
    state_cookie = start.headers["set-cookie"]
    assert "Secure" in state_cookie and "HttpOnly" in state_cookie
    standin.oidc.signed_in_as = "UADMIN"
    consent = httpx.get(start.headers["location"])
    allow = html.unescape(re.search(r'class="allow" href="([^"]+)"', consent.text).group(1))
    back = httpx.get(standin.oidc.authorize_url + allow).headers["location"]
    assert back.startswith(https_callback)
    callback = proxy.get(httpx.URL(back).raw_path.decode(), headers={"Cookie": state_cookie.split(";")[0]})
    assert callback.status_code == 303
    assert all("Secure" in c for c in callback.headers.get_list("set-cookie"))


def test_sessions_expire_and_sign_out_ends_them(app: AppServer, standin: SlackStandIn, db: Database) -> None:
    with travel_to(utcnow()):
        assert sign_in(app, standin, "UADMIN").status_code == 303
        client: httpx.Client = app.client  # type: ignore[attr-defined]
        assert client.get("/admin/load").status_code == 200
        advance(timedelta(hours=8, minutes=1))
        expired = client.get("/admin/load")
        assert expired.status_code == 303 and expired.headers["location"].startswith("/admin/signin")

    assert sign_in(app, standin, "UADMIN").status_code == 303
    client = app.client  # type: ignore[attr-defined]
    # Someone copies the session cookie (another browser, a proxy log, a shared machine).
    copied = httpx.Client(base_url=app.root, cookies={"infochat_admin": client.cookies["infochat_admin"]})
    assert copied.get("/admin/load").status_code == 200
    with db.session() as session:
        before = len(
            session.scalars(select(AppState).where(AppState.key.startswith("dashboard_session:"))).all()
        )
    out = client.post("/admin/signout")
    assert out.status_code == 303 and out.headers["location"] == "/admin/signin?signed_out=1"
    assert client.get("/admin").status_code == 303
    assert "You are signed out" in client.get(out.headers["location"]).text
    # Sign-out ended the session on the server: the copy, still validly signed, gets nothing.
    after = copied.get("/admin/load")
    assert after.status_code == 303 and after.headers["location"].startswith("/admin/signin")
    assert copied.get("/admin/download/summary.csv").status_code == 303
    with db.session() as session:
        left = session.scalars(select(AppState).where(AppState.key.startswith("dashboard_session:"))).all()
    assert len(left) == before - 1


def test_a_forged_or_replayed_callback_signs_nobody_in(app: AppServer, standin: SlackStandIn) -> None:
    client = httpx.Client(base_url=app.root)
    # No sign-in started from this browser: the state cannot match.
    forged = client.get("/admin/auth/callback?code=standin-code-x&state=guess")
    assert forged.status_code == 400 and "not started here" in forged.text
    # Cancel on Slack's page.
    start = client.get("/admin/auth/start")
    consent = httpx.get(start.headers["location"])
    cancel = html.unescape(re.search(r'class="cancel" href="([^"]+)"', consent.text).group(1))
    back = httpx.get(standin.oidc.authorize_url + cancel)
    cancelled = client.get(back.headers["location"])
    assert cancelled.status_code == 400 and "cancelled" in cancelled.text
    # A code used twice: Slack refuses the second exchange.
    callback = sign_in(app, standin, "UADMIN")
    assert callback.status_code == 303
    used = standin.calls_to("openid.connect.token")[-1].params["code"]
    replay = httpx.Client(base_url=app.root)
    start = replay.get("/admin/auth/start")
    state = re.search(r"state=([^&]+)", start.headers["location"]).group(1)
    refused = replay.get(f"/admin/auth/callback?code={used}&state={state}")
    assert refused.status_code == 400 and "invalid_code" in refused.text
    assert "infochat_admin=ey" not in refused.headers.get("set-cookie", "")


def test_sign_in_never_redirects_to_another_site(app: AppServer, standin: SlackStandIn) -> None:
    client = httpx.Client(base_url=app.root)
    start = client.get("/admin/auth/start?next=//evil.example.com/x")
    standin.oidc.signed_in_as = "UADMIN"
    consent = httpx.get(start.headers["location"])
    allow = html.unescape(re.search(r'class="allow" href="([^"]+)"', consent.text).group(1))
    back = httpx.get(standin.oidc.authorize_url + allow)
    assert client.get(back.headers["location"]).headers["location"] == "/admin"


def test_without_client_credentials_the_dashboard_says_what_to_set(
    db: Database, standin: SlackStandIn
) -> None:
    settings = make_settings(make_url(str(db.url)).render_as_string(hide_password=False), standin)
    with AppServer(settings, db=db) as server:
        page = httpx.get(server.root + "/admin")
        assert page.status_code == 503
        assert "INFOCHAT_SLACK_CLIENT_ID" in page.text and "INFOCHAT_SLACK_CLIENT_SECRET" in page.text
        assert httpx.get(server.root + "/healthz").status_code == 200


def test_downloads_are_the_slack_export_and_audited(
    app: AppServer, standin: SlackStandIn, db: Database
) -> None:
    make_person(db, standin, "UENG0", "Eng Person", "Engineering", speaks=["Kubernetes"])
    sign_in(app, standin, "UADMIN")
    client: httpx.Client = app.client  # type: ignore[attr-defined]
    csv_file = client.get("/admin/download/participation_by_function.csv?period=last+12+weeks")
    assert csv_file.status_code == 200 and csv_file.headers["content-type"].startswith("text/csv")
    assert 'filename="infochat_participation_by_function_' in csv_file.headers["content-disposition"]
    with db.session() as session:
        period = reports.parse_period("last 12 weeks", utcnow(), "UTC")
        report = reports.report_for(session, period, app.settings, utcnow())
    assert csv_file.content == reports.to_csv(report.table("participation_by_function"))
    assert csv_file.text.splitlines()[1].startswith("Engineering,*,*")  # one person: hidden

    filtered = client.get("/admin/download/expert_load.json?function=Engineering")
    document = json.loads(filtered.text)
    assert [row["function"] for row in document["rows"]] == ["Engineering"]
    assert "_Engineering_" in filtered.headers["content-disposition"]
    assert client.get("/admin/download/nothing.csv").status_code == 404
    assert client.get("/admin/download/summary.xlsx").status_code == 404
    exports = [a for a in audit(db) if a[1] == "report.export"]
    assert [e[2].split()[:2] for e in exports] == [
        ["format=csv", "table=participation_by_function"],
        ["format=json", "table=expert_load"],
    ]


def test_the_manifest_registers_the_sign_in_redirect_and_scopes() -> None:
    manifest = yaml.safe_load((Path(__file__).resolve().parent.parent / "manifest.yml").read_text())
    oauth = manifest["oauth_config"]
    assert [url.endswith(CALLBACK_PATH) for url in oauth["redirect_urls"]] == [True]
    assert set(SCOPES) <= set(oauth["scopes"]["user"])


def test_a_bad_period_is_explained_on_the_page(app: AppServer, standin: SlackStandIn, db: Database) -> None:
    sign_in(app, standin, "UADMIN")
    client: httpx.Client = app.client  # type: ignore[attr-defined]
    page = client.get("/admin/topics?custom=next+tuesday")
    assert page.status_code == 400
    assert "Periods:" in page.text and "last quarter" in page.text
    assert "Traceback" not in page.text
    assert audit(db) == []


def test_follow_up_answers_and_what_the_function_filter_narrows(
    app: AppServer, standin: SlackStandIn, db: Database
) -> None:
    seed_company(db, standin, utcnow())
    sign_in(app, standin, "UADMIN")
    client: httpx.Client = app.client  # type: ignore[attr-defined]
    with db.session() as session:
        report = reports.report_for(
            session, reports.parse_period("", utcnow(), "UTC"), app.settings, utcnow()
        )
    answers = report.table("followup_answers")
    met = answers.cell("We met", "this period")
    assert met.visible is not None and met.visible > 0  # the seeded company met, mostly

    page = client.get("/admin/outcomes")
    body = html.unescape(page.text)
    section = body[body.index('id="followup_answers"') :]
    for label, cells in answers.rows:  # every answer, each figure as the report has it
        row = re.search(rf"<th scope=\"row\">{re.escape(label)}</th>(.*?)</tr>", section, re.S)
        assert row is not None, label
        shown = re.findall(r"<td[^>]*>(?:<abbr[^>]*>)?([^<]*)", row.group(1))
        assert shown == [c.show() for c in cells], label
    download = client.get("/admin/download/followup_answers.csv")
    assert download.content == reports.to_csv(answers)

    # Without a filter the page says what the filter would narrow; with one, what it did not.
    assert "The function filter narrows Participation by function" in html.unescape(client.get("/admin").text)
    sales = html.unescape(client.get("/admin?function=Sales").text)
    assert "Function filter <strong>Sales</strong>: it narrows Participation by function" in sales
    assert "Chats held per week" in sales.split('id="filter-reach"')[1].split("</p>")[0]
    assert sales.count("All functions: the Sales filter does not apply to this table.") == 2  # summary, trend
