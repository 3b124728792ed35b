"""Structured logs: with LOG_FORMAT=json every line a process writes is one JSON object."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from flask import Flask

from devtools.procs import QUICK, free_port, scheduler, service_env, wait_for, web


def _json_lines(output: str) -> list[dict[str, object]]:
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines, "the process logged nothing"
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON log line: {line!r}") from None
    return parsed


@pytest.mark.slow
def test_web_and_scheduler_log_one_json_object_per_line(app: Flask, tmp_path: Path) -> None:
    url, port = app.config["DATABASE_URL"], free_port()
    json_logs = {**QUICK, "FEEDSVC_LOG_FORMAT": "json"}
    with (
        web(
            service_env(url, port=port, FEEDSVC_ACCESS_LOG="-", **json_logs), tmp_path / "web.log"
        ) as server,
        scheduler(service_env(url, **json_logs), tmp_path / "sched.log") as sched,
    ):
        base = f"http://127.0.0.1:{port}"
        wait_for("the web server", lambda: urllib.request.urlopen(base + "/healthz").status == 200)
        wait_for("a publishing pass", lambda: "leader" in sched.output())
        server.stop()
        sched.stop()
    web_lines = _json_lines(server.output())
    assert any("/healthz" in str(e.get("message")) for e in web_lines)  # the access log
    assert all({"time", "level", "message"} <= set(e) for e in web_lines)
    sched_lines = _json_lines(sched.output())
    assert any("leader" in str(e["message"]) for e in sched_lines)
