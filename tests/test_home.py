"""The App Home is published when what it shows changed, and only then.

Opening the tab again with nothing new sends Slack nothing (the tab keeps what it
shows); a profile change, a request that arrived, a chat or a pause that time moved
on, a new replica or a restart, a tab Slack shows empty: each gets the Home drawn
afresh.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot import clock
from bot.clock import utcnow
from bot.db import Database
from bot.devtools.runner import AppServer
from bot.devtools.slack_client import SlackAppClient
from bot.devtools.standin import SlackStandIn
from bot.settings import Settings
from tests.conftest import SIGNING_SECRET
from tests.factories import PROFILE, ask, make_chat, make_person, open_profile_modal


def open_home(slack: SlackAppClient, standin: SlackStandIn, server: AppServer, user_id: str) -> int:
    """`user_id` opens the app's Home tab; how many times the app published a Home for it."""
    before = len(standin.calls_to("views.publish"))
    assert slack.event({"type": "app_home_opened", "user": user_id, "tab": "home"}).status_code == 200
    server.settle()
    return len([c for c in standin.calls_to("views.publish")[before:] if c.params["user_id"] == user_id])


def home_text(standin: SlackStandIn, user_id: str) -> str:
    view: dict[str, Any] | None = standin.home_view(user_id)
    assert view is not None, f"no Home published for {user_id}"
    return str(view["blocks"])


def test_opening_the_home_again_sends_nothing_until_the_profile_changes(
    slack: SlackAppClient, standin: SlackStandIn, server: AppServer, db: Database
) -> None:
    make_person(db, standin, "UKAI", "Kai Nakamura", "Engineering", speaks=["Kubernetes"])
    assert open_home(slack, standin, server, "UKAI") == 1
    assert "Kubernetes" in home_text(standin, "UKAI")
    assert open_home(slack, standin, server, "UKAI") == 0
    assert open_home(slack, standin, server, "UKAI") == 0

    view = open_profile_modal(slack, standin, "UKAI")
    assert slack.submit("UKAI", view, {**PROFILE, "speak about": ["Pricing"]}).status_code == 200
    server.settle()  # saving refreshes the Home
    assert "Pricing" in home_text(standin, "UKAI") and "Kubernetes" not in home_text(standin, "UKAI")
    assert open_home(slack, standin, server, "UKAI") == 0

    # A pause from the Home's own controls shows at once; resuming shows at once too.
    option = {"text": {"type": "plain_text", "text": "1 week"}, "value": "1w"}
    slack.block_action("UKAI", "home_pause", selected_option=option)
    server.settle()
    assert "Paused until" in home_text(standin, "UKAI")
    slack.block_action("UKAI", "home_resume", value="resume")
    server.settle()
    assert "Paused until" not in home_text(standin, "UKAI")
    assert open_home(slack, standin, server, "UKAI") == 0


def test_a_request_that_arrived_shows_on_the_next_open(
    slack: SlackAppClient, standin: SlackStandIn, server: AppServer, db: Database
) -> None:
    make_person(db, standin, "UEXP", "Eva Expert", "Engineering", speaks=["Kubernetes"])
    make_person(db, standin, "ULRN", "Leo Learner", "Sales")
    assert open_home(slack, standin, server, "UEXP") == 1
    assert "Requests for you" not in home_text(standin, "UEXP")
    assert open_home(slack, standin, server, "UEXP") == 0

    _, answer = ask(slack, standin, "ULRN", "UEXP")
    assert answer.status_code == 200
    server.settle()
    assert open_home(slack, standin, server, "UEXP") == 1
    assert "Requests for you" in home_text(standin, "UEXP") and "Leo Learner" in home_text(standin, "UEXP")
    assert open_home(slack, standin, server, "UEXP") == 0
    open_home(slack, standin, server, "ULRN")  # the learner sees the request they sent
    assert "Your requests" in home_text(standin, "ULRN") and "Waiting for Eva Expert" in home_text(
        standin, "ULRN"
    )
    assert open_home(slack, standin, server, "ULRN") == 0


def test_time_passing_moves_a_chat_and_ends_a_pause(
    slack: SlackAppClient, standin: SlackStandIn, server: AppServer, db: Database
) -> None:
    expert = make_person(db, standin, "UEXP", "Eva Expert", "Engineering", speaks=["Kubernetes"])
    learner = make_person(db, standin, "ULRN", "Leo Learner", "Sales")
    make_chat(db, learner, expert, ago=timedelta(days=29))
    assert open_home(slack, standin, server, "UEXP") == 1
    assert "Your chats" in home_text(standin, "UEXP") and "Leo Learner" in home_text(standin, "UEXP")
    assert "paused until" in slack.command("UEXP", "pause 1w").json()["text"]
    server.settle()
    assert "Paused until" in home_text(standin, "UEXP")
    assert open_home(slack, standin, server, "UEXP") == 0

    with clock.travel_to(utcnow() + timedelta(days=2)):  # the chat is no longer recent
        assert open_home(slack, standin, server, "UEXP") == 1
        assert "Your chats" not in home_text(standin, "UEXP")
        assert "Paused until" in home_text(standin, "UEXP")
        assert open_home(slack, standin, server, "UEXP") == 0
    with clock.travel_to(utcnow() + timedelta(days=9)):  # the pause is over
        assert open_home(slack, standin, server, "UEXP") == 1
        assert "Paused until" not in home_text(standin, "UEXP")
        assert open_home(slack, standin, server, "UEXP") == 0


def test_another_replica_or_a_restart_knows_what_the_home_shows(
    slack: SlackAppClient, standin: SlackStandIn, server: AppServer, db: Database, settings: Settings
) -> None:
    make_person(db, standin, "UKAI", "Kai Nakamura", "Engineering", speaks=["Kubernetes"])
    assert open_home(slack, standin, server, "UKAI") == 1
    with AppServer(settings, db=db) as other:
        other_slack = SlackAppClient(other.events_url, SIGNING_SECRET, standin)
        try:
            assert open_home(other_slack, standin, other, "UKAI") == 0
            # A change made through the first replica shows when the second one is asked.
            assert "paused until" in slack.command("UKAI", "pause 2w").json()["text"]
            server.settle()
            assert "Paused until" in home_text(standin, "UKAI")
            assert open_home(other_slack, standin, other, "UKAI") == 0
            assert "Welcome back" in other_slack.command("UKAI", "resume").json()["text"]
            other.settle()
            assert "Paused until" not in home_text(standin, "UKAI")
            assert open_home(slack, standin, server, "UKAI") == 0
        finally:
            other_slack.close()


def test_a_tab_slack_shows_empty_is_published_again(
    slack: SlackAppClient, standin: SlackStandIn, server: AppServer, db: Database
) -> None:
    make_person(db, standin, "UKAI", "Kai Nakamura", "Engineering", speaks=["Kubernetes"])
    assert open_home(slack, standin, server, "UKAI") == 1
    with standin.workspace.lock:  # Slack no longer holds the view (the app was reinstalled, say)
        standin.workspace.homes.clear()
    assert open_home(slack, standin, server, "UKAI") == 1
    assert "Kubernetes" in home_text(standin, "UKAI")

    # Uninstalling drops every Home tab: after reinstalling, each is published again.
    assert slack.event({"type": "app_uninstalled"}).status_code == 200
    slack.command("UKAI", "help")  # a command proves the app is installed again
    assert open_home(slack, standin, server, "UKAI") == 1
