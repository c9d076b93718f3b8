"""The workspace the stand-in plays: members, conversations, messages, views, triggers and files.

Web API handlers (the ``api_*`` modules) read and change this state under ``Workspace.lock``;
``SlackStandIn`` exposes it to tests.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import secrets
import threading
import time
import zoneinfo
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.devtools.standin.errors import ApiError
from bot.devtools.standin.org import Membership, Org, enterprise_user
from bot.devtools.standin.params import stable_id
from bot.devtools.standin.render import Names

TEAM_NAME = "Infochat Test"
TEAM_DOMAIN = "infochat-test"
APP_ID = "A0INFOCHAT"
SLACKBOT_ID = "USLACKBOT"


def _tz_fields(tz: str) -> tuple[int, str]:
    try:
        now = datetime.now(zoneinfo.ZoneInfo(tz))
        offset = int(now.utcoffset().total_seconds()) if now.utcoffset() else 0
        return offset, now.tzname() or tz
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return 0, tz


def _profile(user_id: str, name: str, real: str, title: str, team_id: str, avatar: str) -> dict[str, Any]:
    first, _, last = real.partition(" ")
    return {
        "title": title,
        "phone": "",
        "skype": "",
        "real_name": real,
        "real_name_normalized": real,
        "display_name": name,
        "display_name_normalized": name,
        "fields": None,
        "status_text": "",
        "status_emoji": "",
        "status_expiration": 0,
        "avatar_hash": avatar,
        "first_name": first,
        "last_name": last,
        "image_24": f"https://avatars.example.com/{avatar}_24.png",
        "image_72": f"https://avatars.example.com/{avatar}_72.png",
        "image_192": f"https://avatars.example.com/{avatar}_192.png",
        "team": team_id,
    }


def interactive_elements(block: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The elements of a block that carry an action_id (and so appear in state.values)."""
    kind = block.get("type")
    if kind == "actions":
        return [e for e in block.get("elements") or [] if isinstance(e, dict)]
    if (
        kind == "section"
        and isinstance(block.get("accessory"), dict)
        and block["accessory"].get("type") != "image"
    ):
        return [block["accessory"]]
    if kind == "input" and isinstance(block.get("element"), dict):
        return [block["element"]]
    return []


class Workspace:
    """One Slack workspace with the app installed, as the Web API handlers see it."""

    def __init__(
        self,
        *,
        team_id: str,
        bot_user_id: str,
        bot_id: str,
        trigger_ttl: float | None,
        org: Org | None = None,
    ) -> None:
        # Playing an org (Enterprise Grid, org-wide install): team_id is its first workspace.
        self.org = org
        self.team_id = org.teams[0].id if org is not None else team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.trigger_ttl = trigger_ttl
        self.root = ""  # http://127.0.0.1:port once the server listens (upload and file URLs)
        self.lock = threading.RLock()
        self.users: dict[str, dict[str, Any]] = {}
        self.listed_in: dict[str, tuple[str, ...]] = {}  # user id -> workspaces whose users.list shows them
        self.names = Names(self.users)
        self.usergroups: dict[str, list[str]] = {}
        self.usergroup_teams: dict[str, str] = {}  # the workspace each user group lives in
        self.transcript: list[str] = []
        # Refusals of Slack's contract (contract.Refusal), from any side: the stand-in's strictness.
        self.refusals: list[Any] = []
        self.skew = 0.0  # seconds added to the stand-in's clock by tests (SlackStandIn.advance)
        self.users_page_max = 200  # users.list serves at most this many a page, whatever `limit` says
        self.users_empty_page = False  # users.list's first page empty but with a cursor (Slack does)
        self._ids = itertools.count(1)
        self._last_ts_us = 0
        self.clear_conversations()

    def now(self) -> float:
        """The stand-in's clock (monotonic), for what expires: triggers, response_urls."""
        return time.monotonic() + self.skew

    def clear_conversations(self) -> None:
        # Conversations, messages, views and files outlive reset(): apps keep ids they were given.
        self.channels: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.view_users: dict[str, str | None] = {}
        self.homes: dict[str, dict[str, Any]] = {}
        self.triggers: dict[str, tuple[str | None, float, bool]] = {}
        self.response_urls: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, dict[str, Any]] = {}
        self.files: dict[str, tuple[str, bytes, str | None]] = {}
        # Slack's #general exists in every workspace; the app's bot is not in it until invited.
        self.add_channel("C0GENERAL", name="general", bot_member=False)

    def add_channel(
        self, cid: str, *, name: str, members: list[str] | None = None, bot_member: bool = True
    ) -> None:
        """A public channel (``C…``); the bot can post or read there only as a member."""
        people = list(members or [])
        if bot_member:
            people.append(self.bot_user_id)
        self.channels[cid] = {"kind": "channel", "name": name, "members": people, "created": 1700000000}

    # ------------------------------------------------------------------ members

    def add_user(
        self,
        user_id: str,
        *,
        name: str,
        real_name: str | None = None,
        title: str = "",
        tz: str = "Europe/London",
        email: str | None = None,
        deleted: bool = False,
        is_bot: bool = False,
        is_restricted: bool = False,
        is_ultra_restricted: bool = False,
        membership: Membership | None = None,
    ) -> dict[str, Any]:
        """Add (or replace) a workspace member; returns the user object Slack would serve.

        ``membership`` (see ``membership``): their workspaces; by default the stand-in's own.
        """
        member = membership or self.membership()
        real = real_name or name
        offset, tz_label = _tz_fields(tz)
        avatar = hashlib.md5(user_id.encode()).hexdigest()[:12]  # an avatar hash, not security relevant
        profile = _profile(user_id, name, real, title, member.team, avatar)
        if email is not None and not is_bot:
            profile["email"] = email
        if is_bot:
            profile["bot_id"] = self.bot_id if user_id == self.bot_user_id else stable_id("B", user_id)
            profile["always_active"] = True
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": member.team,
            "name": name,
            "deleted": deleted,
            "color": avatar[:6],
            "real_name": real,
            "tz": tz,
            "tz_label": tz_label,
            "tz_offset": offset,
            "profile": profile,
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": is_restricted,
            "is_ultra_restricted": is_ultra_restricted,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": int(time.time()),
            "is_email_confirmed": email is not None,
            "who_can_share_contact_card": "EVERYONE",
        }
        if member.enterprise is not None:
            user["enterprise_user"] = enterprise_user(user_id, *member.enterprise)
        with self.lock:
            self.users[user_id] = user
            self.listed_in[user_id] = member.listed_in
        return copy.deepcopy(user)

    def membership(self, team: str | None = None, teams: Sequence[str] | None = None) -> Membership:
        """A colleague's place: ``team`` their own workspace, ``teams`` all theirs (an org's only)."""
        home = team or (teams[0] if teams else self.team_id)
        all_teams = tuple(dict.fromkeys([home, *(teams or ())]))
        if self.org is None:
            if all_teams != (self.team_id,):
                raise ValueError("only a stand-in playing an org (org=...) has other workspaces")
            return Membership(home, all_teams)
        unknown = [t for t in all_teams if self.org.team(t) is None]
        if unknown:
            raise ValueError(f"{unknown} are not workspaces of {self.org.id}")
        return Membership(home, all_teams, (self.org.id, self.org.name, all_teams))

    def user_or_error(self, user_id: Any, error: str = "user_not_found") -> dict[str, Any]:
        user = self.users.get(str(user_id or ""))
        if user is None:
            raise ApiError(error)
        return user

    def who(self, user_id: str | None) -> str:
        if not user_id:
            return "someone"
        return self.names.get(user_id, user_id)

    # ------------------------------------------------------------------ conversations

    def dm_channel(self, user_id: str) -> str:
        return stable_id("D", user_id)

    def where(self, channel: str) -> str:
        info = self.channels.get(channel)
        if info and info["kind"] == "im":
            return f"DM to {self.who(info['user'])}"
        if info and info["kind"] == "mpim":
            others = [u for u in info["members"] if u != self.bot_user_id]
            return "group DM " + ", ".join(self.who(u) for u in others)
        return f"in {channel}" if channel.startswith("#") else f"in #{channel}"

    def open_im(self, user_id: str) -> tuple[str, bool]:
        cid = self.dm_channel(user_id)
        existed = cid in self.channels
        if not existed:
            self.channels[cid] = {
                "kind": "im",
                "user": user_id,
                "members": [self.bot_user_id, user_id],
                "created": int(time.time()),
            }
        return cid, existed

    def resolve_channel(self, channel: Any, *, posting: bool) -> str:
        """Map a channel argument to a conversation id the way Slack does, with its errors."""
        cid = str(channel or "")
        if not cid:
            raise ApiError("channel_not_found")
        if cid[0] in "UW" and cid not in self.channels:
            if not posting or cid not in self.users:
                raise ApiError("channel_not_found")
            cid, _ = self.open_im(cid)
        info = self.channels.get(cid)
        if cid[0] in "DGC" and info is None:
            raise ApiError("channel_not_found")
        if posting:
            self.require_member(cid)
        if posting and info and info["kind"] == "im":
            user = self.users.get(info["user"])
            if user and user["deleted"]:
                raise ApiError("user_disabled")
            if user and (user["is_bot"] or user["id"] == self.bot_user_id):
                raise ApiError("cannot_dm_bot")
        return cid

    # ------------------------------------------------------------------ messages

    def require_member(self, cid: str) -> None:
        """Posting to or reading a public channel needs the bot in it (Slack's not_in_channel)."""
        info = self.channels.get(cid)
        if info and info["kind"] == "channel" and self.bot_user_id not in info["members"]:
            raise ApiError("not_in_channel")

    def next_ts(self) -> str:
        us = max(int(time.time() * 1_000_000), self._last_ts_us + 100)
        self._last_ts_us = us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def message(self, params: Mapping[str, Any], ts: str) -> dict[str, Any]:
        """A message as the bot posted it, the way conversations.history returns it."""
        msg: dict[str, Any] = {
            "user": self.bot_user_id,
            "type": "message",
            "ts": ts,
            "bot_id": self.bot_id,
            "app_id": APP_ID,
            "text": str(params.get("text") or ""),
            "team": self.team_id,
            "bot_profile": {
                "id": self.bot_id,
                "app_id": APP_ID,
                "name": "infochat",
                "deleted": False,
                "team_id": self.team_id,
            },
        }
        for key in ("blocks", "attachments", "metadata"):
            if params.get(key):
                msg[key] = copy.deepcopy(params[key])
        if params.get("thread_ts"):
            msg["thread_ts"] = str(params["thread_ts"])
        return msg

    def find(self, channel: str, ts: Any) -> dict[str, Any]:
        for msg in self.messages.get(channel, []):
            if msg["ts"] == str(ts):
                return msg
        raise ApiError("message_not_found")

    # ------------------------------------------------------------------ interactivity

    def new_trigger_id(self, user_id: str | None) -> str:
        trigger = (
            f"{next(self._ids)}{secrets.randbelow(10**9)}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"
        )
        with self.lock:
            self.triggers[trigger] = (user_id, self.now(), False)
        return trigger

    def use_trigger(self, trigger: str) -> str | None:
        """The user a trigger_id was issued to, marking it used; Slack's errors otherwise."""
        known = self.triggers.get(trigger)
        if known is None:
            raise ApiError("invalid_trigger_id")  # never issued by this Slack
        user_id, issued, used = known
        if used:
            raise ApiError("exchanged_trigger_id")
        if self.trigger_ttl is not None and self.now() - issued > self.trigger_ttl:
            raise ApiError("expired_trigger_id")
        self.triggers[trigger] = (user_id, issued, True)
        if user_id and self.users.get(user_id, {}).get("deleted"):
            raise ApiError("user_disabled")
        return user_id

    def new_response_url(self, user_id: str | None, channel_id: str | None) -> str:
        token = secrets.token_hex(12)
        with self.lock:
            self.response_urls[token] = {
                "user_id": user_id,
                "channel_id": channel_id,
                "uses": 0,
                "issued": self.now(),
            }
        return f"{self.root}/respond/{token}"

    def store_view(
        self, view: Mapping[str, Any], *, view_id: str | None = None, previous: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Keep a view as Slack holds it (ids filled in) and return the stored copy."""
        vid = view_id or "V" + secrets.token_hex(5).upper()
        blocks = copy.deepcopy(list(view.get("blocks") or []))
        for block in blocks:
            # Slack fills in block_id/action_id the app left out; state.values is keyed by them.
            block.setdefault("block_id", secrets.token_urlsafe(3))
            for el in interactive_elements(block):
                el.setdefault("action_id", secrets.token_urlsafe(3))
        stored: dict[str, Any] = {
            "id": vid,
            "team_id": self.team_id,
            "type": view.get("type"),
            "blocks": blocks,
            "private_metadata": view.get("private_metadata") or "",
            "callback_id": view.get("callback_id") or "",
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "title": view.get("title"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": previous["id"] if previous else None,
            "root_view_id": previous["root_view_id"] if previous else vid,
            "app_id": APP_ID,
            "external_id": view.get("external_id") or "",
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        self.views[vid] = stored
        return stored
