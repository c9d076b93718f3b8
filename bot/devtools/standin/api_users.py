"""Web API methods about who is who: ``users.*``, ``usergroups.*``, ``team.info``, ``auth.test``."""

from __future__ import annotations

import copy
import time
from typing import Any

from bot.devtools.standin.api_conversations import page
from bot.devtools.standin.errors import ApiError
from bot.devtools.standin.params import as_bool, cursor
from bot.devtools.standin.workspace import TEAM_DOMAIN, TEAM_NAME, Workspace


def auth_test(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    if ws.org is not None:
        # An org-level token belongs to the organisation, not to one of its workspaces.
        return {
            "url": f"https://{ws.org.domain}.enterprise.slack.com/",
            "team": ws.org.name,
            "user": "infochat",
            "team_id": ws.org.id,
            "user_id": ws.bot_user_id,
            "bot_id": ws.bot_id,
            "enterprise_id": ws.org.id,
            "is_enterprise_install": True,
        }
    return {
        "url": f"https://{TEAM_DOMAIN}.slack.com/",
        "team": TEAM_NAME,
        "user": "infochat",
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


def _team_object(ws: Workspace, team_id: str) -> dict[str, Any]:
    team = ws.org.team(team_id) if ws.org is not None else None
    name, domain = (team.name, team.domain) if team is not None else (TEAM_NAME, TEAM_DOMAIN)
    found: dict[str, Any] = {
        "id": team_id,
        "name": name,
        "domain": domain,
        "email_domain": "example.com",
        "icon": {"image_34": "https://avatars.example.com/team_34.png", "image_default": True},
        "url": f"https://{domain}.slack.com/",
    }
    if ws.org is not None:
        found.update(enterprise_id=ws.org.id, enterprise_name=ws.org.name)
    return found


def _granted_team(ws: Workspace, params: dict[str, Any]) -> str:
    """The workspace a call acts on: an org-level token must name one it was granted (team_id);
    a workspace token acts on its own workspace whatever it passes."""
    if ws.org is None:
        return ws.team_id
    team_id = str(params.get("team_id") or "")
    if not team_id:
        raise ApiError("missing_argument", response_metadata={"messages": ["[ERROR] team_id is required"]})
    if ws.org.team(team_id) is None:
        raise ApiError("team_access_not_granted")
    return team_id


def auth_teams_list(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    """The workspaces this token may act on (newer than the spec; Tier 2)."""
    ids = ws.org.team_ids if ws.org is not None else (ws.team_id,)
    teams = [{"id": t, "name": _team_object(ws, t)["name"]} for t in ids]
    if as_bool(params.get("include_icon")):
        teams = [{**t, "icon": _team_object(ws, t["id"])["icon"]} for t in teams]
    chosen, next_cursor = page("team", teams, params, "id")
    return {"teams": chosen, "response_metadata": {"next_cursor": next_cursor}}


def api_test(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    return {"args": params}


def users_info(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    user = copy.deepcopy(ws.user_or_error(params.get("user")))
    if as_bool(params.get("include_locale")):
        user["locale"] = "en-GB"
    return {"user": user}


def users_list(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    team_id = _granted_team(ws, params)
    listed = [u for uid, u in ws.users.items() if team_id in ws.listed_in.get(uid, (ws.team_id,))]
    if not params.get("limit") and len(listed) > ws.users_page_max:
        raise ApiError("limit_required")  # Slack will not send a large directory in one answer
    # Slack may serve fewer members than `limit` asks for (never more than a page's worth),
    # and even an empty page with a cursor: a client must follow next_cursor until it is "".
    members, next_cursor = page("user", listed, params, "id", most=ws.users_page_max)
    if ws.users_empty_page and next_cursor and not params.get("cursor"):
        members, next_cursor = [], cursor("user", str(listed[0]["id"]))
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
    team_id = _granted_team(ws, params)  # an org-level token names the workspace of the group
    usergroup = str(params.get("usergroup") or "")
    group = ws.usergroups.get(usergroup)
    if group is None or ws.usergroup_teams.get(usergroup, ws.team_id) != team_id:
        raise ApiError("no_such_subteam")
    return {"users": list(group)}


def team_info(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    team_id = str(params.get("team") or ws.team_id)
    if team_id != ws.team_id and (ws.org is None or ws.org.team(team_id) is None):
        raise ApiError("team_not_found")
    return {"team": _team_object(ws, team_id)}


METHODS = {
    "api.test": api_test,
    "auth.test": auth_test,
    "auth.teams.list": auth_teams_list,
    "users.info": users_info,
    "users.list": users_list,
    "users.lookupByEmail": users_lookup_by_email,
    "users.profile.get": users_profile_get,
    "usergroups.users.list": usergroups_users_list,
    "team.info": team_info,
}
