"""Real processes for tests and the benchmark: feedsvc, gunicorn, on loopback, always reaped."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from feedsvc.settings import CONFIG_DIR, ENV_PREFIX, PROJECT_ROOT

ROOT = PROJECT_ROOT
PYTHON = sys.executable
SITE_URL = "http://feeds.example.org"
SECRET_KEY = "a-test-secret-key-of-enough-length"
# Short ticks and leases, so tests see a scheduler act (and take over) in about a second.
QUICK = {"FEEDSVC_TICK_SECONDS": "0.3", "FEEDSVC_LEASE_SECONDS": "2"}
# Variables a child must not inherit from whoever runs the tests: they change how gunicorn,
# Flask or the metrics behave (every FEEDSVC_* variable is dropped as well).
_NOT_INHERITED = ("PORT", "WEB_CONCURRENCY", "PROMETHEUS_MULTIPROC_DIR", "FLASK_APP", "FLASK_DEBUG")

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def listening(port: int, host: str = "127.0.0.1") -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


def wait_for(what: str, check: Callable[[], T], timeout: float = 20, every: float = 0.05) -> T:
    """Poll check() until it returns something truthy; raise TimeoutError after `timeout` s.

    An OSError from check() (refused connection, file not there yet) counts as "not yet".
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except OSError:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


class Proc:
    """A child process whose output goes to a file; stop() ends it (and only it) and reaps it."""

    def __init__(
        self,
        args: Sequence[str],
        log: Path,
        env: Mapping[str, str] | None = None,
        *,
        cwd: Path = ROOT,
        stop_signal: int = signal.SIGTERM,
    ) -> None:
        self.args = list(args)
        self.log = log
        self.stop_signal = stop_signal
        self.env = dict(env) if env is not None else dict(os.environ)
        log.parent.mkdir(parents=True, exist_ok=True)
        self._out = log.open("wb")
        self.popen = subprocess.Popen(
            self.args,
            cwd=cwd,
            env=self.env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self, tail: int | None = None) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return text if tail is None else text[-tail:]

    def stop(self, sig: int | None = None, timeout: float = 20) -> int:
        """Send sig (default: the process's stop signal), wait, kill after timeout; the code."""
        if self.popen.poll() is None:
            self.popen.send_signal(self.stop_signal if sig is None else sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=timeout)
        self._out.close()
        return self.popen.returncode

    def __enter__(self) -> Proc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def http_get(
    port: int, path: str, headers: Mapping[str, str] | None = None, timeout: float = 30
) -> tuple[int, dict[str, str], bytes]:
    """One GET on a fresh connection: status, headers (lower-case names), body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=dict(headers or {}))
        r = conn.getresponse()
        body = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        conn.close()


# --- feedsvc in a child process ---------------------------------------------------------------


def pinned_settings() -> dict[str, str]:
    """FEEDSVC_<NAME> at its shipped default for every setting in config/default.toml.

    A child that finds its instance folder in the checkout (`flask --app feedsvc serve`) would
    read a developer's instance/config.toml; variables outrank that file, so it cannot reach
    the child.
    """
    with (CONFIG_DIR / "default.toml").open("rb") as f:
        defaults = tomllib.load(f)
    return {
        ENV_PREFIX + name: str(value).lower() if isinstance(value, bool) else str(value)
        for name, value in defaults.items()
    }


def child_env(**variables: str) -> dict[str, str]:
    """The caller's environment less every FEEDSVC_* (and PORT, WEB_CONCURRENCY…) variable,
    every setting pinned at its default, then `variables`.

    Nothing else reaches the child: a developer's FEEDSVC_EXPORT_DIR or FEEDSVC_ENV in the
    shell that runs the tests must not change what the child does."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(ENV_PREFIX) and k not in _NOT_INHERITED
    }
    env.update(pinned_settings())
    env["PYTHONUTF8"] = "1"  # messages use typographic quotes, whatever the machine's locale
    env.update(variables)
    return env


def service_env(
    database_url: str,
    *,
    port: int | None = None,
    site_url: str | None = SITE_URL,
    secret_key: str = SECRET_KEY,
    **extra: str,
) -> dict[str, str]:
    """child_env plus the database, site, key, the port if given, and `extra` as given."""
    env = child_env(FEEDSVC_DATABASE_URL=database_url, FEEDSVC_SECRET_KEY=secret_key)
    if site_url is not None:  # None: SITE_URL follows PORT, as under `make run`
        env.update(FEEDSVC_SITE_URL=site_url)
    if port is not None:
        env.update(FEEDSVC_BIND=f"127.0.0.1:{port}", PORT=str(port))
    env.update(extra)
    return env


def feedsvc_app(instance: Path) -> str:
    """`--app` / gunicorn target: feedsvc's factory with its own (new, empty) instance folder,
    so no child reads the checkout's instance/config.toml or writes a key or database there."""
    instance.mkdir(parents=True, exist_ok=True)
    return f"feedsvc:create_app({{'INSTANCE_PATH': {str(instance)!r}}})"


def _instance(log: Path) -> Path:
    """A process's instance folder: beside its log, as temporary as the log's folder."""
    return log.with_name(log.name + ".instance")


def scheduler(env: Mapping[str, str], log: Path) -> Proc:
    """`flask run-scheduler`, stopped with Ctrl-C's signal like a terminal would."""
    args = [PYTHON, "-m", "flask", "--app", feedsvc_app(_instance(log)), "run-scheduler"]
    return Proc(args, log, env, stop_signal=signal.SIGINT)


def _served_app(env: Mapping[str, str], log: Path) -> tuple[dict[str, str], str]:
    """feedsvc as wsgi.py serves it, with its own instance folder (devtools/webapp.py)."""
    instance = _instance(log)
    instance.mkdir(parents=True, exist_ok=True)
    return {**env, "DEVTOOLS_INSTANCE_PATH": str(instance)}, "devtools.webapp"


def web(env: Mapping[str, str], log: Path, app: str | None = None) -> Proc:
    """`python webserver.py APP`: granian with feedsvc's settings, what `make run` starts.

    APP: feedsvc (devtools/webapp.py) by default."""
    env, module = (dict(env), None) if app else _served_app(env, log)
    target = app or f"{module}:application"
    return Proc([PYTHON, str(ROOT / "webserver.py"), target], log, env)


def gunicorn(env: Mapping[str, str], log: Path, app: str | None = None) -> Proc:
    """`gunicorn -c gunicorn.conf.py APP`, the documented alternative to webserver.py
    (feedsvc's gunicorn settings; APP: feedsvc, devtools/webapp.py, by default)."""
    env, module = (dict(env), None) if app else _served_app(env, log)
    target = app or f"{module}:app"
    return Proc([PYTHON, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), target], log, env)


@contextmanager
def serving(proc: Proc, port: int, check_path: str = "/", timeout: float = 60) -> Iterator[Proc]:
    """Wait until proc (granian or gunicorn) answers check_path with its workers booted; stop
    it after."""
    with proc:

        def up() -> bool:
            if not proc.alive():
                raise RuntimeError(f"{proc.args} exited:\n{proc.output(4000)}")
            if not listening(port):
                return False
            # Every worker booted, so the first measured requests do not wait for imports.
            workers = int(proc.env.get("WEB_CONCURRENCY") or "2")
            return len(workers_of(proc.pid)) >= workers and http_get(port, check_path)[0] < 500

        wait_for(f"{proc.args[-1]} on port {port}", up, timeout=timeout)
        yield proc


# --- /proc (Linux): no extra package needed ---------------------------------------------------


def stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat's fields after the command name (field 3, state, first); None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def all_pids() -> list[int]:
    return [int(d.name) for d in Path("/proc").iterdir() if d.name.isdigit()]


def children(pid: int) -> list[int]:
    """Direct children of pid."""
    out = []
    for other in all_pids():
        fields = stat_fields(other)
        if fields is not None and int(fields[1]) == pid:
            out.append(other)
    return out


def workers_of(pid: int) -> list[int]:
    """A web server's workers: its children, less multiprocessing's resource tracker (which
    granian's "spawn" workers bring along)."""
    found = []
    for child in children(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" not in cmdline:
            found.append(child)
    return found


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    fields = stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def rss(pid: int) -> int:
    """Resident set size of a live process, in bytes; 0 if unknown."""
    return _status_kib(pid, "VmRSS")


def peak_rss(pid: int) -> int:
    """VmHWM (peak resident set) of a live process, in bytes; 0 if unknown."""
    return _status_kib(pid, "VmHWM")
