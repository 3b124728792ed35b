"""Settings: one SQLite database (feedsvc's), UTC, no admin, no sessions, no templates."""

from __future__ import annotations

import os

SECRET_KEY = "bench-only-not-a-secret-django-key"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "bench.peers.django_syndication.urls"
INSTALLED_APPS = ["bench.peers.django_syndication"]
MIDDLEWARE = [
    "django.middleware.gzip.GZipMiddleware",
    "django.middleware.http.ConditionalGetMiddleware",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("BENCH_DATABASE_PATH", ""),
    }
}
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
