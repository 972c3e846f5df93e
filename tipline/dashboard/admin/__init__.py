"""The admin feature: accounts and the audit trail."""

from .routes import bp

__all__ = ["bp"]
