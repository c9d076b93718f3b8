"""indexes for reports over a million chats

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chats_done_at"), ["done_at"], unique=False)

    with op.batch_alter_table("chat_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_requests_created_at"), ["created_at"], unique=False)

    with op.batch_alter_table("chat_participants", schema=None) as batch_op:
        batch_op.create_index(
            "ix_chat_participants_chat_role", ["chat_id", "role", "person_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("chat_participants", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_participants_chat_role")

    with op.batch_alter_table("chat_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_requests_created_at"))

    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chats_done_at"))
