"""Scheduled jobs: APScheduler in every serving process, the database deciding who runs.

APScheduler in several processes runs each job in each of them. A job run is
therefore claimed per period in `job_runs` (a primary key on job + period):
the first replica to insert the row runs the job, the others skip it. A
replica that crashes mid-run leaves the row behind; the next period runs as
usual, and the jobs themselves are idempotent where being skipped would lose
something (see each job).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import IntegrityError

from bot.clock import utcnow
from bot.context import AppContext
from bot.flows import outbox as delivery
from bot.models import JobRun

log = logging.getLogger(__name__)

HOLDER = f"{socket.gethostname()}:{os.getpid()}"


def claim_run(ctx: AppContext, job: str, period: str) -> bool:
    """True for exactly one caller per (job, period), across processes and hosts."""
    try:
        with ctx.db.session() as session:
            session.add(JobRun(job=job, period=period, holder=HOLDER, started_at=utcnow()))
    except IntegrityError:
        return False
    return True


def finish_run(ctx: AppContext, job: str, period: str, outcome: str) -> None:
    with ctx.db.session() as session:
        run = session.get(JobRun, (job, period))
        if run is not None:
            run.finished_at = utcnow()
            run.outcome = outcome[:255]


@dataclass(frozen=True)
class Job:
    name: str
    trigger: BaseTrigger
    # period(now) -> the key a run is claimed under, e.g. the local date; None
    # for jobs that every process may run at once because each step of theirs
    # is claimed row by row (the outbox sender, request reminders).
    period: Callable[[datetime], str] | None
    run: Callable[[AppContext], str]


def run_claimed(ctx: AppContext, job: Job, now: datetime | None = None) -> str | None:
    """Run `job` for the current period unless another process already has; returns its outcome."""
    if job.period is None:
        try:
            return job.run(ctx)
        except Exception:
            log.exception("job %s failed", job.name, extra={"job": job.name})
            return None
    period = job.period(now or utcnow())
    if not claim_run(ctx, job.name, period):
        log.info("job %s for %s already claimed elsewhere", job.name, period)
        return None
    try:
        outcome = job.run(ctx)
    except Exception as exc:
        log.exception("job %s for %s failed", job.name, period, extra={"job": job.name, "period": period})
        finish_run(ctx, job.name, period, f"failed: {exc.__class__.__name__}")
        raise
    finish_run(ctx, job.name, period, outcome)
    log.info("job %s for %s: %s", job.name, period, outcome, extra={"job": job.name, "period": period})
    return outcome


def _sync_directory(ctx: AppContext) -> str:
    from bot.flows.directory import sync_directory

    report = sync_directory(ctx)
    return (
        f"seen {report.seen}, added {report.added}, updated {report.updated}, "
        f"deactivated {report.deactivated}"
    )


def _pairing_round(ctx: AppContext) -> str:
    from bot.flows import pairing as pairing_flow

    report = pairing_flow.run_round(ctx, utcnow())
    return f"{report.week}: {report.pairs} pairs, {report.trios} trios, {len(report.unmatched)} unmatched"


def _followups(ctx: AppContext) -> str:
    from bot.flows.followups import run_followups

    return run_followups(ctx, utcnow())


def _privacy_purge(ctx: AppContext) -> str:
    from bot.services.appstate import forget_old_events
    from bot.services.privacy import nightly_purge

    with ctx.db.session() as session:
        forgotten = forget_old_events(session, utcnow())
    return f"{nightly_purge(ctx.db, ctx.settings.retention_days, utcnow())}; forgot {forgotten} old event ids"


def _chat_usage(ctx: AppContext) -> str:
    from bot.services import expert_ranks, usage

    now = utcnow()
    with ctx.db.session() as session:
        counted = usage.refresh_expired(session, now)
        # Search's ranking rows that ran out (a pause ended, a month began, a chat aged out).
        ranked = expert_ranks.refresh_expired(session, now)
    return f"recounted {counted} people's recent chats; re-ranked {ranked} experts"


def _report_rollups(ctx: AppContext) -> str:
    from bot.services.reports import rollups

    with ctx.db.session() as session:
        built = rollups.keep_current(session, ctx.settings.timezone, utcnow())
    return f"rebuilt {built} days of the report's roll-ups"


def _drain_outbox(ctx: AppContext) -> str:
    return str(delivery.deliver(ctx))


def _request_reminders(ctx: AppContext) -> str:
    from bot.flows.requests import remind_and_expire

    return remind_and_expire(ctx, utcnow())


def _scheduling(ctx: AppContext) -> str:
    from bot.flows.scheduling import run_scheduling

    return run_scheduling(ctx, utcnow())


def jobs(ctx: AppContext) -> list[Job]:
    zone = ctx.settings.zone

    def local_day(now: datetime) -> str:
        return now.astimezone(zone).date().isoformat()

    def hour(now: datetime) -> str:
        return now.astimezone(UTC).strftime("%Y-%m-%dT%H")

    def iso_week(now: datetime) -> str:
        # The round's own key (2026-W53, in the schedule's zone): one claim per round, on any replica.
        from bot.services.pairing import iso_week as round_week

        return round_week(now, zone)

    return [
        Job("directory-sync", CronTrigger(hour=3, minute=17, timezone=zone), local_day, _sync_directory),
        Job(
            "pairing-round",
            CronTrigger.from_crontab(ctx.settings.pairing_schedule, timezone=zone),
            iso_week,
            _pairing_round,
        ),
        Job("privacy-purge", CronTrigger(hour=3, minute=47, timezone=zone), local_day, _privacy_purge),
        Job("outbox", IntervalTrigger(seconds=30), None, _drain_outbox),
        Job("request-reminders", IntervalTrigger(minutes=15), None, _request_reminders),
        Job("followups", IntervalTrigger(minutes=15), None, _followups),
        # "Find a time" nudges and calendar invites not shared yet (each claimed per chat).
        Job("scheduling", IntervalTrigger(minutes=15), None, _scheduling),
        # Search's per-person chat counts whose 90-day window moved on (bot/services/usage.py),
        # and its ranking rows that ran out (bot/services/expert_ranks.py).
        Job("chat-usage", CronTrigger(minute=7, timezone=UTC), hour, _chat_usage),
        # The days of the report's roll-ups that writes marked, rebuilt ahead of the report
        # (bot/services/reports/rollups.py: a rebuilt day costs 1-2 s at 50,000 people).
        Job("report-rollups", CronTrigger(minute=37, timezone=UTC), hour, _report_rollups),
    ]


def start_scheduler(ctx: AppContext) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(
        timezone=ctx.settings.zone, job_defaults={"coalesce": True, "max_instances": 1}
    )
    for job in jobs(ctx):
        scheduler.add_job(
            run_claimed, job.trigger, args=[ctx, job], id=job.name, name=job.name, misfire_grace_time=3600
        )
    scheduler.start()
    for scheduled in scheduler.get_jobs():
        log.info(
            "job %s: %s, next run %s",
            scheduled.name,
            describe_trigger(scheduled.trigger),
            _when(scheduled.next_run_time, ctx.settings.zone),
            extra={"job": scheduled.name},
        )
    return scheduler


def describe_trigger(trigger: BaseTrigger) -> str:
    """`every 30 s`, `every 15 min`, or the cron fields as APScheduler names them."""
    if isinstance(trigger, IntervalTrigger):
        seconds = int(trigger.interval.total_seconds())
        return f"every {seconds // 60} min" if seconds % 60 == 0 else f"every {seconds} s"
    if isinstance(trigger, CronTrigger):
        fields = {f.name: str(f) for f in trigger.fields if str(f) != "*" and not f.is_default}
        return "cron " + " ".join(f"{name}={value}" for name, value in fields.items())
    return str(trigger)


def _when(instant: datetime | None, zone: ZoneInfo) -> str:
    if instant is None:
        return "never (paused)"
    local = instant.astimezone(zone)
    return local.strftime("%a %Y-%m-%d %H:%M ") + (local.tzname() or str(zone))
