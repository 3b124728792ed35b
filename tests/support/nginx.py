"""Tests that need a real nginx: found, or skipped on a laptop and failed (never skipped) in CI."""

from __future__ import annotations

import os

import pytest

from devtools import nginx as nginx_tools


def require_nginx() -> str:
    """The nginx binary; without one, skip here and fail under CI (CI=true, as .ci/run sets)."""
    found = nginx_tools.binary()
    if found:
        return found
    reason = "nginx is not installed (apt-get install nginx); deploy/nginx.conf is untested"
    if os.environ.get("CI", "").lower() not in {"", "0", "false"}:
        pytest.fail(f"{reason}, and CI must never skip it", pytrace=False)
    pytest.skip(reason)
