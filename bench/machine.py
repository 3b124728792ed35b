"""What machine and software a result was measured on."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

from bench.procs import nginx_version
from bench.wrk import wrk_version


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "missing"


def info() -> dict[str, Any]:
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "kernel": platform.release(),
        "os": platform.platform(terse=True),
        "python": sys.version.split()[0],
        "nginx": nginx_version(),
        "wrk": wrk_version(),
        "packages": {
            name: _package_version(name)
            for name in ("Flask", "Werkzeug", "gunicorn", "SQLAlchemy", "feedgen", "lxml", "Django")
        },
    }


def summary(m: dict[str, Any]) -> str:
    return (
        f"{m['cpu_model']}, {m['cores']} cores, {m['memory_gib']} GiB, Linux {m['kernel']}, "
        f"Python {m['python']}, nginx {m['nginx']}, wrk {m['wrk']}"
    )
