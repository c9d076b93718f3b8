"""The traffic bench/ack.py sends: a mix shaped like people's, every request through Bolt.

Proportions (per 100 requests), and why. A colleague's week with infochat is
mostly looking: opening the app's Home tab (its activity, requests, chats) and
searching for someone to ask. Editing a profile, pausing and asking for a chat
are rarer, and each of those is a click or a modal submission:

| share | request | what the app does in the ack | slow work after the ack |
|---:|---|---|---|
| 30 | `app_home_opened` event | records the event id (dedup) | reads Home; if changed: `views.publish` |
| 20 | `/infochat find <query>` | the whole search (bench/search.py's query mix) | none |
| 10 | `/infochat learnings [topic]` | one query, renders the shared learnings | none |
| 10 | `/infochat profile` | acks | reads the profile, `views.open` (modal) |
| 10 | profile modal submitted | validates, saves the profile, answers the saved view | Home tab refresh |
| 5 | Home: pause for 2 weeks (select) | pauses | Home tab refresh |
| 5 | Home: resume (button) | resumes | Home tab refresh |
| 5 | Home: edit profile (button) | acks | `views.open` (modal) |
| 5 | find result: ask for a chat (button) | acks | checks, `views.open` (request modal) |

Every person is a seeded colleague (bench/search.py's company); requests come
from random people. Slow work runs on the app's executor after the answer has
gone out; the bench does not wait for it per request, but the phase's server CPU
and its sustained rate include it (see bench/ack.py: the phase ends when the
Slack stand-in has stopped receiving calls).

The Slack stand-in (bot.devtools.standin, the tests' Web API double: views are
validated as Slack would) runs in a process of its own, so its CPU is neither
the server's nor the load generator's; it is shown in its own column.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any
from zoneinfo import ZoneInfo

from bot.blocks.find import ASK_FOR_CHAT_ACTION
from bot.blocks.home import EDIT_PROFILE_ACTION, PAUSE_ACTION, RESUME_ACTION, home_view
from bot.blocks.profile import profile_modal
from bot.devtools.slack_client import SlackAppClient
from bot.services.profiles import ProfileSnapshot, TopicRef

TRIGGER = b"QQTRIGGERQQ"  # replaced by a trigger id the stand-in issued, per request
UNIQUE = b"QQUNIQUEQQ"  # replaced by a counter (event ids must differ, or the app drops repeats)

FOUND = (b'"ask_for_chat"', b"*No one ", b"*Only people in your own function")  # bench/load.py's
# (name, share in %, what a 200 answer must contain: one of these)
MIX: tuple[tuple[str, int, tuple[bytes, ...]], ...] = (
    ("app_home_opened", 30, (b"",)),
    ("find", 20, FOUND),
    ("learnings", 10, (b"learn",)),
    ("profile", 10, (b"",)),
    ("profile submitted", 10, (b'"response_action": "update"', b'"response_action":"update"')),
    ("click pause", 5, (b"",)),
    ("click resume", 5, (b"",)),
    ("click edit profile", 5, (b"",)),
    ("click ask for chat", 5, (b"",)),
)


@dataclass(frozen=True)
class Template:
    kind: str
    body: bytes  # with TRIGGER / UNIQUE placeholders
    content_type: str
    markers: tuple[bytes, ...]


class _Capture(SlackAppClient):
    """SlackAppClient's payloads, kept instead of sent."""

    def __init__(self) -> None:
        super().__init__("http://unused", "unused", None)
        self.captured: tuple[bytes, str] = (b"", "")

    def post(self, body: bytes, content_type: str, **_: Any) -> Any:  # type: ignore[override]
        self.captured = (body, content_type)
        return None

    def _trigger_id(self, user_id: str) -> str:
        return TRIGGER.decode()

    def take(self) -> tuple[bytes, str]:
        body, self.captured = self.captured[0], (b"", "")
        return body, self.captured[1] or _content_type(body)


def _content_type(body: bytes) -> str:
    return "application/json" if body.startswith(b"{") else "application/x-www-form-urlencoded"


def _profile_view(user_id: str, functions: list[str]) -> dict[str, Any]:
    snapshot = ProfileSnapshot(
        slack_user_id=user_id, display_name=user_id, title="Specialist", tz="UTC", joined=True,
        function=functions[0], function_locked=False,
    )  # fmt: skip
    return profile_modal(snapshot, functions)


def _home_as_slack_holds_it(user_id: str, functions: list[str]) -> dict[str, Any]:
    """A member's App Home as Slack sends it back (in `app_home_opened` once the app has
    published one, and in every click on it): the blocks and Slack's own fields."""
    snapshot = ProfileSnapshot(
        slack_user_id=user_id, display_name=user_id, title="Specialist", tz="UTC", joined=True,
        function=functions[0], function_locked=False,
        speak=[TopicRef(i, f"Topic {i}") for i in range(1, 4)], learn=[TopicRef(9, "Topic 9")],
    )  # fmt: skip
    view = home_view(snapshot, datetime.now(UTC), ZoneInfo("UTC"))
    return {
        "id": "VHOME0000001", "team_id": "T0INFOCHAT", "type": "home", "blocks": view["blocks"],
        "private_metadata": "", "callback_id": "", "state": {"values": {}}, "hash": "1764880000.abcd1234",
        "title": {"type": "plain_text", "text": "View Title"}, "clear_on_close": False,
        "notify_on_close": False, "close": None, "submit": None, "previous_view_id": None,
        "root_view_id": "VHOME0000001", "app_id": "A0INFOCHAT", "external_id": "",
        "app_installed_team_id": "T0INFOCHAT", "bot_id": "B0INFOCHAT",
    }  # fmt: skip


def build_templates(
    people: int,
    popular: list[str],
    find_queries: list[str],
    functions: list[str],
    seed: int,
    count: int = 2000,
) -> list[Template]:
    """`count` requests in MIX's proportions, shuffled; user ids are bench/search.py's `U%08d`."""
    rng = random.Random(seed)
    client = _Capture()
    kinds = [name for name, share, _ in MIX for _ in range(share)]
    markers = {name: marker for name, _, marker in MIX}
    view = _profile_view("U00000001", functions)
    home = _home_as_slack_holds_it("U00000001", functions)
    out = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        user = f"U{rng.randint(1, people):08d}"
        if kind == "app_home_opened":
            # As Slack sends it once the app has published a Home for this person (bench/ack.py
            # opens everyone's Home once before measuring, unless --cold-homes).
            event = {
                "type": "app_home_opened",
                "user": user,
                "channel": "D" + user[1:],
                "tab": "home",
                "view": home,
            }
            client.event(event, event_id="Ev" + UNIQUE.decode())
        elif kind == "find":
            client.command(user, "find " + rng.choice(find_queries))
        elif kind == "learnings":
            client.command(user, "learnings" + (" " + rng.choice(popular[:50]) if rng.random() < 0.5 else ""))
        elif kind == "profile":
            client.command(user, "profile")
        elif kind == "profile submitted":
            answers = {
                "function": rng.choice(functions),
                "speak about": rng.sample(popular[:300], 3),
                "learn": rng.sample(popular[:300], 2),
                "per month": str(rng.choice([1, 2, 3, 4])),
                "weekly": rng.random() < 0.5,
            }
            client.submit(user, view, answers)
        elif kind == "click pause":
            option = {"text": {"type": "plain_text", "text": "2 weeks"}, "value": "2w"}
            client.block_action(user, PAUSE_ACTION, selected_option=option, view=home)
        elif kind == "click resume":
            client.block_action(user, RESUME_ACTION, view=home)
        elif kind == "click edit profile":
            client.block_action(user, EDIT_PROFILE_ACTION, view=home)
        else:
            expert = f"U{rng.randint(1, people):08d}"
            value = json.dumps({"expert": expert, "topic": rng.choice(popular[:100])})
            client.block_action(user, ASK_FOR_CHAT_ACTION, value=value, view=home)
        body, content_type = client.take()
        out.append(Template(kind, body, content_type, markers[kind]))
    rng.shuffle(out)
    return out


def proportions_line() -> str:
    return ", ".join(f"{name} {share} %" for name, share, _ in MIX)


# --------------------------------------------------------------------------- the stand-in's process


def _standin_main(conn: Connection, people: int, triggers: int, bot_token: str) -> None:
    from bot.devtools.standin import SlackStandIn

    standin = SlackStandIn(bot_token=bot_token, trigger_ttl=None)
    for i in range(1, people + 1):
        standin.add_user(f"U{i:08d}", name=f"person{i}", real_name=f"Person {i}", tz="Europe/London")
    with standin:
        issued = [standin.new_trigger_id(None) for _ in range(triggers)]
        conn.send((standin.url, standin.root, issued))
        tally: Counter[str] = Counter()
        last_call = time.monotonic()
        while True:
            if conn.poll(0.2):
                message = conn.recv()
                if message == "stop":
                    _drain_calls(standin, tally)
                    conn.send(dict(tally))
                    return
                if message == "stats":  # calls so far, and seconds since the last one
                    if _drain_calls(standin, tally):
                        last_call = time.monotonic()
                    conn.send((dict(tally), time.monotonic() - last_call))
            elif _drain_calls(standin, tally):
                last_call = time.monotonic()


def _drain_calls(standin: Any, tally: Counter[str]) -> int:
    """Count recorded calls by method (and failure), then forget them: memory stays flat."""
    ws = standin.workspace
    with ws.lock:
        calls = standin._api.calls
        standin._api.calls = []
        ws.transcript = []
        for view_id in [v for v, view in ws.views.items() if view.get("type") == "modal"]:
            del ws.views[view_id]
            ws.view_users.pop(view_id, None)
    for call in calls:
        tally[call.method if call.ok else f"{call.method} failed ({call.error})"] += 1
    return len(calls)


class StandInProcess:
    """The Slack stand-in in a child process; `url` for the server, triggers for the client."""

    def __init__(self, people: int, bot_token: str, triggers: int = 60_000) -> None:
        ctx = multiprocessing.get_context("fork")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_standin_main, args=(child, people, triggers, bot_token), daemon=True)
        self.proc.start()
        self.url, self.root, self.triggers = self.conn.recv()
        self.used = 0

    @property
    def pid(self) -> int:
        return int(self.proc.pid or 0)

    def next_trigger(self) -> bytes:
        trigger = self.triggers[self.used % len(self.triggers)]
        self.used += 1
        return trigger.encode()

    def stats(self) -> tuple[dict[str, int], float]:
        self.conn.send("stats")
        result: tuple[dict[str, int], float] = self.conn.recv()
        return result

    def wait_quiet(self, quiet: float = 0.5, timeout: float = 60.0) -> float:
        """Wait until no Web API call arrived for `quiet` seconds; returns the seconds waited."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            _, idle = self.stats()
            if idle >= quiet:
                return max(0.0, time.monotonic() - start - idle)
            time.sleep(0.05)
        return time.monotonic() - start

    def stop(self) -> dict[str, int]:
        self.conn.send("stop")
        tally: dict[str, int] = self.conn.recv()
        self.proc.join(5)
        return tally


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--people", type=int, default=2000, help="seeded colleagues (default 2000)")
    parser.add_argument(
        "--cold-homes",
        action="store_true",
        help="skip opening every person's App Home once before measuring (default: open them, as "
        "weeks of use leave a published Home for everyone)",
    )


def first_home_opens(people: int) -> list[Template]:
    """Every seeded person opening the app's Home tab for the first time (Slack sends no view)."""
    client = _Capture()
    out = []
    for i in range(1, people + 1):
        user = f"U{i:08d}"
        event = {"type": "app_home_opened", "user": user, "channel": "D" + user[1:], "tab": "home"}
        client.event(event, event_id="Ev" + UNIQUE.decode())
        body, content_type = client.take()
        out.append(Template("first home open", body, content_type, (b"",)))
    return out


def seed_args(people: int) -> argparse.Namespace:
    """bench/search.py's company at this size."""
    return argparse.Namespace(experts=people, topics=500, chats=people, seed=1)


def uses(templates: Sequence[Template]) -> Counter[str]:
    return Counter(t.kind for t in templates)
