"""No lost updates: two editors on one article, through the real edit form, and a real race."""

from __future__ import annotations

import dataclasses
import threading

from flask import Flask
from flask.testing import FlaskClient
from lxml import html
from werkzeug.test import TestResponse

from feedsvc.articles import ArticleConflict, input_of, update_article
from feedsvc.storage.db import transaction
from feedsvc.storage.models import Article
from tests.support.factories import BASE_URL, make_article, make_section
from tests.support.forms import delete_article, form_values, labelled_fields, submit

ORIGINAL_BODY = "The council met on Tuesday.\n\nThe vote is next week."


def stored(app: Flask, article_id: int) -> Article | None:
    with transaction(app, write=False) as s:
        return s.get(Article, article_id)


def one_article(app: Flask) -> int:
    section_id = make_section(app)
    return make_article(app, section_id, "Council keeps fares", body=ORIGINAL_BODY)


def field(page: TestResponse, label: str) -> str:
    """The value a labelled field of the page's form holds, as a browser reads it (the one
    newline after <textarea> is markup, HTML §13.2.6.4.7)."""
    text = page.get_data(as_text=True)
    value = form_values(text)[labelled_fields(text)[label]]
    return value.removeprefix("\r\n").removeprefix("\n")


def conflict_text(page: TestResponse) -> str:
    """The refusal's words, as a person reads them."""
    doc = html.fromstring(page.get_data(as_text=True))
    sections = doc.xpath("//section[@role='alert']")
    assert sections, "no conflict message on the page"
    return " ".join(sections[0].text_content().split())


def test_a_stale_save_is_refused_showing_what_changed_then_a_resave_keeps_both(
    app: Flask, editor: FlaskClient, writer: FlaskClient
) -> None:
    article_id = one_article(app)
    url = f"/admin/articles/{article_id}/edit"
    page_editor, page_writer = editor.get(url), writer.get(url)  # both open the article

    assert submit(editor, page_editor, {"Title": "Council raises fares"}).status_code == 302
    refused = submit(writer, page_writer, {"Body": "A rewritten body.\n\nTwo paragraphs."})

    assert refused.status_code == 409
    message = conflict_text(refused)
    assert "Not saved" in message and "editor saved it at" in message, message
    assert "Title" in message and "now “Council raises fares”" in message, message
    assert "Body" not in message  # the writer's own change is not the other editor's
    # Nothing was overwritten: the first save stands, the second stored nothing.
    after = stored(app, article_id)
    assert after is not None
    assert (after.title, after.body_source.strip(), after.version) == (
        "Council raises fares",
        ORIGINAL_BODY,
        2,
    )
    # The writer's text is kept; the field they left alone shows the other editor's value.
    assert field(refused, "Body") == "A rewritten body.\n\nTwo paragraphs."
    assert field(refused, "Title") == "Council raises fares"
    assert form_values(refused)["version"] == "2"

    # Saving again is deliberate, against the version now shown: it goes through, and keeps
    # the other editor's title.
    assert submit(writer, refused, {}).status_code == 302
    final = stored(app, article_id)
    assert final is not None
    assert (final.title, final.body_source.strip(), final.version) == (
        "Council raises fares",
        "A rewritten body.\n\nTwo paragraphs.",
        3,
    )


def test_a_field_both_editors_changed_keeps_this_editors_text_until_saved_again(
    app: Flask, editor: FlaskClient, writer: FlaskClient
) -> None:
    article_id = one_article(app)
    url = f"/admin/articles/{article_id}/edit"
    page_editor, page_writer = editor.get(url), writer.get(url)
    assert submit(editor, page_editor, {"Title": "Fares rise", "Author": "Ed"}).status_code == 302

    refused = submit(writer, page_writer, {"Title": "Fares frozen"})
    assert refused.status_code == 409
    message = conflict_text(refused)
    assert "Title (you changed it too" in message and "now “Fares rise”" in message, message
    assert "Author" in message and "now “Ed”" in message, message
    assert field(refused, "Title") == "Fares frozen"  # kept: nothing the writer typed is lost
    assert field(refused, "Author") == "Ed"  # taken: the writer never touched it
    assert stored(app, article_id).title == "Fares rise"  # type: ignore[union-attr]

    # A third save in between refuses the resave too: the form always names its version.
    page_editor = editor.get(url)
    assert submit(editor, page_editor, {"Summary": "Short."}).status_code == 302
    again = submit(writer, refused, {})
    assert again.status_code == 409
    assert "Summary" in conflict_text(again)
    assert submit(writer, again, {}).status_code == 302
    final = stored(app, article_id)
    assert final is not None
    assert (final.title, final.author, final.summary_source) == ("Fares frozen", "Ed", "Short.")


def test_a_form_without_a_version_is_treated_as_stale(app: Flask, editor: FlaskClient) -> None:
    """A form opened before versions existed (or a hand-made POST) overwrites nothing."""
    article_id = one_article(app)
    url = f"/admin/articles/{article_id}/edit"
    values = form_values(editor.get(url))
    values.pop("version")
    values.pop("opened")
    values[labelled_fields(editor.get(url).get_data(as_text=True))["Title"]] = "Blind save"
    refused = editor.post(url, data=values)
    assert refused.status_code == 409
    assert "Title" in conflict_text(refused)  # stored and submitted differ
    assert stored(app, article_id).title == "Council keeps fares"  # type: ignore[union-attr]
    assert submit(editor, refused, {}).status_code == 302
    assert stored(app, article_id).title == "Blind save"  # type: ignore[union-attr]


def test_a_delete_confirmed_on_a_stale_list_is_refused(
    app: Flask, editor: FlaskClient, writer: FlaskClient
) -> None:
    article_id = one_article(app)
    listing = writer.get("/admin/")  # the writer's list shows version 1
    edit = f"/admin/articles/{article_id}/edit"
    assert submit(editor, edit, {"Body": "Important new text."}).status_code == 302

    action = f"/admin/articles/{article_id}/delete"
    response = submit(writer, listing, {}, form_action=action, follow_redirects=True)
    text = " ".join(response.get_data(as_text=True).split())
    assert "Not deleted: editor changed “Council keeps fares”" in text, text
    assert stored(app, article_id) is not None
    delete_article(writer, article_id)  # from a fresh list: deleted
    assert stored(app, article_id) is None


def _race(app: Flask, article_id: int, version: int) -> list[str]:
    """Two threads save the same version at once; what each got."""
    start = threading.Barrier(2, timeout=30)
    outcome: list[str] = []
    lock = threading.Lock()

    def save(title: str) -> None:
        start.wait()
        result = "saved"
        with transaction(app) as s:
            current = s.get(Article, article_id)
            assert current is not None
            data = dataclasses.replace(input_of(current), title=title)
            try:
                update_article(s, article_id, data, base_url=BASE_URL, expected_version=version)
            except ArticleConflict as exc:
                result = f"conflict at {exc.current.version}"  # nothing stored to commit
        with lock:
            outcome.append(result)

    threads = [threading.Thread(target=save, args=(f"Title {n}",)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive(), "a save hung"
    return outcome


def test_two_saves_of_one_version_at_once_one_wins_the_other_is_refused(app: Flask) -> None:
    """A real race on the engine under test: the check is one UPDATE ... WHERE version, so
    exactly one of two concurrent saves of a version goes through, round after round."""
    article_id = one_article(app)
    rounds = 8
    for n in range(rounds):
        outcome = _race(app, article_id, version=1 + n)
        assert sorted(outcome) == [f"conflict at {n + 2}", "saved"], outcome
    final = stored(app, article_id)
    assert final is not None and final.version == 1 + rounds


def test_a_version_out_of_the_columns_range_is_a_conflict_not_a_database_error(
    app: Flask,
) -> None:
    article_id = one_article(app)
    with transaction(app) as s:
        current = s.get(Article, article_id)
        assert current is not None
        data = input_of(current)
        for version in (0, -1, 2**31, 10**30):
            try:
                update_article(s, article_id, data, base_url=BASE_URL, expected_version=version)
            except ArticleConflict as exc:
                assert exc.current.version == 1
            else:
                raise AssertionError(f"version {version} was accepted")
