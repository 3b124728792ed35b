"""nginx for tests and the benchmark: local token values, the proxy_cache variant, nginx run."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from devtools.procs import Proc, http_get, listening, wait_for
from feedsvc import nginxconf
from feedsvc.settings import CONFIG_DIR

# The polling limit off: what the benchmark runs with, so wrk's unconditional fetches from one
# address are all answered (the app likewise gets FEEDSVC_POLL_MIN_INTERVAL=0 there).
POLL_OFF = nginxconf.poll_values(0, 1)


def shipped_poll_values() -> dict[str, str]:
    """The polling-limit tokens for the shipped POLL_MIN_INTERVAL and POLL_BURST defaults."""
    with (CONFIG_DIR / "default.toml").open("rb") as f:
        defaults = tomllib.load(f)
    return nginxconf.poll_values(float(defaults["POLL_MIN_INTERVAL"]), int(defaults["POLL_BURST"]))


# deploy/nginx.conf's optional proxy_cache directives, commented out: `# proxy_…` lines and
# proxy_cache_path's continuation line (`#      inactive=…`). Comment lines between them
# (`# # …`) stay comments.
_CACHE_LINE = re.compile(r"^(\s*)# (proxy_\w+ .*|\s+inactive=.*)$", re.MULTILINE)


def binary() -> str | None:
    """nginx's path: on PATH, or in the sbin folders a non-root PATH leaves out."""
    found = shutil.which("nginx")
    if found:
        return found
    for candidate in ("/usr/sbin/nginx", "/usr/local/sbin/nginx"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def version() -> str:
    found = binary()
    if not found:
        return "missing"
    out = subprocess.run([found, "-v"], capture_output=True, text=True, timeout=10)
    return (out.stderr or out.stdout).strip().removeprefix("nginx version: ")


def local_values(base: Path, port: int, **tokens: str) -> dict[str, str]:
    """Token values for an nginx of our own under base, listening on 127.0.0.1:port.

    tokens: the others, by token name (__EXPORT_DIR__=…, __UPSTREAM__=…); the polling limit
    is the shipped defaults' unless they name its tokens too (**POLL_OFF turns it off).
    """
    for d in ("logs", "temp"):
        (base / d).mkdir(parents=True, exist_ok=True)
    return {
        # Ignored (with a warning) unless nginx runs as root; as root the workers would
        # otherwise run as nobody, who cannot read pytest's 0700 folders or the bench's.
        "__USER__": pwd.getpwuid(os.geteuid()).pw_name,
        "__PID_FILE__": str(base / "nginx.pid"),
        "__LOG_DIR__": str(base / "logs"),
        "__TEMP_DIR__": str(base / "temp"),
        "__LISTEN__": f"127.0.0.1:{port}",
        **shipped_poll_values(),
        **tokens,
    }


def with_proxy_cache(text: str) -> str:
    """deploy/nginx.conf's text with its commented proxy_cache variant turned on."""
    text = _CACHE_LINE.sub(r"\1\2", text)
    if not re.search(r"^\s*proxy_cache feeds;", text, re.MULTILINE):
        raise ValueError("could not turn on deploy/nginx.conf's proxy_cache variant")
    return text


def render(values: Mapping[str, str], *, proxy_cache: bool = False) -> str:
    """deploy/nginx.conf rendered as `flask --app feedsvc render-nginx-conf` renders it."""
    text = nginxconf.TEMPLATE.read_text()
    return nginxconf.render(values, with_proxy_cache(text) if proxy_cache else text)


def _args(found: str, conf: Path) -> list[str]:
    base = conf.parent
    (base / "logs").mkdir(parents=True, exist_ok=True)
    return [found, "-p", str(base), "-c", str(conf), "-e", str(base / "logs/error.log")]


def check(conf: Path) -> subprocess.CompletedProcess[str]:
    """`nginx -t` on conf (prefix: its folder): returncode 0 when nginx accepts it."""
    found = binary()
    if found is None:
        raise RuntimeError("nginx is not installed")
    return subprocess.run([*_args(found, conf), "-t"], capture_output=True, text=True, timeout=30)


@contextmanager
def running(
    conf_text: str, base: Path, port: int, *, check_path: str | None = None, timeout: float = 30
) -> Iterator[Proc]:
    """nginx in the foreground (-g 'daemon off;') with conf_text, until the block ends.

    Up once it listens on port (and, with check_path, answers it below 500).
    """
    found = binary()
    if found is None:
        raise RuntimeError("nginx is not installed")
    base.mkdir(parents=True, exist_ok=True)
    conf = base / "nginx.conf"
    conf.write_text(conf_text)
    test = check(conf)
    if test.returncode != 0:
        raise RuntimeError(f"nginx -t failed for {conf}:\n{test.stderr}")
    # SIGQUIT: graceful, requests in flight finish before nginx exits.
    args = [*_args(found, conf), "-g", "daemon off;"]
    with Proc(args, base / "nginx.out", stop_signal=signal.SIGQUIT) as proc:

        def up() -> bool:
            if not proc.alive():
                raise RuntimeError(f"nginx exited:\n{proc.output(4000)}")
            if not listening(port):
                return False
            return check_path is None or http_get(port, check_path)[0] < 500

        wait_for(f"nginx on port {port}", up, timeout=timeout)
        yield proc
