"""The one way tests make sections and articles: through the real services, committed."""

from __future__ import annotations

from datetime import datetime

from flask import Flask

from feedsvc.articles import ArticleInput, create_article
from feedsvc.sections import SectionInput, create_section
from feedsvc.storage.db import transaction
from tests.support.app import SITE_URL

BASE_URL = SITE_URL + "/"
STORY = (
    "The council met on Tuesday. “We will not raise fares,” the mayor said – "
    "to applause from the gallery.\n\n"
    "Opposition members called the plan ‘a gamble’ and asked for an audit.\n\n"
    "The vote is expected next week."
)


def make_section(
    app: Flask,
    name: str = "World News",
    *,
    slug: str = "",
    description: str = "",
    items_per_feed: int = 50,
) -> int:
    """A section stored as the admin form or the API would store it; its id."""
    data = SectionInput(
        name=name, slug=slug, description=description, items_per_feed=items_per_feed
    )
    with transaction(app) as s:
        return create_section(s, data).id


def make_article(
    app: Flask,
    section_id: int,
    title: str = "Story",
    *,
    body: str = "Text.",
    summary: str = "",
    author: str = "",
    when: datetime | None = None,
    status: str = "published",
) -> int:
    """An article stored through the service (publish time `when`, default now); its id."""
    data = ArticleInput(
        title=title,
        section_id=section_id,
        body=body,
        summary=summary,
        author=author,
        publish_at=when,
        status=status,
    )
    with transaction(app) as s:
        return create_article(s, data, base_url=BASE_URL).id
