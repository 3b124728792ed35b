"""Child processes for the benchmark: gunicorn, nginx, the scheduler; always stopped and reaped.

Every server binds 127.0.0.1 on a free port. Every wait is bounded in time.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.datasets import SECRET_KEY, SITE_URL

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30, every: float = 0.05) -> Any:
    """Poll check() until it returns something truthy; raise after `timeout` seconds."""
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
    """A child process with its output in a file; stop() ends it (and only it) and reaps it."""

    def __init__(
        self,
        args: Sequence[str],
        log: Path,
        env: dict[str, str] | None = None,
        cwd: Path = ROOT,
        stop_signal: int = signal.SIGTERM,
    ) -> None:
        self.args = list(args)
        self.log = log
        self.stop_signal = stop_signal
        log.parent.mkdir(parents=True, exist_ok=True)
        self._out = log.open("wb")
        self.popen = subprocess.Popen(
            self.args, cwd=cwd, env=env, stdout=self._out, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self, tail: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def children(self) -> list[int]:
        return children(self.pid)

    def stop(self, timeout: float = 15) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(self.stop_signal)
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
    port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 30
) -> tuple[int, dict[str, str], bytes]:
    """One GET on a fresh connection: status, headers (lower-case names), body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        body = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        conn.close()


# --- gunicorn -------------------------------------------------------------------------------


def service_env(database_url: str, port: int, **extra: str) -> dict[str, str]:
    """The environment `make run` would give gunicorn, pointed at a bench database and port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env.update(
        FEEDSVC_DATABASE_URL=database_url,
        FEEDSVC_SITE_URL=SITE_URL,
        FEEDSVC_SECRET_KEY=SECRET_KEY,
        FEEDSVC_BIND=f"127.0.0.1:{port}",
        PORT=str(port),
    )
    env.pop("WEB_CONCURRENCY", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(extra)
    return env


@contextmanager
def gunicorn(
    app: str, env: dict[str, str], log: Path, port: int, *, check_path: str = "/"
) -> Iterator[Proc]:
    """`gunicorn -c gunicorn.conf.py APP` (feedsvc's settings file) until the block ends."""
    proc = Proc([PYTHON, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), app], log, env)
    try:

        def up() -> bool:
            if not proc.alive():
                raise RuntimeError(f"gunicorn {app} exited:\n{proc.output()}")
            if not listening(port):
                return False
            # Both workers booted, so the first measured requests do not wait for imports.
            workers = int(env.get("WEB_CONCURRENCY", "2"))
            return len(proc.children()) >= workers and http_get(port, check_path)[0] < 500

        wait_for(f"gunicorn {app} on port {port}", up, timeout=60)
        time.sleep(0.5)
        yield proc
    finally:
        proc.stop()


# --- nginx ----------------------------------------------------------------------------------


def nginx_binary() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    for candidate in ("/usr/sbin/nginx", "/usr/local/sbin/nginx"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def nginx_version() -> str:
    binary = nginx_binary()
    if not binary:
        return "missing"
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10)
    return (out.stderr or out.stdout).strip().removeprefix("nginx version: ")


@dataclass
class NginxDirs:
    base: Path

    def __post_init__(self) -> None:
        for d in ("logs", "temp"):
            (self.base / d).mkdir(parents=True, exist_ok=True)


@contextmanager
def nginx(conf_text: str, base: Path, port: int, *, check_path: str = "/") -> Iterator[Proc]:
    """nginx in the foreground (-g 'daemon off;') with the given configuration."""
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx is not installed")
    NginxDirs(base)
    conf = base / "nginx.conf"
    conf.write_text(conf_text)
    args = [binary, "-p", str(base), "-c", str(conf), "-e", str(base / "logs/error.log")]
    test = subprocess.run([*args, "-t"], capture_output=True, text=True, timeout=30)
    if test.returncode != 0:
        raise RuntimeError(f"nginx -t failed for {conf}:\n{test.stderr}")
    proc = Proc([*args, "-g", "daemon off;"], base / "nginx.out", stop_signal=signal.SIGQUIT)
    try:

        def up() -> bool:
            if not proc.alive():
                raise RuntimeError(f"nginx exited:\n{proc.output()}")
            return listening(port) and http_get(port, check_path)[0] < 500

        wait_for(f"nginx on port {port}", up, timeout=30)
        yield proc
    finally:
        proc.stop()


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
