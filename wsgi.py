"""WSGI entry point: `python webserver.py` (granian) or `gunicorn wsgi:app`; refuses an
outdated database schema."""

import os

from feedsvc import create_app, settings
from feedsvc.storage.db import database
from feedsvc.storage.migrate import require_current
from feedsvc.web import requestlog

app = create_app()
require_current(database(app).engine)
requestlog.install(app, os.environ)
settings.forget_environment()  # read: kept out of every request's environ
# The same app without Flask.__call__'s extra call per request: what webserver.py serves.
application = app.wsgi_app
