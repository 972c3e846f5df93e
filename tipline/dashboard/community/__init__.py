"""The community feature: awareness messages, the lesson of the week, polls, ideas."""

from .routes import bp

__all__ = ["bp"]
