"""The app under test: the settings every test shares, and building it on a given database."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

from flask import Flask

from feedsvc import create_app, users
from feedsvc.storage import migrate
from feedsvc.storage.db import database, transaction
from tests.support.templates import fill_if_fresh

SITE_URL = "http://feeds.example.org"
SECRET_KEY = "a-test-secret-key-of-enough-length"
# The account every `app` has: an admin (named "editor" since before roles existed), so the
# tests of sections, users and tokens pages may use it.
EDITOR = ("editor", "correct horse battery")
# An account with the editor role (articles only), for the tests of what roles may do.
WRITER = ("writer", "a writer's passphrase")


def app_settings(database_url: str, tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """Settings for an in-process app whose instance folder is tmp_path/instance."""
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "SITE_URL": SITE_URL,
        # Tests read what they just published: no per-process document cache.
        "DOCUMENT_CACHE_SECONDS": 0.0,
        # Tests fetch one feed many times from one address: no polling limit, except where
        # a test turns it on (tests/test_polling.py).
        "POLL_MIN_INTERVAL": 0.0,
        **overrides,
    }


def unmigrated_app(database_url: str, tmp_path: Path, **overrides: Any) -> Flask:
    """The app on a database left exactly as it is (possibly empty)."""
    return create_app(app_settings(database_url, tmp_path, **overrides))


def make_app(database_url: str, tmp_path: Path, **overrides: Any) -> Flask:
    """The app on a database brought to the current schema (a fresh one: copied from a
    template migrated once per test process, tests/support/templates.py)."""
    copied = fill_if_fresh(database_url)
    app = unmigrated_app(database_url, tmp_path, **overrides)
    if not copied:
        migrate.upgrade(database(app).engine)
    return app


# The scrypt hash of each fixture password (EDITOR's, WRITER's), made once per test process:
# about 0.1 s of CPU each time otherwise, for accounts that nearly every test creates.
_FIXTURE_HASHES: dict[str, str] = {}
_hash_password = users.hash_password


def _fixture_hash(password: str) -> str:
    if password not in _FIXTURE_HASHES:
        _FIXTURE_HASHES[password] = _hash_password(password)
    return _FIXTURE_HASHES[password]


def add_account(app: Flask, username: str, password: str, role: str) -> None:
    """create_user, as the services run it, for a fixture account (its hash reused)."""
    with mock.patch.object(users, "hash_password", _fixture_hash), transaction(app) as s:
        users.create_user(s, username, password, role=role)
