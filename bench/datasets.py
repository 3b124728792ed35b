"""The benchmark's data: a small serving database made through feedsvc's own services, and
large archives (10k … 1M articles in 1,000 sections) written straight into feedsvc's schema.

Serving database (`build_serving_db`): the sections every server scenario reads, each article
created with `create_article` (Markdown → sanitised HTML, derived summary), then rendered with
`run_pass(full=True)`. "world-news" holds the 50-item feed (~190 KB of RSS) that every server
scenario serves; "growth-20" and "growth-200" are the cost-growth feeds; "desk-1"…"desk-4" are
where the freshness scenario posts. One editor account (BENCH_USER) can log in.

Archive databases (`scale_db`): cached under bench/.data/ keyed by GENERATOR_VERSION, so a
rerun reuses them. Bodies come from a pool of bodies rendered once through feedsvc's own
Markdown pipeline (a million renders would take longer than the benchmark); every article
has its own title, guid and dates, and the rows are full size, as in production. Articles go
to sections with Zipf-like weights (a few busy desks, a long tail): at 1M every section has
well over 50 articles; at 10k, the small ones have only a few. Every article has 1–3 tags
(TAG_VOCABULARY) and most have an author, each linked as feedsvc/topics.py stores them.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

from flask import Flask

from bench.corpus import Corpus
from bench.skip import Skip
from feedsvc.progress import Progress, progress

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / ".data"
# Plain http: the admin session cookie is Secure under an https SITE_URL, and the benchmark's
# editor talks to gunicorn over plain http on loopback.
SITE_URL = "http://news.example.org"
SECRET_KEY = "bench-secret-key-not-for-production"
BENCH_USER = ("bench", "bench-password-123")

MAIN_SLUG = "world-news"
MAIN_PATH = f"/sections/{MAIN_SLUG}/rss.xml"
GROWTH_ITEMS = (20, 50, 200)
DESKS = 4

# Bump when the archive generator's output changes: cached databases are then rebuilt.
GENERATOR_VERSION = 4
SECTIONS = 1000
# Tags: every article has 1 to 3 from a vocabulary of this many, Zipf-like (a few everywhere,
# a long tail); authors are the corpus's 675 names (27 × 25), one per article for 90% of them.
TAG_VOCABULARY = 3000
BODY_POOL = 400
# The section the "one changed section" tick touches: rank 20 of the Zipf-like weights, so it
# has ≥ 50 published articles at every scale from 10k on (a full 50-item feed to render).
CHANGED_SECTION_ID = 20
# Newest article's date: fixed, so the archive is the same on every run.
ARCHIVE_END = datetime(2025, 1, 1, tzinfo=UTC)


def growth_slug(items: int) -> str:
    return MAIN_SLUG if items == 50 else f"growth-{items}"


def make_app(database_url: str, instance: Path, **overrides: Any) -> Flask:
    """A feedsvc app on the given database (schema brought up to date)."""
    from feedsvc import create_app
    from feedsvc.storage import migrate
    from feedsvc.storage.db import database

    app = create_app(
        {
            "INSTANCE_PATH": str(instance),
            "DATABASE_URL": database_url,
            "SECRET_KEY": SECRET_KEY,
            "SITE_URL": SITE_URL,
            **overrides,
        }
    )
    migrate.upgrade(database(app).engine)
    return app


def article_body(corpus: Corpus) -> str:
    """Six or seven paragraphs: a 50-item RSS feed of these is ~190 KB."""
    return corpus.body(corpus.rng.choice((6, 7)))


# --- serving database ------------------------------------------------------------------------


@dataclass(frozen=True)
class ServingDB:
    path: Path
    url: str
    titles: dict[str, list[str]]  # slug → titles in its feed

    def app(self, **overrides: Any) -> Flask:
        return make_app(self.url, self.path.parent / "instance", **overrides)


def build_serving_db(workdir: Path, *, seed: int = 2024) -> ServingDB:
    """Create and render the serving database in workdir (a new file each run)."""
    from feedsvc.articles import ArticleInput, create_article
    from feedsvc.publishing.passes import run_pass
    from feedsvc.sections import SectionInput, create_section
    from feedsvc.storage.db import database, transaction
    from feedsvc.users import create_user

    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "serving.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    app = make_app(url, workdir / "instance")
    corpus = Corpus(seed)
    plan = [("World News", MAIN_SLUG, 50, 50)]
    plan += [(f"Growth {n}", growth_slug(n), n, n) for n in GROWTH_ITEMS if n != 50]
    plan += [(f"Desk {i}", f"desk-{i}", 50, 50) for i in range(1, DESKS + 1)]
    titles: dict[str, list[str]] = {}
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with transaction(app) as s:
        create_user(s, *BENCH_USER)
        for name, slug, items, count in plan:
            section = create_section(
                s,
                SectionInput(
                    name, slug, description=f"{name}: {corpus.sentence()}", items_per_feed=items
                ),
            )
            titles[slug] = []
            for i in range(count):
                article = create_article(
                    s,
                    ArticleInput(
                        title=corpus.title(),
                        section_id=section.id,
                        body=article_body(corpus),
                        author=corpus.author(),
                        publish_at=start + timedelta(hours=i, minutes=len(titles)),
                    ),
                    base_url=SITE_URL + "/",
                )
                titles[slug].append(article.title)
    run_pass(app, full=True)
    database(app).dispose()
    return ServingDB(path, url, titles)


# --- archive databases -----------------------------------------------------------------------


def scale_label(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else f"{n // 1000}k"


def scale_path(n_articles: int) -> Path:
    return DATA_DIR / f"archive-{scale_label(n_articles)}-v{GENERATOR_VERSION}.sqlite3"


def _sqlite_datetime(value: datetime) -> str:
    # SQLAlchemy's storage format for DateTime on SQLite (naive UTC): comparisons are textual.
    return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def _body_pool(seed: int, bar: Progress) -> list[tuple[str, str, str]]:
    """(markdown, html, summary) rendered through feedsvc's own content pipeline."""
    from feedsvc.content.html import render_body
    from feedsvc.content.summary import derive_summary

    corpus = Corpus(seed)
    pool = []
    for _ in range(BODY_POOL):
        source = article_body(corpus)
        html = render_body(source, base_url=SITE_URL + "/")
        pool.append((source, html, derive_summary(html)))
        bar.advance()
    return pool


def _section_rows(corpus: Corpus, created: str) -> Iterator[tuple[Any, ...]]:
    from feedsvc.content.slugs import slugify

    seen: set[str] = set()
    for i in range(1, SECTIONS + 1):
        name = f"{corpus.title(2)} {i}"
        slug = slugify(name)
        assert slug not in seen
        seen.add(slug)
        yield (
            i,
            uuid.UUID(int=random.Random(i).getrandbits(128), version=4).urn,
            name,
            slug,
            corpus.sentence(),
            50,
            1,
            0,
            None,
            created,
            created,
        )


def generate_archive(n_articles: int, path: Path, *, seed: int = 7, log: Any = print) -> None:
    """Write an archive of n_articles in SECTIONS sections to path (replacing it).

    Minutes at 1M: a progress bar on a terminal (stderr), one summary line otherwise. Its
    steps: each pooled body rendered, then each article written, then each one linked.
    """
    started = time.perf_counter()
    label = f"Generating the {n_articles:,}-article archive"
    with progress(label, BODY_POOL + 2 * n_articles, unit="steps") as bar:
        _generate_archive(n_articles, path, seed, bar)
    log(
        f"  generated {scale_label(n_articles)} archive in {time.perf_counter() - started:.0f} s "
        f"({path.stat().st_size / 2**30:.2f} GiB): {path}"
    )


def _generate_archive(n_articles: int, path: Path, seed: int, bar: Progress) -> None:
    from feedsvc.storage import migrate
    from feedsvc.storage.db import make_engine
    from feedsvc.storage.searchindex import FTS_TABLE

    tmp = path.with_name(path.name + ".tmp")
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{tmp}")  # feedsvc's own settings (page size, WAL)
    migrate.upgrade(engine)
    engine.dispose()

    rng = random.Random(seed)
    corpus = Corpus(seed)
    pool = _body_pool(seed, bar)
    step = timedelta(minutes=5)
    first = ARCHIVE_END - step * n_articles
    created = _sqlite_datetime(first - timedelta(days=1))
    weights = list(accumulate(1.0 / rank for rank in range(1, SECTIONS + 1)))

    db = sqlite3.connect(tmp, isolation_level=None)
    for pragma in (
        "journal_mode=OFF",
        "synchronous=OFF",
        "locking_mode=EXCLUSIVE",
        "temp_store=MEMORY",
        "cache_size=-1048576",
    ):
        db.execute(f"PRAGMA {pragma}")
    # Secondary indexes are rebuilt after the load (sorting once beats a million inserts).
    indexes = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name='articles' "
        "AND sql IS NOT NULL"
    ).fetchall()
    # The search index's triggers would index each row as it goes in: one 'rebuild' after
    # the load reads the table once instead (feedsvc/storage/searchindex.py).
    triggers = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type='trigger' AND tbl_name='articles'"
    ).fetchall()
    db.execute("BEGIN")
    for name, _sql in indexes:
        db.execute(f'DROP INDEX "{name}"')
    for name, _sql in triggers:
        db.execute(f'DROP TRIGGER "{name}"')
    db.executemany(
        "INSERT INTO sections (id, guid, name, slug, description, items_per_feed, revision, "
        "rendered_revision, rendered_as_of, created_at, updated_at) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        _section_rows(corpus, created),
    )
    future = _sqlite_datetime(datetime(2099, 1, 1, tzinfo=UTC))
    tags = _tag_vocabulary(Corpus(seed + 1), created)
    tag_rng = random.Random(seed + 1)
    tag_weights = list(accumulate(1.0 / rank for rank in range(1, TAG_VOCABULARY + 1)))
    tag_ids = [row[0] for row in tags]
    chosen: list[tuple[int, ...]] = []  # each article's tag ids, in its order

    def rows() -> Iterator[tuple[Any, ...]]:
        sections = rng.choices(range(1, SECTIONS + 1), cum_weights=weights, k=n_articles)
        for i in range(n_articles):
            source, html, summary = pool[rng.randrange(BODY_POOL)]
            when = _sqlite_datetime(first + step * (i + 1))
            roll = rng.random()
            if roll < 0.02:  # drafts: no publish time
                status, publish_at = "draft", None
            elif roll < 0.021:  # scheduled far ahead: never due during the benchmark
                status, publish_at = "published", future
            else:
                status, publish_at = "published", when
            picked = tuple(
                dict.fromkeys(
                    tag_rng.choices(tag_ids, cum_weights=tag_weights, k=tag_rng.randint(1, 3))
                )
            )
            chosen.append(picked)
            bar.advance()
            yield (
                uuid.UUID(int=rng.getrandbits(128), version=4).urn,
                sections[i],
                corpus.title(),
                source,
                html,
                "",
                summary,
                corpus.author() if rng.random() < 0.9 else "",
                status,
                publish_at,
                when,
                when,
                "\n".join(tags[t - 1][2] for t in picked),  # feedsvc.limits.TAG_SEPARATOR
            )

    db.executemany(
        "INSERT INTO articles (guid, section_id, title, body_source, body_html, summary_source, "
        "summary, author, status, publish_at, created_at, updated_at, tag_names) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        rows(),
    )
    for _name, sql in indexes:
        db.execute(sql)
    for _name, sql in triggers:
        db.execute(sql)
    if triggers:
        db.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
    _load_topics(db, tags, chosen, created, bar)
    db.execute("COMMIT")
    db.execute("PRAGMA locking_mode=NORMAL")
    db.execute("PRAGMA journal_mode=WAL")
    db.close()
    os.replace(tmp, path)


def _tag_vocabulary(corpus: Corpus, created: str) -> list[tuple[Any, ...]]:
    """TAG_VOCABULARY topics rows of kind "tag", ids 1 … TAG_VOCABULARY, distinct slugs."""
    from feedsvc.content.slugs import slugify

    rows: list[tuple[Any, ...]] = []
    seen: set[str] = set()
    while len(rows) < TAG_VOCABULARY:
        name = f"{corpus.title(2)} {len(rows) + 1}"
        slug = slugify(name)
        if slug not in seen:
            seen.add(slug)
            rows.append((len(rows) + 1, "tag", name, slug, 1, 0, None, created))
    return rows


def _load_topics(
    db: Any, tags: list[tuple[Any, ...]], chosen: list[tuple[int, ...]], created: str, bar: Progress
) -> None:
    """The tags and authors as topics, and every article's links (its status and publish
    time copied in, as every save keeps them); article ids are 1 … n in insertion order."""
    from feedsvc.content.slugs import slugify

    indexes = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name='article_topics' "
        "AND sql IS NOT NULL"
    ).fetchall()
    for name, _sql in indexes:
        db.execute(f'DROP INDEX "{name}"')
    topics = list(tags)
    author_ids: dict[str, int] = {}
    for (author,) in db.execute("SELECT DISTINCT author FROM articles WHERE author != ''"):
        topics.append((len(topics) + 1, "author", author, slugify(author), 1, 0, None, created))
        author_ids[author] = len(topics)
    db.executemany(
        "INSERT INTO topics (id, kind, name, slug, revision, rendered_revision, rendered_as_of, "
        "created_at) VALUES (?,?,?,?,?,?,?,?)",
        topics,
    )

    def links() -> Iterator[tuple[Any, ...]]:
        articles = db.execute("SELECT id, status, publish_at, author FROM articles ORDER BY id")
        for article_id, status, publish_at, author in articles:
            linked = list(chosen[article_id - 1])
            bar.advance()
            if author:
                linked.append(author_ids[author])
            for position, topic_id in enumerate(linked):
                yield (article_id, topic_id, position, status, publish_at)

    db.executemany(
        "INSERT INTO article_topics (article_id, topic_id, position, status, publish_at) "
        "VALUES (?,?,?,?,?)",
        links(),
    )
    for _name, sql in indexes:
        db.execute(sql)


# Bytes per article in the archive, indexes included (measured: 7.5 GiB for 1M), plus room for
# the rendered documents and SQLite's WAL.
BYTES_PER_ARTICLE = 8_200


def scale_db(n_articles: int, *, log: Any = print) -> Path:
    """The cached archive of n_articles (generated on first use, if the disk has room)."""
    path = scale_path(n_articles)
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        for stale in DATA_DIR.glob(f"archive-{scale_label(n_articles)}-v*.sqlite3*"):
            stale.unlink()  # an older generator's archive of this size
        need = n_articles * BYTES_PER_ARTICLE + 2 * 2**30
        free = shutil.disk_usage(DATA_DIR).free
        if free < need:
            raise Skip(
                f"the {scale_label(n_articles)} archive needs ~{need / 2**30:.0f} GiB free "
                f"under {DATA_DIR}, there are {free / 2**30:.0f} GiB"
            )
        log(f"  generating the {scale_label(n_articles)}-article archive (cached for reruns)…")
        generate_archive(n_articles, path, log=log)
    return path


def published_count(path: Path, section_id: int) -> int:
    db = sqlite3.connect(path)
    try:
        (count,) = db.execute(
            "SELECT count(*) FROM articles WHERE section_id=? AND status='published'",
            (section_id,),
        ).fetchone()
        return int(count)
    finally:
        db.close()
