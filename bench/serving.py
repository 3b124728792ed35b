"""Serving throughput: feedsvc beside nginx and its peers, same feed, same machine, same run.

Every server is started first and kept running (idle servers cost nothing measurable); then
the runs go round-robin, `repeats` rounds of (server × variant), so slow drift of the machine
spreads over all of them alike. Variants: "200" (identity), "gzip" (Accept-Encoding: gzip),
"304" (If-None-Match with the ETag that server gave). Before measuring, each variant is
checked once: status, encoding, and the very bytes (servers of stored bytes) or all 50
titles (servers that generate the feed).

wrk and the servers share the machine's cores: the same for every scenario.
"""

from __future__ import annotations

import gzip
import html
import os
import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bench import wrk
from bench.context import Context, Skip, median
from bench.datasets import MAIN_PATH, MAIN_SLUG, SECRET_KEY, SITE_URL, ServingDB
from devtools import nginx, procs
from feedsvc import nginxconf

BENCH_DIR = Path(__file__).resolve().parent
VARIANTS = ("200", "gzip", "304")
EXPECTED_STATUS = {"200": 200, "gzip": 200, "304": 304}


@dataclass(frozen=True)
class Spec:
    name: str
    title: str
    reference: str  # the server this one's ratio is taken against (same variant)
    variants: tuple[str, ...]
    stored_bytes: bool  # serves feedsvc's stored bytes (checked byte for byte)
    needs_nginx: bool = False


SPECS = [
    Spec("nginx_static", "nginx, static file", "nginx_static", VARIANTS, True, True),
    Spec(
        "feedsvc_deploy_static",
        "feedsvc deploy: nginx + static export",
        "nginx_static",
        VARIANTS,
        True,
        True,
    ),
    Spec(
        "feedsvc_deploy_cache",
        "feedsvc deploy: nginx proxy_cache",
        "nginx_static",
        VARIANTS,
        True,
        True,
    ),
    Spec("feedsvc_app", "feedsvc app path (make run: granian)", "minimal_flask", VARIANTS, True),
    # The documented alternative server, same app, same settings (gunicorn.conf.py).
    Spec(
        "feedsvc_app_gunicorn",
        "feedsvc app path on gunicorn (alternative)",
        "minimal_flask",
        VARIANTS,
        True,
    ),
    # The same, with the polling limit counting every fetch (web/polling.py) but a burst no
    # run can spend: its cost, never a 429. The other servers run with the limit off, since
    # wrk fetches unconditionally from one address.
    Spec(
        "feedsvc_app_limited",
        "feedsvc app path, polling limit on (never refusing)",
        "minimal_flask",
        VARIANTS,
        True,
    ),
    Spec("minimal_flask", "minimal Flask on gunicorn, in memory", "minimal_flask", VARIANTS, True),
    # What each server can do at all: a WSGI callable with nothing in it.
    Spec("bare_wsgi", "bare WSGI on gunicorn, in memory", "minimal_flask", VARIANTS, True),
    Spec("bare_wsgi_granian", "bare WSGI on granian, in memory", "minimal_flask", VARIANTS, True),
    Spec(
        "flask_feedgen",
        "Flask+SQLAlchemy+feedgen per request",
        "minimal_flask",
        ("200", "304"),
        False,
    ),
    Spec("django_syndication", "Django syndication per request", "minimal_flask", VARIANTS, False),
]
SPEC_BY_NAME = {s.name: s for s in SPECS}


@dataclass
class Fixture:
    """What the servers share: the serving database and the reference feed bytes."""

    db: ServingDB
    body: bytes
    body_gzip: bytes
    last_modified: float
    workdir: Path


def load_fixture(ctx: Context) -> Fixture:
    db = ctx.serving_db()
    conn = sqlite3.connect(db.path)
    try:
        body_gzip, modified = conn.execute(
            "SELECT body_gzip, last_modified FROM feed_documents WHERE path = ?",
            (MAIN_PATH.lstrip("/"),),
        ).fetchone()
    finally:
        conn.close()
    from datetime import UTC, datetime

    from feedsvc.storage.codec import gunzip

    body = gunzip(body_gzip)  # documents are stored as gzip only

    stamp = datetime.fromisoformat(modified).replace(tzinfo=UTC).timestamp()
    return Fixture(db, bytes(body), bytes(body_gzip), stamp, ctx.workdir / "servers")


# --- starting servers ------------------------------------------------------------------------


# wrk fetches one feed unconditionally from one address, as fast as it can: with the shipped
# polling limit (30 s, a burst of 5) all but five requests would be 429s.
POLL_OFF = {"FEEDSVC_POLL_MIN_INTERVAL": "0"}
# The limit on, counting every request, with a burst no run spends (wrk does ~10⁶ at most).
POLL_ON_NEVER_REFUSING = {
    "FEEDSVC_POLL_MIN_INTERVAL": "30",
    "FEEDSVC_POLL_BURST": "1000000000",
}


def feedsvc_env(db_url: str, port: int, **extra: str) -> dict[str, str]:
    """feedsvc's own defaults (webserver.py and gunicorn.conf.py: 2 workers × 4 threads,
    access log on), but the polling limit off unless `extra` says otherwise."""
    return procs.service_env(
        db_url, port=port, site_url=SITE_URL, secret_key=SECRET_KEY, **(POLL_OFF | extra)
    )


@contextmanager
def feedsvc_stack(
    fx: Fixture, port: int, name: str = "feedsvc", **extra: str
) -> Iterator[procs.Proc]:
    """What `make run` starts: the web server (webserver.py, granian) and the scheduler."""
    env = feedsvc_env(fx.db.url, port, **extra)
    logs = fx.workdir / name
    with (
        procs.scheduler(env, logs / "scheduler.log"),
        procs.serving(procs.web(env, logs / "web.log"), port, MAIN_PATH) as g,
    ):
        yield g


def peer_env(fx: Fixture, port: int, feed_file: Path) -> dict[str, str]:
    return feedsvc_env(
        fx.db.url,
        port,
        BENCH_FEED=str(feed_file),
        BENCH_DATABASE_URL=fx.db.url,
        BENCH_DATABASE_PATH=str(fx.db.path),
        DJANGO_SETTINGS_MODULE="bench.peers.django_syndication.settings",
    )


PEER_APPS = {
    "minimal_flask": "bench.peers.minimal_flask:app",
    "bare_wsgi": "bench.peers.bare_wsgi:app",
    "bare_wsgi_granian": "bench.peers.bare_wsgi:app",
    "flask_feedgen": "bench.peers.flask_feedgen:app",
    "django_syndication": "bench.peers.django_syndication.wsgi:application",
}


def deploy_conf(values: dict[str, str], *, cache_variant: bool) -> str:
    """deploy/nginx.conf rendered as render-nginx-conf does; its proxy_cache variant if asked."""
    try:
        return nginx.render(values, proxy_cache=cache_variant)
    except ValueError as exc:  # nginxconf.RenderError included
        raise Skip(str(exc)) from None


def write_static_copy(fx: Fixture, root: Path) -> None:
    """The feed as a plain file (and .gz), dated like the document: nginx's reference."""
    target = root / MAIN_PATH.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.with_name(target.name + ".gz").write_bytes(fx.body_gzip)
    target.write_bytes(fx.body)
    for f in (target, target.with_name(target.name + ".gz")):
        os.utime(f, (fx.last_modified, fx.last_modified))
    root.chmod(0o755)


def export_dir(fx: Fixture) -> Path:
    """feedsvc's static export of the serving database (feedsvc/export.py's sync_all)."""
    try:
        from feedsvc.publishing import export
    except ImportError:
        raise Skip("feedsvc/export.py (the static export) does not exist yet") from None
    root = fx.workdir / "export"
    app = fx.db.app(EXPORT_DIR=str(root))
    written = export.sync_all(app)
    if written == 0 and not (root / MAIN_PATH.lstrip("/")).exists():
        raise Skip("the static export wrote nothing")
    return root


class Servers:
    """Starts servers on free ports, each once; everything stops when the stack closes."""

    def __init__(self, ctx: Context, fx: Fixture, stack: ExitStack) -> None:
        self.ctx, self.fx, self.stack = ctx, fx, stack
        self.ports: dict[str, int] = {}
        self._app_port: int | None = None
        self._app_proc: procs.Proc | None = None
        fx.workdir.mkdir(parents=True, exist_ok=True)
        self.feed_file = fx.workdir / "static" / MAIN_PATH.lstrip("/")
        write_static_copy(fx, fx.workdir / "static")

    def app_port(self) -> int:
        """feedsvc's own stack, shared by feedsvc_app and the deploy fronts (their upstream)."""
        if self._app_port is None:
            port = procs.free_port()
            self.ctx.log(f"  starting feedsvc (granian + scheduler) on :{port}")
            self._app_proc = self.stack.enter_context(feedsvc_stack(self.fx, port))
            self._app_port = port
        return self._app_port

    def app_master_pid(self) -> int:
        """feedsvc's web server's main process (its workers are the children)."""
        self.app_port()
        assert self._app_proc is not None
        return self._app_proc.pid

    def start(self, name: str) -> int:
        spec, fx = SPEC_BY_NAME[name], self.fx
        if spec.needs_nginx and nginx.binary() is None:
            raise Skip("nginx is not installed")
        if name == "feedsvc_app":
            port = self.app_port()
        elif name in ("feedsvc_app_limited", "feedsvc_app_gunicorn"):
            # The web server alone: the stored documents are all it serves (feedsvc_app's
            # stack, started or not, changes nothing in them during the run).
            port = procs.free_port()
            self.ctx.log(f"  starting {name} on :{port}")
            if name == "feedsvc_app_limited":
                env = feedsvc_env(fx.db.url, port, **POLL_ON_NEVER_REFUSING)
                web = procs.web(env, fx.workdir / name / "web.log")
            else:
                env = feedsvc_env(fx.db.url, port)
                web = procs.gunicorn(env, fx.workdir / name / "gunicorn.log")
            self.stack.enter_context(procs.serving(web, port, MAIN_PATH))
        elif name in PEER_APPS:
            port = procs.free_port()
            self.ctx.log(f"  starting {name} on :{port}")
            server = procs.web if name.endswith("_granian") else procs.gunicorn
            log = fx.workdir / name / "server.log"
            peer = server(peer_env(fx, port, self.feed_file), log, PEER_APPS[name])
            self.stack.enter_context(procs.serving(peer, port, MAIN_PATH))
        elif name == "nginx_static":
            port = procs.free_port()
            base = fx.workdir / name
            values = nginx.local_values(base, port, __ROOT__=str(fx.workdir / "static"))
            conf = nginxconf.render(values, (BENCH_DIR / "nginx" / "static.conf").read_text())
            self.ctx.log(f"  starting {name} on :{port}")
            self.stack.enter_context(nginx.running(conf, base, port, check_path=MAIN_PATH))
        elif name in ("feedsvc_deploy_static", "feedsvc_deploy_cache"):
            cache = name.endswith("cache")
            root = fx.workdir / "empty-export" if cache else export_dir(fx)
            root.mkdir(parents=True, exist_ok=True)
            port = procs.free_port()
            base = fx.workdir / name
            values = nginx.local_values(
                base,
                port,
                __EXPORT_DIR__=str(root),
                __UPSTREAM__=f"127.0.0.1:{self.app_port()}",
                **nginx.POLL_OFF,
            )
            conf = deploy_conf(values, cache_variant=cache)
            self.ctx.log(f"  starting {name} on :{port} (deploy/nginx.conf)")
            self.stack.enter_context(nginx.running(conf, base, port, check_path=MAIN_PATH))
        else:
            raise ValueError(name)
        self.ports[name] = port
        return port


# --- checking and measuring ------------------------------------------------------------------


def variant_headers(variant: str, etag: str | None) -> dict[str, str]:
    if variant == "gzip":
        return {"Accept-Encoding": "gzip"}
    if variant == "304":
        assert etag
        return {"If-None-Match": etag}
    return {}


def check_variant(
    spec: Spec, fx: Fixture, port: int, variant: str, etag: str | None
) -> dict[str, Any]:
    """One request as wrk will send it: the right status, encoding and content."""
    headers = variant_headers(variant, etag)
    status, got, body = procs.http_get(port, MAIN_PATH, headers)
    problems = []
    if status != EXPECTED_STATUS[variant]:
        problems.append(f"status {status}, expected {EXPECTED_STATUS[variant]}")
    if variant == "gzip" and got.get("content-encoding") != "gzip":
        problems.append(f"Content-Encoding {got.get('content-encoding')!r}, expected gzip")
    if status == 200:
        plain = gzip.decompress(body) if got.get("content-encoding") == "gzip" else body
        if spec.stored_bytes and plain != fx.body:
            problems.append("the bytes differ from the stored feed")
        if not spec.stored_bytes:
            text = plain.decode("utf-8")
            missing = [
                t for t in fx.db.titles[MAIN_SLUG] if html.escape(t, quote=False) not in text
            ]
            if missing:
                problems.append(f"{len(missing)} of the 50 titles missing")
    if problems:
        raise RuntimeError(f"{spec.name} {variant}: " + "; ".join(problems))
    return {
        "status": status,
        "bytes": len(body),
        "etag": got.get("etag"),
        "content_encoding": got.get("content-encoding"),
        "cache_control": got.get("cache-control"),
    }


def run(ctx: Context) -> dict[str, Any]:
    if wrk.wrk_binary() is None:
        raise Skip("wrk is not installed")
    names = [s.name for s in SPECS if ctx.wants("serving", s.name)]
    if not names:
        raise Skip("not selected")
    fx = load_fixture(ctx)
    opts = ctx.options
    results: dict[str, Any] = {
        "feed": {
            "path": MAIN_PATH,
            "items": 50,
            "bytes": len(fx.body),
            "gzip_bytes": len(fx.body_gzip),
        },
        "wrk": f"wrk -t2 -c50 -d{opts.duration:g}s --latency --timeout 30s",
        "repeats": opts.repeats,
        "servers": {},
        "skipped": {},
    }
    with ExitStack() as stack:
        servers = Servers(ctx, fx, stack)
        for name in names:  # one at a time, so a missing piece skips only that server
            try:
                servers.start(name)
            except Skip as exc:
                results["skipped"][name] = str(exc)
                ctx.log(f"  skipping {name}: {exc}")
        ports = servers.ports
        plan: list[tuple[str, str, dict[str, str]]] = []
        for name, port in ports.items():
            spec = SPEC_BY_NAME[name]
            first = check_variant(spec, fx, port, "200", None)
            etag = first["etag"]
            entry: dict[str, Any] = {
                "title": spec.title,
                "reference": spec.reference,
                "stored_bytes": spec.stored_bytes,
                "variants": {},
            }
            for variant in spec.variants:
                check = check_variant(spec, fx, port, variant, etag)
                entry["variants"][variant] = {"check": check, "runs": []}
                plan.append((name, variant, variant_headers(variant, etag)))
            results["servers"][name] = entry
            # Warm-up: imports, caches and the first connections, not measured.
            wrk.run(port, MAIN_PATH, seconds=1 if opts.smoke else 2)
        ctx.log(
            f"  measuring {len(plan)} server×variant pairs, {opts.repeats} round(s) of "
            f"{opts.duration:g} s each (~{len(plan) * opts.repeats * (opts.duration + 1) / 60:.0f}"
            " min)"
        )
        for round_no in range(opts.repeats):
            for name, variant, headers in plan:
                r, other, during = ctx.measured(
                    partial(wrk.run, ports[name], MAIN_PATH, seconds=opts.duration, headers=headers)
                )
                run = r.as_dict() | {"other_cpu_pct_before": other, "other_cpu_pct": during}
                results["servers"][name]["variants"][variant]["runs"].append(run)
                ctx.log(
                    f"  round {round_no + 1}: {name:24} {variant:5} {r.requests_per_sec:>10,.0f}"
                    f" req/s  p99 {r.p99_ms:8.2f} ms"
                    + (f"  ({r.errors} errors)" if r.errors else "")
                    + (f"  ({r.non_2xx_3xx} non-2xx/3xx)" if r.non_2xx_3xx else "")
                    + (f"  [others: {during:.0f}% of a core]" if during else "")
                )
    summarise(results)
    return results


def summarise(results: dict[str, Any]) -> None:
    """Medians per variant and the ratio to each server's reference (same variant)."""
    servers = results["servers"]
    for entry in servers.values():
        for v in entry["variants"].values():
            runs = v["runs"]
            v["rps_median"] = median([r["requests_per_sec"] for r in runs])
            v["p99_ms_median"] = median([r["p99_ms"] for r in runs])
            v["p50_ms_median"] = median([r["p50_ms"] for r in runs])
            v["errors"] = sum(r["errors"] + r["non_2xx_3xx"] for r in runs)
            v["rps_best"] = max((r["requests_per_sec"] for r in runs), default=None)
            others = [r.get("other_cpu_pct") or 0.0 for r in runs]
            v["other_cpu_pct_max"] = max(others, default=None)
    for entry in servers.values():
        ref = servers.get(entry["reference"])
        for variant, v in entry["variants"].items():
            base = ref["variants"].get(variant) if ref else None
            v["ratio"] = (
                v["rps_median"] / base["rps_median"] if base and base.get("rps_median") else None
            )


def rps(results: dict[str, Any], name: str, variant: str) -> float | None:
    v = results.get("servers", {}).get(name, {}).get("variants", {}).get(variant)
    return v.get("rps_median") if v else None
