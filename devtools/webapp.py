"""What test and benchmark web servers serve: feedsvc as wsgi.py builds it, with the instance
folder DEVTOOLS_INSTANCE_PATH names (so no child reads or writes the checkout's instance/)."""

import os

from feedsvc import create_app, settings
from feedsvc.web import requestlog

app = create_app({"INSTANCE_PATH": os.environ["DEVTOOLS_INSTANCE_PATH"]})
requestlog.install(app, os.environ)
settings.forget_environment()
application = app.wsgi_app  # as in wsgi.py
