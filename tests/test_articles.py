"""The articles service, and hostile input through the form and the service into every feed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import quote, quote_from_bytes

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from feedsvc import limits
from feedsvc.articles import ArticleInput, create_article, get_article, input_of, update_article
from feedsvc.errors import NotFound, ValidationError
from feedsvc.storage.db import transaction
from feedsvc.storage.models import Article, Section
from tests.support.factories import BASE_URL, make_article, make_section
from tests.support.feedcheck import check_atom, check_json, check_rss
from tests.support.forms import add_article, delete_article, form_values, post_article
from tests.support.published import entries, fetch, publish

NASTY = [
    "NUL\x00 and bell\x07 and vertical tab\x0b",
    "lone surrogate \ud800 and \udfff",
    "non-characters \ufffe \uffff",
    "emoji 🗞️👩🏽‍💻 and flags 🇺🇦",
    "right-to-left: مرحبا بالعالم and שלום",
    "A & B < C > D \"quoted\" 'single'",
    "<script>alert('x')</script><b>bold?</b>",
    "]]> CDATA end and &amp; entity &#0; &#xD800;",
    "combining e\u0301 and zero-width\u200b joiner\u200d",
]


@pytest.mark.parametrize("text", NASTY)
def test_hostile_text_is_stored_clean_and_every_feed_stays_valid(app: Flask, text: str) -> None:
    make_article(
        app,
        make_section(app),
        f"Title {text}",
        body=f"Body {text}\n\nSecond paragraph {text}",
        author=f"Author {text}"[:100],
    )
    publish(app)
    client = app.test_client()
    for path in ["/sections/world-news/", "/"]:
        for name, check in [
            ("rss.xml", check_rss),
            ("atom.xml", check_atom),
            ("feed.json", check_json),
        ]:
            body = fetch(client, path + name)
            check(body)
            [entry] = entries(body)
            assert entry.title.startswith("Title ")
            assert "<script" not in entry.content
            assert "\x00" not in entry.title and "\ufffe" not in entry.title
    assert client.get("/articles/1").status_code == 200
    assert client.get("/").status_code == 200


def test_markup_in_a_title_reaches_readers_as_text(app: Flask) -> None:
    make_article(app, make_section(app), "<b>Bold</b> & <i>co</i>", body="x")
    publish(app)
    client = app.test_client()
    for name in ["rss.xml", "atom.xml", "feed.json"]:
        [entry] = entries(fetch(client, f"/sections/world-news/{name}"))
        # RSS alone marks each "<" that starts a tag with an invisible U+2060 WORD JOINER, so
        # a reader that takes the title as HTML shows these same characters too.
        rss = "<\u2060b>Bold<\u2060/b> & <\u2060i>co<\u2060/i>"
        assert entry.title == (rss if name == "rss.xml" else "<b>Bold</b> & <i>co</i>")
    page = client.get("/articles/1").get_data(as_text=True)
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; &lt;i&gt;co&lt;/i&gt;" in page


def test_hostile_html_body_is_sanitised_and_links_made_absolute(app: Flask) -> None:
    section_id = make_section(app)
    body = (
        'See <a href="/about">about</a> and <a href="javascript:alert(1)">this</a>.\n\n'
        '<img src="pics/map.png" alt="map" onerror="alert(2)">\n\n'
        '<iframe src="http://evil.example/"></iframe><p style="color:red">styled</p>\n\n'
        '<a href="data:text/html;base64,PHNjcmlwdD4=">data</a>'
    )
    with transaction(app) as s:
        article = create_article(
            s,
            ArticleInput(title="Links", section_id=section_id, body=body),
            base_url="http://feeds.example.org/",
        )
        html = article.body_html
    for bad in ["javascript:", "onerror", "<iframe", "style=", "data:text"]:
        assert bad not in html
    assert 'href="http://feeds.example.org/about"' in html
    assert 'src="http://feeds.example.org/pics/map.png"' in html


def test_form_errors_for_too_long_input_and_nothing_stored(editor: FlaskClient, app: Flask) -> None:
    make_section(app)
    response = post_article(editor, Title="x" * 301)
    assert response.status_code == 200
    assert "300" in response.get_data(as_text=True)
    response = post_article(editor, Body="word " * 50_000)
    assert response.status_code == 200
    assert 'id="body-error"' in response.get_data(as_text=True)
    with transaction(app, write=False) as s:
        assert s.scalar(select(func.count()).select_from(Article)) == 0


def test_control_characters_through_the_form_never_500(editor: FlaskClient, app: Flask) -> None:
    """Raw bytes as a hostile client sends them, invalid UTF-8 (encoded surrogates) included."""
    make_section(app)
    for text in NASTY:
        fields = form_values(editor.get("/admin/articles/new"))
        fields.update(title=f"T {text}", body=f"B {text}", author="A\x00B")
        raw = "&".join(
            f"{quote(k)}={quote_from_bytes(v.encode('utf-8', 'surrogatepass'))}"
            for k, v in fields.items()
        )
        response = editor.post(
            "/admin/articles/new",
            data=raw,
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code in (200, 302), (text, response.status_code)
    publish(app)
    check_atom(fetch(editor, "/sections/world-news/atom.xml"))
    check_rss(fetch(editor, "/rss.xml"))


def test_unknown_section_and_bad_status_are_field_errors(app: Flask) -> None:
    with transaction(app) as s, pytest.raises(ValidationError) as caught:
        create_article(
            s,
            ArticleInput(title="T", section_id=999, body="b", status="maybe"),
            base_url="http://feeds.example.org/",
        )
    assert set(caught.value.errors) == {"section_id", "status"}


def test_every_change_bumps_the_section_revision(app: Flask) -> None:
    section_id = make_section(app)

    def revision() -> int:
        with transaction(app, write=False) as s:
            return s.get_one(Section, section_id).revision

    start = revision()
    article_id = make_article(app, section_id, "T", body="b")
    assert revision() == start + 1
    with transaction(app) as s:
        update_article(
            s,
            article_id,
            ArticleInput(title="T2", section_id=section_id, body="b"),
            base_url="http://feeds.example.org/",
        )
    assert revision() == start + 2


def test_a_deleted_articles_id_and_url_are_never_reused(editor: FlaskClient, app: Flask) -> None:
    make_section(app)
    add_article(editor, Title="First")
    add_article(editor, Title="Second")
    delete_article(editor, 2)
    add_article(editor, Title="Third")
    publish(app)
    assert editor.get("/articles/2").status_code == 410  # it was public: Gone, not Not Found
    assert "Third" in editor.get("/articles/3").get_data(as_text=True)


ARTICLE_LIMITS = [
    ("title", limits.TITLE_MAX, f"The title is longer than {limits.TITLE_MAX} characters."),
    ("author", limits.AUTHOR_MAX, f"The author is longer than {limits.AUTHOR_MAX} characters."),
    (
        "summary",
        limits.SUMMARY_MAX,
        f"The summary must be at most {limits.SUMMARY_MAX} characters.",
    ),
    ("body", limits.BODY_MAX, f"The body is longer than {limits.BODY_MAX:,} characters."),
]


@pytest.mark.parametrize(
    ("field", "limit", "message"), ARTICLE_LIMITS, ids=[x[0] for x in ARTICLE_LIMITS]
)
def test_article_limits_are_the_ones_in_limits(
    app: Flask, field: str, limit: int, message: str
) -> None:
    """Each limit the service enforces, at the limit and one past it, with its sentence."""
    section_id = make_section(app)

    def store(length: int) -> Article:
        base = ArticleInput(title="T", section_id=section_id, body="b")
        with transaction(app) as s:
            return create_article(s, replace(base, **{field: "x" * length}), base_url=BASE_URL)

    store(limit)
    with pytest.raises(ValidationError) as caught:
        store(limit + 1)
    assert caught.value.errors == {field: message}


def test_out_of_range_article_ids_are_not_found(app: Flask) -> None:
    with transaction(app) as s:
        for article_id in [limits.ID_MIN - 1, limits.ID_MAX, limits.ID_MAX + 1]:
            with pytest.raises(NotFound):
                get_article(s, article_id)
    with pytest.raises(ValidationError) as caught, transaction(app) as s:
        create_article(
            s, ArticleInput(title="T", section_id=limits.ID_MAX + 1, body="b"), base_url=BASE_URL
        )
    assert caught.value.errors == {"section_id": "Choose one of the sections."}


def test_an_edit_starts_from_the_stored_article_in_the_editors_terms(app: Flask) -> None:
    """input_of(article) is the input that stores it as it is: saving it changes nothing."""
    section_id = make_section(app)
    given = ArticleInput(
        title="Rates rise",
        section_id=section_id,
        body="First *paragraph*.\n\nSecond.",
        summary="Own  summary,\non two lines.",  # stored as written; the feeds get one line
        author="A. Writer",
        publish_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        status=limits.STATUS_DRAFT,
    )
    with transaction(app) as s:
        article = create_article(s, given, base_url=BASE_URL)
        assert input_of(article) == given
        columns = {c.key: getattr(article, c.key) for c in Article.__table__.columns}
    with transaction(app) as s:
        again = update_article(s, columns["id"], input_of(article), base_url=BASE_URL)
        after = {c.key: getattr(again, c.key) for c in Article.__table__.columns}
    # Every save moves the version on, a save that changes nothing too (lost updates). A
    # draft was never shown to readers, so its revision time follows every save
    # (articles.revised_moves): it moves whenever the two saves fall in different seconds.
    moved = {"updated_at", "version", "revised_at"}
    assert {k: v for k, v in after.items() if k not in moved} == {
        k: v for k, v in columns.items() if k not in moved
    }
    assert after["version"] == columns["version"] + 1
    assert after["revised_at"] >= columns["revised_at"]  # a draft's revision time: this save
