"""person_usage: each person's chat counts for search ranking

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

from bot.models import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_usage",
        sa.Column("person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("month", UTCDateTime(), nullable=True),
        sa.Column("month_chats", sa.Integer(), nullable=False),
        sa.Column("recent", sa.Integer(), nullable=False),
        sa.Column("recent_oldest", UTCDateTime(), nullable=True),
        sa.Column("recent_before", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_person_usage_person_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_person_usage")),
    )
    # Backfill from the chats already there (bot.services.usage defines the rows).
    from bot.services import usage

    session = Session(bind=op.get_bind())
    try:
        usage.rebuild(session)
    finally:
        session.close()


def downgrade() -> None:
    op.drop_table("person_usage")
