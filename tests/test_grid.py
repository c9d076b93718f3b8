"""Enterprise Grid, org-wide install: one bot token for an organisation of two workspaces.

The stand-in plays the org (``SlackStandIn(org=Org())``): Alpha and Beta, user ids starting
with W, payloads that carry ``enterprise_id`` and each person's own workspace. People of both
are one directory: they find each other, are paired across workspaces and counted in one report.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_sdk.errors import SlackApiError
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.blocks.reports import CHECKING
from bot.blocks.requests import ask_button_value
from bot.clock import utcnow
from bot.context import AppContext
from bot.db import Database
from bot.devtools.runner import AppServer
from bot.devtools.slack_client import SlackAppClient, last_view_opened
from bot.devtools.standin import Org, SlackStandIn, render_blocks
from bot.flows import directory as directory_flow
from bot.gateway import admins
from bot.gateway.slack import SlackGateway, build_web_client
from bot.listeners.views import NOT_ELIGIBLE
from bot.models import Person
from bot.services import directory, profiles
from bot.settings import Settings
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, make_settings
from tests.factories import daytime_zone, make_round, request_dm

ORG = Org()
ALPHA, BETA = ORG.team_ids
ENGINEERS = [f"WENG{i}" for i in range(5)]  # Alpha
SALES = [f"WSAL{i}" for i in range(5)]  # Beta
BOTH = "WBOTH"  # a member of both workspaces: one user id, one person
ADMIN = "WADMIN"  # HR, in Beta
GRID_EXTERNAL = "WEXT1"  # Slack Connect: a member of another Grid organisation
PLAIN_EXTERNAL = "UEXT2"  # Slack Connect: a member of a workspace outside any Grid


@pytest.fixture(autouse=True)
def _cold_admin_cache() -> Iterator[None]:
    admins.clear_admin_cache()
    yield
    admins.clear_admin_cache()


@pytest.fixture
def org() -> Iterator[SlackStandIn]:
    with SlackStandIn(bot_token=BOT_TOKEN, bot_user_id="W0BOT", org=ORG) as stand_in:
        yield stand_in
        refusals = list(stand_in.refusals)  # as strict as the conftest's stand-in
    assert not refusals, "Slack would have refused:\n" + "\n".join(f"  {r}" for r in refusals)


@pytest.fixture
def org_settings(db: Database, org: SlackStandIn) -> Settings:
    url = make_url(str(db.url)).render_as_string(hide_password=False)
    return make_settings(url, org, admins=[ADMIN])


@pytest.fixture
def org_server(org_settings: Settings, db: Database) -> Iterator[AppServer]:
    with AppServer(org_settings, db=db) as running:
        yield running


@pytest.fixture
def org_slack(org_server: AppServer, org: SlackStandIn) -> Iterator[SlackAppClient]:
    client = SlackAppClient(org_server.events_url, SIGNING_SECRET, org)
    yield client
    client.close()


def _context(settings: Settings, db: Database, standin: SlackStandIn) -> AppContext:
    return AppContext(settings=settings, db=db, slack=SlackGateway(build_web_client(BOT_TOKEN, standin.url)))


def _people(org: SlackStandIn) -> None:
    zone = daytime_zone(utcnow())  # nothing held for the morning
    for i, user_id in enumerate(ENGINEERS):
        org.add_user(
            user_id, name=f"eng{i}", real_name=f"Eng Alpha{i}", title="Engineer", tz=zone, team=ALPHA
        )
    for i, user_id in enumerate(SALES):
        org.add_user(
            user_id, name=f"sal{i}", real_name=f"Sal Beta{i}", title="Account Executive", tz=zone, team=BETA
        )
    org.add_user(BOTH, name="bo", real_name="Bo Both", title="Designer", tz=zone, teams=[ALPHA, BETA])
    org.add_user(ADMIN, name="hr", real_name="Hana Resources", tz=zone, team=BETA)
    org.add_external_user(
        GRID_EXTERNAL,
        name="gus",
        real_name="Gus Partner",
        enterprise=("E0PARTNER", "Partner Corp"),
        shared_with=[ALPHA, BETA],
    )
    org.add_external_user(
        PLAIN_EXTERNAL, name="pia", real_name="Pia Vendor", team="T0VENDOR", shared_with=[BETA]
    )


def _stored(db: Database) -> dict[str, Person]:
    with db.session() as session:
        return {p.slack_user_id: p for p in session.scalars(select(Person))}


def _save_profile(slack: SlackAppClient, org: SlackStandIn, user_id: str, answers: dict[str, Any]) -> None:
    """`/infochat profile` and Save, from the person's own workspace."""
    before = len(org.calls_to("views.open"))
    assert slack.command(user_id, "profile").status_code == 200
    org.wait_for(lambda: len(org.calls_to("views.open")) > before)
    answer = slack.submit(user_id, last_view_opened(org, user_id), answers)
    assert answer.json()["response_action"] == "update", answer.text


# --------------------------------------------------------------------------- the stand-in's org


def test_the_stand_in_plays_an_org_wide_install(org: SlackStandIn) -> None:
    _people(org)
    client = build_web_client(BOT_TOKEN, org.url)
    auth = client.auth_test()
    assert (auth["is_enterprise_install"], auth["enterprise_id"]) == (True, ORG.id)
    assert [t["id"] for t in client.auth_teams_list()["teams"]] == [ALPHA, BETA]

    def listed(team: str) -> set[str]:
        return {m["id"] for m in client.users_list(team_id=team)["members"]}

    assert set(ENGINEERS) | {BOTH, GRID_EXTERNAL, "W0BOT"} <= listed(ALPHA)
    assert not set(SALES) & listed(ALPHA)
    assert set(SALES) | {BOTH, ADMIN, GRID_EXTERNAL, PLAIN_EXTERNAL} <= listed(BETA)
    # An org-level token must say which workspace to list, and only one it was granted.
    for params, error in (({}, "missing_argument"), ({"team_id": "T0VENDOR"}, "team_access_not_granted")):
        with pytest.raises(SlackApiError) as refused:
            client.users_list(**params)
        assert refused.value.response["error"] == error
    assert [r.error for r in org.refusals] == ["missing_argument", "team_access_not_granted"]
    org.refusals.clear()
    both = client.users_info(user=BOTH)["user"]
    assert both["team_id"] == ALPHA and both["enterprise_user"]["teams"] == [ALPHA, BETA]
    assert client.users_info(user=GRID_EXTERNAL)["user"]["enterprise_user"]["enterprise_id"] == "E0PARTNER"


def test_payloads_carry_the_org_and_each_persons_workspace(org: SlackStandIn) -> None:
    _people(org)
    slack = SlackAppClient("http://127.0.0.1:9/unused", SIGNING_SECRET, org)
    command = slack.command_fields(SALES[0], "help")
    assert (command["team_id"], command["enterprise_id"], command["is_enterprise_install"]) == (
        BETA,
        ORG.id,
        "true",
    )
    event = slack.event_body({"type": "app_home_opened", "user": ENGINEERS[0], "tab": "home"})
    assert (event["team_id"], event["enterprise_id"]) == (ALPHA, ORG.id)
    assert event["authorizations"][0]["is_enterprise_install"] is True
    # An external's event reaches the app through one of the org's workspaces.
    foreign = slack.event_body({"type": "user_change", "user": org.get_user(GRID_EXTERNAL)})
    assert foreign["team_id"] in ORG.team_ids
    slack.close()


# --------------------------------------------------------------------------- directory


def test_sync_lists_each_workspace_once_per_person_and_leaves_externals_out(
    org: SlackStandIn, org_settings: Settings, db: Database
) -> None:
    _people(org)
    report = directory_flow.sync_directory(_context(org_settings, db, org), page_size=3, page_delay=0)

    teams_listed = [c.params.get("team_id") for c in org.calls_to("users.list")]
    assert set(teams_listed) == {ALPHA, BETA} and None not in teams_listed
    people = _stored(db)
    assert set(ENGINEERS) | set(SALES) | {BOTH, ADMIN} <= set(people)
    assert GRID_EXTERNAL not in people and PLAIN_EXTERNAL not in people
    assert people[BOTH].team_id == ALPHA  # one person, from the first workspace listing them
    assert (report.workspaces, report.external, report.seen) == (2, 2, len(people))
    assert "of 2 workspaces" in str(report) and "2 from other organisations left out" in str(report)

    again = directory_flow.sync_directory(_context(org_settings, db, org), page_size=3, page_delay=0)
    assert (again.added, again.updated) == (0, 0)  # nothing flaps between the two workspaces


def test_member_events_from_either_workspace_count_and_other_orgs_do_not(
    org: SlackStandIn, org_slack: SlackAppClient, db: Database
) -> None:
    _people(org)
    sal = org.add_user(SALES[0], name="sal0", real_name="Sal Beta0", title="Sales Lead", team=BETA)
    for user in (sal, org.get_user(BOTH), org.get_user(GRID_EXTERNAL), org.get_user(PLAIN_EXTERNAL)):
        assert org_slack.event({"type": "user_change", "user": user}).status_code == 200
    people = _stored(db)
    assert people[SALES[0]].title == "Sales Lead" and people[SALES[0]].team_id == BETA
    assert BOTH in people
    # A Grid member of another organisation used to pass as "enterprise_user": not any more.
    assert GRID_EXTERNAL not in people and PLAIN_EXTERNAL not in people


def test_who_is_a_colleague_with_and_without_grid() -> None:
    colleagues = directory.Colleagues(frozenset({"T1"}))
    assert colleagues.include({"id": "U1", "team_id": "T1"})
    assert colleagues.include({"id": "U2"})  # no team said: as before, a colleague
    assert not colleagues.include({"id": "U3", "team_id": "T9"})
    # Grid members whose app does not know its organisation: colleagues, as before.
    assert colleagues.include({"id": "W4", "team_id": "T9", "enterprise_user": {"enterprise_id": "E1"}})
    grid = directory.Colleagues(frozenset({"T1"}), "E1")
    assert grid.include({"id": "W5", "team_id": "T2", "enterprise_user": {"enterprise_id": "E1"}})
    assert not grid.include({"id": "W6", "team_id": "T1", "enterprise_user": {"enterprise_id": "E2"}})
    assert not grid.include({"id": "U7", "team_id": "T8"})


def test_first_use_fetches_colleagues_of_any_workspace_and_never_other_orgs(
    org: SlackStandIn, org_slack: SlackAppClient, db: Database
) -> None:
    _people(org)  # nobody synced yet: each is fetched with users.info on first use
    for user_id in (SALES[2], GRID_EXTERNAL, PLAIN_EXTERNAL):
        assert org_slack.command(user_id, "profile").status_code == 200
    org.wait_for(lambda: len(org.calls_to("views.open")) == 1 and len(org.responses) == 2)
    assert org.view_user(org.calls_to("views.open")[0].response["view"]["id"]) == SALES[2]
    assert all(NOT_ELIGIBLE in str(r.payload) for r in org.responses)
    assert set(_stored(db)) == {SALES[2]} and _stored(db)[SALES[2]].team_id == BETA


def test_a_slack_connect_member_cannot_join_a_plain_workspace(
    standin: SlackStandIn, slack: SlackAppClient, db: Database
) -> None:
    standin.add_external_user(PLAIN_EXTERNAL, name="pia", real_name="Pia Vendor", team="T0VENDOR")
    assert slack.command(PLAIN_EXTERNAL, "profile").status_code == 200
    standin.wait_for(lambda: any(NOT_ELIGIBLE in str(r.payload) for r in standin.responses))
    assert standin.calls_to("views.open") == [] and _stored(db) == {}


def test_the_admin_user_group_is_found_in_whichever_workspace_holds_it(
    org: SlackStandIn, db: Database
) -> None:
    _people(org)
    org.add_usergroup("SHRADMINS", [ADMIN], team=BETA)
    url = make_url(str(db.url)).render_as_string(hide_password=False)
    settings = make_settings(url, org, admins=[], admin_usergroup="SHRADMINS")
    with (
        AppServer(settings, db=db) as server,
        SlackAppClient(server.events_url, SIGNING_SECRET, org) as slack,
    ):
        assert slack.command(ADMIN, "report").json()["text"] == CHECKING  # decided after the ack
        org.wait_for(lambda: any("Participation" in str(m.get("blocks")) for m in org.messages_in(ADMIN)), 30)
    asked = [c.params.get("team_id") for c in org.calls_to("usergroups.users.list", include_failed=True)]
    assert asked == [ALPHA, BETA]  # an org-level token must name the workspace; Alpha has no such group


# --------------------------------------------------------------------------- end to end


def _count(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Person)) or 0)


def test_an_org_finds_pairs_and_reports_across_its_workspaces(
    org: SlackStandIn, org_slack: SlackAppClient, org_server: AppServer, org_settings: Settings, db: Database
) -> None:
    _people(org)
    directory_flow.sync_directory(_context(org_settings, db, org), page_delay=0)
    for user_id in ENGINEERS:  # Alpha teaches Kubernetes, wants to learn negotiation
        _save_profile(
            org_slack,
            org,
            user_id,
            {
                "function": "Engineering",
                "speak about": ["Kubernetes"],
                "learn": ["Negotiation"],
                "weekly": True,
            },
        )
    for user_id in SALES:  # Beta the other way round
        _save_profile(
            org_slack,
            org,
            user_id,
            {
                "function": "Sales",
                "speak about": ["Negotiation"],
                "learn": ["Kubernetes"],
                "weekly": True,
            },
        )
    assert _count(db) == len(_stored(db)) == 2 * 5 + 2 + 2  # and the bot user and Slackbot

    # Find, from Beta: Alpha's engineers.
    found = org_slack.command(SALES[0], "find kubernetes").json()
    shown = json.dumps(found)
    assert all(f"Eng Alpha{i}" in shown for i in range(5)), shown[:2000]

    # Ask across workspaces; the Alpha engineer accepts; one intro for both.
    before = len(org.calls_to("views.open"))
    org_slack.block_action(SALES[0], "ask_for_chat", value=ask_button_value(ENGINEERS[0], "Kubernetes"))
    org.wait_for(lambda: len(org.calls_to("views.open")) > before)
    modal = last_view_opened(org, SALES[0])
    submitted = org_slack.submit(
        SALES[0],
        modal,
        {
            "introduce": "Hi! I sell to platform teams and would love to understand them better.",
            "want to learn": "How Kubernetes deployments roll out, to explain it to customers.",
            "questions": "What breaks most often?",
        },
    )
    assert submitted.status_code == 200
    org_slack.block_action(ENGINEERS[0], "request_accept", message=request_dm(org, ENGINEERS[0]))
    org.wait_for(
        lambda: any(
            sorted(str(c.params["users"]).split(",")) == sorted([SALES[0], ENGINEERS[0]])
            for c in org.calls_to("conversations.open")
        )
    )
    org_server.settle()

    # The weekly round pairs Alpha with Beta: each intro has one person of each.
    round_report = make_round(org_server.app.ctx)
    assert round_report is not None
    members_by_channel = {
        str(c.response["channel"]["id"]): str(c.params["users"]).split(",")
        for c in org.calls_to("conversations.open")
    }
    intros = [
        sorted(members_by_channel[str(c.params["channel"])])
        for c in org.calls_to("chat.postMessage")
        if "This week's infochat pairing" in str(c.params.get("text", ""))
    ]
    assert len(intros) == 5
    for pair in intros:
        assert {org.get_user(u)["team_id"] for u in pair} == {ALPHA, BETA}, pair  # type: ignore[index]

    # HR, in Beta, gets one report counting both workspaces.
    assert "Preparing your report" in org_slack.command(ADMIN, "report").json()["text"]

    def reports() -> list[str]:
        shown = [render_blocks(m.get("blocks")) for m in org.messages_in(ADMIN)]
        return [r for r in shown if "Participation" in r]

    org.wait_for(lambda: len(reports()) == 1, timeout=30)
    participation = reports()[0].split("Participation by function", 1)[1]
    for function in ("Engineering", "Sales"):  # members, experts, active learners, weekly pairing
        line = rf"\*{function}\* — members: 5 · experts: 5 · active learners: 5 · weekly pairing: 5 "
        assert re.search(line, participation), participation


# --------------------------------------------------------------------------- Socket Mode


def _join(db: Database, user_id: str, function: str, speaks: list[str], learns: list[str]) -> None:
    with db.session() as session:
        person = profiles.get_person(session, user_id)
        assert person is not None, user_id
        profile = profiles.ProfileInput(function=function, speak=speaks, learn=learns, chats_per_month=4)
        profiles.save_profile(session, person, profile, utcnow())


@pytest.fixture
def socket_app(
    org: SlackStandIn, org_settings: Settings, database_url: str, db: Database, tmp_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`infochat serve --socket` with the org's one bot token and an app-level token."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("INFOCHAT_", "SLACK_"))},
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_APP_TOKEN": org.app_token,
        "INFOCHAT_SLACK_API_URL": org.url,
        "INFOCHAT_DATABASE_URL": database_url,
        "INFOCHAT_FUNCTIONS": ",".join(org_settings.functions),
        "INFOCHAT_HOST": "127.0.0.1",
        "INFOCHAT_PORT": str(_free_port()),
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--socket"], env=env, cwd=tmp_path, stdout=out, stderr=out
        )
    try:
        if not org.socket_connected(timeout=30):
            pytest.fail(f"serve --socket did not connect:\n{log.read_text()}")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_socket_mode_envelopes_from_both_workspaces(
    org: SlackStandIn, org_settings: Settings, db: Database, socket_app: subprocess.Popen[bytes]
) -> None:
    _people(org)
    directory_flow.sync_directory(_context(org_settings, db, org), page_delay=0)
    for user_id in ENGINEERS:
        _join(db, user_id, "Engineering", ["Kubernetes"], ["Negotiation"])
    payloads = SlackAppClient("http://127.0.0.1:9/unused", SIGNING_SECRET, org)

    found = org.socket_send("slash_commands", payloads.command_fields(SALES[1], "find kubernetes"))
    ack = org.socket_ack(found, timeout=15)
    assert ack is not None, org.socket_messages
    assert all(f"Eng Alpha{i}" in json.dumps(ack) for i in range(5))

    home = {"type": "app_home_opened", "user": ENGINEERS[1], "channel": "D0HOME", "tab": "home"}
    assert org.socket_ack(org.socket_send("events_api", payloads.event_body(home)), timeout=15) == {}
    org.wait_for(lambda: any(c.params["user_id"] == ENGINEERS[1] for c in org.calls_to("views.publish")), 15)
    payloads.close()


def test_the_manifest_lets_an_org_admin_install_it_org_wide() -> None:
    manifest = yaml.safe_load((Path(__file__).parent.parent / "manifest.yml").read_text())
    assert manifest["settings"]["org_deploy_enabled"] is True
