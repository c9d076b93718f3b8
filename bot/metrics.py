"""Prometheus metrics, served on GET /metrics.

With `--workers N` each worker process keeps its own counters; set
PROMETHEUS_MULTIPROC_DIR (prometheus-client's multiprocess mode) to add them up.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from bot.clock import utcnow
from bot.db import Database
from bot.models import OutboxMessage, OutboxStatus
from bot.retry import DB_RETRIES

REQUESTS = Counter("infochat_requests", "Slack requests handled", ["kind", "status"])
ACK_SECONDS = Histogram(
    "infochat_ack_seconds",
    "Time from receiving a Slack request to sending the ack",
    ["kind"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0, 5.0),
)
SLACK_API_ERRORS = Counter(
    "infochat_slack_api_errors", "Slack Web API calls that failed", ["method", "error"]
)

SLOW_WORK_PENDING = Gauge(
    "infochat_slow_work_pending",
    "Slow work after acks (lazy listeners) queued or running",
    multiprocess_mode="livesum",
)


class OutboxCollector(Collector):
    """Outbox depth and the age of its oldest due message, read at scrape time."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = utcnow()
        depth = GaugeMetricFamily("infochat_outbox_messages", "Outbox messages by status", labels=["status"])
        age = GaugeMetricFamily("infochat_outbox_oldest_due_seconds", "Age of the oldest due, unsent message")
        try:
            with self.db.session() as session:
                counts = dict(
                    session.execute(
                        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
                    ).all()
                )
                oldest = session.scalar(
                    select(func.min(OutboxMessage.not_before)).where(
                        OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.not_before <= now
                    )
                )
        except Exception:  # the database being down must not break the scrape
            return
        for status in OutboxStatus:
            depth.add_metric([status.value], float(counts.get(status, 0)))
        yield depth
        age.add_metric([], (now - oldest).total_seconds() if oldest is not None else 0.0)
        yield age


def registry_for(db: Database) -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        for metric in (REQUESTS, ACK_SECONDS, SLACK_API_ERRORS, DB_RETRIES, SLOW_WORK_PENDING):
            registry.register(metric)
    registry.register(OutboxCollector(db))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


def request_kind(body: Any) -> str:
    """A coarse label for a Slack payload: command, block_actions, view_submission, event:<type>, …"""
    if not isinstance(body, dict):
        return "unknown"
    if "command" in body:
        return "command"
    kind = str(body.get("type") or "unknown")
    if kind == "event_callback":
        return "event:" + str((body.get("event") or {}).get("type", "unknown"))
    return kind
