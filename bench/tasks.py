"""Work run in a child process, so its time and peak memory are its own.

    python -m bench.tasks rebuild DB [--cold]   # the scheduler's full rebuild (Publisher.run)
    python -m bench.tasks feedgen DB            # feedgen alone serialising the same feeds
    python -m bench.tasks profile-rebuild DB OUT [--sections N]

Each prints one JSON object on its last line of stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sqlite3
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.datasets import SITE_URL, make_app
from devtools.procs import peak_rss


def _peak_rss() -> int:
    # VmHWM, not getrusage's ru_maxrss: that one keeps the parent's peak across fork + exec.
    return peak_rss(os.getpid())


class ChildPeaks:
    """Samples the peak RSS (VmHWM) of this process's children while the block runs."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _children(self) -> list[int]:
        """Render processes only: multiprocessing's resource tracker is a child too."""
        pids: list[int] = []
        for task in Path(f"/proc/{os.getpid()}/task").iterdir():
            with contextlib.suppress(OSError):
                for pid in (task / "children").read_text().split():
                    if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                        pids.append(int(pid))
        return pids

    def _watch(self) -> None:
        while True:
            for pid in self._children():
                self.peaks[pid] = max(self.peaks.get(pid, 0), peak_rss(pid))
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> ChildPeaks:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _app(db: Path) -> Any:
    app = make_app(f"sqlite:///{db}", Path(tempfile.mkdtemp(prefix="bench-instance-")))
    logging.getLogger("feedsvc").setLevel(logging.WARNING)
    return app


def rebuild(db: Path, cold: bool) -> dict[str, Any]:
    """One full rebuild exactly as the scheduler runs it (lease, pass, run record)."""
    from sqlalchemy import delete, update

    from feedsvc.publishing.scheduler import Publisher
    from feedsvc.storage.archives import ArchivePage, ArchiveScope, ArchiveTouch
    from feedsvc.storage.db import transaction
    from feedsvc.storage.models import FeedDocument, Section
    from feedsvc.storage.topics import Topic

    app = _app(db)
    if cold:  # as on a first start: no stored document, every one is written
        with transaction(app) as s:
            s.execute(delete(FeedDocument))
            for table in (ArchivePage, ArchiveScope, ArchiveTouch):  # nor any archive page
                s.execute(delete(table))
            s.execute(update(Section).values(rendered_revision=0, rendered_as_of=None))
            s.execute(update(Topic).values(rendered_revision=0, rendered_as_of=None))
    publisher = Publisher(app)
    rss_before = _peak_rss()
    watcher = ChildPeaks()
    started = time.perf_counter()
    with watcher:
        result = publisher.run(full=True)
    seconds = time.perf_counter() - started
    publisher.release()
    assert result is not None, "did not get the scheduler lease"
    return {
        "seconds": seconds,
        "pass_seconds": result.seconds,
        "sections": len(result.sections_rendered),
        "documents_changed": result.documents_changed,
        "failures": len(result.failures),
        "peak_rss_bytes": _peak_rss(),
        "rss_before_bytes": rss_before,
        # feedsvc.renderpool's processes (RENDER_PROCESSES): each one's own peak.
        "render_processes": len(watcher.peaks),
        "render_process_peak_rss_bytes": max(watcher.peaks.values(), default=0),
    }


@dataclass(frozen=True)
class Item:
    guid: str
    url: str
    title: str
    html: str
    summary: str
    published: datetime
    updated: datetime
    author: str


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def load_feeds(db: Path) -> list[tuple[dict[str, Any], list[Item]]]:
    """Every section with its newest published items, as plain data (not timed)."""
    now = datetime.now(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    conn = sqlite3.connect(db)
    out = []
    try:
        sections = conn.execute(
            "SELECT id, guid, name, slug, description, items_per_feed FROM sections ORDER BY id"
        ).fetchall()
        for sid, guid, name, slug, description, limit in sections:
            rows = conn.execute(
                "SELECT guid, id, title, body_html, summary, publish_at, updated_at, author "
                "FROM articles WHERE section_id = ? AND status = 'published' AND publish_at <= ? "
                "ORDER BY publish_at DESC, id DESC LIMIT ?",
                (sid, now, limit),
            ).fetchall()
            items = [
                Item(
                    r[0],
                    f"{SITE_URL}/articles/{r[1]}",
                    r[2],
                    r[3],
                    r[4],
                    _utc(r[5]),
                    max(_utc(r[5]), _utc(r[6])),
                    r[7],
                )
                for r in rows
            ]
            meta = {"guid": guid, "name": name, "slug": slug, "description": description}
            out.append((meta, items))
    finally:
        conn.close()
    return out


def serialise_with_feedgen(meta: dict[str, Any], items: list[Item]) -> tuple[bytes, bytes, bytes]:
    """RSS and Atom from one FeedGenerator, JSON Feed with json.dumps: no cleaning, no fixes."""
    from feedgen.feed import FeedGenerator

    home = f"{SITE_URL}/sections/{meta['slug']}/"
    updated = max((i.updated for i in items), default=datetime(1970, 1, 1, tzinfo=UTC))
    fg = FeedGenerator()
    fg.load_extension("dc", atom=False, rss=True)
    fg.id(meta["guid"])
    fg.title(f"feedsvc: {meta['name']}")
    fg.updated(updated)
    fg.link(href=home + "rss.xml", rel="self")
    fg.link(href=home, rel="alternate")
    fg.author(name="feedsvc")
    fg.description(meta["description"] or meta["name"])
    fg.language("en")
    fg.lastBuildDate(updated)
    fg.generator("feedsvc")
    fg.ttl(1)
    for it in items:
        fe = fg.add_entry(order="append")
        fe.id(it.guid)
        fe.title(it.title)
        fe.link(href=it.url)
        fe.updated(it.updated)
        fe.published(it.published)
        if it.author:
            fe.author(name=it.author)
        fe.summary(it.summary)
        fe.content(it.html, type="html")
        fe.category(term=meta["name"])
        fe.dc.dc_creator(it.author or "feedsvc")
    rss = fg.rss_str()
    atom = fg.atom_str()
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": f"feedsvc: {meta['name']}",
        "home_page_url": home,
        "feed_url": home + "feed.json",
        "items": [
            {
                "id": it.guid,
                "url": it.url,
                "title": it.title,
                "content_html": it.html,
                "summary": it.summary,
                "date_published": it.published.isoformat(),
                "date_modified": it.updated.isoformat(),
                "authors": [{"name": it.author or "feedsvc"}],
                "tags": [meta["name"]],
            }
            for it in items
        ],
    }
    js = json.dumps(feed, ensure_ascii=False, separators=(",", ":")).encode()
    return rss, atom, js


def feedgen_alone(db: Path) -> dict[str, Any]:
    feeds = load_feeds(db)
    started = time.perf_counter()
    total = 0
    for meta, items in feeds:
        total += sum(len(b) for b in serialise_with_feedgen(meta, items))
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "sections": len(feeds),
        "items": sum(len(items) for _m, items in feeds),
        "bytes": total,
        "peak_rss_bytes": _peak_rss(),
    }


def profile_rebuild(db: Path, out: Path, sections: int) -> dict[str, Any]:
    """pyinstrument over the first N sections and the site feeds, rendered and stored in one
    batch as a pass does (in this process: the profile would not see render processes).

    Cold like the timed rebuild: those sections' stored documents are deleted first, so
    every document is compressed and written.
    """
    from pyinstrument import Profiler
    from sqlalchemy import delete, select

    from feedsvc.publishing.snapshot import prepare_section, prepare_site
    from feedsvc.publishing.store import write_documents
    from feedsvc.storage.db import transaction
    from feedsvc.storage.models import FeedDocument, Section, utcnow

    app = _app(db)
    with transaction(app) as s:
        ids = list(s.scalars(select(Section.id).order_by(Section.id).limit(sections)))
        s.execute(delete(FeedDocument).where(FeedDocument.section_id.in_(ids)))
    now = utcnow()
    profiler = Profiler(interval=0.0005)
    profiler.start()
    prepared = [p for sid in ids if (p := prepare_section(app, sid, now)) is not None]
    write_documents(app, prepared, prepare_site(app, now))
    profiler.stop()
    out.write_text(profiler.output_text(unicode=True, color=False, show_all=False))
    return {"sections": len(ids), "profile": str(out)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.tasks")
    sub = p.add_subparsers(dest="task", required=True)
    r = sub.add_parser("rebuild")
    r.add_argument("db", type=Path)
    r.add_argument("--cold", action="store_true")
    f = sub.add_parser("feedgen")
    f.add_argument("db", type=Path)
    pr = sub.add_parser("profile-rebuild")
    pr.add_argument("db", type=Path)
    pr.add_argument("out", type=Path)
    pr.add_argument("--sections", type=int, default=100)
    args = p.parse_args(argv)
    if args.task == "rebuild":
        result = rebuild(args.db, args.cold)
    elif args.task == "feedgen":
        result = feedgen_alone(args.db)
    else:
        result = profile_rebuild(args.db, args.out, args.sections)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
