"""`/infochat report [period]`, the report buttons (App Home "View", "Download CSV").

The ack only decides what can be decided without I/O: INFOCHAT_ADMINS and a
warm user-group cache give admin or not at once; a bad period is answered
at once. When the user-group cache is cold the ack says "One moment…" and the
lazy step asks Slack (usergroups.users.list) before doing anything else.

The lazy step computes the report (SQL aggregates, suppressed), writes one
audit row, posts the summary to the admin's DM and uploads the charts there.
Reports are on-demand answers to one person, not notifications, so they go
straight through the gateway rather than through the exactly-once outbox.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from bot import blocks, charts, retry
from bot.blocks import reports as report_blocks
from bot.clock import utcnow
from bot.context import AppContext
from bot.gateway import admins
from bot.listeners import on_action
from bot.listeners.replies import clicking_user, responder
from bot.listeners.routing import Invocation
from bot.services import reports

log = logging.getLogger(__name__)

Respond = Callable[..., Any]

# What the ack decided, by trigger id, so the lazy step neither repeats a reply
# nor re-decides differently. Lazy listeners run in the process that acked.
_DECISIONS: OrderedDict[str, str] = OrderedDict()
_DECISIONS_LOCK = threading.Lock()
_MAX_DECISIONS = 10_000
REFUSED, BAD_PERIOD, CHECK, GO = "refused", "bad_period", "check", "go"


def _remember(inv: Invocation, decision: str) -> None:
    key = str(inv.payload.get("trigger_id") or "")
    if not key:
        return
    with _DECISIONS_LOCK:
        _DECISIONS[key] = decision
        while len(_DECISIONS) > _MAX_DECISIONS:
            _DECISIONS.popitem(last=False)


def _recall(inv: Invocation) -> str:
    with _DECISIONS_LOCK:
        return _DECISIONS.pop(str(inv.payload.get("trigger_id") or ""), CHECK)


def answer_report(ctx: AppContext, inv: Invocation) -> dict[str, Any] | None:
    """The ack body: the refusal, a period error, "One moment…" or "Preparing…"."""
    admin = admins.cached_admin(ctx.settings, inv.user_id)
    if admin is False:
        log.info("report refused: not an admin", extra={"slack_user": inv.user_id})
        _remember(inv, REFUSED)
        return {"text": report_blocks.REFUSAL}
    if admin is None:
        _remember(inv, CHECK)
        return {"text": report_blocks.CHECKING}
    try:
        period = reports.parse_period(inv.argument, utcnow(), ctx.settings.timezone)
    except reports.PeriodError as exc:
        _remember(inv, BAD_PERIOD)
        return {"text": str(exc)}
    _remember(inv, GO)
    return {"text": report_blocks.preparing_text(period)}


def work_report(ctx: AppContext, inv: Invocation, respond: Respond) -> None:
    """After the ack: check (if the ack could not), compute, audit, DM the report and charts."""
    decision = _recall(inv)
    if decision in (REFUSED, BAD_PERIOD):
        return
    if decision == CHECK and not admins.is_admin(ctx.settings, ctx.slack, inv.user_id):
        log.info("report refused: not an admin", extra={"slack_user": inv.user_id})
        respond(response_type="ephemeral", text=report_blocks.REFUSAL)
        return
    try:
        period = reports.parse_period(inv.argument, utcnow(), ctx.settings.timezone)
    except reports.PeriodError as exc:
        respond(response_type="ephemeral", text=str(exc))
        return
    count = deliver_report(ctx, inv.user_id, period, via="command")
    respond(response_type="ephemeral", text=report_blocks.sent_text(period, count))


def deliver_report(
    ctx: AppContext, user_id: str, period: reports.Period, *, sections: Sequence[str] | None = None, via: str
) -> int:
    """Compute the report, audit the view, post it to `user_id`'s DM with its charts.

    Returns how many charts were uploaded. The caller has checked that
    `user_id` is an admin.
    """
    with ctx.db.session() as session:
        report = reports.report_for(session, period, ctx.settings, utcnow())
        # Recorded with the read, before anything is shown: one row per view.
        reports.record_access(
            session,
            user_id,
            reports.AUDIT_VIEW,
            f"period={period.spec} sections={','.join(sections or ['all'])} via={via}",
        )
    wanted = None
    if sections is not None:
        wanted = [key for s in report_blocks.SECTIONS if s.key in sections for key in s.charts]
    rendered = charts.render(report, wanted)
    # The message names the charts that follow it, so a reader looks for them.
    text, message = report_blocks.report_message(report, sections, [c.title for c in rendered])
    channel = ctx.slack.open_dm([user_id])
    ctx.slack.post_message(channel, text, message)
    if rendered:
        ctx.slack.upload_files(
            channel,
            [(c.filename, c.data, c.title) for c in rendered],
            initial_comment=f"Charts for {period.label}",
        )
    return len(rendered)


def export_csv(ctx: AppContext, user_id: str, period: reports.Period, *, via: str) -> int:
    """Upload one CSV per table to `user_id`'s DM, audited as an export; returns the file count."""
    with ctx.db.session() as session:
        report = reports.report_for(session, period, ctx.settings, utcnow())
        reports.record_access(
            session, user_id, reports.AUDIT_EXPORT, f"format=csv period={period.spec} via={via}"
        )
    files = [
        (reports.export_name(table, period, "csv"), reports.to_csv(table), table.title)
        for table in report.all_tables()
    ]
    channel = ctx.slack.open_dm([user_id])
    ctx.slack.upload_files(
        channel, files, initial_comment=report_blocks.csv_comment(period, report.min_group_size)
    )
    return len(files)


def _tell(ctx: AppContext, body: dict[str, Any], respond: Respond, text: str) -> None:
    """Reply to a click (ephemerally, or by DM from App Home); a failure is logged, not raised."""
    try:
        responder(ctx, body, respond)(response_type="ephemeral", replace_original=False, text=text)
    except Exception:
        log.exception("could not reply to a report click", extra={"slack_user": clicking_user(body)})


def allowed(ctx: AppContext, body: dict[str, Any], respond: Respond) -> bool:
    if admins.is_admin(ctx.settings, ctx.slack, clicking_user(body)):
        return True
    log.info("report refused: not an admin", extra={"slack_user": clicking_user(body)})
    _tell(ctx, body, respond, report_blocks.REFUSAL)
    return False


def period_of(
    ctx: AppContext, value: object, body: dict[str, Any], respond: Respond
) -> reports.Period | None:
    try:
        return reports.parse_period(str(value or ""), utcnow(), ctx.settings.timezone)
    except reports.PeriodError as exc:
        _tell(ctx, body, respond, str(exc))
        return None


def show_section(ctx: AppContext, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
    if not allowed(ctx, body, respond):
        return
    section = report_blocks.section_named(str(action.get("value") or ""))
    period = period_of(ctx, "", body, respond)
    if period is None:
        return
    try:
        retry.retrying(
            lambda: deliver_report(
                ctx, clicking_user(body), period, sections=[section.key] if section else None, via="home"
            ),
            label="report view",
        )
    except Exception:
        log.exception("report view failed", extra={"slack_user": clicking_user(body)})
        _tell(ctx, body, respond, blocks.SOMETHING_WENT_WRONG)


def download_csv(ctx: AppContext, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
    if not allowed(ctx, body, respond):
        return
    period = period_of(ctx, action.get("value"), body, respond)
    if period is None:
        return
    try:
        retry.retrying(
            lambda: export_csv(ctx, clicking_user(body), period, via="button"), label="report export"
        )
    except Exception:
        log.exception("report export failed", extra={"slack_user": clicking_user(body)})
        _tell(ctx, body, respond, blocks.SOMETHING_WENT_WRONG)


LISTENERS = (
    on_action(report_blocks.REPORT_SHOW_ACTION, lazy=[show_section]),
    on_action(report_blocks.REPORT_DOWNLOAD_CSV_ACTION, lazy=[download_csv]),
)
