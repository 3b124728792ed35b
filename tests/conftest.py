"""Fixtures and hooks: a hermetic environment, the databases under test, the app and its clients.

Every test that touches the database runs on SQLite, and again on PostgreSQL when
FEEDSVC_TEST_DATABASE_URL is set (each test in a fresh schema of its own). Helpers and
factories live in tests/support/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import create_engine, text

from feedsvc import settings
from feedsvc.limits import ROLE_ADMIN, ROLE_EDITOR
from feedsvc.storage.db import database
from tests.support.app import EDITOR, WRITER, add_account, make_app, unmigrated_app
from tests.support.forms import AuthActions
from tests.support.pgschema import fresh_schema

# Read once, as the session starts: the autouse fixture below clears every FEEDSVC_* variable
# before each test, this one included.
PG_URL = os.environ.get("FEEDSVC_TEST_DATABASE_URL", "")
ENGINES = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]
CHECKOUT_INSTANCE = settings.PROJECT_ROOT / "instance"


def pytest_sessionstart(session: pytest.Session) -> None:
    """FEEDSVC_TEST_DATABASE_URL set but the server unreachable: fail the run, never skip."""
    if not PG_URL:
        return
    engine = create_engine(PG_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        pytest.exit(f"FEEDSVC_TEST_DATABASE_URL is set but PostgreSQL is unreachable: {exc}", 3)
    finally:
        engine.dispose()


def pytest_report_header() -> str:
    return f"feedsvc databases under test: {', '.join(ENGINES)}"


@pytest.fixture(autouse=True)
def instance(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Each test's own instance folder; the caller's settings and the checkout's stay out.

    FEEDSVC_* variables (and PORT, which `make` exports) are removed, so a developer's
    FEEDSVC_EXPORT_DIR, say, never reaches a test; loading settings from the checkout's
    instance folder fails the test instead of quietly reading a developer's config.toml.
    Child processes get pinned settings from devtools.procs.child_env.
    """
    for name in list(os.environ):
        if name.startswith("FEEDSVC_") or name == "PORT":
            monkeypatch.delenv(name)
    real_load = settings.load

    def load(instance_path: Path, overrides: Any = None) -> dict[str, Any]:
        assert Path(instance_path).resolve() != CHECKOUT_INSTANCE.resolve(), (
            "a test read the checkout's instance folder; pass INSTANCE_PATH (make_app does)"
        )
        return real_load(instance_path, overrides)

    monkeypatch.setattr(settings, "load", load)
    return tmp_path / "instance"


@pytest.fixture(params=ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL with an empty schema: a SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    with fresh_schema(PG_URL) as url:
        yield url


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The app on a migrated database with one account, EDITOR, an admin."""
    app = make_app(database_url, tmp_path)
    add_account(app, *EDITOR, role=ROLE_ADMIN)
    yield app
    database(app).dispose()


@pytest.fixture
def empty_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The app on a database without any schema yet."""
    app = unmigrated_app(database_url, tmp_path)
    yield app
    database(app).dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def editor(client: FlaskClient, auth: AuthActions) -> FlaskClient:
    """A client logged in through the real login form (as EDITOR, an admin)."""
    response = auth.login()
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def writer(app: Flask) -> FlaskClient:
    """Another client, logged in through the real login form as WRITER (the editor role)."""
    add_account(app, *WRITER, role=ROLE_EDITOR)
    client = app.test_client()
    response = AuthActions(client).login(*WRITER)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


# Hypothesis profiles. "feedsvc" (loaded here) is what `make test` runs: sixty examples a
# test. "fuzz" is `make fuzz`'s (pytest --hypothesis-profile=fuzz). Both: no deadline (a
# database commit on a busy machine is no bug), no example database written into the checkout,
# and function-scoped fixtures (the app, the client) shared by a test's examples on purpose.
_HYPOTHESIS = {
    "deadline": None,
    "database": None,
    "print_blob": True,
    "suppress_health_check": [
        hypothesis.HealthCheck.function_scoped_fixture,
        hypothesis.HealthCheck.too_slow,
        hypothesis.HealthCheck.data_too_large,
    ],
}
hypothesis.settings.register_profile("feedsvc", max_examples=60, **_HYPOTHESIS)
hypothesis.settings.register_profile("fuzz", max_examples=4_000, **_HYPOTHESIS)
hypothesis.settings.load_profile("feedsvc")
