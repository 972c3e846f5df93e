"""The answers feature: partners acknowledge, report outcomes and ask the team on the web."""

from .routes import bp

__all__ = ["bp"]
