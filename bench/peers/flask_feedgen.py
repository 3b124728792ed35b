"""Flask + SQLAlchemy + feedgen generating the section's RSS feed on every request.

A faithful naive implementation: the view queries the section and its 50 newest published
articles through the ORM, builds the feed with feedgen (title, link, guid, summary, full
content, dates, category, author) and lets Werkzeug add an ETag and answer If-None-Match
(which still means generating the feed first). No gzip: gunicorn does not compress.
`gunicorn -c gunicorn.conf.py bench.peers.flask_feedgen:app` with BENCH_DATABASE_URL set.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from feedgen.feed import FeedGenerator
from flask import Flask, Response, abort, request
from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

SITE_URL = os.environ.get("BENCH_SITE_URL", "http://news.example.org")
engine = create_engine(os.environ["BENCH_DATABASE_URL"])


class Base(DeclarativeBase):
    pass


class Section(Base):
    __tablename__ = "sections"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guid: Mapped[str] = mapped_column(String)
    name: Mapped[str] = mapped_column(String)
    slug: Mapped[str] = mapped_column(String)
    description: Mapped[str] = mapped_column(Text)
    items_per_feed: Mapped[int] = mapped_column(Integer)


class Article(Base):
    __tablename__ = "articles"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guid: Mapped[str] = mapped_column(String)
    section_id: Mapped[int] = mapped_column(ForeignKey("sections.id"))
    title: Mapped[str] = mapped_column(String)
    body_html: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String)
    status: Mapped[str] = mapped_column(String)
    publish_at: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    section: Mapped[Section] = relationship()


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


app = Flask(__name__)


@app.get("/sections/<slug>/rss.xml")
def section_rss(slug: str) -> Response:
    now = datetime.now(UTC).replace(tzinfo=None)  # stored naive UTC
    with Session(engine) as session:
        section = session.scalar(select(Section).where(Section.slug == slug))
        if section is None:
            abort(404)
        articles = session.scalars(
            select(Article)
            .where(
                Article.section_id == section.id,
                Article.status == "published",
                Article.publish_at <= now,
            )
            .order_by(Article.publish_at.desc(), Article.id.desc())
            .limit(section.items_per_feed)
        ).all()
        fg = FeedGenerator()
        fg.load_extension("dc", atom=False, rss=True)
        fg.title(f"feedsvc: {section.name}")
        fg.link(href=f"{SITE_URL}/sections/{slug}/rss.xml", rel="self")
        fg.link(href=f"{SITE_URL}/sections/{slug}/", rel="alternate")
        fg.description(section.description or section.name)
        fg.language("en")
        if articles:
            assert articles[0].publish_at is not None
            fg.lastBuildDate(_utc(articles[0].publish_at))
        for a in articles:
            assert a.publish_at is not None
            fe = fg.add_entry(order="append")
            fe.guid(a.guid, permalink=False)
            fe.title(a.title)
            fe.link(href=f"{SITE_URL}/articles/{a.id}")
            fe.description(a.summary)
            fe.content(a.body_html)
            fe.pubDate(_utc(a.publish_at))
            fe.category(term=section.name)
            fe.dc.dc_creator(a.author or "feedsvc")
        body = fg.rss_str()
    response = Response(body, content_type="application/rss+xml; charset=utf-8")
    response.add_etag()
    response.make_conditional(request)  # 304 (and an empty body) when If-None-Match matches
    return response
