"""home_views: the fingerprint of what each person's App Home last showed

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04

Empty at first: every Home is published once more on its next open, then only when
what it shows has changed (bot.services.home).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.models import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "home_views",
        sa.Column("slack_user_id", sa.String(32), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("slack_user_id", name=op.f("pk_home_views")),
    )


def downgrade() -> None:
    op.drop_table("home_views")
