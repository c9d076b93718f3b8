"""The gateway's Web API client: kept-alive connections, with slack_sdk's retries unchanged."""

from __future__ import annotations

import time

import pytest
from slack_sdk.errors import SlackApiError

from bot.devtools.standin import SlackStandIn
from bot.gateway.slack import SlackGateway, build_web_client
from tests.conftest import BOT_TOKEN


def test_calls_share_one_connection_and_429_and_5xx_are_still_retried(standin: SlackStandIn) -> None:
    gateway = SlackGateway(build_web_client(BOT_TOKEN, standin.url))
    for _ in range(3):
        assert gateway.call("auth.test")["ok"]
    standin.fail("auth.test", status=429, retry_after=1)
    started = time.monotonic()
    assert gateway.call("auth.test")["ok"]  # waited as Retry-After says, then answered
    assert time.monotonic() - started >= 1.0
    standin.fail("auth.test", status=503, times=2)
    assert gateway.call("auth.test")["ok"]
    standin.fail("auth.test", error="invalid_auth")
    with pytest.raises(SlackApiError) as refused:
        gateway.call("auth.test")
    assert refused.value.response["error"] == "invalid_auth"
    attempts = [(c.status, c.ok) for c in standin.calls_to("auth.test", include_failed=True)]
    ok, limited, unavailable, refused_call = (200, True), (429, False), (503, False), (200, False)
    assert attempts == [ok, ok, ok, limited, ok, unavailable, unavailable, ok, refused_call]
    assert standin.connections_accepted == 1


def test_a_connection_slack_closed_while_idle_is_replaced_and_nothing_is_sent_twice() -> None:
    with SlackStandIn(bot_token=BOT_TOKEN, idle_timeout=0.2) as standin:
        standin.add_user("UIDLE", name="idle", real_name="Ida Idle")
        gateway = SlackGateway(build_web_client(BOT_TOKEN, standin.url))
        view = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]}
        gateway.publish_home("UIDLE", view)
        time.sleep(0.5)  # the stand-in closes the idle connection
        gateway.publish_home("UIDLE", view)
        assert len(standin.calls_to("views.publish", include_failed=True)) == 2
        assert standin.connections_accepted == 2
        assert not standin.refusals
