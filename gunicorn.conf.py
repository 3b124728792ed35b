"""gunicorn settings for feedsvc, the alternative to webserver.py (granian, what `make run`
starts): `gunicorn -c gunicorn.conf.py wsgi:app`; each can be overridden by env."""

import os
import shutil
import tempfile

# 127.0.0.1 by default: in production nginx sits in front (README, deployment).
bind = os.environ.get("FEEDSVC_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads let a worker keep answering polls while one request waits on the database.
worker_class = "gthread"
threads = int(os.environ.get("FEEDSVC_THREADS", "4"))
timeout = 30
graceful_timeout = 10
keepalive = 5
# No access log of gunicorn's own: wsgi.py's app writes it (FEEDSVC_ACCESS_LOG,
# web/requestlog.py), the same under either server.
accesslog = None
errorlog = "-"
# With FEEDSVC_LOG_FORMAT=json (the production default) gunicorn's own lines, access log
# included, are JSON objects too, one per line, like the application's.
if (
    os.environ.get(
        "FEEDSVC_LOG_FORMAT", "json" if os.environ.get("FEEDSVC_ENV") == "production" else "text"
    )
    == "json"
):
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "feedsvc.logs.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "gunicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "gunicorn.access": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        },
        "root": {"handlers": ["stderr"], "level": "INFO"},
    }

# No control socket: its default path is per user, shared by every instance on the machine.
control_socket_disable = True


# /metrics adds up every worker's counters: prometheus_client keeps them in files here.
# A fresh folder per server start, so a restart never counts a dead server's requests.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="feedsvc-metrics-")
    _OWN_METRICS_DIR = True
else:
    _OWN_METRICS_DIR = False


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):  # type: ignore[no-untyped-def]
    if _OWN_METRICS_DIR:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
