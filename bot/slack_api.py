"""The one place that talks to the Slack Web API.

One configured WebClient per process, pointed at `INFOCHAT_SLACK_API_URL`,
retrying 429 (honouring Retry-After), transient 5xx and connection errors
with backoff. Everything else in infochat calls `SlackGateway`, which logs
failures with context so they are never lost silently.
"""

from __future__ import annotations

import logging
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


def build_web_client(token: str, base_url: str, *, timeout: int = 10) -> WebClient:
    backoff = BackoffRetryIntervalCalculator(backoff_factor=0.5)
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=timeout,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2, interval_calculator=backoff),
            RateLimitErrorRetryHandler(max_retry_count=5),
            TransientServerErrorRetryHandler(max_retry_count=3, interval_calculator=backoff),
        ],
    )


class SlackGateway:
    """Thin, logged access to the Web API methods infochat uses."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def call(self, method: str, **params: Any) -> SlackResponse:
        """Call `method` (e.g. "views.publish") through slack_sdk's typed wrapper,
        which knows whether Slack wants JSON, a form or a query string."""
        try:
            return getattr(self.client, method.replace(".", "_"))(**params)
        except SlackApiError as exc:
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
        self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> SlackResponse:
        params: dict[str, Any] = {"channel": channel, "text": text}
        if blocks is not None:
            params["blocks"] = blocks
        return self.call("chat.postMessage", **params)

    def post_ephemeral(
        self, channel: str, user: str, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> SlackResponse:
        params: dict[str, Any] = {"channel": channel, "user": user, "text": text}
        if blocks is not None:
            params["blocks"] = blocks
        return self.call("chat.postEphemeral", **params)

    def open_dm(self, user_ids: list[str]) -> str:
        response = self.call("conversations.open", users=",".join(user_ids))
        return str(response["channel"]["id"])

    # -- directory ------------------------------------------------------------
    def users_list_page(self, cursor: str, limit: int) -> tuple[list[dict[str, Any]], str]:
        """One page of users.list: (members, next cursor), the cursor "" after the last page."""
        params: dict[str, Any] = {"limit": limit}
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
