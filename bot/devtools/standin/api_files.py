"""Web API methods of the ``files.*`` family: Slack's external upload flow.

files.getUploadURLExternal hands out an upload URL (served by the stand-in's HTTP side), the
app POSTs the bytes there, and files.completeUploadExternal shares the files in a conversation.
"""

from __future__ import annotations

import copy
import secrets
import time
from typing import Any

from bot.devtools.standin.errors import ApiError, invalid_args
from bot.devtools.standin.params import as_int
from bot.devtools.standin.render import mrkdwn
from bot.devtools.standin.workspace import TEAM_DOMAIN, Workspace


def get_upload_url(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    filename = str(params.get("filename") or "")
    if not filename or params.get("length") in (None, ""):
        raise invalid_args("missing required field: " + ("filename" if not filename else "length"))
    length = as_int(params.get("length"), 0, "length")
    file_id = "F" + secrets.token_hex(5).upper()
    ws.uploads[file_id] = {"filename": filename, "length": length, "data": None}
    return {"upload_url": f"{ws.root}/upload/{file_id}", "file_id": file_id}


def _file_object(
    ws: Workspace, fid: str, title: str, upload: dict[str, Any], cid: str | None
) -> dict[str, Any]:
    filename = str(upload["filename"])
    return {
        "id": fid,
        "created": int(time.time()),
        "timestamp": int(time.time()),
        "name": filename,
        "title": title or filename,
        "mimetype": "text/csv" if filename.endswith(".csv") else "application/octet-stream",
        "filetype": filename.rsplit(".", 1)[-1] if "." in filename else "binary",
        "user": ws.bot_user_id,
        "size": len(upload["data"]),
        "url_private": f"{ws.root}/files/{fid}",
        "permalink": f"https://{TEAM_DOMAIN}.slack.com/files/{ws.bot_user_id}/{fid}",
        "channels": [cid] if cid and cid[0] == "C" else [],
        "ims": [cid] if cid and cid[0] == "D" else [],
        "groups": [cid] if cid and cid[0] == "G" else [],
    }


def complete_upload(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    files = params.get("files")
    if not isinstance(files, list) or not files:
        raise invalid_args("missing required field: files")
    channel = params.get("channel_id") or None
    if channel and str(channel)[:1] in ("U", "W"):
        # channel_id takes a conversation id; only the older ``channels`` list took user ids.
        raise ApiError("invalid_channel", response_metadata={"messages": ["[ERROR] channel_id is a user id"]})
    cid = ws.resolve_channel(channel, posting=True) if channel else None
    done = []
    for item in files:
        upload = ws.uploads.get(str(item.get("id") if isinstance(item, dict) else ""))
        if upload is None or upload["data"] is None:
            raise ApiError("file_not_found")
        done.append((item, upload))
    out = []
    for item, upload in done:
        fid = str(item["id"])
        ws.files[fid] = (upload["filename"], upload["data"], cid)
        out.append(_file_object(ws, fid, str(item.get("title") or ""), upload, cid))
    if cid:
        comment = str(params.get("initial_comment") or "")
        msg = ws.message({"text": comment, "thread_ts": params.get("thread_ts")}, ws.next_ts())
        msg["files"] = copy.deepcopy(out)
        ws.messages.setdefault(cid, []).append(msg)
        names = ", ".join(f["name"] for f in out)
        ws.transcript.append(
            f"{ws.where(cid)}: [file: {names}]" + (f" {mrkdwn(comment, ws.names)}" if comment else "")
        )
    return {"files": out}


def upload_legacy(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    # Slack retired files.upload; apps must use the external upload flow.
    raise ApiError("method_deprecated")


METHODS = {
    "files.getUploadURLExternal": get_upload_url,
    "files.completeUploadExternal": complete_upload,
    "files.upload": upload_legacy,
}
