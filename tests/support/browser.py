"""Debian's Chromium driven by Playwright: skipped on a laptop without them, failed in CI."""

from __future__ import annotations

import importlib.util
import os
import shutil

from tests.support.nginx import missing_tool

# Debian's package (`apt-get install chromium`); Playwright's own browser downloads are never
# used (no `playwright install`): .ci/run installs the package when it is missing.
CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/lib/chromium/chromium")


def chromium_binary() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return next((p for p in CHROMIUM_PATHS if os.access(p, os.X_OK)), None)


def require_chromium() -> str:
    """The Chromium binary, with Playwright importable; or missing_tool."""
    found = chromium_binary()
    if found is None:
        missing_tool(
            "chromium is not installed (apt-get install chromium); the pages' CSP is untested"
        )
    if importlib.util.find_spec("playwright") is None:
        missing_tool("playwright is not installed (pip install -e '.[dev]'); CSP is untested")
    assert found is not None
    return found
