"""Scheduled jobs run once per period, however many processes run the scheduler."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import select

from bot.db import Database
from bot.devtools.runner import AppServer
from bot.devtools.standin import SlackStandIn
from bot.models import JobRun, Person
from bot.scheduler import Job, jobs, run_claimed


def test_nightly_directory_sync_runs_once_per_day(
    server: AppServer, standin: SlackStandIn, db: Database
) -> None:
    for i in range(5):
        standin.add_user(f"UNIGHT{i}", name=f"night{i}", real_name=f"Night Owl {i}", title="Analyst")
    ctx = server.app.ctx
    sync = next(job for job in jobs(ctx) if job.name == "directory-sync")
    night = datetime(2026, 11, 23, 3, 17, tzinfo=UTC)
    outcome = run_claimed(ctx, sync, night)
    assert outcome is not None and "added" in outcome
    assert run_claimed(ctx, sync, night) is None  # same night: another replica already ran it
    with db.session() as session:
        names = set(session.scalars(select(Person.real_name).where(Person.slack_user_id.like("UNIGHT%"))))
        assert names == {f"Night Owl {i}" for i in range(5)}
        run = session.get(JobRun, ("directory-sync", "2026-11-23"))
        assert run is not None and run.finished_at is not None
    assert run_claimed(ctx, sync, datetime(2026, 11, 24, 3, 17, tzinfo=UTC)) is not None


def test_concurrent_claims_run_a_job_once(server: AppServer) -> None:
    runs: list[str] = []
    lock = threading.Lock()

    def body(ctx: object) -> str:
        with lock:
            runs.append("ran")
        return "ok"

    job = Job("test-job", jobs(server.app.ctx)[0].trigger, lambda now: "2026-W48", body)
    threads = [threading.Thread(target=run_claimed, args=(server.app.ctx, job)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert runs == ["ran"]
