"""Run wrk against 127.0.0.1 and parse what it prints: requests/s, p50/p99 latency, errors."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from typing import Any

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def wrk_binary() -> str | None:
    if found := shutil.which("wrk"):
        return found
    return "/usr/bin/wrk" if os.access("/usr/bin/wrk", os.X_OK) else None


def wrk_version() -> str:
    binary = wrk_binary()
    if not binary:
        return "missing"
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10)
    first = (out.stdout or out.stderr).splitlines()
    return first[0].split(" [")[0].removeprefix("wrk ") if first else "unknown"


def _ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value.strip())
    if not m:
        raise ValueError(f"unparsable wrk latency {value!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


@dataclass
class WrkRun:
    requests_per_sec: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # socket errors of every kind
    non_2xx_3xx: int
    transfer_per_sec: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse(output: str) -> WrkRun:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    total = re.search(r"(\d+) requests in", output)
    if not (rps and p50 and p99 and total):
        raise ValueError(f"could not parse wrk output:\n{output}")
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    non = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    transfer = re.search(r"Transfer/sec:\s+(\S+)", output)
    return WrkRun(
        requests_per_sec=float(rps.group(1)),
        p50_ms=_ms(p50.group(1)),
        p99_ms=_ms(p99.group(1)),
        requests=int(total.group(1)),
        errors=sum(int(g) for g in errors.groups()) if errors else 0,
        non_2xx_3xx=int(non.group(1)) if non else 0,
        transfer_per_sec=transfer.group(1) if transfer else "",
    )


def run(
    port: int,
    path: str,
    *,
    seconds: float,
    headers: dict[str, str] | None = None,
    threads: int = 2,
    connections: int = 50,
) -> WrkRun:
    """`wrk -t2 -c50 -dNs --latency` against http://127.0.0.1:PORT/PATH; bounded in time."""
    binary = wrk_binary()
    if binary is None:
        raise RuntimeError("wrk is not installed")
    args = [
        binary,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        # Generous: the slowest peers take far longer than wrk's default 2 s at 50 connections,
        # and a timed-out request would otherwise vanish from the latency figures.
        "--timeout",
        "30s",
    ]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    args.append(f"http://127.0.0.1:{port}{path}")
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr or out.stdout}")
    return parse(out.stdout)
