"""How a Web API handler refuses a call: ``{"ok": false, "error": ...}`` with Slack's extras."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """Ends a Web API handler with ``{"ok": false, "error": ...}``; ``extra`` joins the body."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def invalid_args(*messages: str) -> ApiError:
    """Slack's ``invalid_arguments``, with one ``[ERROR]`` line per problem."""
    return ApiError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {m}" for m in messages]})
