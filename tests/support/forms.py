"""Drive the real HTML forms: find fields by their <label>, keep the CSRF token, submit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from lxml import html
from werkzeug.test import TestResponse

from feedsvc.articles import ArticleInput, create_article
from feedsvc.sections import SectionInput, create_section
from feedsvc.storage.db import transaction


def _form(doc: Any, form_action: str | None) -> Any:
    forms = doc.forms
    if form_action is not None:
        forms = [f for f in forms if (f.action or "").endswith(form_action)]
    else:
        forms = [
            f
            for f in forms
            if (f.method or "GET").upper() == "POST" and "logout" not in (f.action or "")
        ]
    assert forms, "no matching form on the page"
    return forms[0]


def form_values(page: TestResponse | str, form_action: str | None = None) -> dict[str, str]:
    """Current values of a page's form, keyed by field name."""
    text = page if isinstance(page, str) else page.get_data(as_text=True)
    form = _form(html.fromstring(text), form_action)
    return {k: v for k, v in form.form_values()}


def labelled_fields(page_html: str, form_action: str | None = None) -> dict[str, str]:
    """Map each <label>'s text to the name of the field its `for` points at."""
    doc = html.fromstring(page_html)
    form = _form(doc, form_action)
    out = {}
    for label in form.iter("label"):
        target = label.get("for")
        fields = form.xpath(".//*[@id=$id]", id=target)
        assert fields, f"label {label.text_content()!r} points at no field"
        out[label.text_content().strip()] = fields[0].get("name")
    return out


def submit(
    client: FlaskClient,
    page: str | TestResponse,
    by_label: dict[str, str],
    *,
    form_action: str | None = None,
    follow_redirects: bool = False,
) -> TestResponse:
    """GET the page (or use the response given), fill fields by label text, POST the form."""
    response = client.get(page) if isinstance(page, str) else page
    text = response.get_data(as_text=True)
    doc = html.fromstring(text)
    form = _form(doc, form_action)
    values = {k: v for k, v in form.form_values()}
    names = labelled_fields(text, form_action) if by_label else {}
    for label, value in by_label.items():
        assert label in names, f"no field labelled {label!r}; labels: {sorted(names)}"
        values[names[label]] = value
    # A form without an action posts back to the page's own URL, query string included.
    action = form.action or (page if isinstance(page, str) else response.request.full_path)
    action = action.rstrip("?")
    return client.post(action, data=values, follow_redirects=follow_redirects)


BASE_URL = "http://feeds.example.org/"


def new_section(app: Flask, name: str = "World News") -> int:
    """A section stored through the service, as the form would; its id."""
    with transaction(app) as s:
        return create_section(s, SectionInput(name=name)).id


def new_article(
    app: Flask,
    section_id: int,
    title: str = "Story",
    *,
    body: str = "Text.",
    when: datetime | None = None,
) -> None:
    """A published article stored through the service (publish time `when`, default now)."""
    with transaction(app) as s:
        create_article(
            s,
            ArticleInput(title=title, section_id=section_id, body=body, publish_at=when),
            base_url=BASE_URL,
        )
