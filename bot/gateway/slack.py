"""The one place that talks to the Slack Web API.

One configured WebClient per process, pointed at `INFOCHAT_SLACK_API_URL`,
retrying 429 (honouring Retry-After), transient 5xx and connection errors
with backoff, over kept-alive connections (bot.gateway.keepalive). Everything
else in infochat calls `SlackGateway`, which logs failures with context so they
are never lost silently.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import (
    BackoffRetryIntervalCalculator,
    ConnectionErrorRetryHandler,
    HttpRequest,
    HttpResponse,
    RateLimitErrorRetryHandler,
    RetryHandler,
    RetryState,
)
from slack_sdk.web import SlackResponse

from bot import clock
from bot.gateway.keepalive import KeepAliveWebClient
from bot.metrics import SLACK_API_ERRORS
from bot.retry import note_side_effect

log = logging.getLogger(__name__)

TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})


class TransientServerErrorRetryHandler(RetryHandler):
    """slack_sdk's ServerErrorRetryHandler retries only 500 and 503; gateways also answer 502/504."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code in TRANSIENT_STATUSES


class _WaitOnAppClock:
    """slack_sdk's handlers wait with time.sleep; ours wait through bot.clock, so a
    simulated run (bench/round.py, tests) skips the waits instead of sitting them out."""

    interval_calculator: BackoffRetryIntervalCalculator

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        clock.sleep(self.interval_calculator.calculate_sleep_duration(state.current_attempt))
        state.increment_current_attempt()


class _ConnectionErrorRetry(_WaitOnAppClock, ConnectionErrorRetryHandler):
    pass


class _TransientServerErrorRetry(_WaitOnAppClock, TransientServerErrorRetryHandler):
    pass


class RetryAfterHandler(RateLimitErrorRetryHandler):
    """429: wait what Retry-After says (plus up to a second, as slack_sdk does), on the app's clock."""

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is None:
            raise error  # type: ignore[misc]
        state.next_attempt_requested = True
        header = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), None)
        try:
            seconds = float(header[0] if isinstance(header, list) else header) if header else 1.0
        except ValueError:
            seconds = 1.0
        clock.sleep(seconds + random.random())
        state.increment_current_attempt()


def build_web_client(token: str, base_url: str, *, timeout: int = 10) -> WebClient:
    backoff = BackoffRetryIntervalCalculator(backoff_factor=0.5)
    return KeepAliveWebClient(
        token=token,
        base_url=base_url,
        timeout=timeout,
        retry_handlers=[
            _ConnectionErrorRetry(max_retry_count=2, interval_calculator=backoff),
            RetryAfterHandler(max_retry_count=5),
            _TransientServerErrorRetry(max_retry_count=3, interval_calculator=backoff),
        ],
    )


class TokenBucket:
    """A thread-safe token bucket: `burst` calls at once, then `rate_per_second`."""

    def __init__(self, *, rate_per_second: float, burst: float) -> None:
        self.rate = rate_per_second
        self.capacity = max(burst, 1.0)
        self.tokens = self.capacity
        self.updated = clock.monotonic()
        self.lock = threading.Lock()

    def acquire(self) -> float:
        """Take a token, sleeping (bot.clock) until one is there; returns the seconds waited."""
        with self.lock:
            now = clock.monotonic()
            # max(0, …): a simulated clock that ended (tests) must not leave a debt behind.
            self.tokens = min(self.capacity, self.tokens + max(0.0, now - self.updated) * self.rate)
            self.updated = now
            self.tokens -= 1
            wait = -self.tokens / self.rate if self.tokens < 0 else 0.0
        clock.sleep(wait)
        return wait


# Methods that only read: repeating them (bot.retry) changes nothing in Slack.
READ_ONLY_METHODS = frozenset(
    {
        "auth.test",
        "auth.teams.list",
        "users.info",
        "users.list",
        "usergroups.users.list",
        "conversations.history",
    }
)


class SlackGateway:
    """Thin, logged access to the Web API methods infochat uses."""

    def __init__(self, client: WebClient, *, opens_per_minute: float = 50) -> None:
        self.client = client
        self.opens_per_minute = opens_per_minute
        self.open_limiter = TokenBucket(rate_per_second=opens_per_minute / 60, burst=opens_per_minute)
        self._installation: dict[str, Any] | None = None

    def call(self, method: str, **params: Any) -> SlackResponse:
        """Call `method` (e.g. "views.publish") through slack_sdk's typed wrapper,
        which knows whether Slack wants JSON, a form or a query string."""
        if method not in READ_ONLY_METHODS:
            note_side_effect(method)  # a database retry must not repeat what Slack has seen
        try:
            return getattr(self.client, method.replace(".", "_"))(**params)
        except SlackApiError as exc:
            SLACK_API_ERRORS.labels(method, str(exc.response.get("error", "http_error"))).inc()
            log.error(
                "Slack %s failed: %s",
                method,
                exc.response.get("error") if exc.response is not None else exc,
                extra={"slack_method": method, "status": getattr(exc.response, "status_code", None)},
            )
            raise

    def publish_home(self, user_id: str, view: dict[str, Any]) -> SlackResponse:
        return self.call("views.publish", user_id=user_id, view=view)

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> SlackResponse:
        return self.call("views.open", trigger_id=trigger_id, view=view)

    def post_message(
        self,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        *,
        metadata: dict[str, Any] | None = None,
    ) -> SlackResponse:
        params: dict[str, Any] = {"channel": channel, "text": text}
        if blocks is not None:
            params["blocks"] = blocks
        if metadata is not None:
            params["metadata"] = metadata
        return self.call("chat.postMessage", **params)

    def update_message(
        self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> SlackResponse:
        params: dict[str, Any] = {"channel": channel, "ts": ts, "text": text}
        if blocks is not None:
            params["blocks"] = blocks
        return self.call("chat.update", **params)

    def history(self, channel: str, *, oldest: float, limit: int = 200) -> list[dict[str, Any]]:
        """Recent messages of a channel with their metadata (for outbox reconciliation)."""
        response = self.call(
            "conversations.history",
            channel=channel,
            oldest=f"{oldest:.6f}",
            limit=limit,
            include_all_metadata=True,
        )
        return list(response.get("messages") or [])

    def post_ephemeral(
        self, channel: str, user: str, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> SlackResponse:
        params: dict[str, Any] = {"channel": channel, "user": user, "text": text}
        if blocks is not None:
            params["blocks"] = blocks
        return self.call("chat.postEphemeral", **params)

    def open_dm(self, user_ids: list[str]) -> str:
        # conversations.open is Tier 3 (~50 a minute): pace ourselves rather
        # than lean on 429s, so a round of thousands of intros flows steadily.
        self.open_limiter.acquire()
        response = self.call("conversations.open", users=",".join(user_ids))
        return str(response["channel"]["id"])

    # -- directory ------------------------------------------------------------
    def installation(self) -> dict[str, Any]:
        """What the token is (auth.test): `team_id`, `enterprise_id` on Grid, and
        `is_enterprise_install` for an org-wide install, whose token acts in many workspaces.
        Asked once per process: what a token is does not change."""
        if self._installation is None:
            self._installation = dict(self.call("auth.test").data)  # type: ignore[arg-type]
        return dict(self._installation)

    def workspaces(self) -> list[str]:
        """The workspaces an org-wide install was granted (auth.teams.list, every page)."""
        teams: list[str] = []
        cursor = ""
        while True:
            params: dict[str, Any] = {"limit": 100}
            if cursor:
                params["cursor"] = cursor
            response = self.call("auth.teams.list", **params)
            listed = response.get("teams") or []
            teams += [str(t["id"]) for t in listed if isinstance(t, dict) and t.get("id")]
            cursor = str((response.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                return list(dict.fromkeys(teams))

    def users_list_page(
        self, cursor: str, limit: int, team_id: str | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        """One page of users.list: (members, next cursor), the cursor "" after the last page.

        `team_id` names the workspace to list; an org-wide install's token must give it."""
        params: dict[str, Any] = {"limit": limit}
        if team_id:
            params["team_id"] = team_id
        if cursor:
            params["cursor"] = cursor
        response = self.call("users.list", **params)
        members = [m for m in response.get("members") or [] if isinstance(m, dict)]
        metadata = response.get("response_metadata") or {}
        return members, str(metadata.get("next_cursor") or "")

    def user_info(self, user_id: str) -> dict[str, Any] | None:
        """The user object for `user_id`, or None when Slack says user_not_found."""
        try:
            # Called directly rather than through `call` so that an unknown user,
            # an expected answer, is not logged as a failure.
            response = self.client.users_info(user=user_id)
        except SlackApiError as exc:
            if exc.response is not None and exc.response.get("error") == "user_not_found":
                return None
            log.error(
                "Slack users.info failed: %s",
                exc.response.get("error") if exc.response is not None else exc,
                extra={"slack_method": "users.info", "status": getattr(exc.response, "status_code", None)},
            )
            raise
        user = response.get("user")
        return dict(user) if isinstance(user, dict) else None

    # -- user groups and files (reports) -------------------------------------------
    def usergroup_members(self, usergroup_id: str) -> list[str]:
        """User ids in a user group (usergroups.users.list; needs usergroups:read).

        An org-wide install's token must name the group's workspace (`team_id`), which the
        settings do not say: each granted workspace is asked until one knows the group."""
        if not self.installation().get("is_enterprise_install"):
            response = self.call("usergroups.users.list", usergroup=usergroup_id)
            return [str(user) for user in response.get("users") or []]
        for team in self.workspaces():
            try:
                # Called directly: "not in this workspace" is an expected answer, not a failure.
                response = self.client.usergroups_users_list(usergroup=usergroup_id, team_id=team)
            except SlackApiError as exc:
                if exc.response is not None and exc.response.get("error") == "no_such_subteam":
                    continue
                raise
            return [str(user) for user in response.get("users") or []]
        log.error("user group %s is in no workspace of the organisation", usergroup_id)
        return []

    def upload_files(
        self,
        channel_id: str,
        files: Sequence[tuple[str, bytes, str]],
        *,
        initial_comment: str | None = None,
        timeout: float = 30.0,
    ) -> list[str]:
        """Share (filename, bytes, title) files in one message; returns the file ids.

        Slack retired files.upload: each file gets an upload URL
        (files.getUploadURLExternal), its bytes are POSTed there, and one
        files.completeUploadExternal shares them all in `channel_id`.
        """
        uploaded: list[dict[str, str]] = []
        for filename, data, title in files:
            response = self.call("files.getUploadURLExternal", filename=filename, length=len(data))
            self._post_upload(str(response["upload_url"]), data, filename, timeout)
            uploaded.append({"id": str(response["file_id"]), "title": title})
        if uploaded:
            self.call(
                "files.completeUploadExternal",
                files=uploaded,
                channel_id=channel_id,
                initial_comment=initial_comment or None,
            )
        return [item["id"] for item in uploaded]

    def _post_upload(self, url: str, data: bytes, filename: str, timeout: float, attempts: int = 3) -> None:
        # The upload URL is not a Web API method, so the client's retry handlers do not
        # cover it: retry connection errors and 5xx here, with the same kind of backoff.
        for attempt in range(1, attempts + 1):
            request = urllib.request.Request(
                url, data=data, method="POST", headers={"Content-Type": "application/octet-stream"}
            )
            try:
                with urllib.request.urlopen(request, timeout=timeout, context=self.client.ssl) as response:
                    if 200 <= response.status < 300:
                        return
                    status: int | None = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
                if status not in TRANSIENT_STATUSES:
                    log.error("file upload failed", extra={"filename": filename, "status": status})
                    raise
            except (urllib.error.URLError, TimeoutError) as exc:
                status = None
                if attempt == attempts:
                    log.error("file upload failed: %s", exc, extra={"filename": filename})
                    raise
            if attempt == attempts:
                log.error("file upload failed", extra={"filename": filename, "status": status})
                raise RuntimeError(f"upload of {filename} failed with status {status}")
            time.sleep(0.5 * 2 ** (attempt - 1))
