"""`next=` after a good login: same-site paths only; never a 500, a header split or another host."""

from __future__ import annotations

from urllib.parse import quote, urljoin

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.app import EDITOR
from tests.support.forms import form_values
from tests.support.hostile import raw

HOME = "/admin/"


def _login(client: FlaskClient, query: str) -> TestResponse:
    """Log in through the form, posted to /admin/login?<query> as the page's own URL."""
    values = form_values(client.get("/admin/login"))
    values.update(username=EDITOR[0], password=EDITOR[1])
    return client.post(f"/admin/login?{query}", data=values)


def _off_site(location: str) -> bool:
    """Whether a browser would leave the site: WHATWG URL parsing drops tabs and newlines and
    reads a backslash as a slash before it resolves a reference."""
    lenient = location.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    resolved = urljoin("https://feeds.example.org/admin/login", lenient)
    return not resolved.startswith("https://feeds.example.org/")


FOLLOWED = [
    ("/admin/sections/", "/admin/sections/"),
    ("/admin/articles/1/edit?tab=2&x=%20y", "/admin/articles/1/edit?tab=2&x=%20y"),
    ("/admin/é", "/admin/%C3%A9"),  # a header is ISO-8859-1 at most: percent-encoded
    ("/admin/%ff%fe", "/admin/%ff%fe"),  # not UTF-8 once decoded, but a path of ours
    ("/%2e%2e/admin/", "/%2e%2e/admin/"),
]


def test_a_same_site_path_is_followed(client: FlaskClient) -> None:
    landed = {
        target: _login(client, "next=" + quote(target, safe="")).headers["Location"]
        for target, _location in FOLLOWED
    }
    assert landed == dict(FOLLOWED)
    assert not [location for location in landed.values() if _off_site(location)]


REFUSED = [
    "/admin/\nSet-Cookie: stolen=1",
    "/admin/\r\nLocation: https://evil.example",
    "/\t/evil.example",  # a browser drops the tab: //evil.example
    "/admin/\x00",
    "/admin/\x7f\x1b[31m",
    "/\\evil.example",  # read as //evil.example
    "/admin\\..\\..\\evil",
    "/%5Cevil.example",
    "/%5cevil.example",
    "//evil.example",
    "///evil.example",
    "/%2F/evil.example",
    "/%2f%2fevil.example",
    "/admin/%0d%0aSet-Cookie:%20stolen=1",
    "/admin/%09",
    "/admin/%00",
    "https:evil.example",
    "https://evil.example/admin/",
    "javascript:alert(1)",
    "evil.example",
    " /admin/",
    "",
    "/" + "a" * 2000,
    "/" + "a" * 100_000,
]


def test_anything_else_lands_on_the_article_list(client: FlaskClient) -> None:
    landed = {}
    for target in REFUSED:
        response = _login(client, "next=" + quote(target, safe=""))
        assert "stolen" not in str(response.headers)
        landed[target] = response.headers["Location"]
    assert landed == dict.fromkeys(REFUSED, HOME)


# The query as sent (Werkzeug keeps escapes that are not UTF-8, or not escapes, as typed)
# and where the login lands; None: the whole query is refused with a 400.
BROKEN = [
    ("next=%ff%fe", HOME),
    ("next=%ED%A0%80", HOME),  # a surrogate's bytes, equally not UTF-8
    ("next=%", HOME),
    ("next=%zz/admin/", HOME),
    ("next=/admin/sections/&next=//evil.example", "/admin/sections/"),  # the first counts
    ("next", HOME),
    (raw(b"next=/admin/\xff"), None),  # raw bytes, not percent-encoded
]


def test_a_broken_next_is_no_500_and_no_redirect_away(client: FlaskClient) -> None:
    for query, location in BROKEN:
        values = form_values(client.get("/admin/login"))
        values.update(username=EDITOR[0], password=EDITOR[1])
        environ = {"QUERY_STRING": query}
        response = client.post("/admin/login", data=values, environ_overrides=environ)
        if location is None:
            assert response.status_code == 400, query
            assert "The query string is not UTF-8" in response.get_data(as_text=True)
        else:
            assert response.status_code == 302, query
            assert response.headers["Location"] == location, query


def test_the_page_that_asked_for_login_is_where_the_editor_lands(client: FlaskClient) -> None:
    """login_required sends the page's full path, query included; it comes back intact."""
    sent = client.get("/admin/sections/?q=caf%C3%A9&x=1")
    assert sent.status_code == 302
    login_url = sent.headers["Location"]
    values = form_values(client.get(login_url))
    values.update(username=EDITOR[0], password=EDITOR[1])
    assert client.post(login_url, data=values).headers["Location"] == (
        "/admin/sections/?q=caf%C3%A9&x=1"
    )


def test_a_page_url_with_control_characters_lands_on_the_list(client: FlaskClient) -> None:
    """Sent through the real redirect: its query holds CR LF once decoded, so it is refused
    as a whole, never split into a header."""
    sent = client.get("/admin/sections/?q=%0d%0aSet-Cookie:%20stolen=1")
    login_url = sent.headers["Location"]
    values = form_values(client.get(login_url))
    values.update(username=EDITOR[0], password=EDITOR[1])
    response = client.post(login_url, data=values)
    assert response.headers["Location"] == HOME
    assert "stolen" not in str(response.headers)


def test_the_off_site_check_reads_locations_as_a_browser_does() -> None:
    for good in ["/admin/", "/admin/%C3%A9", "/%2F/evil.example"]:
        assert not _off_site(good)
    for bad in ["//evil.example", "/\\evil.example", "/\t/evil.example", "https://evil.example"]:
        assert _off_site(bad)
