"""Bolt listeners, grouped by kind. Each module lists its listeners in a `LISTENERS` table.

Listeners stay thin: parse the payload, authorise through a service, call a
flow or a service, render with `bot.blocks`. Every handler is a top-level
function whose first parameter is the `AppContext`; the registry binds it, and
Bolt injects the rest by name (`ack`, `body`, `action`, `view`, `respond`, …).
Every listener is ack-first: its `ack` function answers Slack at once (the app
runs with `process_before_response=True`, so nothing polls for the ack) and
anything slow, such as Web API calls, runs in a lazy function after the
response has gone out.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.listener_matcher import ListenerMatcher

from bot.context import AppContext
from bot.retry import ACK_BUDGET_SECONDS, BACKGROUND_BUDGET_SECONDS, retry_listener

Listener = Callable[..., Any]
Kind = Literal["command", "action", "view", "event", "options"]


def just_ack(ctx: AppContext, ack: Callable[..., None]) -> None:
    ack()


@dataclass(frozen=True)
class Route:
    """One listener: what it answers (`kind`, `name`), its ack, and the slow work after it."""

    kind: Kind
    name: str
    ack: Listener = just_ack
    lazy: Sequence[Listener] = ()
    # Bolt matchers (commands only): several routes may share a command name.
    matchers: Sequence[Callable[..., bool]] | None = None


def on_command(name: str, ack: Listener, lazy: Sequence[Listener] = (), **kw: Any) -> Route:
    return Route("command", name, ack, lazy, **kw)


def on_action(action_id: str, ack: Listener = just_ack, lazy: Sequence[Listener] = ()) -> Route:
    return Route("action", action_id, ack, lazy)


def on_view(callback_id: str, ack: Listener, lazy: Sequence[Listener] = ()) -> Route:
    return Route("view", callback_id, ack, lazy)


def on_event(event_type: str, ack: Listener = just_ack, lazy: Sequence[Listener] = ()) -> Route:
    return Route("event", event_type, ack, lazy)


def on_options(action_id: str, ack: Listener) -> Route:
    return Route("options", action_id, ack)


# What kind of payload each kind of listener can answer (Bolt's own matchers decide the rest).
_PAYLOAD_TYPES: dict[str, frozenset[str]] = {
    "view": frozenset({"view_submission", "view_closed"}),
    "event": frozenset({"event_callback"}),
    "options": frozenset({"block_suggestion", "dialog_suggestion"}),
}
_NOT_ACTIONS = frozenset().union(*_PAYLOAD_TYPES.values())


class _KindMatcher(ListenerMatcher):
    """Turns a listener down at once when the payload is of another kind (a command for an action
    listener, an event for a command listener), or names another listener: a Block Kit action's
    `action_id`, an event's type, a view's `callback_id` (exact names, as Bolt's own matchers
    compare them). Bolt tries every listener in turn and builds the arguments of each of its
    matchers to ask (~20 µs each): with ~60 listeners that was ~0.2 ms a request, and a click on
    the Home still built them for the ~10 action listeners registered before its own. A payload
    of an unexpected shape is left to Bolt's matchers."""

    def __init__(self, kind: Kind, name: str) -> None:
        self.kind = kind
        self.name = name

    def matches(self, req: BoltRequest, resp: BoltResponse) -> bool:
        body = req.body
        kind = body.get("type")
        if self.kind == "command":
            return "command" in body
        if self.kind == "action":
            if "command" in body or kind in _NOT_ACTIONS:
                return False
            actions = body.get("actions") if kind == "block_actions" else None
            first = actions[0] if isinstance(actions, list) and actions else None
            return not isinstance(first, dict) or first.get("action_id") == self.name
        if kind not in _PAYLOAD_TYPES[self.kind]:
            return False
        named = {"event": ("event", "type"), "view": ("view", "callback_id")}.get(self.kind)
        if named is None:  # options: Bolt's matchers read action_id or callback_id by payload type
            return True
        part = body.get(named[0])
        return not isinstance(part, dict) or part.get(named[1]) == self.name


@dataclass
class ListenerRegistry:
    """Registers listeners on the Bolt app and remembers what was registered,
    so a test can hold it against manifest.yml.

    Every ack and lazy function is wrapped by `bot.retry.retry_listener`: if the
    database connection dies under it (a PostgreSQL restart), it runs again on a
    fresh connection, unless it already reached Slack. Acks give up after 1.5 s,
    inside Slack's 3 s deadline.
    """

    app: App
    ctx: AppContext
    commands: set[str] = field(default_factory=set)
    actions: set[str] = field(default_factory=set)
    views: set[str] = field(default_factory=set)
    events: set[str] = field(default_factory=set)
    options: set[str] = field(default_factory=set)

    def add(self, route: Route) -> None:
        ack = retry_listener(self._bind(route.ack), budget=ACK_BUDGET_SECONDS)
        lazy = [retry_listener(self._bind(f), budget=BACKGROUND_BUDGET_SECONDS) for f in route.lazy]
        if route.kind == "command":
            self.commands.add(route.name)
            self.app.command(route.name, matchers=route.matchers)(ack=ack, lazy=lazy)
        elif route.kind == "action":
            self.actions.add(route.name)
            self.app.action(route.name)(ack=ack, lazy=lazy)
        elif route.kind == "view":
            self.views.add(route.name)
            self.app.view(route.name)(ack=ack, lazy=lazy)
        elif route.kind == "event":
            self.events.add(route.name)
            self.app.event(route.name)(ack=ack, lazy=lazy)
        else:
            self.options.add(route.name)
            self.app.options(route.name)(ack=ack, lazy=[])
        # Bolt has no public way to put a matcher before its own, so this reaches into its list
        # of listeners (slack_bolt is pinned in requirements/); should a release keep them
        # differently, the app refuses to start rather than match payloads wrongly.
        listener = self.app._listeners[-1] if self.app._listeners else None
        if getattr(listener, "ack_function", None) is not ack:
            raise RuntimeError("slack_bolt no longer keeps listeners as infochat expects: drop _KindMatcher")
        listener.matchers = [_KindMatcher(route.kind, route.name), *listener.matchers]

    def middleware(self, handler: Listener) -> None:
        self.app.middleware(self._bind(handler))

    def _bind(self, handler: Listener) -> Listener:
        """`handler(ctx, **bolt_args)` as a Bolt listener: Bolt reads the parameters left after `ctx`."""
        bound = functools.partial(handler, self.ctx)
        # A partial has no name of its own; logs and retry labels use the handler's.
        bound.__module__ = handler.__module__  # type: ignore[attr-defined]
        bound.__name__ = handler.__name__  # type: ignore[attr-defined]
        # Bolt reads the parameters of a lazy function again on every call (inspect, ~5 % of an
        # App Home open); the signature is worked out once here, and inspect returns it as is.
        bound.__signature__ = inspect.signature(bound)  # type: ignore[attr-defined]
        return bound


def register_all(app: App, ctx: AppContext) -> ListenerRegistry:
    from bot.listeners import (
        actions,
        commands,
        events,
        find,
        followups,
        lifecycle,
        options,
        pairing,
        reports,
        requests,
        scheduling,
        views,
    )

    registry = ListenerRegistry(app, ctx)
    # lifecycle first: its middleware drops repeated events before any listener runs.
    registry.middleware(lifecycle.drop_repeated_events)
    modules = (
        lifecycle,
        commands,
        actions,
        views,
        options,
        events,
        find,
        requests,
        pairing,
        followups,
        scheduling,
        reports,
    )
    for module in modules:
        for route in module.LISTENERS:
            registry.add(route)
    return registry
