"""The partners feature: who receives escalations."""

from .routes import bp

__all__ = ["bp"]
