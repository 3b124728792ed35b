"""`python -m devtools.soak`: the crash and load soaks on SQLite and PostgreSQL; the figures."""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from devtools import procs
from devtools.soak import crash, durability, load, stack
from feedsvc.storage.db import database


def _machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=procs.ROOT, capture_output=True, text=True
    ).stdout.strip()
    return (
        f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}, "
        f"Python {platform.python_version()}, feedsvc at {commit or '?'}"
    )


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def print_crash(r: crash.CrashResult) -> None:
    settle = sorted(r.settle_seconds)
    print(f"crash soak, {r.engine}: {r.passes} passes, {r.kills} SIGKILLs, {r.seconds:.0f} s")
    print(f"  acknowledged articles: {r.acknowledged}; failed posts: {len(r.post_failures)}")
    for where, n in sorted(r.where.items()):
        print(f"  kills {where}: {n}")
    if settle:
        print(
            f"  restart to settled (all feeds and files valid and complete): "
            f"p50 {load.percentile(settle, 50):.1f} s, max {settle[-1]:.1f} s"
        )
    print(
        f"  export folder read whole {r.export_scans} times; temp files left by kills: "
        f"{r.temp_files_left}"
    )
    print(f"  problems (lost articles, invalid or partial feeds): {len(r.problems)}")
    for line in [*r.post_failures, *r.problems][:20]:
        print(f"    {line}")


def print_load(r: load.LoadResult) -> None:
    limit = "on (429s counted apart)" if r.poll_limit else "off (POLL_MIN_INTERVAL=0)"
    statuses = ", ".join(f"{s}: {n}" for s, n in sorted(r.statuses.items()))
    fresh = r.freshness
    print(f"load soak, {r.engine}: {r.readers} readers, {r.articles} posts, polling limit {limit}")
    print(
        f"  requests: {r.requests} in {r.seconds:.1f} s = {r.requests / r.seconds:.0f} req/s "
        f"({statuses}); conditional {r.conditional}, gzip {r.gzip}, keep-alive reconnects "
        f"{r.reconnects}"
    )
    print(
        f"  latency p50 {_ms(load.percentile(r.latencies, 50))}, "
        f"p99 {_ms(load.percentile(r.latencies, 99))}, "
        f"max {_ms(max(r.latencies, default=float('nan')))}"
    )
    print(
        f"  freshness (201 → first reader with it): p50 {_ms(load.percentile(fresh, 50))}, "
        f"p99 {_ms(load.percentile(fresh, 99))}, max {_ms(max(fresh, default=float('nan')))}"
    )
    print(
        f"  acknowledged {r.acknowledged}/{r.articles}; never seen by a reader: {len(r.unseen)}; "
        f"distinct bodies fully validated: {r.documents_checked}"
    )
    print(f"  refused by the polling limit (429, by design, not errors): {r.statuses[429]}")
    print(f"  errors: {len(r.errors)}")
    for line in r.errors[:20]:
        print(f"    {line}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m devtools.soak", description=__doc__)
    p.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument(
        "--pg-url",
        default=os.environ.get("FEEDSVC_TEST_DATABASE_URL") or stack.DEFAULT_PG_URL,
        help="PostgreSQL server (a schema of its own is made and dropped)",
    )
    p.add_argument(
        "--only",
        choices=["crash", "load", "durability"],
        help="one soak (default: crash and load); durability: SQLite synchronous=NORMAL vs FULL",
    )
    p.add_argument("--passes", type=int, default=50, help="crash soak: SIGKILLs")
    p.add_argument("--readers", type=int, default=200, help="load soak: concurrent readers")
    p.add_argument("--articles", type=int, default=100, help="load soak: posts through the API")
    p.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="load soak: mean pause between a reader's polls, seconds (0: none)",
    )
    p.add_argument(
        "--poll-limit",
        action="store_true",
        help="load soak: keep the shipped polling limit on (its 429s are counted apart)",
    )
    p.add_argument("--seed", type=int, default=None)
    p.add_argument(
        "--keep",
        action="store_true",
        help="keep every work folder (logs, export); a failed part always keeps its own",
    )
    args = p.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    print(f"soak on {_machine()}; seed {seed}")
    failed = False
    if args.only == "durability":
        workdir = Path(tempfile.mkdtemp(prefix="feedsvc-soak-durability-"))
        try:
            print("SQLite synchronous=NORMAL vs FULL (WAL), alternating rounds:")
            for line in durability.run(workdir):
                print(line)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return 0
    for engine in engines:
        for part in ["crash", "load"] if args.only is None else [args.only]:
            workdir = Path(tempfile.mkdtemp(prefix=f"feedsvc-soak-{engine}-{part}-"))
            try:
                with stack.fresh_database(engine, workdir, args.pg_url) as url:
                    started = time.monotonic()
                    if part == "crash":
                        site = stack.prepare(url, engine, workdir, 3, 10, 30)
                        r = crash.run(site, workdir, passes=args.passes, seed=seed)
                        print_crash(r)
                    else:
                        site = stack.prepare(url, engine, workdir, 4, 20, 50)
                        lr = load.run(
                            site,
                            workdir,
                            readers_count=args.readers,
                            articles=args.articles,
                            seed=seed,
                            think=args.think,
                            poll_limit=args.poll_limit,
                        )
                        print_load(lr)
                    database(site.app).dispose()
                    ok = r.ok if part == "crash" else lr.ok
                    load1, load5, _ = os.getloadavg()
                    print(f"  machine load average {load1:.1f} (1 min), {load5:.1f} (5 min)")
                    kept = f"; logs kept in {workdir}" if args.keep or not ok else ""
                    print(
                        f"  {'ok' if ok else 'FAILED'} ({time.monotonic() - started:.0f} s{kept})",
                        flush=True,
                    )
                    failed |= not ok
                    if ok and not args.keep:
                        shutil.rmtree(workdir, ignore_errors=True)
            except BaseException:
                shutil.rmtree(workdir, ignore_errors=True)
                raise
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
