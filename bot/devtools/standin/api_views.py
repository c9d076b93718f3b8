"""Web API methods of the ``views.*`` family: modals and App Home."""

from __future__ import annotations

import copy
from typing import Any

from bot.devtools.standin.errors import ApiError, invalid_args
from bot.devtools.standin.render import render_blocks, text_of
from bot.devtools.standin.validation import view_param
from bot.devtools.standin.workspace import Workspace


def _open(ws: Workspace, params: dict[str, Any], *, push: bool) -> dict[str, Any]:
    trigger = str(params.get("trigger_id") or "")
    if not trigger:
        raise ApiError("invalid_trigger_id")
    view = view_param(params, "modal")
    user_id = ws.use_trigger(trigger)
    previous = None
    if push:
        mine = [
            v for vid, v in ws.views.items() if ws.view_users.get(vid) == user_id and v["type"] == "modal"
        ]
        previous = mine[-1] if mine else None
    stored = ws.store_view(view, previous=previous)
    ws.view_users[stored["id"]] = user_id
    ws.transcript.append(
        f"modal {'pushed' if push else 'opened'} for {ws.who(user_id)}: {text_of(view.get('title'))}"
    )
    return {"view": copy.deepcopy(stored)}


def open_view(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    return _open(ws, params, push=False)


def push(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    return _open(ws, params, push=True)


def update(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    vid, ext = params.get("view_id"), params.get("external_id")
    if not vid and not ext:
        raise invalid_args("must provide view_id or external_id")
    current = (
        ws.views.get(str(vid))
        if vid
        else next((v for v in ws.views.values() if v["external_id"] == ext), None)
    )
    if current is None:
        raise ApiError("not_found")
    if params.get("hash") and params["hash"] != current["hash"]:
        raise ApiError("hash_conflict")
    view = view_param(params, current["type"])
    prev = (
        {"id": current["previous_view_id"], "root_view_id": current["root_view_id"]}
        if current["previous_view_id"]
        else None
    )
    stored = ws.store_view(view, view_id=current["id"], previous=prev)
    if not prev:
        stored["root_view_id"] = current["root_view_id"]
    user_id = ws.view_users.get(current["id"])
    if stored["type"] == "home" and user_id:
        ws.homes[user_id] = stored
        ws.transcript.append(f"App Home of {ws.who(user_id)}: {render_blocks(stored['blocks'], ws.names)}")
    else:
        ws.transcript.append(f"modal updated for {ws.who(user_id)}: {text_of(stored.get('title'))}")
    return {"view": copy.deepcopy(stored)}


def publish(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    user = ws.user_or_error(params.get("user_id"))
    if user["deleted"]:
        raise ApiError("user_disabled")
    view = view_param(params, "home")
    current = ws.homes.get(user["id"])
    if current and params.get("hash") and params["hash"] != current["hash"]:
        raise ApiError("hash_conflict")
    stored = ws.store_view(view, view_id=current["id"] if current else None)
    ws.homes[user["id"]] = stored
    ws.view_users[stored["id"]] = user["id"]
    ws.transcript.append(f"App Home of {ws.who(user['id'])}: {render_blocks(stored['blocks'], ws.names)}")
    return {"view": copy.deepcopy(stored)}


METHODS = {
    "views.open": open_view,
    "views.push": push,
    "views.update": update,
    "views.publish": publish,
}
