"""Real Slack shapes the app may meet, sent by the stand-in: view_closed, message_changed-style
events, clicks on a message shared into a channel, and large users.list pages."""

from __future__ import annotations

import threading
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from sqlalchemy import func, select

from bot.context import AppContext
from bot.db import Database
from bot.devtools.runner import AppServer
from bot.devtools.slack_client import SlackAppClient, last_view_opened
from bot.devtools.standin import SlackStandIn
from bot.flows import directory as directory_flow
from bot.gateway.slack import SlackGateway, build_web_client
from bot.models import Chat, ChatRequest, Person, RequestStatus
from bot.settings import Settings
from tests.conftest import BOT_TOKEN
from tests.factories import ask, group_dms, make_person, request_dm

SECRET = "shapes-signing-secret"


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # the base class's signature
        pass


def test_view_closed_comes_only_for_modals_that_ask_for_it(standin: SlackStandIn) -> None:
    app = App(signing_secret=SECRET, client=WebClient(base_url=standin.url, token=BOT_TOKEN))
    closed: list[dict[str, Any]] = []
    standin.add_user("U1", name="alice")

    @app.view_closed("survey")
    def on_closed(ack: Any, body: dict[str, Any]) -> None:
        ack()
        closed.append(body)

    server: WSGIServer = make_server("127.0.0.1", 0, SlackRequestHandler(app), handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    slack = SlackAppClient(f"http://127.0.0.1:{server.server_port}/slack/events", SECRET, standin)
    client = WebClient(base_url=standin.url, token=BOT_TOKEN)
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": "survey",
        "title": {"type": "plain_text", "text": "Survey"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Thanks"}}],
    }
    try:
        client.views_open(trigger_id=standin.new_trigger_id("U1"), view=view)
        with pytest.raises(ValueError, match="notify_on_close"):
            slack.view_closed("U1", last_view_opened(standin, "U1"))
        client.views_open(trigger_id=standin.new_trigger_id("U1"), view={**view, "notify_on_close": True})
        assert slack.view_closed("U1", last_view_opened(standin, "U1"), is_cleared=True).status_code == 200
    finally:
        slack.close()
        server.shutdown()
        server.server_close()
    (body,) = closed
    assert body["type"] == "view_closed" and body["is_cleared"] is True
    assert body["view"]["callback_id"] == "survey" and body["view"]["notify_on_close"] is True


@pytest.mark.parametrize("subtype", ["message_changed", "message_deleted", "bot_message", "channel_join"])
def test_message_events_with_a_subtype_are_acknowledged_and_ignored(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, server: AppServer, subtype: str
) -> None:
    make_person(db, standin, "U1", "Ada Okafor", "Engineering", speaks=["Kubernetes"])
    dm = standin.dm_channel("U1")
    response = slack.message_event(dm, subtype, user_id="U1", text="<!channel> edited")
    server.settle()
    # A 2xx, or Slack retries and in the end turns the app's events off.
    assert response.status_code == 200
    assert [c.method for c in standin.calls if c.method != "auth.test"] == []  # nothing said
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 1


def test_clicks_on_a_request_shared_into_a_channel(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, server: AppServer
) -> None:
    """Someone shares the expert's request DM into #general: the buttons there are the app's,
    but the container is the sharer's message in a channel the app is not in."""
    make_person(db, standin, "ULEA", "Lena Park", "Sales", learns=["Kubernetes"])
    make_person(db, standin, "UEXP", "Omar Haddad", "Engineering", speaks=["Kubernetes"])
    make_person(db, standin, "UBY", "Bo Novak", "Finance")
    ask(slack, standin, "ULEA", "UEXP")
    dm = request_dm(standin, "UEXP")

    slack.shared_block_action("UBY", "request_accept", message=dm, shared_in="C0GENERAL", shared_by="UEXP")
    server.settle()
    standin.wait_for(lambda: any("Only Omar Haddad" in str(r.payload) for r in standin.responses))
    with db.session() as session:
        assert session.scalar(select(ChatRequest.status)) == RequestStatus.OPEN

    slack.shared_block_action("UEXP", "request_accept", message=dm, shared_in="C0GENERAL", shared_by="UEXP")
    standin.wait_for(lambda: len(group_dms(standin)) == 1)
    server.settle()
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Chat)) == 1
    # Nothing was posted into the channel the message was shared in: the app is not a member.
    assert standin.messages_in("C0GENERAL") == []


def test_a_large_directory_comes_in_pages_smaller_than_asked_for(
    standin: SlackStandIn, settings: Settings, db: Database
) -> None:
    for i in range(1050):
        standin.add_user(f"U{i:05d}", name=f"user{i}", title="Engineer", email=f"user{i}@example.com")
    # Slack serves at most ~200 a page whatever `limit` asks, and may start with an empty page.
    standin.page_users(200, empty_first_page=True)
    ctx = AppContext(settings=settings, db=db, slack=SlackGateway(build_web_client(BOT_TOKEN, standin.url)))
    report = directory_flow.sync_directory(ctx, page_size=1000, page_delay=0)
    calls = standin.calls_to("users.list")
    assert [len(c.response["members"]) for c in calls] == [0, 200, 200, 200, 200, 200, 52]
    assert calls[-1].response["response_metadata"]["next_cursor"] == ""
    assert (report.pages, report.seen, report.added) == (7, 1052, 1052)
