"""profiles, topics and scheduled job runs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("job", "period", name=op.f("pk_job_runs")),
    )
    op.create_table(
        "topics",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topics")),
        sa.UniqueConstraint("key", name=op.f("uq_topics_key")),
    )
    op.create_table(
        "person_topics",
        sa.Column("person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("topic_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "kind", sa.Enum("speak", "learn", name="topickind", native_enum=False, length=8), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_person_topics_person_id_people"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topics.id"], name=op.f("fk_person_topics_topic_id_topics"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("person_id", "topic_id", "kind", name=op.f("pk_person_topics")),
    )
    with op.batch_alter_table("person_topics", schema=None) as batch_op:
        batch_op.create_index("ix_person_topics_topic_kind", ["topic_id", "kind"], unique=False)

    op.create_table(
        "topic_aliases",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("topic_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topics.id"], name=op.f("fk_topic_aliases_topic_id_topics"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_topic_aliases")),
    )
    with op.batch_alter_table("topic_aliases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_topic_aliases_topic_id"), ["topic_id"], unique=False)

    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("joined_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("function", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("function_source", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("ask_me_about", sa.String(length=200), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("chats_per_month", sa.SmallInteger(), nullable=False, server_default="2")
        )
        batch_op.add_column(
            sa.Column("preferred_format", sa.String(length=16), nullable=False, server_default="any")
        )
        batch_op.add_column(
            sa.Column("weekly_pairing", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("paused_until", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("left_at", UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f("ix_people_function"), ["function"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_people_function"))
        batch_op.drop_column("left_at")
        batch_op.drop_column("paused_until")
        batch_op.drop_column("weekly_pairing")
        batch_op.drop_column("preferred_format")
        batch_op.drop_column("chats_per_month")
        batch_op.drop_column("ask_me_about")
        batch_op.drop_column("function_source")
        batch_op.drop_column("function")
        batch_op.drop_column("joined_at")

    with op.batch_alter_table("topic_aliases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_topic_aliases_topic_id"))

    op.drop_table("topic_aliases")
    with op.batch_alter_table("person_topics", schema=None) as batch_op:
        batch_op.drop_index("ix_person_topics_topic_kind")

    op.drop_table("person_topics")
    op.drop_table("topics")
    op.drop_table("job_runs")
