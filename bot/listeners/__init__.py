"""Bolt listeners, grouped by kind. Each module has `register(registry, ctx)`.

Listeners stay thin: parse the payload, call a service, render with
`bot.blocks`. Every listener is ack-first: its `ack` function answers Slack at
once (the app runs with `process_before_response=True`, so nothing polls for
the ack) and anything slow, such as Web API calls, runs in a lazy function
after the response has gone out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import App

from bot.context import AppContext
from bot.retry import ACK_BUDGET_SECONDS, BACKGROUND_BUDGET_SECONDS, retry_listener

Listener = Callable[..., Any]


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
    commands: set[str] = field(default_factory=set)
    actions: set[str] = field(default_factory=set)
    views: set[str] = field(default_factory=set)
    events: set[str] = field(default_factory=set)
    options: set[str] = field(default_factory=set)

    def command(
        self,
        name: str,
        ack: Listener,
        lazy: Sequence[Listener] = (),
        matchers: Sequence[Callable[..., bool]] | None = None,
    ) -> None:
        self.commands.add(name)
        self.app.command(name, matchers=matchers)(ack=_ack(ack), lazy=_lazy(lazy))

    def action(self, action_id: str, ack: Listener, lazy: Sequence[Listener] = ()) -> None:
        self.actions.add(action_id)
        self.app.action(action_id)(ack=_ack(ack), lazy=_lazy(lazy))

    def view(self, callback_id: str, ack: Listener, lazy: Sequence[Listener] = ()) -> None:
        self.views.add(callback_id)
        self.app.view(callback_id)(ack=_ack(ack), lazy=_lazy(lazy))

    def event(self, event_type: str, ack: Listener, lazy: Sequence[Listener] = ()) -> None:
        self.events.add(event_type)
        self.app.event(event_type)(ack=_ack(ack), lazy=_lazy(lazy))

    def suggestion(self, action_id: str, ack: Listener) -> None:
        self.options.add(action_id)
        self.app.options(action_id)(ack=_ack(ack), lazy=[])


def _ack(listener: Listener) -> Listener:
    return retry_listener(listener, budget=ACK_BUDGET_SECONDS)


def _lazy(listeners: Sequence[Listener]) -> list[Listener]:
    return [retry_listener(listener, budget=BACKGROUND_BUDGET_SECONDS) for listener in listeners]


def just_ack(ack: Callable[..., None]) -> None:
    ack()


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
        views,
    )

    registry = ListenerRegistry(app)
    # lifecycle first: its middleware drops repeated events before any listener runs.
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
        reports,
    )
    for module in modules:
        module.register(registry, ctx)
    return registry
