"""Freshness: from the admin form's POST returning to the article being in the served feed.

The real stack (webserver.py, granian, and `flask run-scheduler`, as `make run` starts them) on
a fresh copy of the serving database; an editor logs in through the real form and posts
articles through /admin/articles/new. Posts go out at random intervals (a uniform 0.3-0.7 tick
apart, so their phase against the scheduler's tick is uniform) to four desks in turn; after
each POST returns, a watcher polls the section's RSS feed every 10 ms (If-None-Match, so
unchanged polls are cheap 304s) until the title is there. Measured at the default tick and at 1
s.

When nginx is available the same posts are also watched through deploy/nginx.conf in front of
the same web server: its static-export mode (the scheduler must write the export) and its
proxy_cache mode. That is the deployment path's freshness.
"""

from __future__ import annotations

import http.client
import random
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import html as lxml_html

from bench import serving
from bench.context import Context, Skip, median, percentile
from bench.corpus import Corpus
from bench.datasets import BENCH_USER, DESKS, ServingDB, article_body
from devtools import nginx, procs
from devtools.browser import Browser

DEFAULT_TICK = 5.0
POLL_EVERY = 0.010


@dataclass
class Watch:
    """Polls one feed URL until a title appears; records seconds since the POST returned."""

    port: int
    path: str
    title: str
    since: float
    timeout: float
    seconds: float | None = None
    polls: int = 0
    error: str = ""
    thread: threading.Thread = field(init=False)

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        needle = self.title.encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        etag = None
        deadline = self.since + self.timeout
        try:
            while time.monotonic() < deadline:
                headers: dict[str, str] = {"If-None-Match": etag} if etag else {}
                conn.request("GET", self.path, headers=headers)
                r = conn.getresponse()
                body = r.read()
                self.polls += 1
                if r.status == 200:
                    etag = r.getheader("ETag")
                    if needle in body:
                        self.seconds = time.monotonic() - self.since
                        return
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                time.sleep(POLL_EVERY)
            self.error = f"not seen within {self.timeout:.0f} s"
        except (OSError, http.client.HTTPException) as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            conn.close()


def fresh_copy(db: ServingDB, target: Path) -> ServingDB:
    """A copy of the serving database (posting changes it)."""
    target.mkdir(parents=True, exist_ok=True)
    path = target / db.path.name
    import sqlite3

    src = sqlite3.connect(db.path)
    dst = sqlite3.connect(path)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return ServingDB(path, f"sqlite:///{path}", db.titles)


@contextmanager
def front(ctx: Context, name: str, base: Path, app_port: int, export: Path | None) -> Iterator[int]:
    """deploy/nginx.conf in front of app_port: static-export mode, or proxy_cache mode."""
    port = procs.free_port()
    cache = export is None
    root = base / "empty-export" if cache else export
    assert root is not None
    root.mkdir(parents=True, exist_ok=True)
    values = nginx.local_values(
        base / name,
        port,
        __EXPORT_DIR__=str(root),
        __UPSTREAM__=f"127.0.0.1:{app_port}",
        # Each watch starts with an unconditional fetch, hundreds in a run from one address.
        **nginx.POLL_OFF,
    )
    conf = serving.deploy_conf(values, cache_variant=cache)
    with nginx.running(conf, base / name, port, check_path="/healthz"):
        yield port


def measure(ctx: Context, tick: float, posts: int, seed: int) -> dict[str, Any]:
    db = fresh_copy(ctx.serving_db(), ctx.workdir / f"freshness-{tick:g}")
    base = db.path.parent
    port = procs.free_port()
    export = base / "export"
    env = serving.feedsvc_env(
        db.url, port, FEEDSVC_TICK_SECONDS=f"{tick:g}", FEEDSVC_EXPORT_DIR=str(export)
    )
    fronts: dict[str, int] = {}
    notes: list[str] = []
    with ExitStack() as stack:
        stack.enter_context(procs.scheduler(env, base / "scheduler.log"))
        web = procs.web(env, base / "web.log")
        stack.enter_context(procs.serving(web, port, "/healthz"))
        if nginx.binary() is not None:
            # The scheduler writes the export as it renders (its first pass at start).
            exported = _exported(export / "sections" / "desk-1" / "rss.xml", 3 * tick + 10)
            if exported:
                fronts["deploy_static"] = stack.enter_context(
                    front(ctx, "deploy_static", base, port, export)
                )
            else:
                notes.append(
                    "the scheduler wrote no static export (FEEDSVC_EXPORT_DIR set): "
                    "the static-export front was not measured"
                )
            try:
                fronts["deploy_cache"] = stack.enter_context(
                    front(ctx, "deploy_cache", base, port, None)
                )
            except Skip as exc:
                notes.append(str(exc))
        editor = Browser(f"http://127.0.0.1:{port}")
        editor.submit("/admin/login", {"Username": BENCH_USER[0], "Password": BENCH_USER[1]})
        sections = _desk_ids(editor)
        corpus = Corpus(seed)
        rng = random.Random(seed)
        watches: dict[str, list[Watch]] = {"app": [], **{name: [] for name in fronts}}
        timeout = 3 * tick + 10
        statuses: list[int] = []
        deadline = time.monotonic() + posts * tick + 120  # bounded whatever happens
        next_at = time.monotonic() + rng.uniform(0, tick)
        for i in range(posts):
            time.sleep(max(0.0, next_at - time.monotonic()))
            if time.monotonic() > deadline:
                notes.append(f"stopped after {i} posts: time bound reached")
                break
            desk = i % DESKS + 1
            title = f"Freshness probe {i} {corpus.title(4)}"
            # Timed from the POST's answer: the redirect it names is not followed.
            status, _location, _body = editor.post(
                "/admin/articles/new",
                {
                    "Title": title,
                    "Section": sections[f"Desk {desk}"],
                    "Body": article_body(corpus),
                    "Author": corpus.author(),
                },
            )
            returned = time.monotonic()
            statuses.append(status)
            if status != 302:
                notes.append(f"post {i} answered {status}")
                continue
            path = f"/sections/desk-{desk}/rss.xml"
            for name, watch_port in [("app", port), *fronts.items()]:
                w = Watch(watch_port, path, title, returned, timeout)
                w.start()
                watches[name].append(w)
            next_at = returned + rng.uniform(0.3, 0.7) * tick
        for ws in watches.values():
            for w in ws:
                w.thread.join(timeout=timeout + 15)
    return {
        "tick_seconds": tick,
        "posts": len(statuses),
        "post_statuses": sorted(set(statuses)),
        "paths": {name: summarise(ws) for name, ws in watches.items()},
        "notes": notes,
    }


def _exported(path: Path, timeout: float) -> bool:
    """Whether path appears within timeout seconds."""
    try:
        return procs.wait_for(f"{path} in the export", path.exists, timeout=timeout)
    except TimeoutError:
        return False


def _desk_ids(editor: Browser) -> dict[str, str]:
    """Section option values by their label, from the article form's select."""
    _status, body = editor.get("/admin/articles/new")
    doc: Any = lxml_html.fromstring(body)
    options: list[Any] = doc.xpath("//select//option")
    return {o.text_content().strip(): str(o.get("value")) for o in options}


def summarise(watches: list[Watch]) -> dict[str, Any]:
    seen = [w.seconds for w in watches if w.seconds is not None]
    return {
        "seen": len(seen),
        "missed": len(watches) - len(seen),
        "errors": sorted({w.error for w in watches if w.error})[:5],
        "p50_s": round(median(seen), 3) if seen else None,
        "p99_s": round(percentile(seen, 99), 3) if seen else None,
        "max_s": round(max(seen), 3) if seen else None,
        "mean_polls": round(sum(w.polls for w in watches) / len(watches), 1) if watches else 0,
        "samples_s": [round(s, 4) for s in seen],
    }


def run(ctx: Context) -> dict[str, Any]:
    posts = ctx.options.freshness_posts
    ticks = [1.0] if ctx.options.smoke else [DEFAULT_TICK, 1.0]
    out: dict[str, Any] = {"posts_per_tick": posts, "poll_every_s": POLL_EVERY, "ticks": {}}
    for tick in ticks:
        ctx.log(f"  tick {tick:g} s: {posts} posts (~{posts * tick * 0.5 + tick:.0f} s)")
        result = measure(ctx, tick, posts, seed=int(tick * 1000))
        out["ticks"][f"{tick:g}"] = result
        for name, s in result["paths"].items():
            ctx.log(
                f"    {name:14} p50 {s['p50_s']} s  p99 {s['p99_s']} s  "
                f"({s['seen']} seen, {s['missed']} missed)"
            )
        for note in result["notes"]:
            ctx.log(f"    note: {note}")
    return out
