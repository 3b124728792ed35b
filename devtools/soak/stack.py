"""The soak's stage: a fresh database, sections, a write token, the web server, the scheduler."""

from __future__ import annotations

import http.client
import json
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from devtools import procs
from feedsvc import create_app, urls
from feedsvc.articles import ArticleInput, create_article
from feedsvc.limits import ROLE_ADMIN, SCOPE_WRITE
from feedsvc.sections import SectionInput, create_section
from feedsvc.storage import migrate
from feedsvc.storage.db import database, transaction
from feedsvc.storage.models import Article
from feedsvc.tokens import create_token
from feedsvc.users import create_user

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
EDITOR = ("soak-editor", "a soak editor's passphrase")
FORMATS = tuple(urls.FEED_FILES)  # rss, atom, json
IDLE_RECONNECT = 2.0  # seconds; under any server's keep-alive (webserver.py: 10 s, gunicorn: 5)


@dataclass(frozen=True)
class Section:
    id: int
    slug: str
    items_per_feed: int


@dataclass(frozen=True)
class Site:
    """A prepared database: its URL, the sections, a write token, the in-process app."""

    url: str
    engine: str  # "sqlite" or "postgresql"
    sections: tuple[Section, ...]
    token: str
    app: Flask
    site_feed_items: int

    def feed_paths(self) -> list[str]:
        """Every feed's URL path: each section's three formats, then the site's three."""
        paths = [f"/{urls.section_doc_path(s.slug, f)}" for s in self.sections for f in FORMATS]
        return paths + [f"/{urls.site_doc_path(f)}" for f in FORMATS]

    def published(self) -> list[tuple[str, int, int]]:
        """(guid, section id, rank by the feeds' order) of every published article row."""
        with transaction(self.app, write=False) as s:
            rows = s.execute(
                select(Article.guid, Article.section_id)
                .where(Article.status == "published")
                .order_by(Article.publish_at.desc(), Article.id.desc())
            ).all()
        return [(guid, section_id, rank) for rank, (guid, section_id) in enumerate(rows)]


@contextmanager
def fresh_database(engine: str, workdir: Path, pg_url: str = DEFAULT_PG_URL) -> Iterator[str]:
    """An empty database: a SQLite file in workdir, or a new schema (dropped after) on pg_url."""
    if engine == "sqlite":
        yield f"sqlite:///{workdir / 'soak.sqlite3'}"
        return
    schema = f"soak_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def prepare(
    url: str, engine: str, workdir: Path, sections: int, items_per_feed: int, site_items: int
) -> Site:
    """Migrate, add an admin account with a write token, and `sections` sections."""
    app = create_app(
        {
            "INSTANCE_PATH": str(workdir / "harness-instance"),
            "DATABASE_URL": url,
            "SECRET_KEY": procs.SECRET_KEY,
            "SITE_URL": procs.SITE_URL,
            "SITE_FEED_ITEMS": site_items,
        }
    )
    migrate.upgrade(database(app).engine)
    made = []
    with transaction(app) as s:
        create_user(s, *EDITOR, role=ROLE_ADMIN)
        token = create_token(s, EDITOR[0], "soak", scope=SCOPE_WRITE)[1]
        for n in range(sections):
            data = SectionInput(
                name=f"Desk {n + 1}",
                slug=f"desk-{n + 1}",
                description="",
                items_per_feed=items_per_feed,
            )
            made.append(Section(create_section(s, data).id, f"desk-{n + 1}", items_per_feed))
    return Site(url, engine, tuple(made), token, app, site_items)


def add_articles(site: Site, count: int) -> None:
    """Published articles spread over the sections, so feeds start at a realistic size."""
    with transaction(site.app) as s:
        for n in range(count):
            section = site.sections[n % len(site.sections)]
            text = f"Background story {n}.\n\n" + "A paragraph of ordinary news text. " * 15
            create_article(
                s,
                ArticleInput(title=f"Background {n}", section_id=section.id, body=text),
                base_url=procs.SITE_URL + "/",
            )


def settings_env(site: Site, **extra: str) -> dict[str, str]:
    """The environment every soak child gets: the database, the site feed size, `extra`."""
    env = procs.service_env(site.url, FEEDSVC_SITE_FEED_ITEMS=str(site.site_feed_items))
    env.update(extra)
    return env


def web(site: Site, port: int, log: Path, env: Mapping[str, str]) -> procs.Proc:
    """webserver.py, as `make run` starts it (2 workers unless env says otherwise)."""
    full = {**settings_env(site), **env}
    full.update(FEEDSVC_BIND=f"127.0.0.1:{port}", PORT=str(port))
    return procs.web(full, log)


def scheduler(site: Site, log: Path, env: Mapping[str, str]) -> procs.Proc:
    """`flask run-scheduler` on the site's database."""
    return procs.scheduler({**settings_env(site), **env}, log)


class Editor:
    """Posts articles through the JSON API over one keep-alive connection."""

    def __init__(self, port: int, token: str, timeout: float = 30) -> None:
        self.port = port
        self.token = token
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None
        self.last_used = 0.0

    def post(self, section: str, title: str, body: str) -> tuple[int, dict[str, Any], float]:
        """POST /api/v1/articles: (status, JSON answer, monotonic time the answer came)."""
        payload = json.dumps({"title": title, "section": section, "body": body}).encode()
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
        }
        # Servers close a connection idle for a few seconds; a POST is not retried, so a
        # connection idle for a while is replaced before it is used rather than after it fails.
        if self.conn is not None and time.monotonic() - self.last_used > IDLE_RECONNECT:
            self.close()
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            self.conn.request("POST", "/api/v1/articles", body=payload, headers=headers)
            r = self.conn.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        answered = self.last_used = time.monotonic()
        if r.getheader("Connection", "").lower() == "close":
            self.close()
        try:
            answer = json.loads(data) if data else {}
        except ValueError:
            answer = {"raw": data[:200].decode("utf-8", "replace")}
        return r.status, answer if isinstance(answer, dict) else {}, answered

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
