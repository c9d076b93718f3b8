"""infochat: a Slack app for in-company informational interviews."""

__version__ = "0.1.0"
