"""Regeneration at scale: full rebuilds, idle and one-change ticks, and the query plans.

On archives of 10k, 100k and 1M articles in 1,000 sections (bench/datasets.py, SQLite):

- ticks: the scheduler's own job (feedsvc.scheduler.Publisher.run: lease, pass, run record),
  timed in this process, with nothing changed and with one section changed (an article
  created through feedsvc.articles.create_article just before; removed again afterwards);
- on the largest archive, in child processes: the full rebuild (cold: no stored document, as
  on a first start; warm: every feed re-rendered, none changed, as the hourly rebuild), and
  feedgen alone serialising the same feeds (RSS + Atom, JSON with json.dumps) from preloaded
  plain data; each child reports its own time and peak resident memory;
- every SELECT a tick and a section render issue, with SQLite's EXPLAIN QUERY PLAN.
"""

from __future__ import annotations

import json
import logging
import subprocess
import threading
import time
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import delete, event, select, text

from bench.context import Context, Skip, median, percentile
from bench.datasets import (
    CHANGED_SECTION_ID,
    SITE_URL,
    TAG_VOCABULARY,
    make_app,
    published_count,
    scale_db,
    scale_label,
)
from devtools.procs import PYTHON, ROOT

IDLE_TICKS = 30
CHANGED_TICKS = 15


def child(ctx: Context, *args: str, timeout: float = 1800) -> dict[str, Any]:
    """python -m bench.tasks ARGS; its last stdout line is JSON."""
    log = ctx.workdir / "regen" / f"{args[0]}-{int(time.time() * 1000)}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as err:
        done = subprocess.run(
            [PYTHON, "-m", "bench.tasks", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=err,
            timeout=timeout,
        )
    if done.returncode != 0:
        raise RuntimeError(f"bench.tasks {args[0]} failed; see {log}")
    result: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return result


class QueryLog:
    """Every statement an engine runs while attached, with its parameters."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.statements: list[tuple[str, Any]] = []

    def _on(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        self.statements.append((statement, params))

    def __enter__(self) -> QueryLog:
        event.listen(self.engine, "before_cursor_execute", self._on)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._on)


def query_plans(engine: Any, statements: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """EXPLAIN QUERY PLAN for each distinct SELECT (first parameters seen)."""
    seen: dict[str, Any] = {}
    for sql, params in statements:
        if sql.lstrip().upper().startswith("SELECT") and sql not in seen:
            seen[sql] = params
    plans = []
    with engine.connect() as conn:
        for sql, params in seen.items():
            raw = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()
            detail = [row[-1] for row in raw]
            plans.append(
                {
                    "sql": " ".join(sql.split()),
                    "plan": detail,
                    "full_scan": [d for d in detail if d.startswith("SCAN") and "INDEX" not in d],
                    "temp_btree": [d for d in detail if "TEMP B-TREE" in d],
                }
            )
    return plans


def settle_archives(app: Any, run_pass: Any) -> float:
    """Passes until no RFC 5005 archive page waits to close (a first start's backfill, which
    the scheduler spreads over many ticks): the ticks timed next are the steady state's.

    Minutes at 1M: a bar of the pages closed on a terminal, one summary line otherwise.
    """
    from sqlalchemy import select

    from feedsvc.progress import progress
    from feedsvc.storage.archives import ArchiveScope
    from feedsvc.storage.db import transaction

    def backlog() -> bool:
        with transaction(app, write=False) as s:
            return s.scalar(select(ArchiveScope.feed_key).where(ArchiveScope.backlog)) is not None

    t0 = time.perf_counter()
    if not backlog():
        return 0.0
    per_pass = app.config["ARCHIVE_PAGES_PER_PASS"]
    app.config["ARCHIVE_PAGES_PER_PASS"] = 1000
    closed = closed_pages(app)
    try:
        with progress("Closing archive pages", archive_pages(app) - closed, unit="pages") as bar:
            while backlog():
                run_pass(app)
                before, closed = closed, closed_pages(app)
                bar.advance(closed - before)
    finally:
        app.config["ARCHIVE_PAGES_PER_PASS"] = per_pass
    return time.perf_counter() - t0


def closed_pages(app: Any) -> int:
    """The RFC 5005 archive pages closed so far, over every feed."""
    from sqlalchemy import func, select

    from feedsvc.storage.archives import ArchiveScope
    from feedsvc.storage.db import transaction

    with transaction(app, write=False) as s:
        return int(s.scalar(select(func.sum(ArchiveScope.closed))) or 0)


def archive_pages(app: Any) -> int:
    """The archive pages every feed has once settled, closed or still to close.

    A feed of n published items and a window of w closes (n - w) // ARCHIVE_PAGE_ITEMS pages
    in all (feedsvc/publishing/archives.py: a page closes once a whole page lies past the
    window): counted from the site's, each section's and each topic's published articles.
    """
    from sqlalchemy import func, select

    from feedsvc.limits import STATUS_PUBLISHED
    from feedsvc.publishing.topicfeeds import TOPIC_FEED_ITEMS
    from feedsvc.storage.db import transaction
    from feedsvc.storage.models import Article, Section, utcnow
    from feedsvc.storage.topics import ArticleTopic

    size, now = int(app.config["ARCHIVE_PAGE_ITEMS"]), utcnow()
    with transaction(app, write=False) as s:
        sections = s.execute(
            select(Section.items_per_feed, func.count(Article.id))
            .join(Article, Article.section_id == Section.id)
            .where(Article.status == STATUS_PUBLISHED, Article.publish_at <= now)
            .group_by(Section.id, Section.items_per_feed)
        ).tuples()
        feeds = [(n, window) for window, n in sections]
        feeds.append((sum(n for n, _window in feeds), int(app.config["SITE_FEED_ITEMS"])))
        topics = s.execute(
            select(func.count())
            .where(ArticleTopic.status == STATUS_PUBLISHED, ArticleTopic.publish_at <= now)
            .group_by(ArticleTopic.topic_id)
        ).scalars()
        feeds += [(n, TOPIC_FEED_ITEMS) for n in topics]
    return sum(max(0, (n - window) // size) for n, window in feeds)


def ticks(ctx: Context, n_articles: int, profile_to: Path | None = None) -> dict[str, Any]:
    from bench.archivestate import close_pages
    from bench.corpus import Corpus
    from bench.datasets import article_body
    from feedsvc.articles import ArticleInput, create_article, delete_article
    from feedsvc.publishing.passes import run_pass
    from feedsvc.publishing.scheduler import CHECKPOINT_SECONDS, Publisher
    from feedsvc.storage.db import checkpoint, database, defer_checkpoints, transaction
    from feedsvc.storage.history import Tombstone
    from feedsvc.storage.models import utcnow
    from feedsvc.storage.topics import TAG, Topic

    path = scale_db(n_articles, log=ctx.log)
    app = make_app(f"sqlite:///{path}", ctx.workdir / f"instance-{n_articles}")
    logging.getLogger("feedsvc").setLevel(logging.WARNING)  # no line per tick
    engine = database(app).engine
    t0 = time.perf_counter()
    closed = close_pages(app, utcnow())
    if closed:
        ctx.log(f"    closed {closed} archive pages in SQL ({time.perf_counter() - t0:.0f} s)")
    t0 = time.perf_counter()
    first = run_pass(app)  # a new (or changed) archive: render what is due, untimed
    if first.sections_rendered or first.topics_rendered:
        ctx.log(
            f"    rendered {len(first.sections_rendered)} sections and "
            f"{len(first.topics_rendered)} tags and authors first "
            f"({time.perf_counter() - t0:.0f} s, not timed)"
        )
    backfill = settle_archives(app, run_pass)
    if backfill:
        ctx.log(f"    closed the feed archives' pages first ({backfill:.0f} s, not timed)")
    # As the scheduler process runs it: its commits leave WAL checkpoints to a background job
    # (feedsvc.scheduler, "sqlite-checkpoint"), run here on a thread at the same interval.
    defer_checkpoints(app)
    stop_checkpoints = threading.Event()

    def checkpoints() -> None:
        while not stop_checkpoints.wait(CHECKPOINT_SECONDS):
            checkpoint(app)

    checkpointer = threading.Thread(target=checkpoints, daemon=True)
    checkpointer.start()
    publisher = Publisher(app)
    publisher.run()  # takes the lease
    with QueryLog(engine) as idle_log:
        publisher.run()
    idle = []
    ctx.wait_quiet()
    for _ in range(IDLE_TICKS):
        t = time.perf_counter()
        result = publisher.run()
        idle.append(time.perf_counter() - t)
        assert result is not None, "the tick did not run"
        assert not result.sections_rendered and not result.topics_rendered, "an idle tick rendered"
    corpus = Corpus(n_articles)
    # The changed article's tags: the archive's busiest tag and one from its long tail, so
    # each changed tick renders two tag feeds and an author's besides the section's.
    with transaction(app, write=False) as s:
        tags = tuple(
            s.scalars(
                select(Topic.name)
                .where(Topic.kind == TAG, Topic.id.in_([1, TAG_VOCABULARY // 2]))
                .order_by(Topic.id)
            )
        )
    changed, added, rendered = [], [], []
    guids: list[str] = []
    changed_log = QueryLog(engine)
    profiler = None
    if profile_to is not None:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
    for i in range(CHANGED_TICKS * (2 if profiler else 1)):
        timed = i < CHANGED_TICKS
        # publish_at is now, in whole seconds, like the tick's own time: due at this tick.
        with transaction(app) as s:
            article = create_article(
                s,
                ArticleInput(
                    title=f"Benchmark change {i} {corpus.title(4)}",
                    section_id=CHANGED_SECTION_ID,
                    body=article_body(corpus),
                    author=corpus.author(),
                    tags=tags,
                ),
                base_url=SITE_URL + "/",
            )
            added.append(article.id)
            guids.append(article.guid)
        if timed:
            ctx.wait_quiet()
            with changed_log if i == 0 else nullcontext():
                t = time.perf_counter()
                result = publisher.run()
                changed.append(time.perf_counter() - t)
            assert result is not None
            rendered.append(len(result.sections_rendered) + len(result.topics_rendered))
        else:  # the same ticks again under the profiler, not timed
            assert profiler is not None
            profiler.start()
            publisher.run()
            profiler.stop()
    stop_checkpoints.set()
    checkpointer.join()
    with transaction(app) as s:  # leave the cached archive as it was
        for article_id in added:
            delete_article(s, article_id)
        # Their RFC 6721 tombstones too: else each rerun's feeds would carry more of them.
        s.execute(delete(Tombstone).where(Tombstone.ref.in_(guids)))
    publisher.run()
    publisher.release()
    if profiler is not None and profile_to is not None:
        profile_to.parent.mkdir(parents=True, exist_ok=True)
        profile_to.write_text(profiler.output_text(unicode=True, color=False, show_all=False))
    plans = query_plans(engine, idle_log.statements + changed_log.statements)
    with engine.connect() as conn:
        stats = conn.execute(text("SELECT count(*) FROM sqlite_master WHERE name='sqlite_stat1'"))
        analyzed = bool(stats.scalar())
    database(app).dispose()
    return {
        "articles": n_articles,
        "database_bytes": path.stat().st_size,
        "changed_section_published_articles": published_count(path, CHANGED_SECTION_ID),
        "idle_tick_ms": {
            "median": round(median(idle) * 1000, 2),
            "p99": round(percentile(idle, 99) * 1000, 2),
            "runs": [round(x * 1000, 3) for x in idle],
        },
        "changed_tick_ms": {
            "median": round(median(changed) * 1000, 2),
            "max": round(max(changed) * 1000, 2),
            "runs": [round(x * 1000, 3) for x in changed],
            "sections_rendered": rendered,
        },
        "queries_idle_tick": len(idle_log.statements),
        "queries_changed_tick": len(changed_log.statements),
        "query_plans": plans,
        "sqlite_stat1": analyzed,
    }


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median time (its own figures, peak RSS included)."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    return ordered[(len(ordered) - 1) // 2] | {"runs": len(runs)}


def run(ctx: Context) -> dict[str, Any]:
    scales = sorted(ctx.options.scales)
    out: dict[str, Any] = {
        "database": "SQLite (WAL), as `make run` uses",
        "sections": 1000,
        "changed_section_id": CHANGED_SECTION_ID,
        "scales": {},
        "skipped_scales": {},
    }
    profiles = ctx.results_dir / "profiles"
    done = []
    for n in scales:
        ctx.log(f"  ticks on the {scale_label(n)} archive")
        try:
            r = ticks(ctx, n, profiles / "changed-tick.txt" if n == scales[-1] else None)
        except Skip as exc:
            out["skipped_scales"][scale_label(n)] = str(exc)
            ctx.log(f"    skipped: {exc}")
            continue
        done.append(n)
        out["scales"][scale_label(n)] = r
        ctx.log(
            f"    idle tick {r['idle_tick_ms']['median']} ms (p99 {r['idle_tick_ms']['p99']}), "
            f"one changed section {r['changed_tick_ms']['median']} ms"
        )
    if not done:
        raise Skip("no archive could be made: " + "; ".join(out["skipped_scales"].values()))
    largest = done[-1]
    path = scale_db(largest, log=ctx.log)
    label = scale_label(largest)
    rounds = 1 if ctx.options.smoke else 3
    ctx.log(f"  full rebuild on the {label} archive (child processes, {rounds} rounds)")
    runs: dict[str, list[dict[str, Any]]] = {"cold": [], "warm": [], "feedgen_alone": []}
    for _round in range(rounds):  # interleaved, so drift touches all three alike
        for key, args in (
            ("cold", ["rebuild", str(path), "--cold"]),
            ("warm", ["rebuild", str(path)]),
            ("feedgen_alone", ["feedgen", str(path)]),
        ):
            r, _before, during = ctx.measured(partial(child, ctx, *args))
            runs[key].append(r | {"other_cpu_pct": during})
            ctx.log(
                f"    {key.replace('_', ' '):14} {r['seconds']:5.1f} s, "
                f"peak RSS {r['peak_rss_bytes'] >> 20} MiB"
            )
    cold, warm, alone = (_median_run(runs[k]) for k in ("cold", "warm", "feedgen_alone"))
    profile = profiles / "rebuild.txt"
    profile.parent.mkdir(parents=True, exist_ok=True)
    sections = 20 if ctx.options.smoke else 100
    child(ctx, "profile-rebuild", str(path), str(profile), "--sections", str(sections))
    out["full_rebuild"] = {
        "archive": label,
        "cold": cold,
        "warm": warm,
        "feedgen_alone": alone,
        "ratio_cold_to_feedgen": cold["seconds"] / alone["seconds"],
        "ratio_warm_to_feedgen": warm["seconds"] / alone["seconds"],
        "runs": runs,
        "profile": str(profile.relative_to(ctx.results_dir)),
        "changed_tick_profile": "profiles/changed-tick.txt",
        "profile_sections": sections,
    }
    return out
