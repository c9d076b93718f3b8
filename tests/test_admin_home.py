"""Admins see headline figures and report buttons on App Home; nobody else does."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.db import Database
from bot.devtools.slack_client import SlackAppClient
from bot.devtools.standin import SlackStandIn
from bot.models import AuditEntry
from tests.factories import make_person


def test_admin_home_has_programme_reports_and_is_audited(
    slack: SlackAppClient, standin: SlackStandIn, db: Database
) -> None:
    make_person(db, standin, "UADMIN", "Ada Admin", "People")
    make_person(db, standin, "UMEMBER", "Mo Member", "Sales")
    slack.event({"type": "app_home_opened", "user": "UADMIN", "tab": "home"})
    slack.event({"type": "app_home_opened", "user": "UMEMBER", "tab": "home"})
    standin.wait_for(
        lambda: standin.home_view("UADMIN") is not None and standin.home_view("UMEMBER") is not None
    )
    admin_home = str(standin.home_view("UADMIN"))
    member_home = str(standin.home_view("UMEMBER"))
    assert "Programme reports" in admin_home and "Download CSV" in admin_home
    # Headline figures read label first, one figure per field: "*Active learners*: 0 (+0)".
    fields = [f["text"] for b in standin.home_view("UADMIN")["blocks"] for f in b.get("fields", [])]  # type: ignore[index]
    assert "*Active learners*: 0 (+0)" in fields and "*Chats held*: 0 (+0)" in fields
    assert "Programme reports" not in member_home and "Download CSV" not in member_home
    assert len(standin.home_view("UADMIN")["blocks"]) <= 100  # type: ignore[index]
    with db.session() as session:
        views = session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.actor == "UADMIN")
        )
        others = session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.actor == "UMEMBER")
        )
    assert views == 1 and others == 0
