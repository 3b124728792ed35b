"""Entries taken from stored documents: a fresh render's bytes, only what changed rendered."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from feedsvc import feeds
from feedsvc.feeds import FORMATS, FRAGMENTS, Document, FeedItem, FeedMeta
from feedsvc.publishing.passes import run_pass
from feedsvc.storage.codec import gunzip
from feedsvc.storage.db import transaction
from feedsvc.storage.models import FeedDocument
from tests.support.factories import make_article, make_section
from tests.support.feeditems import CHECKS, META, MIXED, item


@pytest.fixture
def fresh_entries(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The ids of the items that go through the renderers (not a cache, not a stored
    document), in every format, while the test runs. The cache starts empty."""
    rendered: list[str] = []
    for fmt, (render_xml, *rest) in list(feeds._XML.items()):

        def counting(meta: FeedMeta, items: Sequence[FeedItem], inner: Any = render_xml) -> bytes:
            rendered.extend(i.id for i in items)
            return bytes(inner(meta, items))

        monkeypatch.setitem(feeds._XML, fmt, (counting, *rest))
    entry = feeds.jsonfeed.render_entry

    def counting_json(one: FeedItem) -> bytes:
        rendered.append(one.id)
        return entry(one)

    monkeypatch.setattr(feeds.jsonfeed, "render_entry", counting_json)
    FRAGMENTS.clear()
    yield rendered
    FRAGMENTS.clear()


def _render(items: Sequence[FeedItem], previous: Any = None, meta: FeedMeta = META) -> Any:
    return feeds.render_documents({fmt: meta for fmt in FORMATS}, items, previous)


def _offering(*renders: dict[str, Document]) -> Callable[[str], list[tuple[bytes, bytes]]]:
    return lambda fmt: [(r[fmt].body, r[fmt].index) for r in renders]


def test_a_feed_seen_by_no_process_yet_renders_only_its_new_and_edited_items(
    fresh_entries: list[str],
) -> None:
    old = _render(MIXED)
    FRAGMENTS.clear()  # another process: nothing rendered here yet
    edited = replace(MIXED[2], title="Corrected")
    new_list = [item(9), MIXED[0], MIXED[1], edited, *MIXED[3:5]]  # MIXED[5] scrolled out
    del fresh_entries[:]
    reused = _render(new_list, _offering(old))
    assert sorted(set(fresh_entries)) == sorted({item(9).id, edited.id})
    assert len(fresh_entries) == 2 * len(FORMATS)  # each in every format, nothing more
    FRAGMENTS.clear()
    cold = _render(new_list)
    for fmt in FORMATS:
        assert reused[fmt].body == cold[fmt].body
        assert reused[fmt].index == cold[fmt].index
        CHECKS[fmt](reused[fmt].body)


def test_entries_come_from_another_feed_of_the_same_items(fresh_entries: list[str]) -> None:
    feed = _render(MIXED[:5])
    FRAGMENTS.clear()
    # An archive page: other metadata, items that left the feed above and one it never had.
    page_meta = replace(META, title="Archive, page 1", self_url="https://news.example.org/a/1")
    page = [*MIXED[4:0:-1], MIXED[5]]
    del fresh_entries[:]
    reused = _render(page, _offering(feed), page_meta)
    assert fresh_entries == [MIXED[5].id] * len(FORMATS)
    FRAGMENTS.clear()
    assert {f: d.body for f, d in reused.items()} == {
        f: d.body for f, d in _render(page, None, page_meta).items()
    }


def test_a_new_feed_author_is_not_taken_from_entries_written_for_the_old_one(
    fresh_entries: list[str],
) -> None:
    anonymous = [item(n, author=None) for n in range(1, 6)]
    old = _render(anonymous)
    FRAGMENTS.clear()
    night = replace(META, author="Night Desk")
    del fresh_entries[:]
    reused = _render(anonymous, _offering(old), night)
    # RSS writes the stand-in author into each entry: those render again. Atom and JSON Feed
    # name it at feed level only, so their entries are still good.
    assert sorted(fresh_entries) == sorted(i.id for i in anonymous)
    assert b"Night Desk" in reused["rss"].body.split(b"<item>", 1)[1]
    FRAGMENTS.clear()
    assert reused["rss"].body == _render(anonymous, None, night)["rss"].body


def _damaged(index: bytes) -> Iterator[bytes]:
    yield index[:-3]  # torn
    yield index[24:] + index[:24]  # records shifted against their digests
    shifted = bytearray(index)
    shifted[16] ^= 0x05  # an offset off by a few bytes
    yield bytes(shifted)


def test_one_new_entry_is_rendered_without_reading_the_stored_document(
    fresh_entries: list[str],
) -> None:
    old = _render(MIXED)
    asked: list[str] = []

    def previous(fmt: str) -> list[tuple[bytes, bytes]]:
        asked.append(fmt)
        return [(old[fmt].body, old[fmt].index)]

    _render([item(9), *MIXED], previous)  # only item 9 is missing from this process's cache
    assert asked == []
    FRAGMENTS.clear()
    _render([item(9), *MIXED], previous)  # all seven are: the stored document is worth reading
    assert asked == list(FORMATS)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_damaged_index_never_puts_a_torn_entry_into_a_feed(
    fmt: str, fresh_entries: list[str]
) -> None:
    old = _render(MIXED)[fmt]
    for index in _damaged(old.index):
        FRAGMENTS.clear()
        got = feeds.render_documents(
            {fmt: META}, MIXED, lambda f, i=index: [(old.body, i)] if f == fmt else []
        )[fmt]
        assert got.body == old.body
        CHECKS[fmt](got.body)


# --- through the passes: what a restarted scheduler renders --------------------------------


def _stored(app: Flask, path: str) -> bytes:
    with transaction(app, write=False) as s:
        packed = s.scalar(select(FeedDocument.body_gzip).where(FeedDocument.path == path))
    assert packed is not None
    return gunzip(packed)


def test_a_restarted_scheduler_renders_one_entry_for_one_new_article(
    app: Flask, fresh_entries: list[str]
) -> None:
    world = make_section(app, "World")
    for n in range(6):
        make_article(app, world, f"Story {n}", author="Ada Reporter")
    run_pass(app)
    FRAGMENTS.clear()  # the scheduler restarts: no entry rendered in this process
    del fresh_entries[:]
    make_article(app, world, "Breaking", author="Ada Reporter")
    run_pass(app)
    # The section, site and author feeds each take the six earlier entries from their stored
    # documents: only the new article goes through the renderers, once per format (the
    # second and third feed find it in this process's cache).
    assert len(fresh_entries) == len(FORMATS)
    assert len(set(fresh_entries)) == 1
    after = {p: _stored(app, p) for p in ("sections/world/atom.xml", "rss.xml", "feed.json")}
    FRAGMENTS.clear()
    with transaction(app) as s:  # forget the indexes: the next full pass renders everything
        s.execute(FeedDocument.__table__.update().values(entry_index=None))
    run_pass(app, full=True)
    assert len(set(fresh_entries)) == 7
    assert {p: _stored(app, p) for p in after} == after  # the same bytes, reused or not
