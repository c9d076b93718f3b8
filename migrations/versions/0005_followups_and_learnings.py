"""follow-ups, takeaways, thanks and referrals

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "referrals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chat_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("referred_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["by_id"], ["people.id"], name=op.f("fk_referrals_by_id_people"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_referrals_chat_id_chats"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["referred_id"], ["people.id"], name=op.f("fk_referrals_referred_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
    )
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.create_index("uq_referrals_chat_by_to", ["chat_id", "by_id", "referred_id"], unique=True)

    op.create_table(
        "takeaways",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chat_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("author_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("text", sa.String(length=3000), nullable=False),
        sa.Column("usefulness", sa.SmallInteger(), nullable=True),
        sa.Column("topics", sa.JSON(), nullable=True),
        sa.Column(
            "share",
            sa.Enum("me", "expert", "everyone", name="share", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("show_name", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["people.id"], name=op.f("fk_takeaways_author_id_people"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_takeaways_chat_id_chats"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takeaways")),
    )
    with op.batch_alter_table("takeaways", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_takeaways_author_id"), ["author_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_takeaways_created_at"), ["created_at"], unique=False)
        batch_op.create_index("uq_takeaways_chat_author", ["chat_id", "author_id"], unique=True)

    op.create_table(
        "thanks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chat_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("from_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("to_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("text", sa.String(length=1000), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_thanks_chat_id_chats"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["from_id"], ["people.id"], name=op.f("fk_thanks_from_id_people"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["to_id"], ["people.id"], name=op.f("fk_thanks_to_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_thanks")),
    )
    with op.batch_alter_table("thanks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_thanks_to_id"), ["to_id"], unique=False)
        batch_op.create_index("uq_thanks_chat_from_to", ["chat_id", "from_id", "to_id"], unique=True)

    with op.batch_alter_table("chat_participants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "outcome",
                sa.Enum(
                    "met", "not_yet", "couldnt", "no_answer", name="outcome", native_enum=False, length=16
                ),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("outcome_reason", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("answered_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("checkins_sent", sa.SmallInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("next_checkin_at", UTCDateTime(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_chat_participants_next_checkin_at"), ["next_checkin_at"], unique=False
        )

    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("no_show_streak", sa.SmallInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("no_show_streak")

    with op.batch_alter_table("chat_participants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_participants_next_checkin_at"))
        batch_op.drop_column("next_checkin_at")
        batch_op.drop_column("checkins_sent")
        batch_op.drop_column("answered_at")
        batch_op.drop_column("outcome_reason")
        batch_op.drop_column("outcome")

    with op.batch_alter_table("thanks", schema=None) as batch_op:
        batch_op.drop_index("uq_thanks_chat_from_to")
        batch_op.drop_index(batch_op.f("ix_thanks_to_id"))

    op.drop_table("thanks")
    with op.batch_alter_table("takeaways", schema=None) as batch_op:
        batch_op.drop_index("uq_takeaways_chat_author")
        batch_op.drop_index(batch_op.f("ix_takeaways_created_at"))
        batch_op.drop_index(batch_op.f("ix_takeaways_author_id"))

    op.drop_table("takeaways")
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_index("uq_referrals_chat_by_to")

    op.drop_table("referrals")
