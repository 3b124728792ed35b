"""Tests that need a tool on the machine (nginx, wrk): skipped on a laptop, failed in CI."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from typing import NoReturn

import pytest

from devtools import nginx as nginx_tools


def in_ci() -> bool:
    """Whether this run is CI's (.ci/run exports CI=true), where nothing may be skipped."""
    return os.environ.get("CI", "").lower() not in {"", "0", "false"}


def missing_tool(reason: str) -> NoReturn:
    """Skip the test here, or fail it under CI: a missing tool must never pass CI silently."""
    if in_ci():
        pytest.fail(f"{reason}, and CI must never skip it", pytrace=False)
    pytest.skip(reason)


def require_nginx() -> str:
    """The nginx binary, or missing_tool."""
    found = nginx_tools.binary()
    if not found:
        missing_tool(
            "nginx is not installed (apt-get install nginx); deploy/nginx.conf is untested"
        )
    assert found is not None
    return found


def check_skips_locally_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch, ci: str | None, require: Callable[[], object], match: str
) -> None:
    """With no tool on PATH, require() skips without CI and fails with it."""
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    monkeypatch.setattr(os, "access", lambda _path, _mode: False)
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    expected = pytest.skip.Exception if ci is None else pytest.fail.Exception
    # Both caught, then compared: a skip where a failure belongs must fail this test, not
    # skip it.
    with pytest.raises((pytest.skip.Exception, pytest.fail.Exception), match=match) as got:
        require()
    assert got.type is expected
