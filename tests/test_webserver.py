"""webserver.py, the web process `make run` starts (granian): its settings, a reload without a
refused request, slow clients, a crashed worker, the access log behind a proxy."""

from __future__ import annotations

import os
import re
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
from flask import Flask

import webserver
from devtools.procs import free_port, http_get, service_env, serving, wait_for, web, workers_of


def test_bind_follows_feedsvc_bind_then_port() -> None:
    assert webserver.bind({"PORT": "9000"}) == {"address": "127.0.0.1", "port": 9000}
    assert webserver.bind({}) == {"address": "127.0.0.1", "port": 8000}
    bound = webserver.bind({"FEEDSVC_BIND": "0.0.0.0:8080", "PORT": "9000"})
    assert bound == {"address": "0.0.0.0", "port": 8080}
    assert webserver.bind({"FEEDSVC_BIND": "[::1]:8081"}) == {"address": "::1", "port": 8081}
    assert webserver.bind({"FEEDSVC_BIND": "unix:/run/feedsvc.sock"}) == {
        "uds": Path("/run/feedsvc.sock")
    }


@pytest.mark.parametrize("value", ["8000", "localhost", "localhost:http", ":8000"])
def test_a_bind_that_is_not_host_and_port_stops_with_a_message(value: str) -> None:
    with pytest.raises(SystemExit, match="FEEDSVC_BIND: expected host:port"):
        webserver.bind({"FEEDSVC_BIND": value})


def test_settings_come_from_the_environment() -> None:
    opts = webserver.options({"WEB_CONCURRENCY": "3", "FEEDSVC_THREADS": "6"})
    assert (opts["workers"], opts["blocking_threads"]) == (3, 6)
    assert opts["target"] == "wsgi:application" and opts["log_access"] is False  # the app logs
    assert webserver.options({})["workers"] == 2
    # Unset, threads follow the database: waits on a network, or only the interpreter's lock.
    assert webserver.options({}, database="sqlite:////tmp/x.sqlite3")["blocking_threads"] == 1
    postgresql = "postgresql+psycopg://feedsvc@db/feedsvc"
    assert webserver.options({}, database=postgresql)["blocking_threads"] == 4
    assert webserver.options({"FEEDSVC_THREADS": "2"}, database=postgresql)["blocking_threads"] == 2
    assert webserver.log_config({}) is None  # text: granian's own lines
    for environ in ({"FEEDSVC_LOG_FORMAT": "json"}, {"FEEDSVC_ENV": "production"}):
        config = webserver.log_config(environ)
        assert config is not None
        assert config["formatters"]["json"]["()"] == "feedsvc.logs.JsonFormatter"
        assert set(config["loggers"]) == {"_granian", "granian.access"}


def _healthz_loop(port: int, stop: threading.Event, answers: list[int | str]) -> None:
    """Fresh connections, back to back: any refused or failed one is recorded."""
    while not stop.is_set():
        try:
            answers.append(http_get(port, "/healthz", timeout=10)[0])
        except OSError as exc:
            answers.append(repr(exc))


@pytest.mark.slow
def test_sighup_replaces_every_worker_without_a_failed_request(app: Flask, tmp_path: Path) -> None:
    """An upgrade's reload: new workers (fresh interpreters) up before the old ones stop."""
    port = free_port()
    env = service_env(app.config["DATABASE_URL"], port=port, WEB_CONCURRENCY="2")
    with serving(web(env, tmp_path / "web.log"), port, "/healthz") as server:
        before = set(workers_of(server.pid))
        stop, answers = threading.Event(), []
        client = threading.Thread(target=_healthz_loop, args=(port, stop, answers))
        client.start()
        try:
            time.sleep(0.5)
            os.kill(server.pid, signal.SIGHUP)
            wait_for(
                "both workers replaced",
                lambda: len(after := set(workers_of(server.pid))) == 2 and not after & before,
                timeout=40,
            )
            count = len(answers)
            wait_for("requests to the new workers", lambda: len(answers) > count + 20)
        finally:
            stop.set()
            client.join(timeout=20)
        log = server.output()
    failed = [a for a in answers if a != 200]
    assert len(answers) > 50 and not failed, (len(answers), failed[:5], log[-2000:])
    assert "Traceback" not in log


@pytest.mark.slow
def test_slow_clients_hold_no_worker_and_are_cut_off(app: Flask, tmp_path: Path) -> None:
    """Slowloris: many connections that never finish their headers, against one worker with
    one thread; other readers are still answered at once, and the server closes the slow
    connections once HEADER_READ_TIMEOUT_MS has passed."""
    port = free_port()
    env = service_env(
        app.config["DATABASE_URL"], port=port, WEB_CONCURRENCY="1", FEEDSVC_THREADS="1"
    )
    with serving(web(env, tmp_path / "web.log"), port, "/healthz"):
        slow = []
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: feeds\r\nX-Slow: ")
            slow.append(s)
        started = time.monotonic()
        for _ in range(5):
            assert http_get(port, "/healthz", timeout=5)[0] == 200
        assert time.monotonic() - started < 5
        for s in slow:
            s.sendall(b"a")  # still trickling, never finishing
        limit = webserver.HEADER_READ_TIMEOUT_MS / 1000
        for s in slow:
            s.settimeout(max(0.1, started + limit + 10 - time.monotonic()))
            try:
                leftover = s.recv(1024)  # b"" (closed) or a 408 before closing
            except ConnectionResetError:
                leftover = b""
            finally:
                s.close()
            assert leftover == b"" or leftover.startswith(b"HTTP/1.1 408"), leftover[:80]
        assert time.monotonic() - started < limit + 10


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_its_live_gauges_dropped(
    app: Flask, tmp_path: Path
) -> None:
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    port = free_port()
    env = service_env(
        app.config["DATABASE_URL"],
        port=port,
        WEB_CONCURRENCY="2",
        PROMETHEUS_MULTIPROC_DIR=str(metrics),
    )
    with serving(web(env, tmp_path / "web.log"), port, "/healthz") as server:
        first = set(workers_of(server.pid))
        victim = min(first)
        gauge = metrics / f"gauge_livesum_{victim}.db"
        wait_for("the worker's live gauge file", gauge.exists)
        os.kill(victim, signal.SIGKILL)
        wait_for(
            "a new worker in its place",
            lambda: len(now := set(workers_of(server.pid))) == 2 and victim not in now,
            timeout=30,
        )
        wait_for("its live gauge dropped", lambda: not gauge.exists(), timeout=20)
        # Every worker's requests, the dead one's included, within a flush (web/metrics.py).
        wait_for(
            "requests counted in /metrics",
            lambda: b"feedsvc_http_requests_total{" in http_get(port, "/metrics")[2],
            timeout=10,
        )
        assert (metrics / f"counter_{victim}.db").exists()  # its requests still count


@pytest.mark.slow
@pytest.mark.parametrize("proxies", ["0", "1"])
def test_the_access_log_names_the_client_nginx_saw(
    app: Flask, tmp_path: Path, proxies: str
) -> None:
    """Behind nginx (TRUSTED_PROXIES=1) the access log's address is X-Forwarded-For's last
    hop; without a trusted proxy the header is the client's own claim and is ignored."""
    port = free_port()
    env = service_env(
        app.config["DATABASE_URL"],
        port=port,
        WEB_CONCURRENCY="1",
        FEEDSVC_TRUSTED_PROXIES=proxies,
        FEEDSVC_ACCESS_LOG="-",
    )
    agent = 'Reader/1.0 "quoted"\\'
    with serving(web(env, tmp_path / "web.log"), port, "/healthz") as server:
        headers = {"X-Forwarded-For": "203.0.113.9", "User-Agent": agent}
        assert http_get(port, "/healthz?probe=1", headers)[0] == 200
        wait_for("the access log line", lambda: "/healthz?probe=1" in server.output())
        line = next(x for x in server.output().splitlines() if "/healthz?probe=1" in x)
    address = "203.0.113.9" if proxies == "1" else "127.0.0.1"
    assert line.startswith(f'{address} "GET /healthz?probe=1 HTTP/1.1" 200 '), line
    assert line.endswith('"Reader/1.0 \\"quoted\\"\\\\"'), line  # one field, escaped


@pytest.mark.slow
def test_the_access_log_is_off_unless_asked_and_can_go_to_a_file(
    app: Flask, tmp_path: Path
) -> None:
    """Off by default; FEEDSVC_ACCESS_LOG=PATH: both workers append whole lines to one file."""
    url = app.config["DATABASE_URL"]
    port = free_port()
    with serving(web(service_env(url, port=port), tmp_path / "off.log"), port, "/healthz") as off:
        assert http_get(port, "/healthz?off=1")[0] == 200
        time.sleep(1)
        assert "/healthz?off=1" not in off.output()
    port = free_port()
    access = tmp_path / "access.log"
    env = service_env(url, port=port, WEB_CONCURRENCY="2", FEEDSVC_ACCESS_LOG=str(access))
    with serving(web(env, tmp_path / "web.log"), port, "/healthz") as server:
        for n in range(200):
            assert http_get(port, f"/healthz?n={n}")[0] == 200
        wait_for("200 lines", lambda: access.read_text().count("/healthz?n=") == 200)
        assert "/healthz?n=" not in server.output()  # in the file only
    lines = [x for x in access.read_text().splitlines() if "/healthz?n=" in x]
    assert len(lines) == 200
    assert all(
        re.fullmatch(r'127\.0\.0\.1 "GET /healthz\?n=\d+ HTTP/1\.1" 200 \S+ .*', x) for x in lines
    )
