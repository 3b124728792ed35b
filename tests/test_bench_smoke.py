"""`make bench` keeps working: a smoke run of two cheap scenarios (not a benchmark: 1 s runs).

Starts real processes (gunicorn twice, the scheduler, nginx) on loopback and drives wrk
against them. Runs in CI (CI=true), where a missing wrk or nginx fails it; elsewhere it is
opt-in (FEEDSVC_BENCH_SMOKE=1), since it takes a minute of both cores.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from devtools import nginx
from feedsvc.settings import PROJECT_ROOT
from tests.support.nginx import check_skips_locally_fails_in_ci, in_ci, missing_tool

pytestmark = pytest.mark.slow

# The run stops by itself in about a minute; past this it is interrupted (and its servers
# with it), then killed.
BOUND_SECONDS = 240


# Read at import: the suite's autouse fixture removes every FEEDSVC_* variable before a test runs.
OPTED_IN = os.environ.get("FEEDSVC_BENCH_SMOKE") == "1"


def _wrk() -> str | None:
    return shutil.which("wrk") or ("/usr/bin/wrk" if os.access("/usr/bin/wrk", os.X_OK) else None)


def _require_tools() -> None:
    """Skip where the smoke run is not wanted; in CI, fail (never skip) without wrk or nginx."""
    if not (in_ci() or OPTED_IN or os.environ.get("FEEDSVC_BENCH_SMOKE") == "1"):
        pytest.skip("a minute of both cores: runs in CI, or here with FEEDSVC_BENCH_SMOKE=1")
    missing = [name for name, found in (("wrk", _wrk()), ("nginx", nginx.binary())) if not found]
    if missing:
        reason = f"{' and '.join(missing)} not installed (apt-get install {' '.join(missing)})"
        missing_tool(reason)


@pytest.mark.parametrize("ci", [None, "true"])
def test_missing_wrk_skips_locally_but_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch, ci: str | None
) -> None:
    monkeypatch.setenv("FEEDSVC_BENCH_SMOKE", "1")
    check_skips_locally_fails_in_ci(monkeypatch, ci, _require_tools, "wrk and nginx not installed")


def _run_bounded(args: list[str], log: Path) -> int:
    """Run args in a process group of its own; past BOUND_SECONDS, Ctrl-C the group (the
    bench stops its servers on KeyboardInterrupt), then kill what is left of it."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            return proc.wait(timeout=BOUND_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            pytest.fail(f"the smoke run took over {BOUND_SECONDS} s:\n{log.read_text()[-3000:]}")


# pytest's per-test timeout (120 s) must not cut the run short before its own bound does.
@pytest.mark.timeout(BOUND_SECONDS + 60)
def test_bench_smoke_measures_the_app_path_and_its_reference(tmp_path: Path) -> None:
    _require_tools()
    results = tmp_path / "results"
    log = tmp_path / "bench.log"
    args = [sys.executable, "-m", "bench", "--smoke", "--no-install"]
    args += ["--only", "feedsvc_app,minimal_flask,freshness", "--posts", "3"]
    args += ["--results-dir", str(results)]
    code = _run_bounded(args, log)
    output = log.read_text()
    assert code == 0, output[-5000:]
    out = json.loads((results / "latest.json").read_text())
    assert out["failed"] == {}
    servers = out["scenarios"]["serving"]["servers"]
    assert set(servers) == {"feedsvc_app", "minimal_flask"}
    for entry in servers.values():
        for variant in ("200", "gzip", "304"):
            v = entry["variants"][variant]
            assert v["rps_median"] > 0 and v["errors"] == 0
            assert v["check"]["status"] == (304 if variant == "304" else 200)
    app = servers["feedsvc_app"]["variants"]
    assert app["200"]["ratio"] > 0  # against minimal_flask, measured in the same run
    paths = out["scenarios"]["freshness"]["ticks"]["1"]["paths"]
    # nginx is there: the deploy fronts (static export, proxy_cache) are watched too.
    assert set(paths) == {"app", "deploy_static", "deploy_cache"}, paths
    for path in paths.values():
        assert path["seen"] == 3 and path["missed"] == 0
    targets = {t["id"]: t for t in out["targets"]}
    assert targets["1-app-200"]["pass"] is not None
    assert "req/s" in output and (results / "latest.md").exists()
