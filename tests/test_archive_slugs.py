"""Archive pages follow their section: an old slug's pages answer 301, a deleted section's 410."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from feedsvc.publishing.export import export_root
from feedsvc.sectionhistory import delete_section
from feedsvc.sections import SectionInput, update_section
from feedsvc.storage.archives import ArchivePage, ArchiveScope
from feedsvc.storage.db import database, transaction
from tests.support.app import SITE_URL, make_app
from tests.support.archived import bulk_articles, settle
from tests.support.factories import make_section
from tests.support.feedcheck import check_atom
from tests.support.published import publish


@pytest.fixture
def exporting(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = make_app(
        database_url, tmp_path, EXPORT_DIR=str(tmp_path / "export"), ARCHIVE_PAGE_ITEMS=10
    )
    yield app
    database(app).dispose()


def _archived_section(app: Flask, slug: str) -> int:
    section = make_section(app, slug.title(), slug=slug, items_per_feed=10)
    bulk_articles(app, section, 45, label=slug)
    settle(app)
    return section


def test_an_old_slugs_archive_pages_answer_301_to_the_new_ones(exporting: Flask) -> None:
    app = exporting
    section = _archived_section(app, "before")
    client = app.test_client()
    root = export_root(app)
    assert root is not None
    old_file = root / "sections/before/archive/1/atom.xml"
    assert client.get("/sections/before/archive/1/atom.xml").status_code == 200
    assert old_file.is_file()

    with transaction(app) as s:
        update_section(s, section, SectionInput(name="After", slug="after", items_per_feed=10))
    # At once, before any pass: the old page is no longer served as it was.
    moved = client.get("/sections/before/archive/1/atom.xml")
    assert moved.status_code == 301
    assert moved.headers["Location"] == f"{SITE_URL}/sections/after/archive/1/atom.xml"
    settle(app)
    # One hop to the page at its new path, which is there and valid; nginx would serve the
    # export, so the old file is gone from it and the new one written.
    again = client.get("/sections/before/archive/2/rss.xml")
    assert again.status_code == 301
    assert again.headers["Location"] == f"{SITE_URL}/sections/after/archive/2/rss.xml"
    page = client.get("/sections/after/archive/1/atom.xml")
    assert page.status_code == 200
    check_atom(page.get_data())
    assert not old_file.exists()
    assert (root / "sections/after/archive/1/atom.xml").is_file()


def test_a_deleted_sections_archive_pages_are_gone(exporting: Flask) -> None:
    app = exporting
    doomed = _archived_section(app, "doomed")
    keeper = make_section(app, "Keeper", slug="keeper")
    client = app.test_client()
    root = export_root(app)
    assert root is not None
    assert (root / "sections/doomed/archive/1/atom.xml").is_file()

    with transaction(app) as s:
        delete_section(s, doomed, move_to=keeper)
    assert client.get("/sections/doomed/archive/1/atom.xml").status_code == 410
    publish(app)  # no pass trips over the bookkeeping of an archive whose feed is gone
    key = f"section:{doomed}"
    with transaction(app, write=False) as s:
        assert s.scalar(select(ArchivePage.page).where(ArchivePage.feed_key == key)) is None
        assert s.scalar(select(ArchiveScope.feed_key).where(ArchiveScope.feed_key == key)) is None
    assert not (root / "sections/doomed/archive/1/atom.xml").exists()
    assert client.get("/sections/doomed/archive/1/atom.xml").status_code == 410
