"""Web API methods of the ``conversations.*`` family, and the cursor paging they share with users.list."""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from typing import Any

from bot.devtools.standin.errors import ApiError
from bot.devtools.standin.params import as_bool, as_int, cursor, stable_id, uncursor
from bot.devtools.standin.workspace import Workspace


def page(
    kind: str, items: list[dict[str, Any]], params: Mapping[str, Any], key: str, *, most: int = 1000
) -> tuple[list[dict[str, Any]], str]:
    """One page of ``items`` from the call's cursor and limit (at most ``most``), and the next cursor."""
    start = 0
    if params.get("cursor"):
        wanted = uncursor(kind, str(params["cursor"]))
        start = next((i for i, it in enumerate(items) if str(it[key]) == wanted), -1)
        if start < 0:
            raise ApiError("invalid_cursor")
    limit = as_int(params.get("limit"), 0, "limit")
    end = len(items) if limit <= 0 else start + min(limit, most)
    return items[start:end], cursor(kind, str(items[end][key])) if end < len(items) else ""


def _history(
    messages: list[dict[str, Any]], params: Mapping[str, Any], *, newest_first: bool
) -> dict[str, Any]:
    inclusive = as_bool(params.get("inclusive"))

    def in_range(ts: float) -> bool:
        oldest, latest = float(params.get("oldest") or 0), float(params.get("latest") or 0)
        lo = ts >= oldest if inclusive else ts > oldest
        hi = latest == 0 or (ts <= latest if inclusive else ts < latest)
        return lo and hi

    try:
        chosen = [m for m in messages if in_range(float(m["ts"]))]
    except ValueError:
        raise ApiError("invalid_ts_oldest") from None
    if newest_first:
        chosen.reverse()
    if not params.get("limit"):
        params = {**params, "limit": 100}
    found, next_cursor = page("ts", chosen, params, "ts")
    return {
        "messages": copy.deepcopy(found),
        "has_more": bool(next_cursor),
        "response_metadata": {"next_cursor": next_cursor},
    }


def channel_object(ws: Workspace, cid: str) -> dict[str, Any]:
    """A conversation as conversations.info describes it."""
    info = ws.channels.get(cid)
    if info and info["kind"] == "im":
        user = ws.users.get(info["user"], {})
        return {
            "id": cid,
            "created": info["created"],
            "is_im": True,
            "is_org_shared": False,
            "user": info["user"],
            "is_user_deleted": bool(user.get("deleted")),
            "priority": 0,
        }
    if info and info["kind"] == "mpim":
        names = [ws.users[u]["name"] for u in info["members"] if u in ws.users]
        return {
            "id": cid,
            "name": "mpdm-" + "--".join(names) + "-1",
            "created": info["created"],
            "creator": ws.bot_user_id,
            "is_channel": False,
            "is_group": False,
            "is_im": False,
            "is_mpim": True,
            "is_private": True,
            "is_archived": False,
            "is_open": True,
            "num_members": len(info["members"]),
        }
    return {
        "id": cid,
        "name": str(info["name"]) if info else cid.lstrip("#").lower(),
        "is_channel": True,
        "is_group": False,
        "is_im": False,
        "is_mpim": False,
        "is_private": False,
        "is_archived": False,
        "is_member": bool(info) and ws.bot_user_id in info["members"],
        "created": 1700000000,
        **({"num_members": len(info["members"])} if info else {}),
    }


def open_conversation(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("channel"):
        cid = ws.resolve_channel(params["channel"], posting=False)
        return {"channel": channel_object(ws, cid) if as_bool(params.get("return_im")) else {"id": cid}}
    raw = params.get("users")
    users = raw if isinstance(raw, list) else [u.strip() for u in str(raw or "").split(",") if u.strip()]
    if not users:
        raise ApiError("users_list_not_supplied")
    users = sorted(set(users) - {ws.bot_user_id}) or [ws.bot_user_id]
    if len(users) > 8:
        raise ApiError("too_many_users")
    for uid in users:
        if ws.user_or_error(uid)["deleted"]:
            raise ApiError("user_disabled")
    if len(users) == 1:
        cid, existed = ws.open_im(users[0])
    else:
        cid = stable_id("G", ",".join(users))
        existed = cid in ws.channels
        if not existed:
            ws.channels[cid] = {
                "kind": "mpim",
                "members": [ws.bot_user_id, *users],
                "created": int(time.time()),
            }
    out: dict[str, Any] = {
        "channel": channel_object(ws, cid)
        if as_bool(params.get("return_im")) or len(users) > 1
        else {"id": cid}
    }
    if existed:
        out.update(no_op=True, already_open=True)
    return out


def info(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    return {"channel": channel_object(ws, ws.resolve_channel(params.get("channel"), posting=False))}


def history(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    cid = ws.resolve_channel(params.get("channel"), posting=False)
    ws.require_member(cid)
    top = [m for m in ws.messages.get(cid, []) if m.get("thread_ts", m["ts"]) == m["ts"]]
    return {**_history(top, params, newest_first=True), "pin_count": 0}


def replies(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    cid = ws.resolve_channel(params.get("channel"), posting=False)
    ws.require_member(cid)
    parent = ws.find(cid, params.get("ts"))
    thread = [m for m in ws.messages.get(cid, []) if m is parent or m.get("thread_ts") == parent["ts"]]
    return _history(thread, params, newest_first=False)


METHODS = {
    "conversations.open": open_conversation,
    "conversations.info": info,
    "conversations.history": history,
    "conversations.replies": replies,
}
