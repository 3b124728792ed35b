"""SQLite's synchronous=NORMAL against FULL: what a durable commit costs an API post and a tick.

In WAL mode NORMAL syncs the log only at checkpoints, so a power cut (not a process crash) can
lose the last commits; FULL syncs the log at every commit. Measured in one process on a SQLite
file: POST /api/v1/articles through the app (Flask's test client: the whole request, no socket)
and the one-change publishing pass that follows it (render, store, commit), the two modes
alternating round by round so both see the same disk and neighbours.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event

from devtools.soak import stack
from feedsvc.publishing.passes import run_pass
from feedsvc.storage.db import database

MODES = ("NORMAL", "FULL")


@dataclass
class Timings:
    post: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in MODES})
    tick: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in MODES})


def _set_mode(site: stack.Site, mode: str) -> None:
    """Every new connection of the app's engine runs PRAGMA synchronous=<mode> after
    feedsvc's own set-up (listeners run in the order they were added)."""
    engine = database(site.app).engine

    def pragma(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA synchronous={mode}")
        cur.close()

    for old in getattr(engine, "_soak_sync", []):
        event.remove(engine, "connect", old)
    event.listen(engine, "connect", pragma)
    engine._soak_sync = [pragma]  # type: ignore[attr-defined]
    engine.dispose()


def measure(site: stack.Site, rounds: int, per_round: int) -> Timings:
    """`rounds` × both modes × `per_round` posts, each followed by its publishing pass."""
    client = site.app.test_client()
    headers = {"Authorization": f"Bearer {site.token}"}
    run_pass(site.app)  # the first render of every section, not measured
    out = Timings()
    n = 0
    for _ in range(rounds):
        for mode in MODES:
            _set_mode(site, mode)
            run_pass(site.app)
            for _ in range(per_round):
                n += 1
                section = site.sections[n % len(site.sections)]
                payload = {"title": f"Durability {n}", "section": section.slug, "body": "Text."}
                started = time.perf_counter()
                r = client.post(
                    "/api/v1/articles",
                    data=json.dumps(payload),
                    headers=headers,
                    content_type="application/json",
                )
                posted = time.perf_counter()
                assert r.status_code == 201, r.get_data(as_text=True)
                result = run_pass(site.app)
                ticked = time.perf_counter()
                assert not result.failures, result.failures
                out.post[mode].append(posted - started)
                out.tick[mode].append(ticked - posted)
    return out


def report(t: Timings) -> list[str]:
    lines = []
    for what, values in (("API post", t.post), ("one-change pass", t.tick)):
        med = {m: statistics.median(values[m]) * 1000 for m in MODES}
        p90 = {m: statistics.quantiles(values[m], n=10)[-1] * 1000 for m in MODES}
        lines.append(
            f"  {what}: median NORMAL {med['NORMAL']:.2f} ms, FULL {med['FULL']:.2f} ms "
            f"(+{med['FULL'] - med['NORMAL']:.2f} ms); p90 {p90['NORMAL']:.2f} / "
            f"{p90['FULL']:.2f} ms; {len(values['FULL'])} each"
        )
    return lines


def run(workdir: Path, rounds: int = 6, per_round: int = 25) -> list[str]:
    url = f"sqlite:///{workdir / 'durability.sqlite3'}"
    site = stack.prepare(url, "sqlite", workdir, 4, 20, 50)
    try:
        stack.add_articles(site, 60)
        return report(measure(site, rounds, per_round))
    finally:
        database(site.app).dispose()
