"""Slack's rate limits: the stand-in answers 429 with Retry-After per tier, and the outbox waits it out.

Time is simulated (`bot.clock.simulated_time`): Retry-After and the gateway's own
pacing move the clock on instead of blocking, and the stand-in's limiter reads the
same clock, so a wait of a minute costs nothing here.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import make_url

from bot import clock
from bot.app import build_app
from bot.db import Database
from bot.devtools.standin import RateLimits, SlackStandIn
from bot.devtools.standin.ratelimits import METHOD_TIERS, Limit
from bot.flows import outbox as delivery
from bot.services import outbox
from tests.conftest import BOT_TOKEN, make_settings

START = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
HOME = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hello"}}]}


@pytest.fixture
def simulated() -> Iterator[clock.SimulatedTime]:
    with clock.simulated_time(START) as simulated:
        yield simulated


def limited_standin(**limits: Limit) -> SlackStandIn:
    """A stand-in whose limits are `limits` (method -> Limit) and chat.postMessage's per-channel one."""
    methods = {name.replace("_", "."): limit for name, limit in limits.items()}
    return SlackStandIn(bot_token=BOT_TOKEN, rate_limits=RateLimits(methods=methods, clock=clock.monotonic))


@pytest.mark.parametrize(
    ("method", "params", "tier"),
    [
        ("users.list", {}, "Tier 2"),
        ("conversations.open", {"users": "URATE"}, "Tier 3"),
        ("views.publish", {"user_id": "URATE", "view": HOME}, "Tier 4"),
    ],
)
def test_each_tier_answers_429_with_retry_after_once_its_burst_is_spent(
    simulated: clock.SimulatedTime, method: str, params: dict[str, object], tier: str
) -> None:
    limit = METHOD_TIERS[method]
    limits = RateLimits(methods={method: limit}, clock=clock.monotonic)
    with SlackStandIn(bot_token=BOT_TOKEN, rate_limits=limits) as standin:
        standin.add_user("URATE", name="urate")
        web = WebClient(token=BOT_TOKEN, base_url=standin.url)  # no retry handlers: see the 429 itself
        for _ in range(int(limit.burst)):
            assert web.api_call(method, json=params)["ok"], tier
        with pytest.raises(SlackApiError) as refused:
            web.api_call(method, json=params)
        assert refused.value.response.status_code == 429
        assert refused.value.response["error"] == "ratelimited"
        retry_after = int(refused.value.response.headers["Retry-After"])
        assert retry_after == pytest.approx(60 / limit.per_minute, abs=1)
        clock.sleep(retry_after)
        assert web.api_call(method, json=params)["ok"]  # waited out: through again


def _ctx(db: Database, standin: SlackStandIn):  # type: ignore[no-untyped-def]
    settings = make_settings(make_url(str(db.url)).render_as_string(hide_password=False), standin)
    return build_app(settings, db=db).ctx


def test_the_outbox_waits_out_a_429_on_conversations_open_and_sends_everything(
    db: Database, simulated: clock.SimulatedTime
) -> None:
    # Slack stricter than the app's own pacing (50 a minute): 1 at once, then 6 a minute.
    standin = limited_standin(conversations_open=Limit(per_minute=6, burst=1))
    with standin:
        users = [f"UR{i}" for i in range(6)]
        for user in users:
            standin.add_user(user, name=user.lower())
        with db.session() as session:
            for i in range(3):
                group = users[2 * i : 2 * i + 2]
                outbox.enqueue(session, f"intro:{i}", users=group, text=f"Meet each other ({i})")
        started = simulated.elapsed()
        report = delivery.deliver(_ctx(db, standin))
        assert (report.sent, report.failed, report.retrying) == (3, 0, 0)
        texts = [m["text"] for c in standin.workspace.messages.values() for m in c]
        assert sorted(texts) == [f"Meet each other ({i})" for i in range(3)]
        limits = standin.rate_limits
        assert limits is not None
        refused = limits.refused("conversations.open")
        # Slack asks for what is left of the 10 s a token takes: work between calls runs in real
        # time, so on a loaded machine that is 9 s as often as 10.
        assert refused and all(d.retry_after is not None and 1 <= d.retry_after <= 10 for d in refused)
        assert limits.refused_twice_in_a_row() == []
        # Two opens over the burst at 6 a minute: at least 2 x 10 s of Slack's time went by.
        assert simulated.elapsed() - started >= 20


def test_the_outbox_waits_out_a_429_on_chat_post_message_in_one_channel(
    db: Database, simulated: clock.SimulatedTime
) -> None:
    standin = limited_standin()  # chat.postMessage: 3 at once in a channel, then 1 a second
    with standin:
        standin.add_user("URA", name="ura")
        # The DM the bot has with URA (only per-channel limits are on here).
        web = WebClient(token=BOT_TOKEN, base_url=standin.url)
        channel = str(web.conversations_open(users="URA")["channel"]["id"])
        with db.session() as session:
            for i in range(6):
                outbox.enqueue(session, f"note:{i}", channel=channel, text=f"note {i}")
        report = delivery.deliver(_ctx(db, standin))
        assert (report.sent, report.failed) == (6, 0)
        assert [m["text"] for m in standin.messages_in(channel)] == [f"note {i}" for i in range(6)]
        limits = standin.rate_limits
        assert limits is not None
        refused = limits.refused("chat.postMessage")
        assert refused and all(d.retry_after == 1 for d in refused)
        assert limits.refused_twice_in_a_row() == []
