"""Enterprise Grid, org-wide install: one bot token for an organisation of two workspaces.

The stand-in plays the org (``SlackStandIn(org=Org())``): Alpha and Beta, user ids starting
with W, payloads that carry ``enterprise_id`` and each person's own workspace. People of both
are one directory: they find each other, are paired across workspaces and counted in one report.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot.clock import utcnow
from bot.context import AppContext
from bot.db import Database
from bot.devtools.runner import AppServer
from bot.devtools.slack_client import SlackAppClient, last_view_opened
from bot.devtools.standin import Org, SlackStandIn
from bot.gateway import admins
from bot.gateway.slack import SlackGateway, build_web_client
from bot.models import Person
from bot.settings import Settings
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, make_settings
from tests.factories import daytime_zone

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
    both = client.users_info(user=BOTH)["user"]
    assert both["team_id"] == ALPHA and both["enterprise_user"]["teams"] == [ALPHA, BETA]
    assert client.users_info(user=GRID_EXTERNAL)["user"]["enterprise_user"]["enterprise_id"] == "E0PARTNER"
    assert client.team_info(team=BETA)["team"]["enterprise_id"] == ORG.id


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
