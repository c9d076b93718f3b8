"""``SlackStandIn``: the one object tests and the demo hold (see the package docstring)."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from bot.devtools.standin import api_chat, api_conversations, api_files, api_users, api_views
from bot.devtools.standin.answers import answer_errors
from bot.devtools.standin.contract import Refusal
from bot.devtools.standin.httpd import HttpServer
from bot.devtools.standin.oidc import API_PREFIX, AUTHORIZE_PATH, SlackOIDC
from bot.devtools.standin.org import Membership, Org
from bot.devtools.standin.ratelimits import RateLimits
from bot.devtools.standin.render import render_message
from bot.devtools.standin.response_urls import RecordedResponse, ResponseUrls, handle_upload
from bot.devtools.standin.socket_mode import SocketMode
from bot.devtools.standin.webapi import Fault, RecordedCall, WebApi
from bot.devtools.standin.workspace import APP_ID, SLACKBOT_ID, Workspace


def _summary(params: Mapping[str, Any]) -> str:
    keys = ("channel", "user", "user_id", "users", "text", "trigger_id", "view_id")
    shown = {k: params[k] for k in keys if k in params}
    return json.dumps(shown)[:160]


class SlackStandIn:
    """A local HTTP double of Slack's Web API (see the package docstring)."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-standin",
        app_token: str = "xapp-standin",
        team_id: str = "T0INFOCHAT",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        builtin_users: bool = True,
        trigger_ttl: float | None = 3.0,
        org: Org | None = None,
        scopes: tuple[str, ...] | None = None,
        rate_limits: RateLimits | None = None,
        idle_timeout: float | None = None,
    ) -> None:
        """``org``: play an Enterprise Grid organisation with the app installed org-wide
        (see ``standin.org``); ``team_id`` is then the org's first workspace. ``scopes``: the bot
        token's scopes (default: manifest.yml's), to test missing_scope. ``idle_timeout``: close a
        kept-alive connection idle this many seconds, as Slack's front ends do (default: never)."""
        self.bot_token = bot_token
        self.app_token = app_token
        self.url = ""
        self.root = ""
        self.workspace = Workspace(
            team_id=team_id, bot_user_id=bot_user_id, bot_id=bot_id, trigger_ttl=trigger_ttl, org=org
        )
        self._lock = self.workspace.lock
        self._socket = SocketMode(self._lock, APP_ID, self._transcribe_socket_ack)
        self._api = WebApi(
            self.workspace,
            {
                **api_users.METHODS,
                **api_chat.METHODS,
                **api_conversations.METHODS,
                **api_views.METHODS,
                **api_files.METHODS,
                "apps.connections.open": lambda _ws, params: self._socket.connections_open(params),
            },
            bot_token=bot_token,
            app_token=app_token,
            scopes=scopes,
        )
        # Slack's per-method rate tiers (ratelimits.py); off unless asked for.
        self._api.rate_limits = rate_limits
        self.rate_limits = rate_limits
        self._responses = ResponseUrls(self.workspace)
        self._http = HttpServer()
        self._http.idle_timeout = idle_timeout
        self._http.route("/api/", self._api.handle)
        self._http.route("/respond/", self._responses.handle)
        self._http.route("/upload/", lambda exchange: handle_upload(self.workspace, exchange))
        # Sign in with Slack (the dashboard's): the consent page and openid.connect.* (oidc.py).
        self.oidc = SlackOIDC(self.workspace, self._api)
        self._http.route(API_PREFIX, self.oidc.handle_api)
        self._http.route(AUTHORIZE_PATH, self.oidc.handle_page)
        if builtin_users:
            # Slack lists the app's bot user and Slackbot too; Slackbot famously has is_bot false.
            every = org.team_ids if org is not None else None
            self.add_user(bot_user_id, name="infochat", real_name="infochat", is_bot=True, teams=every)
            self.add_user(SLACKBOT_ID, name="slackbot", real_name="Slackbot", teams=every)

    @property
    def team_id(self) -> str:
        return self.workspace.team_id

    @property
    def org(self) -> Org | None:
        """The Enterprise Grid organisation played, if any."""
        return self.workspace.org

    @property
    def bot_user_id(self) -> str:
        return self.workspace.bot_user_id

    @property
    def bot_id(self) -> str:
        return self.workspace.bot_id

    @property
    def trigger_ttl(self) -> float | None:
        return self.workspace.trigger_ttl

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SlackStandIn:
        """Listen on a free port of 127.0.0.1 in a daemon thread."""
        self.root = self.workspace.root = self._http.start()
        self.url = f"{self.root}/api/"
        return self

    @property
    def connections_accepted(self) -> int:
        """TCP connections the stand-in accepted since it started (keep-alive reuses one)."""
        return self._http.connections_accepted

    def stop(self) -> None:
        self._socket.stop()
        self._http.stop()

    def __enter__(self) -> SlackStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ directory

    def add_user(
        self,
        user_id: str,
        *,
        name: str,
        team: str | None = None,
        teams: list[str] | tuple[str, ...] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Add (or replace) a workspace member; returns the user object Slack would serve.

        ``fields``: real_name, title, tz, email, deleted, is_bot, is_restricted, is_ultra_restricted.
        Playing an org: ``team`` is the member's own workspace (the first by default) and
        ``teams`` every workspace they belong to; one user id, listed by each.
        """
        membership = self.workspace.membership(team, teams)
        return self.workspace.add_user(user_id, name=name, membership=membership, **fields)

    def add_external_user(
        self,
        user_id: str,
        *,
        name: str,
        team: str = "T0PARTNER",
        enterprise: tuple[str, str] | None = None,
        shared_with: list[str] | tuple[str, ...] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """A Slack Connect member of another organisation, sharing a channel with us: Slack lists
        them in ``users.list`` of the workspaces in ``shared_with`` (ours, by default) and answers
        ``users.info`` for them. ``enterprise`` = (id, name) when their organisation is a Grid too.
        """
        listed = tuple(shared_with or (self.team_id,))
        grid = (enterprise[0], enterprise[1], (team,)) if enterprise else None
        membership = Membership(team, listed, grid)
        return self.workspace.add_user(user_id, name=name, membership=membership, **fields)

    def add_usergroup(self, usergroup_id: str, user_ids: list[str], *, team: str | None = None) -> None:
        """A user group; playing an org, it lives in workspace ``team`` (the first by default)."""
        with self._lock:
            self.workspace.usergroups[usergroup_id] = list(user_ids)
            self.workspace.usergroup_teams[usergroup_id] = team or self.team_id

    def get_user(self, user_id: str) -> dict[str, Any] | None:
        with self._lock:
            user = self.workspace.users.get(user_id)
            return copy.deepcopy(user) if user else None

    # ------------------------------------------------------------------ test controls

    def slow(self, method: str, seconds: float) -> None:
        """Answer every call to `method` only after `seconds` (0 makes it fast again)."""
        self._api.latency[method] = seconds

    def fail(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
        after: int = 0,
    ) -> None:
        """Queue an injected fault for ``method`` ("*" = any); one fault per matching call, in order.

        ``after`` lets that many matching calls succeed first ("a 429 on the third call": after=2).
        """
        if status == 200 and not error:
            raise ValueError(
                "a 200 fault needs an error, e.g. fail('chat.postMessage', error='user_disabled')"
            )
        if status == 429 and retry_after is None:
            retry_after = 1  # Slack always says how long to back off
        with self._lock:
            self._api.faults.append(Fault(method, status, error, retry_after, times, after))

    def add_channel(
        self, channel_id: str, *, name: str, members: list[str] | None = None, bot_member: bool = True
    ) -> None:
        """A public channel; the bot posts and reads there only as a member (else not_in_channel)."""
        with self._lock:
            self.workspace.add_channel(channel_id, name=name, members=members, bot_member=bot_member)

    def page_users(self, most: int, *, empty_first_page: bool = False) -> None:
        """users.list as a large Slack serves it: ``most`` members a page at most, whatever the
        app's ``limit``; ``empty_first_page``: the first answer is empty but has a next_cursor."""
        with self._lock:
            self.workspace.users_page_max = most
            self.workspace.users_empty_page = empty_first_page

    def advance(self, seconds: float) -> None:
        """Move the stand-in's clock on: trigger_ids (3 s) and response_urls (30 min) expire by it."""
        with self._lock:
            self.workspace.skew += seconds

    def new_response_url(self, *, user_id: str | None = None, channel_id: str | None = None) -> str:
        """A response_url under this server; ``user_id`` / ``channel_id`` label it in the transcript."""
        return self.workspace.new_response_url(user_id, channel_id)

    def new_trigger_id(self, user_id: str | None = None) -> str:
        """A trigger_id as Slack puts in interactive payloads, tied to ``user_id`` for the transcript."""
        return self.workspace.new_trigger_id(user_id)

    def reset(self) -> None:
        """Forget calls, responses, faults and the transcript; users, conversations and views stay."""
        with self._lock:
            self._api.forget()
            self._responses.received = []
            self.workspace.transcript = []
            self.workspace.refusals.clear()
            self._socket.forget()

    # ------------------------------------------------------------------ what happened

    @property
    def calls(self) -> list[RecordedCall]:
        with self._lock:
            return list(self._api.calls)

    def calls_to(self, method: str, *, include_failed: bool = False) -> list[RecordedCall]:
        return [c for c in self.calls if c.method == method and (c.ok or include_failed)]

    @property
    def refusals(self) -> list[Refusal]:
        """Every refusal of Slack's contract so far (Web API, response_urls, the app's answers).

        The list itself: ``refusals.clear()`` in a test that provokes one on purpose.
        """
        return self.workspace.refusals

    def refuse(self, refusal: Refusal) -> None:
        """Record a refusal found outside the server (the client checking the app's answers)."""
        with self._lock:
            self.workspace.refusals.append(refusal)

    @property
    def responses(self) -> list[RecordedResponse]:
        with self._lock:
            return list(self._responses.received)

    @property
    def uploaded_files(self) -> dict[str, tuple[str, bytes, str | None]]:
        """file_id -> (filename, bytes, channel_id) for each completed upload."""
        with self._lock:
            return dict(self.workspace.files)

    def view(self, view_id: str) -> dict[str, Any] | None:
        """The current version of a view opened, pushed, updated or published here."""
        with self._lock:
            found = self.workspace.views.get(view_id)
            return copy.deepcopy(found) if found else None

    def view_user(self, view_id: str) -> str | None:
        with self._lock:
            return self.workspace.view_users.get(view_id)

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self.workspace.homes.get(user_id)
            return copy.deepcopy(found) if found else None

    def find_message(self, ts: str) -> tuple[str, dict[str, Any]] | None:
        """(channel_id, message) of a message this stand-in holds, by its ts."""
        with self._lock:
            for channel, messages in self.workspace.messages.items():
                for msg in messages:
                    if msg["ts"] == ts:
                        return channel, copy.deepcopy(msg)
        return None

    def dm_channel(self, user_id: str) -> str:
        """The DM channel id ``conversations.open`` gives for ``user_id``."""
        return self.workspace.dm_channel(user_id)

    def messages_in(self, channel: str) -> list[dict[str, Any]]:
        """Messages currently in a channel (or a user's DM), oldest first."""
        with self._lock:
            if channel in self.workspace.users:
                channel = self.dm_channel(channel)
            return copy.deepcopy(self.workspace.messages.get(channel, []))

    def transcript(self) -> list[str]:
        """What people saw, in order, as readable text (one entry per message/view/response)."""
        with self._lock:
            return list(self.workspace.transcript)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Poll ``predicate`` until it is true; on timeout fail with what the stand-in saw."""
        deadline = time.monotonic() + timeout
        last_exc: Exception | None = None
        while True:
            try:
                if predicate():
                    return
                last_exc = None
            except Exception as exc:  # a predicate that indexes an empty list just isn't true yet
                last_exc = exc
            if time.monotonic() >= deadline:
                break
            time.sleep(0.02)
        name = getattr(predicate, "__qualname__", repr(predicate))
        lines = [f"condition {name} not met within {timeout}s"]
        if last_exc is not None:
            lines.append(f"last evaluation raised {last_exc!r}")
        lines.append("recent calls:")
        lines += [
            f"  {c.method} -> {'ok' if c.ok else c.error or c.status} {_summary(c.params)}"
            for c in self.calls[-15:]
        ] or ["  (none)"]
        lines.append("transcript tail:")
        lines += [f"  {t}" for t in self.transcript()[-10:]] or ["  (empty)"]
        raise AssertionError("\n".join(lines))

    # ------------------------------------------------------------------ Socket Mode

    def socket_connected(self, timeout: float = 5.0) -> bool:
        """Wait until an app holds an open Socket Mode connection (handshake done, hello sent)."""
        return self._socket.connected(timeout)

    @property
    def socket_connections(self) -> int:
        """How many Socket Mode connections are open now."""
        return self._socket.count

    def socket_send(
        self,
        envelope_type: str,
        payload: Mapping[str, Any],
        *,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> str:
        """Push an envelope to the newest open connection, as Slack does; returns its envelope_id.

        ``payload`` is what Slack would have POSTed over HTTP: the slash command's form fields
        as a dict, the ``event_callback`` body, or the interactive ``payload`` object.
        """
        return self._socket.send(envelope_type, payload, retry_attempt, retry_reason)

    def socket_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any] | None:
        """The payload the app acknowledged ``envelope_id`` with ({} for a bare ack); None on timeout."""
        return self._socket.ack(envelope_id, timeout)

    @property
    def socket_messages(self) -> list[Any]:
        """Every message the app sent over Socket Mode (acks included), oldest first."""
        return self._socket.messages

    def socket_disconnect(self, reason: str = "refresh_requested") -> None:
        """Send Slack's ``disconnect`` message to every open connection; the client should reconnect."""
        self._socket.disconnect(reason)

    def socket_close(self, code: int = 1001, reason: str = "going away") -> None:
        """Close every open connection from the server side (a WebSocket close frame)."""
        self._socket.close(code, reason)

    def _transcribe_socket_ack(self, envelope: Mapping[str, Any] | None, acked: Mapping[str, Any]) -> None:
        if envelope:
            request = envelope.get("payload") or {}
            kind = "slash_command" if envelope["type"] == "slash_commands" else str(request.get("type"))
            problems = answer_errors(kind, dict(acked) or None, request)
            if problems:
                self.workspace.refusals.append(Refusal("app_answer", kind, "invalid_app_answer", problems))
        # A slash command's ack payload is what the invoking user sees, as an ephemeral message.
        if (
            not envelope
            or envelope["type"] != "slash_commands"
            or not (acked.get("text") or acked.get("blocks"))
        ):
            return
        ws = self.workspace
        shown = render_message(acked, ws.names)
        if acked.get("response_type") == "in_channel":
            channel = str(envelope["payload"].get("channel_id") or "")
            ws.transcript.append(f"{ws.where(channel) if channel else 'in channel'}: {shown}")
        else:
            ws.transcript.append(f"ephemeral to {ws.who(envelope['payload'].get('user_id'))}: {shown}")
