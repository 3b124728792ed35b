"""How long a test waits for a feedsvc command run in a child process."""

from __future__ import annotations

SUBPROCESS_TIMEOUT = 60
