"""What every scenario gets: the options, a work directory, a logger and the shared data."""

from __future__ import annotations

import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from bench.datasets import ServingDB, build_serving_db
from bench.interference import Monitor
from bench.skip import Skip

__all__ = ["Context", "Options", "Skip", "median", "percentile"]

T = TypeVar("T")


@dataclass
class Options:
    smoke: bool = False
    duration: float = 10.0  # seconds per wrk run
    repeats: int = 3  # wrk runs per variant (the median is reported)
    scales: list[int] = field(default_factory=lambda: [10_000, 100_000, 1_000_000])
    only: set[str] | None = None  # scenario or server names; None: everything
    freshness_posts: int = 100
    keep_workdir: bool = False


@dataclass
class Context:
    options: Options
    workdir: Path
    results_dir: Path
    started: float = field(default_factory=time.monotonic)
    monitor: Monitor | None = None
    _serving: ServingDB | None = None

    def log(self, message: str) -> None:
        elapsed = time.monotonic() - self.started
        print(f"[{elapsed:7.1f}s] {message}", file=sys.stderr, flush=True)

    def serving_db(self) -> ServingDB:
        """The serving database, built once per run (a fresh file in the work directory)."""
        if self._serving is None:
            self.log("building the serving database through feedsvc's services…")
            self._serving = build_serving_db(self.workdir / "serving")
        return self._serving

    def wait_quiet(self) -> float | None:
        """Before a measurement: wait a little for other work on the machine to calm down."""
        return self.monitor.wait_quiet() if self.monitor else None

    def measured(self, run: Callable[[], T]) -> tuple[T, float | None, float | None]:
        """run() after waiting for quiet: (its result, others' CPU % before, during)."""
        if self.monitor is None:
            return run(), None, None
        before = self.monitor.wait_quiet()
        mark = self.monitor.mark()
        result = run()
        return result, before, self.monitor.since(mark)

    def wants(self, *names: str) -> bool:
        only = self.options.only
        return only is None or any(name in only for name in names)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]
