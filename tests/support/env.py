"""Environments for child processes: nothing of the caller's settings, every setting pinned."""

from __future__ import annotations

import os
import tomllib

from feedsvc.settings import CONFIG_DIR
from tests.support.app import SECRET_KEY, SITE_URL

SUBPROCESS_TIMEOUT = 60
PREFIX = "FEEDSVC_"


def _as_variable(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def pinned_settings() -> dict[str, str]:
    """FEEDSVC_<NAME> at its shipped default for every setting.

    A child process finds its instance folder in the checkout (feedsvc/__init__.py); the
    variables outrank that folder's config.toml, so a developer's file cannot reach a test.
    """
    with (CONFIG_DIR / "default.toml").open("rb") as f:
        defaults = tomllib.load(f)
    return {PREFIX + name: _as_variable(value) for name, value in defaults.items()}


def child_env(**variables: str) -> dict[str, str]:
    """The caller's environment without its FEEDSVC_* variables, settings pinned, then ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(PREFIX)}
    env.update(pinned_settings())
    env["PYTHONUTF8"] = "1"  # messages use typographic quotes, whatever the machine's locale
    env.update(variables)
    return env


def flask_env(database_url: str, **variables: str) -> dict[str, str]:
    """A child's environment pointed at the test database, with the tests' site and key."""
    return child_env(
        FEEDSVC_DATABASE_URL=database_url,
        FEEDSVC_SECRET_KEY=SECRET_KEY,
        FEEDSVC_SITE_URL=SITE_URL,
        **variables,
    )


def service_env(database_url: str, **variables: str) -> dict[str, str]:
    """A scheduler's or web server's environment: short ticks and leases, so tests are quick."""
    return flask_env(
        database_url,
        **{"FEEDSVC_TICK_SECONDS": "0.3", "FEEDSVC_LEASE_SECONDS": "2", **variables},
    )
