"""report roll-ups: per local day, chats held, function pairs, intros, and who held, learned or was introduced

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04

No backfill here: roll-ups are per time zone, which migrations do not know. The
first report for a period builds the days it needs (bot.services.reports.rollups),
or `infochat report --build-rollups` builds every day of the history ahead of it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.models import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "report_rollup_days",
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("built_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("zone", "day", name=op.f("pk_report_rollup_days")),
    )
    op.create_table(
        "report_rollup_marks",
        sa.Column("id", BigIntId, autoincrement=True, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_rollup_marks")),
    )
    op.create_table(
        "report_rollup_held",
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("cday", sa.Date(), nullable=False),
        sa.Column("chats", sa.Integer(), nullable=False),
        sa.Column("cross_chats", sa.Integer(), nullable=False),
        sa.Column("lside", sa.Integer(), nullable=False),
        sa.Column("eside", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("zone", "day", "cday", name=op.f("pk_report_rollup_held")),
    )
    op.create_table(
        "report_rollup_flow",
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("cday", sa.Date(), nullable=False),
        sa.Column("lf", sa.String(100), nullable=True),
        sa.Column("ef", sa.String(100), nullable=True),
        sa.Column("chats", sa.Integer(), nullable=False),
        sa.Column("learners", sa.Integer(), nullable=False),
        sa.Column("experts", sa.Integer(), nullable=False),
    )
    op.create_index("ix_report_rollup_flow_day", "report_rollup_flow", ["zone", "day"])
    op.create_table(
        "report_rollup_intros",
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("fn", sa.String(100), nullable=False),
        sa.Column("chats", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("zone", "day", "fn", name=op.f("pk_report_rollup_intros")),
    )
    op.create_table(
        "report_rollup_people",
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("person_id", BigIntId, nullable=False),
        sa.Column("kind", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("cday", sa.Date(), nullable=False),
        sa.Column("chats", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "zone", "person_id", "kind", "day", "cday", name=op.f("pk_report_rollup_people")
        ),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_report_rollup_people_day", "report_rollup_people", ["zone", "day"])
    _create_counts()


def _create_counts() -> None:
    op.create_table(
        "report_rollup_requests",
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("learners", sa.Integer(), nullable=False),
        sa.Column("experts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("zone", "day", "outcome", name=op.f("pk_report_rollup_requests")),
    )
    op.create_table(
        "report_rollup_answers",
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("asked", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("answerers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("zone", "day", name=op.f("pk_report_rollup_answers")),
    )
    op.create_table(
        "report_rollup_waits",
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("cday", sa.Date(), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.Column("chats", sa.Integer(), nullable=False),
        sa.Column("learners", sa.Integer(), nullable=False),
        sa.Column("experts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("zone", "day", "cday", "hours", name=op.f("pk_report_rollup_waits")),
    )
    op.create_table(
        "report_rollup_notes",
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("usefulness", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Integer(), nullable=False),
        sa.Column("authors", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("zone", "day", "usefulness", name=op.f("pk_report_rollup_notes")),
    )


def downgrade() -> None:
    for name in ("notes", "waits", "answers", "requests"):
        op.drop_table(f"report_rollup_{name}")
    op.drop_index("ix_report_rollup_people_day", table_name="report_rollup_people")
    op.drop_table("report_rollup_people")
    op.drop_table("report_rollup_intros")
    op.drop_index("ix_report_rollup_flow_day", table_name="report_rollup_flow")
    op.drop_table("report_rollup_flow")
    op.drop_table("report_rollup_held")
    op.drop_table("report_rollup_marks")
    op.drop_table("report_rollup_days")
