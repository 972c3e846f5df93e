"""The auth feature: login, second factor, password, language."""

from .routes import bp

__all__ = ["bp"]
