"""The HR web dashboard under /admin (Starlette + Jinja2, Sign in with Slack); see app.py."""

from bot.dashboard.app import Dashboard

__all__ = ["Dashboard"]
