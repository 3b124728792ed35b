"""`make bench` keeps working: a smoke run of two cheap scenarios (not a benchmark: 1 s runs).

Starts real processes (gunicorn twice, the scheduler) on loopback and drives wrk against
them; opt-in (FEEDSVC_BENCH_SMOKE=1), since its timings depend on what else the machine
runs, and skipped, saying why, where wrk is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from feedsvc.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow


def _wrk() -> str | None:
    return shutil.which("wrk") or ("/usr/bin/wrk" if os.access("/usr/bin/wrk", os.X_OK) else None)


@pytest.mark.skipif(
    os.environ.get("FEEDSVC_BENCH_SMOKE") != "1",
    reason="load-sensitive; FEEDSVC_BENCH_SMOKE=1 runs it (make bench runs the real thing)",
)
@pytest.mark.skipif(_wrk() is None, reason="wrk is not installed (apt-get install wrk)")
def test_bench_smoke_measures_the_app_path_and_its_reference(tmp_path: Path) -> None:
    results = tmp_path / "results"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--smoke",
            "--no-install",
            "--only",
            "feedsvc_app,minimal_flask,freshness",
            "--posts",
            "3",
            "--results-dir",
            str(results),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
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
    fresh = out["scenarios"]["freshness"]["ticks"]["1"]["paths"]["app"]
    assert fresh["seen"] == 3 and fresh["missed"] == 0
    targets = {t["id"]: t for t in out["targets"]}
    assert targets["1-app-200"]["pass"] is not None
    assert "req/s" in done.stdout and (results / "latest.md").exists()
