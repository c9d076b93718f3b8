"""Web API methods of the ``chat.*`` family."""

from __future__ import annotations

import copy
from typing import Any

from bot.devtools.standin.errors import ApiError
from bot.devtools.standin.render import render_message
from bot.devtools.standin.validation import check_message_content
from bot.devtools.standin.workspace import TEAM_DOMAIN, Workspace


def post_message(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    cid = ws.resolve_channel(params.get("channel"), posting=True)
    check_message_content(params)
    thread_ts = params.get("thread_ts")
    if thread_ts:
        ws.find(cid, thread_ts)
    ts = ws.next_ts()
    msg = ws.message(params, ts)
    ws.messages.setdefault(cid, []).append(msg)
    where = ws.where(cid) + (" (in thread)" if thread_ts else "")
    ws.transcript.append(f"{where}: {render_message(params, ws.names)}")
    return {"channel": cid, "ts": ts, "message": copy.deepcopy(msg)}


def post_ephemeral(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    channel = str(params.get("channel") or "")
    user = ws.users.get(str(params.get("user") or ""))
    if channel[:1] in ("U", "W"):
        # A user id as channel means the app's DM with that user.
        if channel not in ws.users:
            raise ApiError("channel_not_found")
        cid, _ = ws.open_im(channel)
    else:
        cid = ws.resolve_channel(channel, posting=False)
    if user is None:
        raise ApiError("user_not_in_channel")
    if user["deleted"]:
        raise ApiError("user_disabled")
    info = ws.channels.get(cid)
    if info and user["id"] not in info["members"]:
        raise ApiError("user_not_in_channel")
    check_message_content(params)
    ws.transcript.append(f"ephemeral to {ws.who(user['id'])}: {render_message(params, ws.names)}")
    return {"message_ts": ws.next_ts()}


def update(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    cid = ws.resolve_channel(params.get("channel"), posting=False)
    msg = ws.find(cid, params.get("ts"))
    check_message_content({**msg, **params})
    for key in ("text", "blocks", "attachments", "metadata"):
        if key in params:
            msg[key] = copy.deepcopy(params[key])
    msg["edited"] = {"user": ws.bot_user_id, "ts": ws.next_ts()}
    ws.transcript.append(f"message updated, {ws.where(cid)}: {render_message(msg, ws.names)}")
    return {"channel": cid, "ts": msg["ts"], "text": msg.get("text", ""), "message": copy.deepcopy(msg)}


def delete(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    cid = ws.resolve_channel(params.get("channel"), posting=False)
    msg = ws.find(cid, params.get("ts"))
    ws.messages[cid].remove(msg)
    ws.transcript.append(f"message deleted, {ws.where(cid)}")
    return {"channel": cid, "ts": msg["ts"]}


def get_permalink(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    cid = ws.resolve_channel(params.get("channel"), posting=False)
    ts = str(params.get("message_ts") or "")
    if not ts:
        raise ApiError("message_not_found")
    return {
        "channel": cid,
        "permalink": f"https://{TEAM_DOMAIN}.slack.com/archives/{cid}/p{ts.replace('.', '')}",
    }


METHODS = {
    "chat.postMessage": post_message,
    "chat.postEphemeral": post_ephemeral,
    "chat.update": update,
    "chat.delete": delete,
    "chat.getPermalink": get_permalink,
}
