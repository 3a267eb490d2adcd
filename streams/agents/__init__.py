"""Faust agents of the worker, registered explicitly (no autodiscovery)."""

from streams.agents.feedback import register_feedback_agent

__all__ = ["register_feedback_agent"]
