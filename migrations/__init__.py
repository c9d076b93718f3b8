"""Alembic migration scripts (installed as `bot.migrations`)."""
