"""Slack's rate limits, per method, for the stand-in: 429 with Retry-After when a call is over.

Off unless a test or bench passes `RateLimits` to `SlackStandIn(rate_limits=…)`; the
suite's other tests never meet a 429 they did not inject.

Slack documents limits per method in tiers (https://api.slack.com/apis/rate-limits):
Tier 1 1+ a minute, Tier 2 20+, Tier 3 50+, Tier 4 100+, each allowing short bursts,
and `chat.postMessage` is special: about one message a second per channel, with
short bursts above that. Each limit here is a token bucket: `burst` calls at once,
refilled at `per_minute`. A call over its limit is answered 429 with
`{"ok": false, "error": "ratelimited"}` and `Retry-After`: the whole seconds until
the bucket holds a token again (so a client that waits that long gets through).

The clock is injectable (`clock=`): bench/round.py passes `bot.clock.monotonic`, so
that with `bot.clock.simulated_time` a delivery of thousands of intros that would
take hours of Slack's time runs in minutes.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Limit:
    per_minute: float
    burst: float

    @property
    def per_second(self) -> float:
        return self.per_minute / 60


TIER_1 = Limit(per_minute=1, burst=1)
TIER_2 = Limit(per_minute=20, burst=20)
TIER_3 = Limit(per_minute=50, burst=50)
TIER_4 = Limit(per_minute=100, burst=100)
# chat.postMessage: ~1 a second in one channel, short bursts allowed.
PER_CHANNEL = Limit(per_minute=60, burst=3)

# The tiers of the methods infochat calls (Slack's method pages).
METHOD_TIERS: dict[str, Limit] = {
    "conversations.open": TIER_3,
    "conversations.history": TIER_3,
    "conversations.members": TIER_4,
    "chat.update": TIER_3,
    "chat.postEphemeral": TIER_4,
    "chat.getPermalink": TIER_4,
    "views.open": TIER_4,
    "views.push": TIER_4,
    "views.update": TIER_4,
    "views.publish": TIER_4,
    "users.info": TIER_4,
    "users.list": TIER_2,
    "usergroups.users.list": TIER_2,
    "files.getUploadURLExternal": TIER_4,
    "files.completeUploadExternal": TIER_4,
}
PER_CHANNEL_METHODS: dict[str, Limit] = {"chat.postMessage": PER_CHANNEL}


@dataclass
class _Bucket:
    limit: Limit
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """Take a token; 0 when there was one, else the seconds until there will be."""
        refill = max(0.0, now - self.updated) * self.limit.per_second
        self.tokens = min(self.limit.burst, self.tokens + refill)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.limit.per_second


@dataclass(frozen=True)
class Decision:
    """One call as the limiter saw it (kept so a bench can check what a client did after a 429)."""

    method: str
    key: str  # the method, or "chat.postMessage C123" for per-channel limits
    at: float
    retry_after: int | None  # seconds, when the call was refused


@dataclass
class RateLimits:
    """Per-method (and, for chat.postMessage, per-channel) limits; `check` each call."""

    methods: Mapping[str, Limit] = field(default_factory=lambda: dict(METHOD_TIERS))
    per_channel: Mapping[str, Limit] = field(default_factory=lambda: dict(PER_CHANNEL_METHODS))
    clock: Callable[[], float] = time.monotonic
    keep_log: bool = True

    def __post_init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()
        self.log: list[Decision] = []

    def check(self, method: str, params: Mapping[str, Any]) -> int | None:
        """None if the call may go on (a token taken), else Retry-After in whole seconds."""
        limit = self.per_channel.get(method)
        if limit is not None:
            key = f"{method} {params.get('channel', '')}"
        else:
            limit, key = self.methods.get(method), method
        if limit is None:
            return None
        with self._lock:
            now = self.clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(limit, limit.burst, now)
            wait = bucket.take(now)
            retry_after = max(1, math.ceil(wait)) if wait > 0 else None
            if self.keep_log:
                self.log.append(Decision(method, key, now, retry_after))
        return retry_after

    def refused(self, method: str | None = None) -> list[Decision]:
        return [d for d in self.log if d.retry_after is not None and method in (None, d.method)]

    def refused_twice_in_a_row(self) -> list[tuple[Decision, Decision]]:
        """Pairs of consecutive calls on one limit that were both refused: a client that
        did not wait out Retry-After (or retried at once)."""
        last: dict[str, Decision] = {}
        pairs = []
        for decision in self.log:
            previous = last.get(decision.key)
            if previous is not None and previous.retry_after is not None and decision.retry_after is not None:
                pairs.append((previous, decision))
            last[decision.key] = decision
        return pairs


def floor_seconds(calls: int, limit: Limit) -> float:
    """The least time `calls` calls on one limit can take: the burst at once, then the rate."""
    return max(0.0, calls - limit.burst) / limit.per_second
