"""The Redis the limiter tests count in: FEEDSVC_TEST_REDIS_URL (.ci/run sets it).

Without the variable those tests skip on a laptop and fail under CI; with it set but Redis
unreachable they fail anywhere: a run that asked for Redis must not pass without it. Every
test gets a key prefix of its own (and its keys are deleted after it), so runs side by side
on one Redis never see each other's counts.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import redis

from tests.support.nginx import missing_tool

# Read once, at import: the autouse fixture clears every FEEDSVC_* variable before each test.
TEST_REDIS_URL = os.environ.get("FEEDSVC_TEST_REDIS_URL", "")


@dataclass(frozen=True)
class RedisUnderTest:
    url: str
    prefix: str  # REDIS_KEY_PREFIX for the apps under test
    client: redis.Redis

    def keys(self) -> list[str]:
        """This test's keys (Flask-Limiter's: LIMITS:LIMITER/<prefix>/...)."""
        return sorted(k.decode() for k in self.client.scan_iter(f"*/{self.prefix}/*"))


def require_redis() -> str:
    """FEEDSVC_TEST_REDIS_URL, reachable; or skip here / fail under CI (missing_tool)."""
    if not TEST_REDIS_URL:
        missing_tool("FEEDSVC_TEST_REDIS_URL is not set: the Redis-backed limiter is untested")
    client = redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"FEEDSVC_TEST_REDIS_URL={TEST_REDIS_URL} is set but unreachable: {exc}")
    finally:
        client.close()
    return TEST_REDIS_URL


@contextmanager
def redis_under_test() -> Iterator[RedisUnderTest]:
    """The test Redis with a fresh key prefix; the prefix's keys are deleted afterwards."""
    url = require_redis()
    client = redis.Redis.from_url(url)
    found = RedisUnderTest(url, f"test-{uuid.uuid4().hex[:12]}", client)
    try:
        yield found
    finally:
        for key in client.scan_iter(f"*/{found.prefix}/*"):
            client.delete(key)
        client.close()
