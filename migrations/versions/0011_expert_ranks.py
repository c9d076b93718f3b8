"""person_ranks, expert_ranks: search's precomputed ranking, per listed expert and per topic they speak about

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

from bot.models import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "person_ranks",
        sa.Column("person_id", BigIntId, nullable=False),
        sa.Column("function", sa.String(100), nullable=True),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("spare", sa.SmallInteger(), nullable=False),
        sa.Column("recent", sa.Integer(), nullable=False),
        sa.Column("valid_from", UTCDateTime(), nullable=True),
        sa.Column("valid_until", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_person_ranks_person_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_person_ranks")),
    )
    op.create_index("ix_person_ranks_until", "person_ranks", ["valid_until"])
    op.create_index("ix_person_ranks_from", "person_ranks", ["valid_from"])
    op.create_table(
        "expert_ranks",
        sa.Column("topic_id", BigIntId, nullable=False),
        sa.Column("person_id", BigIntId, nullable=False),
        sa.Column("function", sa.String(100), nullable=True),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("spare", sa.SmallInteger(), nullable=False),
        sa.Column("recent", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topics.id"], name=op.f("fk_expert_ranks_topic_id_topics"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_expert_ranks_person_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("topic_id", "person_id", name=op.f("pk_expert_ranks")),
    )
    op.create_index(
        "ix_expert_ranks_order",
        "expert_ranks",
        ["topic_id", "status", sa.text("spare DESC"), "recent", "person_id"],
    )
    op.create_index("ix_expert_ranks_count", "expert_ranks", ["topic_id", "status", "function"])
    op.create_index("ix_expert_ranks_person", "expert_ranks", ["person_id"])
    # Backfill from the profiles and chats already there (bot.services.expert_ranks defines the rows).
    from bot.services import expert_ranks

    session = Session(bind=op.get_bind())
    try:
        expert_ranks.rebuild(session)
    finally:
        session.close()


def downgrade() -> None:
    op.drop_table("expert_ranks")
    op.drop_table("person_ranks")
