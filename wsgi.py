"""WSGI entry point for gunicorn: `gunicorn wsgi:app`; refuses an outdated database schema."""

from feedsvc import create_app
from feedsvc.storage.db import database
from feedsvc.storage.migrate import require_current

app = create_app()
require_current(database(app).engine)
