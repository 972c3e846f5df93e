"""The Flask extensions the dashboard uses, created once and bound to each app by init_dashboard."""

from __future__ import annotations

from flask import request, session
from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from werkzeug.routing import IntegerConverter

csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()

LANGUAGES = {"en": "English", "id": "Bahasa Indonesia"}


class DatabaseIdConverter(IntegerConverter):
    """`<int:...>` in the dashboard's URLs: an id no database INTEGER can hold is a 404, not an overflow."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def select_locale() -> str:
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"
