"""chat requests, chats, searches and outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("users", sa.String(length=200), nullable=True),
        sa.Column("text", sa.String(length=4000), nullable=False),
        sa.Column("blocks", sa.JSON(), nullable=True),
        sa.Column("not_before", UTCDateTime(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("pending", "sent", "failed", name="outboxstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.Column("sent_channel", sa.String(length=32), nullable=True),
        sa.Column("sent_ts", sa.String(length=32), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_dedupe_key")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_status_due", ["status", "not_before"], unique=False)

    op.create_table(
        "chat_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("learner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("expert_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("topic_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("topic_text", sa.String(length=100), nullable=False),
        sa.Column("intro", sa.String(length=1000), nullable=False),
        sa.Column("goal", sa.String(length=1000), nullable=False),
        sa.Column("questions", sa.String(length=3000), nullable=False),
        sa.Column("preferred_format", sa.String(length=16), nullable=False),
        sa.Column("duration_minutes", sa.SmallInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "accepted",
                "declined",
                "redirected",
                "expired",
                "closed",
                name="requeststatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("decline_reason", sa.String(length=500), nullable=False),
        sa.Column("redirect_to_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("responded_at", UTCDateTime(), nullable=True),
        sa.Column("nudged_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["expert_id"], ["people.id"], name=op.f("fk_chat_requests_expert_id_people"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["learner_id"], ["people.id"], name=op.f("fk_chat_requests_learner_id_people"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["redirect_to_id"],
            ["people.id"],
            name=op.f("fk_chat_requests_redirect_to_id_people"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topics.id"], name=op.f("fk_chat_requests_topic_id_topics"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_requests")),
    )
    with op.batch_alter_table("chat_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_requests_expert_id"), ["expert_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_chat_requests_learner_id"), ["learner_id"], unique=False)
        batch_op.create_index("ix_chat_requests_status_created", ["status", "created_at"], unique=False)
        batch_op.create_index(
            "uq_chat_requests_open_pair",
            ["learner_id", "expert_id"],
            unique=True,
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        )

    op.create_table(
        "searches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("query", sa.String(length=100), nullable=False),
        sa.Column("topic_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("results", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_searches_person_id_people"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topics.id"], name=op.f("fk_searches_topic_id_topics"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_searches")),
    )
    with op.batch_alter_table("searches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_searches_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_searches_topic_id"), ["topic_id"], unique=False)

    op.create_table(
        "chats",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("request", "pairing", name="chatkind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("request_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("topic_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["chat_requests.id"],
            name=op.f("fk_chats_request_id_chat_requests"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topics.id"], name=op.f("fk_chats_topic_id_topics"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chats")),
        sa.UniqueConstraint("request_id", name=op.f("uq_chats_request_id")),
    )
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chats_created_at"), ["created_at"], unique=False)

    op.create_table(
        "chat_participants",
        sa.Column("chat_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "role",
            sa.Enum("learner", "expert", "peer", name="chatrole", native_enum=False, length=16),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_chat_participants_chat_id_chats"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_chat_participants_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chat_id", "person_id", name=op.f("pk_chat_participants")),
    )
    with op.batch_alter_table("chat_participants", schema=None) as batch_op:
        batch_op.create_index("ix_chat_participants_person", ["person_id", "chat_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("chat_participants", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_participants_person")

    op.drop_table("chat_participants")
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chats_created_at"))

    op.drop_table("chats")
    with op.batch_alter_table("searches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_searches_topic_id"))
        batch_op.drop_index(batch_op.f("ix_searches_created_at"))

    op.drop_table("searches")
    with op.batch_alter_table("chat_requests", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_chat_requests_open_pair",
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        )
        batch_op.drop_index("ix_chat_requests_status_created")
        batch_op.drop_index(batch_op.f("ix_chat_requests_learner_id"))
        batch_op.drop_index(batch_op.f("ix_chat_requests_expert_id"))

    op.drop_table("chat_requests")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status_due")

    op.drop_table("outbox")
