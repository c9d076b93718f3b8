"""Web API methods about who is who: ``users.*``, ``usergroups.*``, ``team.info``, ``auth.test``."""

from __future__ import annotations

import copy
import time
from typing import Any

from bot.devtools.standin.api_conversations import page
from bot.devtools.standin.errors import ApiError
from bot.devtools.standin.params import as_bool
from bot.devtools.standin.workspace import TEAM_DOMAIN, TEAM_NAME, Workspace


def auth_test(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "url": f"https://{TEAM_DOMAIN}.slack.com/",
        "team": TEAM_NAME,
        "user": "infochat",
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


def api_test(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    return {"args": params}


def users_info(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    user = copy.deepcopy(ws.user_or_error(params.get("user")))
    if as_bool(params.get("include_locale")):
        user["locale"] = "en-GB"
    return {"user": user}


def users_list(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    members, next_cursor = page("user", list(ws.users.values()), params, "id")
    if as_bool(params.get("include_locale")):
        members = [{**m, "locale": "en-GB"} for m in members]
    return {
        "members": copy.deepcopy(members),
        "cache_ts": int(time.time()),
        "response_metadata": {"next_cursor": next_cursor},
    }


def users_lookup_by_email(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    email = str(params.get("email") or "").lower()
    for user in ws.users.values():
        if email and str(user["profile"].get("email", "")).lower() == email:
            return {"user": copy.deepcopy(user)}
    raise ApiError("users_not_found")


def users_profile_get(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    user = ws.user_or_error(params.get("user") or ws.bot_user_id)
    return {"profile": copy.deepcopy(user["profile"])}


def usergroups_users_list(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    group = ws.usergroups.get(str(params.get("usergroup") or ""))
    if group is None:
        raise ApiError("no_such_subteam")
    return {"users": list(group)}


def team_info(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "team": {
            "id": ws.team_id,
            "name": TEAM_NAME,
            "domain": TEAM_DOMAIN,
            "email_domain": "example.com",
            "icon": {"image_34": "https://avatars.example.com/team_34.png", "image_default": True},
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
        }
    }


METHODS = {
    "api.test": api_test,
    "auth.test": auth_test,
    "users.info": users_info,
    "users.list": users_list,
    "users.lookupByEmail": users_lookup_by_email,
    "users.profile.get": users_profile_get,
    "usergroups.users.list": usergroups_users_list,
    "team.info": team_info,
}
