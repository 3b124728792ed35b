"""How busy the machine was with other work during the run (it shares our two cores).

A background thread samples, every few seconds, the CPU time (/proc/PID/stat) of every
process that is not this benchmark or one of its descendants, nor a kernel thread (those
carry our own loopback traffic). Processes that start and end between two samples are
missed, so this is a lower bound; a run where others used much CPU deserves a rerun.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from devtools.procs import all_pids, stat_fields

_TICKS = os.sysconf("SC_CLK_TCK")


def _snapshot() -> dict[int, tuple[int, float]]:
    """pid → (parent pid, CPU seconds used so far)."""
    out = {}
    for pid in all_pids():
        f = stat_fields(pid)
        if f is not None:
            # After the name: state(0) ppid(1) … utime(11) stime(12), in clock ticks.
            out[pid] = (int(f[1]), (int(f[11]) + int(f[12])) / _TICKS)
    return out


def _steal() -> tuple[float, float]:
    """(steal, total) CPU time of the whole machine so far, from /proc/stat's cpu line."""
    with open("/proc/stat") as stat:
        fields = [float(x) for x in stat.readline().split()[1:]]
    return (fields[7] if len(fields) > 7 else 0.0), sum(fields[:8])


class Monitor:
    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        # (monotonic time, other processes' CPU in % of one core over the interval before it)
        self.samples: list[tuple[float, float]] = []
        # Steal time: the hypervisor ran someone else on our virtual CPUs (invisible as a
        # process); % of all CPU time over the run.
        self._steal_start = _steal()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._me = os.getpid()
        self.load_start = os.getloadavg()[0]
        self.wait_budget = 240.0  # seconds of waiting for quiet, in all

    def _others(self, snap: dict[int, tuple[int, float]]) -> set[int]:
        kids: dict[int, list[int]] = {}
        for pid, (ppid, _cpu) in snap.items():
            kids.setdefault(ppid, []).append(pid)
        ours, todo = set(), [self._me]
        while todo:
            pid = todo.pop()
            ours.add(pid)
            todo.extend(kids.get(pid, []))
        return {
            pid for pid, (ppid, _c) in snap.items() if pid not in ours and pid > 2 and ppid != 2
        }

    def _run(self) -> None:
        before, t0 = _snapshot(), time.monotonic()
        while not self._stop.wait(self.every):
            now, t1 = _snapshot(), time.monotonic()
            used = sum(now[pid][1] - before[pid][1] for pid in self._others(now) if pid in before)
            self.samples.append((t1, 100.0 * used / max(t1 - t0, 1e-6)))
            before, t0 = now, t1

    def mark(self) -> tuple[dict[int, tuple[int, float]], float]:
        return _snapshot(), time.monotonic()

    def since(self, mark: tuple[dict[int, tuple[int, float]], float]) -> float:
        """Other processes' CPU since mark(), in % of one core."""
        before, t0 = mark
        now, t1 = _snapshot(), time.monotonic()
        used = sum(now[pid][1] - before[pid][1] for pid in self._others(now) if pid in before)
        return round(100.0 * used / max(t1 - t0, 1e-6), 1)

    def others_now(self, window: float = 0.5) -> float:
        """Other processes' CPU over the next `window` seconds, in % of one core."""
        mark = self.mark()
        time.sleep(window)
        return self.since(mark)

    def wait_quiet(self, limit: float = 25.0, max_wait: float = 15.0) -> float:
        """Wait (at most max_wait s) until others use under `limit` % of a core; return it.

        The whole run waits at most `wait_budget` seconds in all: on a machine that stays
        busy, the benchmark goes on (and the figures say how busy it was).
        """
        started = time.monotonic()
        deadline = started + min(max_wait, max(0.0, self.wait_budget))
        try:
            while True:
                other = self.others_now()
                if other < limit or time.monotonic() > deadline:
                    return round(other, 1)
                time.sleep(1.0)
        finally:
            self.wait_budget -= time.monotonic() - started

    def start(self) -> Monitor:
        self._thread.start()
        return self

    def between(self, start: float, end: float) -> float | None:
        """Mean of the samples taken between two monotonic times (None if none)."""
        s = [v for t, v in self.samples if start <= t <= end]
        return round(sum(s) / len(s), 1) if s else None

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join(timeout=30)
        s = [v for _t, v in self.samples]
        steal, total = _steal()
        dt = total - self._steal_start[1]
        return {
            "steal_pct": round(100 * (steal - self._steal_start[0]) / dt, 2) if dt else None,
            "other_cpu_pct_of_one_core_mean": round(sum(s) / len(s), 1) if s else None,
            "other_cpu_pct_of_one_core_max": round(max(s), 1) if s else None,
            "samples": len(s),
            "every_s": self.every,
            "loadavg_1min_at_start": round(self.load_start, 2),
        }
