"""Memory: a web worker's resident set after serving every document of 1,000 sections.

feedsvc's web server as `make run` starts it (webserver.py: granian, 2 workers × 4 threads,
DOCUMENT_CACHE_MB default) on the largest archive, after every section is rendered. Eight
client threads request each stored document, identity and gzip, twice over (new connections
every 50 requests, so both workers take their share); then each worker's RSS and peak RSS
(VmHWM). The scheduler's peak during the full rebuild is measured by `regen` (its child
process).
"""

from __future__ import annotations

import http.client
import sqlite3
import threading
import time
from typing import Any

from bench import serving
from bench.context import Context
from bench.datasets import make_app, scale_db, scale_label
from devtools import procs

LIMIT_MB = 150
CLIENTS = 8


def _paths(db: str) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return ["/" + p for (p,) in conn.execute("SELECT path FROM feed_documents ORDER BY path")]
    finally:
        conn.close()


def _fetch_all(port: int, paths: list[str], errors: list[str]) -> int:
    done = 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for i, path in enumerate(paths):
            if i % 50 == 0:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            for headers in ({}, {"Accept-Encoding": "gzip"}):
                conn.request("GET", path, headers=headers)
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    errors.append(f"{path}: {r.status}")
                done += 1
    finally:
        conn.close()
    return done


def _workers(proc: procs.Proc) -> dict[int, dict[str, int]]:
    out = {}
    for pid in procs.workers_of(proc.pid):
        out[pid] = {"rss_bytes": procs.rss(pid), "peak_rss_bytes": procs.peak_rss(pid)}
    return out


def run(ctx: Context) -> dict[str, Any]:
    n = max(ctx.options.scales)
    path = scale_db(n, log=ctx.log)
    from feedsvc.publishing.passes import run_pass
    from feedsvc.storage.db import database

    app = make_app(f"sqlite:///{path}", ctx.workdir / "instance-memory")
    run_pass(app)  # every section rendered (a no-op when regen has run)
    database(app).dispose()
    paths = _paths(str(path))
    port = procs.free_port()
    env = serving.feedsvc_env(f"sqlite:///{path}", port, FEEDSVC_ACCESS_LOG="")
    base = ctx.workdir / "memory"
    with procs.serving(procs.web(env, base / "web.log"), port, "/healthz") as g:
        before = _workers(g)
        errors: list[str] = []
        counts: list[int] = []
        started = time.monotonic()
        for _round in range(2):
            threads = []
            for k in range(CLIENTS):
                share = paths[k::CLIENTS]
                t = threading.Thread(
                    target=lambda s=share: counts.append(_fetch_all(port, s, errors))
                )
                t.start()
                threads.append(t)
            for t in threads:
                t.join(timeout=600)
        seconds = time.monotonic() - started
        after = _workers(g)
        master_rss = procs.peak_rss(g.pid)
    worst = max((w["peak_rss_bytes"] for w in after.values()), default=0)
    ctx.log(
        f"  {len(paths)} documents × identity+gzip × 2 in {seconds:.0f} s; worker peak RSS "
        + ", ".join(f"{w['peak_rss_bytes'] / 2**20:.0f} MiB" for w in after.values())
    )
    return {
        "archive": scale_label(n),
        "documents": len(paths),
        "requests": sum(counts),
        "errors": errors[:10],
        "seconds": round(seconds, 1),
        "workers_before": before,
        "workers_after": after,
        "master_peak_rss_bytes": master_rss,
        "worker_peak_rss_max_bytes": worst,
        "limit_mb": LIMIT_MB,
        "document_cache_mb": float(app.config["DOCUMENT_CACHE_MB"]),
    }
