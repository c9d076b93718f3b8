"""report roll-ups: who took part per person and year (a bit per day), follow-up answers per day

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04

Every built day is forgotten: the next report (or `infochat report --build-rollups`)
rebuilds the days it reads into the new tables (bot.services.reports.rollups).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MONTHS = tuple(f"m{month}" for month in range(1, 13))
OLD = ("held", "flow", "intros", "people", "requests", "answers", "waits", "notes", "marks", "days")


def upgrade() -> None:
    op.create_table(
        "report_rollup_years",
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("kind", sa.Integer(), nullable=False),
        sa.Column("lf", sa.String(100), nullable=False),
        sa.Column("ef", sa.String(100), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("person_id", BigIntId, nullable=False),
        *(sa.Column(name, sa.Integer(), server_default="0", nullable=False) for name in MONTHS),
        sa.PrimaryKeyConstraint(
            "zone", "kind", "lf", "ef", "year", "person_id", name=op.f("pk_report_rollup_years")
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "report_rollup_outcomes",
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("participants", sa.Integer(), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("zone", "day", "outcome", name=op.f("pk_report_rollup_outcomes")),
    )
    # The per-day people rows now hold experts' chats and late-created chats only, read by kind.
    op.drop_index("ix_report_rollup_people_day", table_name="report_rollup_people")
    op.create_index("ix_report_rollup_people_kind_day", "report_rollup_people", ["zone", "kind", "day"])
    # ... and the hour histogram has a per-day row: rebuild everything (derived data).
    _forget_built_days()


def _forget_built_days() -> None:
    names = [f"report_rollup_{name}" for name in OLD]
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"TRUNCATE {', '.join(names)}")  # millions of per-day people rows
    else:
        for name in names:
            op.execute(f"DELETE FROM {name}")


def downgrade() -> None:
    op.drop_index("ix_report_rollup_people_kind_day", table_name="report_rollup_people")
    op.create_index("ix_report_rollup_people_day", "report_rollup_people", ["zone", "day"])
    op.drop_table("report_rollup_outcomes")
    op.drop_table("report_rollup_years")
    _forget_built_days()
