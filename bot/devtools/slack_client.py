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
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import httpx

from bot.devtools.standin import APP_ID, TEAM_DOMAIN, Org, SlackStandIn

__all__ = ["SlackAppClient", "last_message_to", "last_view_opened"]

VERIFICATION_TOKEN = "standin-verification-token"

# Option words a True/False answer picks in a radio or select (e.g. a weekly on/off toggle).
_YES = ("yes", "on", "true", "enabled", "enable", "opt in", "opted in", "1")
_NO = ("no", "off", "false", "disabled", "disable", "opt out", "opted out", "0")

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
        return self._post_form({"payload": json.dumps(payload, separators=(",", ":"))})

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
        return self._post_form(self.command_fields(user_id, text, command=command, channel_id=channel_id))

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
                selected_option = _match_option(_options(element), value, label=action_id)
            action["selected_option"] = selected_option
        if kind.endswith("select") and "placeholder" in element:
            action["placeholder"] = element["placeholder"]
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
            payload["channel"] = {
                "id": channel_id,
                "name": "directmessage" if channel_id.startswith("D") else channel_id.lower(),
            }
            if message is not None:
                payload["message"] = message
            payload["state"] = {"values": {}}
            payload["response_url"] = self._response_url(user_id, channel_id)
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

    def view_closed(self, user_id: str, view: dict[str, Any]) -> httpx.Response:
        """The user dismissed a modal that has ``notify_on_close``."""
        payload = self._envelope("view_closed", user_id)
        payload.update(view=_as_sent_view(view, self.team_of(user_id)), is_cleared=False)
        return self._post_payload(payload)

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
            chosen[id(_pick_input(inputs, key))] = answer
        values: dict[str, Any] = {}
        for block in inputs:
            element = block["element"]
            label = _label(block)
            if id(block) in chosen:
                state = _answer_state(element, chosen[id(block)], label)
            else:
                state = _initial_state(element)
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


def _now_ts() -> str:
    return f"{time.time():.6f}"


def _label(block: Mapping[str, Any]) -> str:
    label = block.get("label")
    return str(label.get("text", "")) if isinstance(label, Mapping) else str(label or "")


def _pick_input(inputs: list[Mapping[str, Any]], key: str) -> Mapping[str, Any]:
    """The one input whose label contains ``key``; prefer whole-word, then exact matches."""
    needle = key.lower()
    found = [b for b in inputs if needle in _label(b).lower()]
    if len(found) > 1:
        words = [b for b in found if re.search(rf"\b{re.escape(needle)}\b", _label(b).lower())]
        found = words or found
    if len(found) > 1:
        exact = [b for b in found if _label(b).strip().lower() == needle]
        found = exact or found
    if not found:
        raise KeyError(f"no input labelled {key!r}; labels: {[_label(b) for b in inputs]}")
    if len(found) > 1:
        raise KeyError(f"{key!r} matches several inputs: {[_label(b) for b in found]}")
    return found[0]


def _options(element: Mapping[str, Any]) -> list[dict[str, Any]]:
    opts = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        opts += group.get("options") or []
    return opts


def _option_text(opt: Mapping[str, Any]) -> str:
    text = opt.get("text")
    return str(text.get("text", "")) if isinstance(text, Mapping) else str(text or "")


def _clean_option(opt: Mapping[str, Any]) -> dict[str, Any]:
    # Slack echoes options without the description/url extras the app may have set.
    return {k: copy.deepcopy(opt[k]) for k in ("text", "value") if k in opt}


def _match_option(options: list[dict[str, Any]], answer: object, *, label: str) -> dict[str, Any]:
    """Pick an option by text or value (case-insensitive); booleans pick yes/on or no/off."""
    texts = [(o, _option_text(o).strip().lower(), str(o.get("value", "")).strip().lower()) for o in options]
    if isinstance(answer, bool):
        words = _YES if answer else _NO
        for o, text, value in texts:
            if text in words or value in words:
                return _clean_option(o)
        for o, text, value in texts:
            if any(re.search(rf"\b{re.escape(w)}\b", f"{text} {value}") for w in words):
                return _clean_option(o)
        if options and answer:
            return _clean_option(options[0])
        raise ValueError(f"no option for {answer!r} in {label!r}; options: {[t for _, t, _ in texts]}")
    wanted = str(answer).strip().lower()
    for o, text, value in texts:
        if wanted in (text, value):
            return _clean_option(o)
    partial = [o for o, text, _ in texts if re.search(rf"(?<!\w){re.escape(wanted)}(?!\w)", text)]
    if len(partial) == 1:
        return _clean_option(partial[0])
    raise ValueError(f"no option {answer!r} in {label!r}; options: {[_option_text(o) for o in options]}")


def _as_list(answer: object) -> list[object]:
    if answer is None or answer is False:
        return []
    if isinstance(answer, str):
        return [part.strip() for part in answer.split(",") if part.strip()]
    if isinstance(answer, (list, tuple, set)):
        return list(answer)
    return [answer]


def _text_option(text: object) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": str(text), "emoji": True}, "value": str(text)}


def _answer_state(element: Mapping[str, Any], answer: object, label: str) -> dict[str, Any]:
    kind = str(element.get("type"))
    state: dict[str, Any] = {"type": kind}
    if kind in ("plain_text_input", "email_text_input", "url_text_input", "number_input"):
        if isinstance(answer, (list, tuple)):
            answer = ", ".join(str(a) for a in answer)  # a comma-separated topics field
        state["value"] = None if answer is None else str(answer)
    elif kind in ("static_select", "radio_buttons"):
        state["selected_option"] = (
            None if answer is None else _match_option(_options(element), answer, label=label)
        )
    elif kind == "external_select":
        state["selected_option"] = None if answer is None else _text_option(answer)
    elif kind == "multi_static_select":
        state["selected_options"] = [
            _match_option(_options(element), a, label=label) for a in _as_list(answer)
        ]
    elif kind == "multi_external_select":
        state["selected_options"] = [_text_option(a) for a in _as_list(answer)]
    elif kind == "checkboxes":
        opts = _options(element)
        if answer is True:
            state["selected_options"] = [_clean_option(opts[0])] if opts else []
        else:
            state["selected_options"] = [_match_option(opts, a, label=label) for a in _as_list(answer)]
    elif kind == "users_select":
        state["selected_user"] = answer
    elif kind == "multi_users_select":
        state["selected_users"] = [str(a) for a in _as_list(answer)]
    elif kind == "conversations_select":
        state["selected_conversation"] = answer
    elif kind == "channels_select":
        state["selected_channel"] = answer
    elif kind == "datepicker":
        state["selected_date"] = None if answer is None else str(answer)
    elif kind == "timepicker":
        state["selected_time"] = None if answer is None else str(answer)
    else:
        raise ValueError(f"cannot fill a {kind} input ({label!r})")
    return state


def _initial_state(element: Mapping[str, Any]) -> dict[str, Any]:
    """What Slack sends for an input the user left alone: its initial value, else null/empty."""
    kind = str(element.get("type"))
    state: dict[str, Any] = {"type": kind}
    if kind.startswith("multi_") or kind == "checkboxes":
        if kind.endswith("users_select"):
            state["selected_users"] = list(element.get("initial_users") or [])
        else:
            state["selected_options"] = [_clean_option(o) for o in element.get("initial_options") or []]
    elif kind.endswith("select") or kind == "radio_buttons":
        if kind == "users_select":
            state["selected_user"] = element.get("initial_user")
        elif kind == "conversations_select":
            state["selected_conversation"] = element.get("initial_conversation")
        elif kind == "channels_select":
            state["selected_channel"] = element.get("initial_channel")
        else:
            initial = element.get("initial_option")
            state["selected_option"] = _clean_option(initial) if initial else None
    elif kind == "datepicker":
        state["selected_date"] = element.get("initial_date")
    elif kind == "timepicker":
        state["selected_time"] = element.get("initial_time")
    else:
        state["value"] = element.get("initial_value")
    return state


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
