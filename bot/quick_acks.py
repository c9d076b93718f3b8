"""Answers to slash commands that need nothing but the request, given without Bolt.

`/infochat help` (and the usage reply to an unknown subcommand) depends only on
the command text: no user, no database, no Web API. Dispatching it through Bolt
still costs about 330 µs of CPU (middleware chain, listener matching, request
copies), which at 64 concurrent connections is what keeps the ack p99 above
20 ms on two cores (docs/performance.md). Here such a request is checked exactly
as Bolt checks it (slack_sdk's SignatureVerifier: HMAC-SHA256 of
`v0:{timestamp}:{body}` and the 5-minute window) and answered with the same
JSON Bolt would send, built by the same function (`commands.context_free_answer`).

Anything else, and anything that fails the signature check, goes to Bolt
unchanged, so Bolt remains the one place that refuses bad requests (401) and
handles everything with state.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import parse_qs

from slack_bolt.context.ack import Ack
from slack_sdk.signature import SignatureVerifier

from bot.context import AppContext
from bot.listeners.commands import COMMAND, context_free_answer
from bot.listeners.lifecycle import resume_after_reinstall
from bot.services import appstate

FORM = "application/x-www-form-urlencoded"
_COMMAND_FIELD = b"command=" + COMMAND.replace("/", "%2F").encode()


class QuickAcks:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.verifier = SignatureVerifier(ctx.settings.signing_secret())

    def answer(self, body: bytes, headers: Mapping[str, list[str]]) -> tuple[bytes, str] | None:
        """(JSON body, content type) for a context-free `/infochat` command, else None.

        Runs on the event loop, so it never touches the database: the caller runs
        `after_answer` (which may) unless `needs_after_answer` is False."""
        if _COMMAND_FIELD not in body or not _first(headers, "content-type").startswith(FORM):
            return None
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return None
        form = parse_qs(text, keep_blank_values=True)
        if _only(form, "command") != COMMAND or "ssl_check" in form or "payload" in form:
            return None
        answer = context_free_answer(_only(form, "text"))
        if answer is None:
            return None
        timestamp = _first(headers, "x-slack-request-timestamp")
        signature = _first(headers, "x-slack-signature")
        if not (timestamp.isdigit() and signature) or not self.verifier.is_valid(text, timestamp, signature):
            return None  # Bolt refuses it, logs it and answers 401
        response = Ack()(response_type="ephemeral", **answer)
        payload = response.body if isinstance(response.body, str) else json.dumps(response.body)
        content_type = response.headers.get("content-type", ["application/json;charset=utf-8"])[0]
        return payload.encode("utf-8"), content_type

    def needs_after_answer(self) -> bool:
        return not appstate.known_to_be_sending()

    def after_answer(self) -> None:
        """What Bolt's middleware does for every command: resume sending after a reinstall."""
        resume_after_reinstall(self.ctx)


def _first(headers: Mapping[str, list[str]], name: str) -> str:
    values = headers.get(name)
    return values[0] if values else ""


def _only(form: Mapping[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values and len(values) == 1 else None
