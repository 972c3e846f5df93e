"""The practice feature: try the bot without storing anything."""

from .routes import bp

__all__ = ["bp"]
