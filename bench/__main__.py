"""`python -m bench` (what `make bench` runs): every comparison in one run, a table, JSON, chart.

    python -m bench                     # the full run (~25-35 min on 2 cores)
    python -m bench --smoke             # 1-second runs, 1 repeat, small data, no 1M archive
    python -m bench --only serving      # scenarios: serving freshness regen memory growth profile
                                        # search
    python -m bench --only feedsvc_app,minimal_flask   # or single servers of `serving`
    python -m bench --scale 10k,100k    # archive sizes for `regen` and `search`

Results: bench/results/latest.json, a dated copy, latest.md (the table for the README),
growth.png and profiles/. Only a complete run writes there: --smoke writes to
bench/.data/smoke-results/, --only to bench/.data/partial-results/, unless --results-dir.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import (
    freshness,
    growth,
    interference,
    machine,
    memory,
    profiling,
    regen,
    report,
    search,
    serving,
    tools,
)
from bench.context import Context, Options, Skip
from bench.datasets import DATA_DIR

SCENARIOS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "serving": serving.run,
    "profile": profiling.run,
    "growth": growth.run,
    "freshness": freshness.run,
    "regen": regen.run,
    "memory": memory.run,
    "search": search.run,
}
SERVER_NAMES = {s.name for s in serving.SPECS}


def parse_scale(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        factor = 1_000_000 if part.endswith("m") else 1000 if part.endswith("k") else 1
        out.append(int(float(part.rstrip("mk")) * factor))
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    p.add_argument(
        "--smoke", action="store_true", help="tiny and quick: keeps `make bench` working"
    )
    p.add_argument("--only", default="", help="comma-separated scenarios or server names")
    p.add_argument(
        "--scale", default="", help="archive sizes for regen and search, e.g. 10k,100k,1M"
    )
    p.add_argument("--duration", type=float, help="seconds per wrk run (default 10; smoke 1)")
    p.add_argument("--repeats", type=int, help="wrk runs per variant (default 3; smoke 1)")
    p.add_argument("--posts", type=int, help="freshness posts per tick setting (default 100)")
    p.add_argument("--results-dir", type=Path, help="where results go (default bench/results)")
    p.add_argument("--keep-workdir", action="store_true", help="keep logs and databases")
    p.add_argument("--no-install", action="store_true", help="never apt-get wrk or nginx")
    return p.parse_args(argv)


def options_from(args: argparse.Namespace) -> Options:
    smoke = bool(args.smoke)
    only = {x.strip() for x in args.only.split(",") if x.strip()} or None
    if only:
        unknown = only - set(SCENARIOS) - SERVER_NAMES
        if unknown:
            raise SystemExit(
                f"unknown scenario(s) {sorted(unknown)}; choose from {sorted(SCENARIOS)} "
                f"or servers {sorted(SERVER_NAMES)}"
            )
    scales = parse_scale(args.scale) if args.scale else ([2_000] if smoke else None)
    opts = Options(
        smoke=smoke,
        duration=args.duration or (1.0 if smoke else 10.0),
        repeats=args.repeats or (1 if smoke else 3),
        only=only,
        freshness_posts=args.posts or (5 if smoke else 100),
        keep_workdir=args.keep_workdir,
    )
    if scales:
        opts.scales = scales
    return opts


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    opts = options_from(args)
    # bench/results/ holds complete runs only: a smoke or partial run never replaces them.
    if args.results_dir:
        results_dir = args.results_dir
    elif opts.smoke:
        results_dir = DATA_DIR / "smoke-results"
    elif opts.only:
        results_dir = DATA_DIR / "partial-results"
    else:
        results_dir = Path(__file__).parent / "results"
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="run-", dir=DATA_DIR))
    ctx = Context(opts, workdir, results_dir)
    started = datetime.now(UTC)
    ctx.log(f"work directory {workdir}")
    setup = tools.ensure_tools(ctx, install=not args.no_install)
    out: dict[str, Any] = {
        "date": started.isoformat(timespec="seconds"),
        "machine": machine.info(),
        "options": {
            "smoke": opts.smoke,
            "duration_s": opts.duration,
            "repeats": opts.repeats,
            "scales": opts.scales,
            "only": sorted(opts.only) if opts.only else None,
            "freshness_posts": opts.freshness_posts,
        },
        "setup": setup,
        "code": machine.code_state(),
        "note": (
            "wrk and the servers share this machine's cores (loopback): the same for every "
            "scenario, so the ratios compare like with like; absolute figures drift."
        ),
        "scenarios": {},
        "skipped": {},
        "failed": {},
    }
    ctx.log(f"machine: {machine.summary(out['machine'])}")
    monitor = interference.Monitor().start()
    ctx.monitor = monitor
    if monitor.load_start > 1.0:
        ctx.log(
            f"note: load average {monitor.load_start:.1f} before starting: other work is "
            "running on this machine, figures will be noisy"
        )
    failed = False
    try:
        for name, runner in SCENARIOS.items():
            servers_chosen = bool(opts.only and opts.only & SERVER_NAMES)
            if not ctx.wants(name) and not (name == "serving" and servers_chosen):
                continue
            ctx.log(f"== {name}")
            t0 = time.monotonic()
            try:
                result = runner(ctx)
            except Skip as exc:
                out["skipped"][name] = str(exc)
                ctx.log(f"  skipped: {exc}")
                continue
            except Exception as exc:  # report the rest of the run all the same
                failed = True
                out["failed"][name] = f"{type(exc).__name__}: {exc}"
                ctx.log(f"  FAILED: {exc}")
                traceback.print_exc()
                continue
            result["seconds"] = round(time.monotonic() - t0, 1)
            result["other_cpu_pct_of_one_core"] = monitor.between(t0, time.monotonic())
            out["scenarios"][name] = result
    finally:
        out["total_seconds"] = round(time.monotonic() - ctx.started, 1)
        out["interference"] = monitor.stop()
        end = machine.code_state()
        if end["code_sha256"] != out["code"]["code_sha256"]:
            out["code"]["changed_during_run"] = end
            out["warnings"] = [
                "feedsvc's code, deploy or config files changed during this run "
                f"({out['code']['git_commit']} → {end['git_commit']}): the figures mix two "
                "versions; run again"
            ]
        out["targets"] = report.targets(out)
        paths = report.write(out, results_dir)
        print(report.render(out))
        for p in paths:
            ctx.log(f"wrote {p}")
        if failed or opts.keep_workdir:
            ctx.log(f"logs and databases kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
