"""Every view and export of report data leaves one audit row (HR data access is audited)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.models import AuditEntry

AUDIT_VIEW = "report.view"
AUDIT_EXPORT = "report.export"
AUDIT_HOME = "report.home"


def record_access(session: Session, actor: str, action: str, detail: str) -> None:
    """One audit row per report view or export, written in the transaction that read the data."""
    session.add(AuditEntry(actor=actor[:64], action=action[:64], detail=detail[:500]))
