"""Send the app signed requests shaped exactly as Slack sends them.

Slash commands, block actions, view submissions, options requests and Events API
callbacks, signed with the app's signing secret (Slack's ``v0`` HMAC-SHA256 scheme).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import httpx

from bot.devtools.slack_forms import (
    answer_state,
    initial_state,
    label_of,
    match_option,
    options_of,
    pick_input,
)
from bot.devtools.standin import APP_ID, TEAM_DOMAIN, Org, Refusal, SlackStandIn
from bot.devtools.standin.answers import answer_errors

__all__ = ["SlackAppClient", "last_message_to", "last_view_opened"]

VERIFICATION_TOKEN = "standin-verification-token"


_ids = itertools.count(1)


class SlackAppClient:
    """Posts signed Slack payloads to the app's request URL over one ``httpx.Client``."""

    def __init__(
        self,
        app_url: str,
        signing_secret: str,
        standin: SlackStandIn | None = None,
        *,
        team_id: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        """``team_id``: the workspace payloads come from, the stand-in's by default. When the
        stand-in plays an org (Enterprise Grid), each payload comes from the workspace of the
        person acting, with the org's ``enterprise`` fields, as for an org-wide install."""
        self.app_url = app_url
        self.signing_secret = signing_secret
        self.standin = standin
        self.team_id = team_id or (standin.team_id if standin is not None else "T0INFOCHAT")
        self.http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> SlackAppClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transport

    def sign(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        """Slack's request-signing headers for ``body``."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        base = b"v0:" + ts.encode() + b":" + body
        digest = hmac.new(self.signing_secret.encode(), base, hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}

    def post(
        self,
        body: bytes,
        content_type: str,
        *,
        headers: Mapping[str, str] | None = None,
        timestamp: int | None = None,
        signed: bool = True,
    ) -> httpx.Response:
        """POST a raw body; ``headers`` override the signature ones (to test tampering)."""
        sent = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
        if signed:
            sent.update(self.sign(body, timestamp))
        sent.update(headers or {})
        return self.http.post(self.app_url, content=body, headers=sent)

    def _post_form(self, fields: Mapping[str, str]) -> httpx.Response:
        return self.post(urlencode(fields).encode(), "application/x-www-form-urlencoded")

    def _post_payload(self, payload: Mapping[str, Any]) -> httpx.Response:
        # Interactivity arrives as a form with one field holding JSON.
        response = self._post_form({"payload": json.dumps(payload, separators=(",", ":"))})
        return self._check_answer(str(payload.get("type")), response, payload)

    def _check_answer(
        self, kind: str, response: httpx.Response, request: Mapping[str, Any]
    ) -> httpx.Response:
        """Hold the app's answer to what Slack accepts (answers.py); a refusal is kept in the stand-in."""
        if self.standin is None or response.status_code != 200:
            return response
        answer: Any = None
        if response.content:
            try:
                answer = response.json()
            except ValueError:
                answer = response.text
        problems = answer_errors(kind, answer, request)
        if problems:
            self.standin.refuse(Refusal("app_answer", kind, "invalid_app_answer", problems))
        return response

    # ------------------------------------------------------------------ payload parts

    def _trigger_id(self, user_id: str) -> str:
        if self.standin is not None:
            return self.standin.new_trigger_id(user_id)
        return f"{next(_ids)}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"

    def _response_url(self, user_id: str, channel_id: str | None) -> str:
        if self.standin is not None and self.standin.root:
            return self.standin.new_response_url(user_id=user_id, channel_id=channel_id)
        return f"https://hooks.slack.com/actions/{self.team_id}/{next(_ids)}/{secrets.token_hex(12)}"

    def _ensure_user(self, user_id: object) -> None:
        # Whoever acts in Slack is a workspace member; make the stand-in know them too.
        if self.standin is None or not isinstance(user_id, str) or user_id[:1] not in ("U", "W"):
            return
        if self.standin.get_user(user_id) is None:
            self.standin.add_user(user_id, name=user_id.lower())

    def _user_name(self, user_id: str) -> str:
        user = self.standin.get_user(user_id) if self.standin is not None else None
        return str(user["name"]) if user else user_id.lower()

    @property
    def org(self) -> Org | None:
        return self.standin.org if self.standin is not None else None

    def team_of(self, user_id: object) -> str:
        """The workspace a payload about ``user_id`` comes from: theirs when the stand-in plays an
        org and they belong to it, else this client's (a Slack Connect member's events reach the
        app through the workspace that shares the channel)."""
        org = self.org
        if org is None or self.standin is None or not isinstance(user_id, str):
            return self.team_id
        user = self.standin.get_user(user_id)
        team = str((user or {}).get("team_id") or "")
        return team if org.team(team) is not None else self.team_id

    def _domain(self, team_id: str) -> str:
        team = self.org.team(team_id) if self.org is not None else None
        return team.domain if team is not None else TEAM_DOMAIN

    def _user(self, user_id: str) -> dict[str, str]:
        self._ensure_user(user_id)
        name = self._user_name(user_id)
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_of(user_id)}

    def _team(self, team_id: str) -> dict[str, str]:
        team = {"id": team_id, "domain": self._domain(team_id)}
        if self.org is not None:
            team.update(enterprise_id=self.org.id, enterprise_name=self.org.name)
        return team

    def _envelope(self, kind: str, user_id: str) -> dict[str, Any]:
        self._ensure_user(user_id)
        org = self.org
        return {
            "type": kind,
            "user": self._user(user_id),
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "team": self._team(self.team_of(user_id)),
            "enterprise": org.enterprise() if org is not None else None,
            "is_enterprise_install": org is not None,
        }

    # ------------------------------------------------------------------ requests

    def command(
        self, user_id: str, text: str = "", *, command: str = "/infochat", channel_id: str = "C0GENERAL"
    ) -> httpx.Response:
        """A slash command, as Slack posts it."""
        fields = self.command_fields(user_id, text, command=command, channel_id=channel_id)
        return self._check_answer("slash_command", self._post_form(fields), fields)

    def command_fields(
        self, user_id: str, text: str = "", *, command: str = "/infochat", channel_id: str = "C0GENERAL"
    ) -> dict[str, str]:
        """The form fields of a slash command (also a Socket Mode ``slash_commands`` payload)."""
        self._ensure_user(user_id)
        team_id = self.team_of(user_id)
        fields = {
            "token": VERIFICATION_TOKEN,
            "team_id": team_id,
            "team_domain": self._domain(team_id),
            "channel_id": channel_id,
            "channel_name": "directmessage" if channel_id.startswith("D") else channel_id.lower(),
            "user_id": user_id,
            "user_name": self._user_name(user_id),
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "true" if self.org is not None else "false",
            "response_url": self._response_url(user_id, channel_id),
            "trigger_id": self._trigger_id(user_id),
        }
        if self.org is not None:
            fields.update(enterprise_id=self.org.id, enterprise_name=self.org.name)
        return fields

    def block_action(
        self,
        user_id: str,
        action_id: str,
        *,
        value: str | None = None,
        block_id: str = "b",
        selected_option: dict[str, Any] | None = None,
        selected_user: str | None = None,
        view: dict[str, Any] | None = None,
        message: dict[str, Any] | None = None,
        channel_id: str | None = None,
    ) -> httpx.Response:
        """A click or selection on an element of a message, modal or App Home.

        The element is looked up by ``action_id`` in the view/message blocks, so its type,
        block_id, button label and value come from what the app actually sent.
        """
        blocks: list[Any] = []
        if view is not None:
            blocks = list(view.get("blocks") or [])
        elif message is not None:
            blocks = list(message.get("blocks") or [])
            for att in message.get("attachments") or []:
                blocks += att.get("blocks") or []
        action = _action(blocks, action_id, block_id, value, selected_option, selected_user)
        payload = self._envelope("block_actions", user_id)
        payload["trigger_id"] = self._trigger_id(user_id)
        payload["actions"] = [action]
        if view is not None:
            full = _as_sent_view(view, self.team_of(user_id))
            payload["container"] = {"type": "view", "view_id": full["id"]}
            payload["view"] = full
        else:
            if message is not None and channel_id is None and self.standin is not None:
                located = self.standin.find_message(str(message.get("ts")))
                channel_id = located[0] if located else None
            channel_id = channel_id or "C0GENERAL"
            ts = str((message or {}).get("ts") or _now_ts())
            payload["container"] = {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel_id,
                "is_ephemeral": message is None,
            }
            payload["channel"] = _channel(channel_id)
            if message is not None:
                payload["message"] = message
            payload["state"] = {"values": {}}
            payload["response_url"] = self._response_url(user_id, channel_id)
        return self._post_payload(payload)

    def shared_block_action(
        self, user_id: str, action_id: str, *, message: dict[str, Any], shared_in: str, shared_by: str
    ) -> httpx.Response:
        """A click on the copy of the app's ``message`` that ``shared_by`` shared into ``shared_in``.

        Slack shows a shared message as an attachment of the sharer's own message: the payload's
        container is that attachment in ``shared_in`` (not the app's conversation), ``message``
        is the sharer's message, and the original's channel and ts are only in the attachment.
        """
        located = self.standin.find_message(str(message.get("ts"))) if self.standin else None
        original_channel = located[0] if located else "D0ORIGINAL"
        share_ts = _now_ts()
        attachment = {
            "id": 1,
            "is_share": True,
            "is_msg_unfurl": True,
            "channel_id": original_channel,
            "ts": message.get("ts"),
            "author_id": message.get("user"),
            "fallback": f"[{message.get('text', '')}]",
            "from_url": f"https://{TEAM_DOMAIN}.slack.com/archives/{original_channel}/p{message.get('ts')}",
            "blocks": copy.deepcopy(message.get("blocks") or []),
        }
        shared = {
            "type": "message",
            "user": shared_by,
            "ts": share_ts,
            "text": "",
            "attachments": [attachment],
        }
        action = _action(attachment["blocks"], action_id, "b", None, None, None)
        payload = self._envelope("block_actions", user_id)
        payload.update(
            trigger_id=self._trigger_id(user_id),
            actions=[action],
            container={
                "type": "message_attachment",
                "message_ts": share_ts,
                "attachment_id": 1,
                "channel_id": shared_in,
                "is_ephemeral": False,
                "is_app_unfurl": False,
            },
            channel=_channel(shared_in),
            message=shared,
            state={"values": {}},
            response_url=self._response_url(user_id, shared_in),
        )
        return self._post_payload(payload)

    def view_submission(self, user_id: str, view: dict[str, Any], values: dict[str, Any]) -> httpx.Response:
        """Submit a modal; ``view`` as the app opened it, ``values`` its ``state.values``."""
        full = _as_sent_view(view, self.team_of(user_id))
        full["state"] = {"values": values}
        payload = self._envelope("view_submission", user_id)
        payload.update(trigger_id=self._trigger_id(user_id), view=full, response_urls=[])
        return self._post_payload(payload)

    def submit(self, user_id: str, view: dict[str, Any], answers: Mapping[str, object]) -> httpx.Response:
        """Fill a modal by label (see ``fill``) and submit it."""
        return self.view_submission(user_id, view, self.fill(view, answers))

    def view_closed(self, user_id: str, view: dict[str, Any], *, is_cleared: bool = False) -> httpx.Response:
        """The user dismissed a modal that asked for it with ``notify_on_close``.

        Slack sends ``view_closed`` only for such modals, so the client refuses to invent one.
        """
        if not view.get("notify_on_close"):
            raise ValueError("Slack sends view_closed only for a modal opened with notify_on_close: true")
        payload = self._envelope("view_closed", user_id)
        payload.update(view=_as_sent_view(view, self.team_of(user_id)), is_cleared=is_cleared)
        return self._post_payload(payload)

    def message_event(
        self,
        channel: str,
        subtype: str,
        *,
        message: Mapping[str, Any] | None = None,
        user_id: str = "U0SOMEONE",
        text: str = "edited",
    ) -> httpx.Response:
        """A ``message`` event with a ``subtype`` (``message_changed``, ``message_deleted``, …),
        shaped as Slack sends them: no top-level ``user``, the message inside."""
        ts = _now_ts()
        original = dict(message or {"type": "message", "user": user_id, "text": "before", "ts": ts})
        event: dict[str, Any] = {
            "type": "message",
            "subtype": subtype,
            "hidden": True,
            "channel": channel,
            "channel_type": "im" if channel.startswith("D") else "channel",
            "ts": ts,
            "event_ts": ts,
        }
        if subtype == "message_changed":
            edited = {**original, "text": text, "edited": {"user": user_id, "ts": ts}}
            event.update(message=edited, previous_message=original)
        elif subtype == "message_deleted":
            event.update(deleted_ts=original.get("ts"), previous_message=original)
        else:
            event.update(message=original)
        return self.event(event)

    def block_suggestion(
        self,
        user_id: str,
        action_id: str,
        value: str,
        *,
        block_id: str = "b",
        view: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """An options request for an external select while the user types ``value``."""
        if view is not None and block_id == "b":
            found = _find_element(list(view.get("blocks") or []), action_id)
            block_id = found[0] if found else block_id
        payload = self._envelope("block_suggestion", user_id)
        payload.update(action_id=action_id, block_id=block_id, value=value)
        if view is not None:
            full = _as_sent_view(view, self.team_of(user_id))
            payload["container"] = {"type": "view", "view_id": full["id"]}
            payload["view"] = full
        return self._post_payload(payload)

    def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
    ) -> httpx.Response:
        """An Events API ``event_callback``; pass the same ``event_id`` plus retry info to model a retry."""
        envelope = self.event_body(event, event_id=event_id)
        headers: dict[str, str] = {}
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
        if retry_reason is not None:
            headers["X-Slack-Retry-Reason"] = retry_reason
        return self.post(json.dumps(envelope).encode(), "application/json", headers=headers)

    def event_body(self, event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
        """The ``event_callback`` envelope of ``event`` (also a Socket Mode ``events_api`` payload)."""
        inner = copy.deepcopy(event)
        self._ensure_user(inner.get("user"))
        inner.setdefault("event_ts", _now_ts())
        if inner.get("type") == "app_home_opened" and "view" not in inner and self.standin is not None:
            # As Slack does: the view the Home tab shows, once the app has published one.
            shown = self.standin.home_view(str(inner.get("user")))
            if shown is not None:
                inner["view"] = shown
        bot_user = self.standin.bot_user_id if self.standin is not None else "U0BOT"
        subject = inner.get("user")
        team_id = self.team_of(subject.get("id") if isinstance(subject, Mapping) else subject)
        org = self.org
        envelope: dict[str, Any] = {
            "token": VERIFICATION_TOKEN,
            "team_id": team_id,
            "api_app_id": APP_ID,
            "event": inner,
            "type": "event_callback",
            "event_id": event_id or f"Ev{secrets.token_hex(5).upper()}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": org.id if org is not None else None,
                    "team_id": team_id,
                    "user_id": bot_user,
                    "is_bot": True,
                    "is_enterprise_install": org is not None,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": "4-" + secrets.token_urlsafe(24),
        }
        if org is not None:
            envelope.update(enterprise_id=org.id, context_team_id=team_id, context_enterprise_id=org.id)
        return envelope

    # ------------------------------------------------------------------ modal filling

    def fill(self, view: Mapping[str, Any], answers: Mapping[str, object]) -> dict[str, Any]:
        """Build ``state.values`` for a modal from answers keyed by (part of) input labels.

        Unanswered inputs carry their initial value, or null, as Slack sends them.
        """
        inputs = [
            b
            for b in view.get("blocks") or []
            if b.get("type") == "input" and isinstance(b.get("element"), Mapping)
        ]
        chosen: dict[int, object] = {}
        for key, answer in answers.items():
            chosen[id(pick_input(inputs, key))] = answer
        values: dict[str, Any] = {}
        for block in inputs:
            element = block["element"]
            label = label_of(block)
            if id(block) in chosen:
                state = answer_state(element, chosen[id(block)], label)
            else:
                state = initial_state(element)
            block_id = str(block.get("block_id") or label)
            values.setdefault(block_id, {})[str(element.get("action_id") or element.get("type"))] = state
        return values


# --------------------------------------------------------------------------- helpers


def last_view_opened(standin: SlackStandIn, user_id: str | None = None) -> dict[str, Any]:
    """The current version of the latest modal opened or pushed (for ``user_id`` if given)."""
    for call in reversed(standin.calls):
        if call.ok and call.method in ("views.open", "views.push"):
            view_id = call.response["view"]["id"]
            if user_id is None or standin.view_user(view_id) == user_id:
                return standin.view(view_id) or call.response["view"]
    raise AssertionError(f"no modal was opened{f' for {user_id}' if user_id else ''}")


def last_message_to(standin: SlackStandIn, user_id: str) -> dict[str, Any]:
    """The latest message (current version) still in the bot's DM with ``user_id``."""
    messages = standin.messages_in(user_id)
    if not messages:
        raise AssertionError(f"no message in the DM with {user_id}")
    return messages[-1]


def _channel(channel_id: str) -> dict[str, str]:
    return {"id": channel_id, "name": "directmessage" if channel_id.startswith("D") else channel_id.lower()}


def _action(
    blocks: list[Any],
    action_id: str,
    block_id: str,
    value: str | None,
    selected_option: dict[str, Any] | None,
    selected_user: str | None,
) -> dict[str, Any]:
    """The ``actions[0]`` of a block_actions payload for the element ``action_id`` in ``blocks``."""
    found = _find_element(blocks, action_id)
    element: Mapping[str, Any] = found[1] if found else {}
    if found and block_id == "b":
        block_id = found[0]
    kind = str(
        element.get("type")
        or ("users_select" if selected_user else "static_select" if selected_option else "button")
    )
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block_id,
        "type": kind,
        "action_ts": _now_ts(),
    }
    if kind == "button":
        action["text"] = element.get("text") or {"type": "plain_text", "text": action_id, "emoji": True}
        action["value"] = value if value is not None else element.get("value")
        if element.get("style"):
            action["style"] = element["style"]
    elif kind in ("users_select", "multi_users_select"):
        action["selected_user"] = selected_user
    elif kind == "datepicker":
        action["selected_date"] = value
    else:
        if selected_option is None and value is not None:
            selected_option = match_option(options_of(element), value, label=action_id)
        action["selected_option"] = selected_option
    if kind.endswith("select") and "placeholder" in element:
        action["placeholder"] = element["placeholder"]
    return action


def _now_ts() -> str:
    return f"{time.time():.6f}"


def _find_element(blocks: list[Any], action_id: str) -> tuple[str, Mapping[str, Any]] | None:
    for block in blocks:
        if not isinstance(block, Mapping):
            continue
        candidates: list[Any] = list(block.get("elements") or []) if block.get("type") == "actions" else []
        candidates += [block.get("accessory"), block.get("element")]
        for el in candidates:
            if isinstance(el, Mapping) and el.get("action_id") == action_id:
                return str(block.get("block_id") or "b"), el
    return None


def _as_sent_view(view: Mapping[str, Any], team_id: str) -> dict[str, Any]:
    """The view as Slack includes it in payloads: with id, hash and state even if the caller lacks them."""
    full = copy.deepcopy(dict(view))
    full.setdefault("id", "V" + secrets.token_hex(5).upper())
    full.setdefault("team_id", team_id)
    full.setdefault("type", "modal")
    full.setdefault("private_metadata", "")
    full.setdefault("callback_id", "")
    full.setdefault("hash", f"{int(time.time())}.{secrets.token_hex(4)}")
    full.setdefault("state", {"values": {}})
    full.setdefault("root_view_id", full["id"])
    full.setdefault("previous_view_id", None)
    full.setdefault("app_id", APP_ID)
    return full
