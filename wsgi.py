"""WSGI entry point: `gunicorn wsgi:app` (or `tipline serve`)."""

from tipline import create_app

app = create_app()
