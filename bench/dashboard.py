"""The HR dashboard's overview page over real HTTP, for bench/reports.py (`--dashboard-requests`).

The real ASGI app (bot.web, the dashboard mounted under /admin) runs under uvicorn in
a thread of this process against the seeded database; a Slack stand-in plays Slack,
including Sign in with Slack, and an admin signs in through it as a browser would.
Then `GET /admin` (the overview, default period: the last 4 weeks) is requested once
cold — the report is computed — and `requests` times warm, one after another over one
keep-alive connection; each must be a 200 carrying the overview. The target is a
p95 under 300 ms once warm.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from datetime import datetime

import httpx

from bot.clock import travel_to
from bot.db import Database
from bot.devtools.runner import AppServer
from bot.devtools.standin import SlackStandIn
from bot.devtools.standin.oidc import sign_in_without_a_browser
from bot.settings import load_settings

TARGET_P95_MS = 300.0
ADMIN = "UBENCHADMIN"


@dataclass(frozen=True)
class PageTiming:
    cold_ms: float
    warm_ms: list[float]

    @property
    def p50(self) -> float:
        return statistics.median(self.warm_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.warm_ms)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    def line(self, label: str) -> str:
        verdict = "PASS" if self.p95 < TARGET_P95_MS else "MISS"
        return (
            f"{label}: dashboard overview (GET /admin, last 4 weeks): first view {self.cold_ms:.0f} ms "
            f"(computes the report); warm x{len(self.warm_ms)}: p50 {self.p50:.1f} ms, "
            f"p95 {self.p95:.1f} ms, max {max(self.warm_ms):.1f} ms; target p95 < {TARGET_P95_MS:.0f} ms "
            f"{verdict}"
        )


def time_overview(url: str, *, functions: list[str], now: datetime, requests: int) -> PageTiming:
    with SlackStandIn() as standin, travel_to(now):
        standin.add_user(ADMIN, name="hr", real_name="Bench Admin")
        standin.oidc.register("bench-client", "bench-client-secret")
        settings = load_settings(
            slack_bot_token=standin.bot_token,
            slack_signing_secret="bench-signing-secret",
            database_url=url,
            slack_api_url=standin.url,
            auto_migrate=False,
            functions=functions,
            admins=[ADMIN],
            timezone="UTC",
            slack_client_id="bench-client",
            slack_client_secret="bench-client-secret",
            slack_oauth_url=standin.oidc.authorize_url,
        )
        db = Database(url)
        try:
            with (
                AppServer(settings, db=db) as server,
                httpx.Client(base_url=server.root, timeout=60) as client,
            ):
                signed_in = sign_in_without_a_browser(client, standin.oidc, ADMIN)
                if signed_in.status_code != 303:
                    raise RuntimeError(f"the bench admin could not sign in: {signed_in.status_code}")
                cold = _get_overview(client)
                warm = [_get_overview(client) for _ in range(requests)]
        finally:
            db.dispose()
    return PageTiming(cold, warm)


def _get_overview(client: httpx.Client) -> float:
    started = time.perf_counter()
    response = client.get("/admin")
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200 or "<h1>Overview</h1>" not in response.text:
        raise RuntimeError(f"GET /admin answered {response.status_code}")
    return elapsed
