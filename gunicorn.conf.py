"""gunicorn settings for feedsvc (`make run` uses them too); each can be overridden by env."""

import os

# 127.0.0.1 by default: in production nginx sits in front (README, deployment).
bind = os.environ.get("FEEDSVC_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads let a worker keep answering polls while one request waits on the database.
worker_class = "gthread"
threads = int(os.environ.get("FEEDSVC_THREADS", "4"))
timeout = 30
graceful_timeout = 10
keepalive = 5
accesslog = os.environ.get("FEEDSVC_ACCESS_LOG", "-")
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms "%(a)s"'
errorlog = "-"
