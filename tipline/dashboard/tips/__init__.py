"""The tips feature: the triage queue, a tip's page, case work, escalation, questions to the reporter, export."""

from .routes import bp

__all__ = ["bp"]
