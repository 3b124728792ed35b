"""Where the app path spends its time, and whether a cache hit touches the database.

- Cache-hit queries: feedsvc's WSGI app called in this process for a burst of feed polls after
  warm-up, counting every SQL statement (SQLAlchemy's before_cursor_execute): document loads
  must be zero; the documents-generation check runs once per DOCUMENT_CACHE_SECONDS per
  worker, whatever the request rate.
- py-spy: the running web workers (granian; feedsvc's stack, as `make run` starts it) sampled
  during a wrk run of each variant (200, gzip, 304). The collapsed stacks are written to
  results/profiles/ and summarised (top functions by own and by inclusive samples).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench import serving, wrk
from bench.context import Context, Skip
from bench.datasets import DATA_DIR, MAIN_PATH


def cache_hit_queries(
    ctx: Context, seconds: float = 2.0, max_requests: int = 1_000_000
) -> dict[str, Any]:
    from sqlalchemy import event

    from feedsvc.storage.db import database

    app = ctx.serving_db().app()
    engine = database(app).engine
    statements: list[str] = []

    def on_execute(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()))

    def call(headers: dict[str, str]) -> str:
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": MAIN_PATH,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "wsgi.url_scheme": "http",
            **{"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()},
        }
        status: list[str] = []

        def start_response(s: str, h: list[tuple[str, str]], *a: Any) -> Any:
            status.append(s)

        b"".join(app.wsgi_app(environ, start_response))
        return status[0]

    assert call({}).startswith("200")  # warm: the document is loaded once
    event.listen(engine, "before_cursor_execute", on_execute)
    started = time.perf_counter()
    requests = 0
    try:
        # Long enough to span several DOCUMENT_CACHE_SECONDS intervals; bounded either way.
        while requests < max_requests and time.perf_counter() - started < seconds:
            for i in range(100):
                call({"Accept-Encoding": "gzip"} if i % 2 else {})
            requests += 100
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    elapsed = time.perf_counter() - started
    documents = [s for s in statements if "feed_documents" in s]
    generation = [s for s in statements if "site_state" in s]
    database(app).dispose()
    return {
        "requests": requests,
        "seconds": round(elapsed, 3),
        "in_process_requests_per_sec": round(requests / elapsed),
        "statements": len(statements),
        "document_queries": len(documents),
        "generation_checks": len(generation),
        "document_cache_seconds": float(app.config["DOCUMENT_CACHE_SECONDS"]),
        "distinct": sorted(set(statements))[:5],
    }


# Where a sample's stack passes through: feedsvc's own code, its request counter and access
# log, and granian's WSGI glue (its environ and the hand-over of the response to Rust).
SHARES = {
    "feedsvc code": "feedsvc/",
    "request counter (prometheus_client)": "prometheus_client/",
    "access log (web/requestlog.py)": "requestlog.py",
    "granian WSGI glue": "granian/wsgi.py",
}


def summarise_stacks(raw: Path, top: int = 25) -> dict[str, Any]:
    """Top functions from py-spy's raw (collapsed) output: own samples and inclusive samples."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    shares: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
        for label, needle in SHARES.items():
            if needle in stack:
                shares[label] += n

    def pct(n: int) -> float:
        return round(100 * n / total, 1) if total else 0.0

    return {
        "samples": total,
        "share_pct": {label: pct(shares[label]) for label in SHARES},
        "own_top": [(f, pct(n)) for f, n in own.most_common(top)],
        "inclusive_top": [(f, pct(n)) for f, n in inclusive.most_common(top)],
    }


def format_summary(variant: str, summary: dict[str, Any], raw: Path) -> str:
    lines = [
        f"py-spy on feedsvc's gunicorn workers during wrk ({variant} variant), "
        f"{summary['samples']} samples; collapsed stacks: {raw} (any flamegraph tool reads them)",
        "",
        "share of samples whose stack passes through:",
        *(f"  {pct:5.1f}%  {label}" for label, pct in summary["share_pct"].items()),
        "",
        "top frames by own time:",
        *(f"  {pct:5.1f}%  {frame}" for frame, pct in summary["own_top"]),
        "",
        "top frames by inclusive time:",
        *(f"  {pct:5.1f}%  {frame}" for frame, pct in summary["inclusive_top"]),
    ]
    return "\n".join(lines) + "\n"


def py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return found if Path(found).exists() else None


def profile_app_path(ctx: Context) -> dict[str, Any]:
    spy = py_spy()
    if spy is None:
        raise Skip("py-spy is not installed (pip install -e '.[bench]')")
    if wrk.wrk_binary() is None:
        raise Skip("wrk is not installed")
    fx = serving.load_fixture(ctx)
    seconds = max(2.0, ctx.options.duration)
    out_dir = ctx.results_dir / "profiles"
    out_dir.mkdir(parents=True, exist_ok=True)
    # The collapsed stacks are large (~1 MB): kept beside the cached data, not in results/.
    raw_dir = DATA_DIR / "profiles"
    raw_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    with ExitStack() as stack:
        servers = serving.Servers(ctx, fx, stack)
        port = servers.start("feedsvc_app")
        master = servers.app_master_pid()
        etag = serving.check_variant(serving.SPEC_BY_NAME["feedsvc_app"], fx, port, "200", None)[
            "etag"
        ]
        wrk.run(port, MAIN_PATH, seconds=1)
        for variant in ("200", "gzip", "304"):
            raw = raw_dir / f"app-path-{variant}.collapsed"
            args = [
                spy,
                "record",
                "--pid",
                str(master),
                "--subprocesses",
                "--nonblocking",
                "--rate",
                "250",
                "--duration",
                str(int(seconds)),
                "--format",
                "raw",
                "-o",
                str(raw),
            ]
            recorder = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(0.5)
            load = threading.Thread(
                target=lambda v=variant: results.setdefault(
                    f"wrk_{v}",
                    wrk.run(
                        port,
                        MAIN_PATH,
                        seconds=seconds - 1,
                        headers=serving.variant_headers(v, etag),
                    ).as_dict(),
                )
            )
            load.start()
            load.join(timeout=seconds + 60)
            try:
                _, err = recorder.communicate(timeout=seconds + 60)
            except subprocess.TimeoutExpired:
                recorder.kill()
                _, err = recorder.communicate()
            if recorder.returncode != 0 or not raw.exists():
                results[variant] = {"error": err.decode(errors="replace")[-500:]}
                continue
            summary = summarise_stacks(raw)
            text = out_dir / f"app-path-{variant}.txt"
            text.write_text(format_summary(variant, summary, raw))
            results[variant] = {"summary": str(text.relative_to(ctx.results_dir)), **summary}
            ctx.log(f"  py-spy {variant}: {results[variant]['share_pct']}")
    return results


def run(ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = {"cache_hit": cache_hit_queries(ctx)}
    c = out["cache_hit"]
    ctx.log(
        f"  {c['requests']} cache-hit polls in process: {c['document_queries']} document "
        f"queries, {c['generation_checks']} generation checks "
        f"({c['in_process_requests_per_sec']:,} req/s in process)"
    )
    try:
        out["py_spy"] = profile_app_path(ctx)
    except Skip as exc:
        out["py_spy_skipped"] = str(exc)
    return out
