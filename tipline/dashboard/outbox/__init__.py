"""The outbox feature: what is queued, sent, failed or dead."""

from .routes import bp

__all__ = ["bp"]
