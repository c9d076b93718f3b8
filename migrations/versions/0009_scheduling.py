"""scheduling: availability in profiles, chat schedules, proposed slots, picks, nudges

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.models import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
PERSON_COLUMNS = ("work_days", "work_start", "work_end", "best_time", "chat_minutes")


def upgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("work_days", sa.SmallInteger(), server_default="31", nullable=False))
        batch.add_column(sa.Column("work_start", sa.SmallInteger(), server_default="600", nullable=False))
        batch.add_column(sa.Column("work_end", sa.SmallInteger(), server_default="1020", nullable=False))
        batch.add_column(sa.Column("best_time", sa.String(16), server_default="any", nullable=False))
        batch.add_column(sa.Column("chat_minutes", sa.SmallInteger(), server_default="30", nullable=False))

    op.create_table(
        "chat_schedules",
        sa.Column("chat_id", BigIntId, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("round", sa.SmallInteger(), nullable=False),
        sa.Column("minutes", sa.SmallInteger(), nullable=False),
        sa.Column("overlap", sa.Boolean(), nullable=False),
        sa.Column("start_at", UTCDateTime(), nullable=True),
        sa.Column("end_at", UTCDateTime(), nullable=True),
        sa.Column("sequence", sa.SmallInteger(), nullable=False),
        sa.Column("invite_shared", sa.SmallInteger(), nullable=False),
        sa.Column("invite_claimed_until", UTCDateTime(), nullable=True),
        sa.Column("checkin_after", UTCDateTime(), nullable=True),
        sa.Column("first_confirmed_at", UTCDateTime(), nullable=True),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.Column("reschedules", sa.SmallInteger(), nullable=False),
        sa.Column("cancelled_at", UTCDateTime(), nullable=True),
        sa.Column("cancel_reason", sa.String(500), nullable=False),
        sa.Column("cancelled_by_id", BigIntId, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_chat_schedules_chat_id_chats"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["cancelled_by_id"],
            ["people.id"],
            name=op.f("fk_chat_schedules_cancelled_by_id_people"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("chat_id", name=op.f("pk_chat_schedules")),
    )
    op.create_index("ix_chat_schedules_status_start", "chat_schedules", ["status", "start_at"])
    op.create_index(op.f("ix_chat_schedules_checkin_after"), "chat_schedules", ["checkin_after"])

    op.create_table(
        "chat_nudges",
        sa.Column("chat_id", BigIntId, nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_chat_nudges_chat_id_chats"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("chat_id", name=op.f("pk_chat_nudges")),
    )

    op.create_table(
        "schedule_slots",
        sa.Column("id", BigIntId, autoincrement=True, nullable=False),
        sa.Column("chat_id", BigIntId, nullable=False),
        sa.Column("round", sa.SmallInteger(), nullable=False),
        sa.Column("start_at", UTCDateTime(), nullable=False),
        sa.Column("end_at", UTCDateTime(), nullable=False),
        sa.Column("suggested_by_id", BigIntId, nullable=True),
        sa.Column("early_for", sa.JSON(), nullable=True),
        sa.Column("late_for", sa.JSON(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_schedule_slots_chat_id_chats"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["suggested_by_id"],
            ["people.id"],
            name=op.f("fk_schedule_slots_suggested_by_id_people"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_slots")),
    )
    op.create_index(
        "uq_schedule_slots_chat_round_start", "schedule_slots", ["chat_id", "round", "start_at"], unique=True
    )

    op.create_table(
        "slot_picks",
        sa.Column("slot_id", BigIntId, nullable=False),
        sa.Column("person_id", BigIntId, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["slot_id"],
            ["schedule_slots.id"],
            name=op.f("fk_slot_picks_slot_id_schedule_slots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_slot_picks_person_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("slot_id", "person_id", name=op.f("pk_slot_picks")),
    )


def downgrade() -> None:
    op.drop_table("slot_picks")
    op.drop_index("uq_schedule_slots_chat_round_start", table_name="schedule_slots")
    op.drop_table("schedule_slots")
    op.drop_table("chat_nudges")
    op.drop_index(op.f("ix_chat_schedules_checkin_after"), table_name="chat_schedules")
    op.drop_index("ix_chat_schedules_status_start", table_name="chat_schedules")
    op.drop_table("chat_schedules")
    with op.batch_alter_table("people") as batch:
        for column in reversed(PERSON_COLUMNS):
            batch.drop_column(column)
