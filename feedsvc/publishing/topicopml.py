"""The OPML list's folders of tag and author feeds."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedsvc import urls
from feedsvc.feeds.opml import OpmlEntry
from feedsvc.storage.topics import AUTHOR, TAG, Topic


def opml_groups(session: Session, site_url: str) -> list[tuple[str, list[OpmlEntry]]]:
    """The OPML list's "Tags" and "Authors" folders: every topic's RSS feed, by name."""
    rows = session.execute(
        select(Topic.kind, Topic.name, Topic.slug).order_by(
            Topic.kind.desc(), func.lower(Topic.name), Topic.id
        )
    ).all()
    groups: dict[str, list[OpmlEntry]] = {TAG: [], AUTHOR: []}
    for kind, name, slug in rows:
        groups[kind].append(
            OpmlEntry(
                title=name,
                description="",
                html_url=urls.topic_page_url(site_url, kind, slug),
                feed_url=urls.absolute(site_url, urls.topic_doc_path(kind, slug, "rss")),
            )
        )
    return [("Tags", groups[TAG]), ("Authors", groups[AUTHOR])]
