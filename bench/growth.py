"""Cost growth: render time per feed against items per feed, throughput against feed size.

Render: feedsvc.feeds.render for each format over the serving database's 20-, 50- and 200-item
sections (the same items the scheduler would hand it), in this process, median of repeats,
with the entry cache emptied before each: the cost of a feed whose entries are all new.
Serving: wrk (200, identity) against feedsvc's app path and against nginx serving the same
files statically, for the three feed sizes; runs of half the usual length. The chart goes to
growth.png beside the results.
"""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

from bench import serving, wrk
from bench.context import Context, Skip, median
from bench.datasets import GROWTH_ITEMS, SITE_URL, growth_slug
from devtools import nginx


def render_times(ctx: Context) -> dict[str, Any]:
    from feedsvc import feeds
    from feedsvc.publishing.snapshot import feed_items
    from feedsvc.reading import feed_rows
    from feedsvc.storage.db import transaction
    from feedsvc.storage.models import Section, utcnow

    app = ctx.serving_db().app()
    repeats = 3 if ctx.options.smoke else 15
    out: dict[str, Any] = {}
    for n in GROWTH_ITEMS:
        slug = growth_slug(n)
        with transaction(app, write=False) as s:
            section = s.query(Section).filter_by(slug=slug).one()
            articles = feed_rows(s, utcnow(), section.items_per_feed, section.id)
            # The scheduler's own snapshot of rows into plain items.
            items = feed_items(app.config["SITE_URL"], articles, {section.id: section.name})
        assert len(items) == n, (slug, len(items))
        per_format: dict[str, float] = {}
        sizes: dict[str, int] = {}
        for fmt in feeds.FORMATS:
            meta = feeds.FeedMeta(
                id=section.guid,
                title=section.name,
                description=section.description,
                home_url=f"{SITE_URL}/sections/{slug}/",
                self_url=f"{SITE_URL}/sections/{slug}/{fmt}",
                language="en",
                updated=items[0].updated,
                author="feedsvc",
            )
            times = []
            for _ in range(repeats):
                feeds.FRAGMENTS.clear()  # every entry rendered: the cost of a feed seen first
                t = time.perf_counter()
                body = feeds.render(fmt, meta, items)
                times.append(time.perf_counter() - t)
            per_format[fmt] = round(median(times) * 1000, 2)
            sizes[fmt] = len(body)
        out[str(n)] = {
            "ms": per_format,
            "ms_all_formats": round(sum(per_format.values()), 2),
            "ms_per_item": round(sum(per_format.values()) / n, 3),
            "bytes": sizes,
        }
        ctx.log(f"  render {n:3} items: {per_format} ms")
    return out


def serving_by_size(ctx: Context) -> dict[str, Any]:
    if wrk.wrk_binary() is None:
        raise Skip("wrk is not installed")
    fx = serving.load_fixture(ctx)
    seconds = max(1.0, ctx.options.duration / 2)
    paths = {n: f"/sections/{growth_slug(n)}/rss.xml" for n in GROWTH_ITEMS}
    out: dict[str, Any] = {"seconds_per_run": seconds, "sizes": {}}
    with ExitStack() as stack:
        servers = serving.Servers(ctx, fx, stack)
        # The static copies of the other sizes, beside the 50-item one.
        import sqlite3

        from feedsvc.storage.codec import gunzip

        conn = sqlite3.connect(fx.db.path)
        for n, path in paths.items():
            (gz,) = conn.execute(
                "SELECT body_gzip FROM feed_documents WHERE path = ?", (path[1:],)
            ).fetchone()
            body = gunzip(gz)  # documents are stored as gzip only
            target = fx.workdir / "static" / path[1:]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
            target.with_name(target.name + ".gz").write_bytes(gz)
            os.utime(target, (fx.last_modified, fx.last_modified))
            out["sizes"][str(n)] = {"bytes": len(body), "servers": {}}
        conn.close()
        ports = {"feedsvc_app": servers.start("feedsvc_app")}
        if nginx.binary() is not None:
            ports["nginx_static"] = servers.start("nginx_static")
        for port in ports.values():
            for path in paths.values():
                wrk.run(port, path, seconds=1)
        for _round in range(ctx.options.repeats):
            for n, path in paths.items():
                for name, port in ports.items():
                    r, other, during = ctx.measured(partial(wrk.run, port, path, seconds=seconds))
                    runs = out["sizes"][str(n)]["servers"].setdefault(name, {"runs": []})["runs"]
                    runs.append(
                        r.as_dict() | {"other_cpu_pct_before": other, "other_cpu_pct": during}
                    )
        for size in out["sizes"].values():
            for entry in size["servers"].values():
                entry["rps_median"] = median([r["requests_per_sec"] for r in entry["runs"]])
                entry["p99_ms_median"] = median([r["p99_ms"] for r in entry["runs"]])
            ctx.log(
                f"  {size['bytes'] / 1024:6.0f} KiB: "
                + ", ".join(f"{k} {v['rps_median']:,.0f} req/s" for k, v in size["servers"].items())
            )
    return out


def chart(result: dict[str, Any], target: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    render = result["render"]
    counts = [int(n) for n in render]
    for fmt in ("rss", "atom", "json"):
        left.plot(counts, [render[str(n)]["ms"][fmt] for n in counts], marker="o", label=fmt)
    left.set_xlabel("items per feed")
    left.set_ylabel("render time per feed (ms)")
    left.set_title("Render cost (feedsvc.feeds.render)")
    left.set_xticks(counts)
    left.grid(alpha=0.3)
    left.legend()
    sizes = result.get("serving", {}).get("sizes", {})
    if sizes:
        names = sorted({name for s in sizes.values() for name in s["servers"]})
        for name in names:
            xs = [s["bytes"] / 1024 for s in sizes.values() if name in s["servers"]]
            ys = [s["servers"][name]["rps_median"] for s in sizes.values() if name in s["servers"]]
            right.plot(xs, ys, marker="o", label=name)
        right.set_xscale("log")
        right.set_yscale("log")
        right.set_xlabel("feed size (KiB, identity)")
        right.set_ylabel("requests/s (median)")
        right.set_title("Serving throughput vs feed size (wrk -t2 -c50)")
        right.grid(alpha=0.3, which="both")
        right.legend()
    else:
        right.text(0.5, 0.5, "serving not measured", ha="center", va="center")
        right.set_axis_off()
    fig.suptitle(f"feedsvc cost growth ({result.get('date', '')})", fontsize=10)
    fig.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=100)
    plt.close(fig)
    return target


def run(ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = {"render": render_times(ctx)}
    try:
        out["serving"] = serving_by_size(ctx)
    except Skip as exc:
        out["serving_skipped"] = str(exc)
    return out
