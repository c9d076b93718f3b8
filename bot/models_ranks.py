"""The tables of search's precomputed ranking (bot.services.expert_ranks keeps them).

`person_ranks`: one row per listed expert, what `/infochat find` ranks them by,
computed when the person, their topics or their chats last changed, and the
instants between which that holds. `expert_ranks`: the same figures once per
topic they speak about, indexed in ranking order. Derived from people,
person_topics, chats and chat_participants, so they can always be rebuilt.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, SmallInteger, String, Table

from bot.models_base import Base, BigIntId, UTCDateTime

expert_ranks = Table(
    "expert_ranks",
    Base.metadata,
    Column("topic_id", BigIntId, ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True),
    Column("person_id", BigIntId, ForeignKey("people.id", ondelete="CASCADE"), primary_key=True),
    Column("function", String(100)),
    # bot.services.expert_ranks: SHOWN, DEPARTED, PAUSED or AT_CAPACITY (own function is per searcher).
    Column("status", SmallInteger, nullable=False),
    Column("spare", SmallInteger, nullable=False),  # chats left in the month
    Column("recent", Integer, nullable=False),  # chats in the last 90 days, any role
)

person_ranks = Table(
    "person_ranks",
    Base.metadata,
    Column("person_id", BigIntId, ForeignKey("people.id", ondelete="CASCADE"), primary_key=True),
    Column("function", String(100)),
    Column("status", SmallInteger, nullable=False),
    Column("spare", SmallInteger, nullable=False),
    Column("recent", Integer, nullable=False),
    # The row (and the person's expert_ranks rows) holds for searches dated in
    # [valid_from, valid_until); None is unbounded.
    Column("valid_from", UTCDateTime()),
    Column("valid_until", UTCDateTime()),
)
# Rows that no longer hold (or not yet): those people are ranked live, and refreshed hourly.
Index("ix_person_ranks_until", person_ranks.c.valid_until)
Index("ix_person_ranks_from", person_ranks.c.valid_from)

# A topic's shown experts in ranking order (the first 50 are read, nothing more),
# and its rows per status and function (what the hidden counts count).
Index(
    "ix_expert_ranks_order",
    expert_ranks.c.topic_id,
    expert_ranks.c.status,
    expert_ranks.c.spare.desc(),
    expert_ranks.c.recent,
    expert_ranks.c.person_id,
)
Index("ix_expert_ranks_count", expert_ranks.c.topic_id, expert_ranks.c.status, expert_ranks.c.function)
Index("ix_expert_ranks_person", expert_ranks.c.person_id)
