"""Drive the real HTML forms: find fields by their <label>, keep the CSRF token, submit."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from lxml import html
from werkzeug.test import TestResponse

from tests.support.app import EDITOR
from tests.support.factories import STORY


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


def _saved(response: TestResponse, to: str) -> TestResponse:
    """A form was saved: Post/Redirect/Get to `to`, not the form shown again with errors."""
    text = response.get_data(as_text=True)
    assert response.status_code == 302, f"the form was not saved:\n{text}"
    assert response.headers["Location"].endswith(to), response.headers["Location"]
    return response


def add_section(client: FlaskClient, name: str = "World News", **by_label: str) -> TestResponse:
    """Fill and send the new-section form, and insist it was saved."""
    response = submit(client, "/admin/sections/new", {"Name": name, **by_label})
    return _saved(response, "/admin/sections/")


def edit_section(client: FlaskClient, section_id: int, **by_label: str) -> TestResponse:
    """Change fields of a section through its edit form, and insist it was saved."""
    response = submit(client, f"/admin/sections/{section_id}/edit", by_label)
    return _saved(response, "/admin/sections/")


def post_article(client: FlaskClient, **by_label: str) -> TestResponse:
    """Fill and send the new-article form; the response, whatever it is."""
    values = {"Title": "Council keeps fares", "Body": STORY, **by_label}
    return submit(client, "/admin/articles/new", values)


def add_article(client: FlaskClient, **by_label: str) -> TestResponse:
    """Fill and send the new-article form, and insist it was saved."""
    return _saved(post_article(client, **by_label), "/admin/")


def edit_article(client: FlaskClient, article_id: int, **by_label: str) -> TestResponse:
    """Change fields of an article through its edit form, and insist it was saved."""
    return _saved(submit(client, f"/admin/articles/{article_id}/edit", by_label), "/admin/")


def delete_article(client: FlaskClient, article_id: int) -> TestResponse:
    """Press an article's delete button on the listing, and insist it went through."""
    listing = client.get("/admin/")
    action = f"/admin/articles/{article_id}/delete"
    return _saved(submit(client, listing, {}, form_action=action), "/admin/")


class AuthActions:
    """Log in and out through the real forms."""

    def __init__(self, client: FlaskClient) -> None:
        self._client = client

    def login(self, username: str = EDITOR[0], password: str = EDITOR[1]) -> TestResponse:
        return submit(self._client, "/admin/login", {"Username": username, "Password": password})

    def logout(self) -> TestResponse:
        page = self._client.get("/admin/")
        return submit(self._client, page, {}, form_action="/admin/logout")
