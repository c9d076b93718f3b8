"""What the app last published on each person's App Home (bot.services.home keeps it)."""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table

from bot.models_base import Base, UTCDateTime

# One row per person whose Home was published: the fingerprint of that view's inputs
# (NULL: publish again whatever it shows) and a version that every publish increments.
home_views = Table(
    "home_views",
    Base.metadata,
    Column("slack_user_id", String(32), primary_key=True),
    Column("fingerprint", String(64)),
    Column("version", Integer, nullable=False),
    Column("published_at", UTCDateTime(), nullable=False),
)
