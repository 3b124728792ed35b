"""Where login counts live: each process's memory, a shared Redis, or memory while Redis is down.

The Redis tests run when FEEDSVC_TEST_REDIS_URL is set, as .ci/run sets it, and fail under CI
without it (tests/support/redis_server.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from devtools.browser import Browser
from devtools.procs import free_port, service_env, serving, web
from feedsvc.storage.db import database
from tests.support.apiclient import API
from tests.support.app import EDITOR, make_app
from tests.support.logins import OTHER, WRONG, attempt, failures_until_429, with_users
from tests.support.nginx import in_ci
from tests.support.redis_server import RedisUnderTest, redis_under_test, require_redis


def _app(tmp_path: Path, db: str = "db.sqlite3", **settings: Any) -> Flask:
    return make_app(f"sqlite:///{tmp_path / db}", tmp_path, **settings)


def test_in_memory_each_app_counts_alone(tmp_path: Path) -> None:
    """Without REDIS_URL the counts live in the process (per app object, per worker)."""
    first = with_users(_app(tmp_path))
    second = _app(tmp_path)  # same database, its own memory
    a, b = first.test_client(), second.test_client()
    for _ in range(5):
        assert attempt(a, EDITOR[0]).status_code == 200
    assert attempt(a, EDITOR[0]).status_code == 429
    assert attempt(b, EDITOR[0]).status_code == 200


@pytest.fixture
def shared_redis() -> Iterator[RedisUnderTest]:
    with redis_under_test() as found:
        yield found


def test_two_apps_on_one_redis_share_the_count(
    tmp_path: Path, shared_redis: RedisUnderTest
) -> None:
    settings = {"REDIS_URL": shared_redis.url, "REDIS_KEY_PREFIX": shared_redis.prefix}
    first = with_users(_app(tmp_path, **settings))
    second = _app(tmp_path, **settings)
    a, b = first.test_client(), second.test_client()
    results = [attempt(c, EDITOR[0]).status_code for c in (a, b, a, b, a)]
    assert results == [200] * 5
    assert attempt(b, EDITOR[0]).status_code == 429
    assert attempt(a, EDITOR[0]).status_code == 429
    keys = shared_redis.keys()
    assert len(keys) == 2, keys  # one for the address, one for the account
    assert all(shared_redis.prefix in k for k in keys)
    # The account's key is a digest: what was typed is not stored.
    assert not any("editor" in k for k in keys)


def test_another_prefix_on_the_same_redis_counts_apart(
    tmp_path: Path, shared_redis: RedisUnderTest
) -> None:
    first = with_users(
        _app(tmp_path, REDIS_URL=shared_redis.url, REDIS_KEY_PREFIX=shared_redis.prefix)
    )
    other_site = _app(
        tmp_path, REDIS_URL=shared_redis.url, REDIS_KEY_PREFIX=shared_redis.prefix + "-b"
    )
    try:
        assert failures_until_429(first.test_client(), EDITOR[0]) == 5
        assert attempt(other_site.test_client(), EDITOR[0]).status_code == 200
    finally:
        for key in shared_redis.client.scan_iter(f"*/{shared_redis.prefix}-b/*"):
            shared_redis.client.delete(key)


def test_redis_down_counts_in_memory_and_never_fails(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens on this port: every Redis call fails at once.
    app = with_users(_app(tmp_path, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"))
    client = app.test_client()
    assert failures_until_429(client, EDITOR[0]) == 5  # still limited, in this process
    assert "falling back to in-memory storage" in caplog.text
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.3"
    assert attempt(other, OTHER[0], OTHER[1]).status_code == 302
    bad_token = {"Authorization": "Bearer fsv_" + "C" * 43}
    assert app.test_client().get(f"{API}/sections", headers=bad_token).status_code == 401


def test_redis_helper_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.support.redis_server as helper

    monkeypatch.setattr(helper, "TEST_REDIS_URL", "")
    for ci, expected in ((None, pytest.skip.Exception), ("true", pytest.fail.Exception)):
        if ci is None:
            monkeypatch.delenv("CI", raising=False)
        else:
            monkeypatch.setenv("CI", ci)
        with pytest.raises((pytest.skip.Exception, pytest.fail.Exception)) as got:
            helper.require_redis()
        assert got.type is expected
    # Set but unreachable: fails everywhere, CI or not.
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(helper, "TEST_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(pytest.fail.Exception, match="unreachable"):
        helper.require_redis()


def test_ci_runs_the_redis_tests() -> None:
    """.ci/run names the test Redis, so CI never skips the tests above."""
    script = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert "FEEDSVC_TEST_REDIS_URL=" in script
    if in_ci():
        require_redis()


# --- two real gunicorn processes on one Redis ----------------------------------------------


@pytest.mark.slow
def test_two_web_servers_on_one_redis_share_the_count(
    tmp_path: Path, shared_redis: RedisUnderTest
) -> None:
    app = with_users(_app(tmp_path))
    url = app.config["DATABASE_URL"]
    database(app).dispose()
    env = {
        "FEEDSVC_REDIS_URL": shared_redis.url,
        "FEEDSVC_REDIS_KEY_PREFIX": shared_redis.prefix,
        "WEB_CONCURRENCY": "2",
    }
    port_a, port_b = free_port(), free_port()
    web_a = web(service_env(url, port=port_a, **env), tmp_path / "a.log")
    web_b = web(service_env(url, port=port_b, **env), tmp_path / "b.log")
    with serving(web_a, port_a, "/healthz"), serving(web_b, port_b, "/healthz"):
        a, b = Browser(f"http://127.0.0.1:{port_a}"), Browser(f"http://127.0.0.1:{port_b}")
        wrong = {"Username": EDITOR[0], "Password": WRONG}
        statuses = [browser.post("/admin/login", wrong)[0] for browser in (a, b, a, b, a, b)]
        right = {"Username": EDITOR[0], "Password": EDITOR[1]}
        last = a.post("/admin/login", right)[0]
    # Four workers in two processes, one count: the sixth attempt gets 429, wherever it lands.
    assert statuses == [200, 200, 200, 200, 200, 429], statuses
    assert last == 429
