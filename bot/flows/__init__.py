"""Orchestration: what infochat tells whom, for each flow, queued in the outbox."""
