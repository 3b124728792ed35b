"""Headers, cookies and query strings a browser never sends: clear 4xx answers, never a 500.

Through the test client with raw environ values (PEP 3333: each header is its bytes decoded
as ISO-8859-1, so raw(b"\\xff") is a byte that is not UTF-8), and against the real web
servers (granian and gunicorn) over a raw socket for what a test client cannot send.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from devtools.procs import Proc, free_port, gunicorn, service_env, serving, web
from tests.support.apiclient import error, new_token
from tests.support.app import EDITOR
from tests.support.factories import make_article, make_section
from tests.support.forms import form_values
from tests.support.hostile import raw
from tests.support.published import publish

BAD_HOST = "x" * 64 + ".example"  # one label over DNS's 63 octets: IDNA cannot encode it
ROUTING = "The browser (or proxy) sent a request that this server could not understand."


@pytest.fixture
def site(app: Flask) -> Iterator[Flask]:
    """A section with a published article and its feeds stored (the fast path serves them)."""
    make_article(app, make_section(app))
    publish(app)
    yield app


PAGES = [
    ("/admin/", "HTTP_COOKIE", raw(b"session=\xff\xfe; other=\xc3("), 302),
    ("/admin/", "HTTP_COOKIE", "session=" + "A" * 8000, 302),
    ("/admin/", "HTTP_COOKIE", "session=eyJ1c2VyX2lkIjoxfQ.ZZZZZZ.forged", 302),
    ("/admin/", "HTTP_COOKIE", "=;=;;session=\x00", 302),
    ("/", "HTTP_ACCEPT", "text/html;q=nan, application/json;q=1e999, */*;q=-1", 200),
    ("/", "HTTP_ACCEPT_LANGUAGE", raw(b"\xff\xfe;q=0.5") + ",x" * 5000, 200),
    ("/", "HTTP_USER_AGENT", raw(b"\xff\xfe") + "u" * 100_000, 200),
    ("/?a=%&b=%zz&%ff=%fe&c=%ED%A0%80", "HTTP_REFERER", raw(b"\xff\x00"), 200),
    ("/sections/%00/", "HTTP_ACCEPT", "*/*", 404),  # PostgreSQL refused the NUL: a 500
    ("/sections/%00/rss.xml", "HTTP_ACCEPT", "*/*", 404),
    ("/sections/" + "x" * 5000 + "/", "HTTP_ACCEPT", "*/*", 404),
]


def test_odd_headers_on_pages_get_the_usual_answer(site: Flask, client: FlaskClient) -> None:
    answered = {}
    for path, key, value, status in PAGES:
        response = client.get(path, environ_overrides={key: value})
        answered[(path[:40], key, value[:40])] = response.status_code
        if status == 302:
            assert "/admin/login" in response.headers["Location"]
    assert answered == {(p[:40], k, v[:40]): status for p, k, v, status in PAGES}


VALIDATORS = [
    # An eleven-digit year overflowed C's int in parsedate_to_datetime: a 500 from the
    # fast path, ahead of every error handler.
    ("HTTP_IF_MODIFIED_SINCE", "Thu, 01 Jan 99999999999 00:00:00 GMT"),
    ("HTTP_IF_MODIFIED_SINCE", "Mon, 01 Jan 0001 00:00:00 +2359"),
    ("HTTP_IF_MODIFIED_SINCE", raw(b"\xff\x00")),
    ("HTTP_IF_NONE_MATCH", raw(b'W/"\xff", ""') + ', W/"' * 5000),
    ("HTTP_ACCEPT_ENCODING", "gzip;q=nan, *;q=1e999, br;q=-inf"),
    ("HTTP_ACCEPT_ENCODING", raw(b"gzip\xff;q=0.") + "9" * 5000),
]
FEEDS = ["/rss.xml", "/sections/world-news/atom.xml", "/opml.xml"]


def test_odd_validators_on_feeds_are_ignored(site: Flask, client: FlaskClient) -> None:
    """RFC 9110 §13.1.3: an If-Modified-Since that is not a valid date is ignored."""
    answered = {}
    for feed in FEEDS:
        for key, value in VALIDATORS:
            response = client.get(feed, environ_overrides={key: value})
            assert response.get_data(), (feed, key, value[:40])
            answered[(feed, key, value[:40])] = response.status_code
    assert answered == {(f, k, v[:40]): 200 for f in FEEDS for k, v in VALIDATORS}


AUTHORIZATIONS = [
    raw(b"Bearer \xff\xfe\xc3("),
    raw("Bearer jeton-é-😀".encode()),
    "Bearer " + "x" * 100_000,
    "Bearer \x00",
    "Basic " + raw(b"\xff"),
]


def test_odd_authorization_is_a_401(app: Flask, client: FlaskClient) -> None:
    new_token(app)
    for value in AUTHORIZATIONS:
        environ = {"HTTP_AUTHORIZATION": value}
        response = client.get("/api/v1/articles", environ_overrides=environ)
        assert error(response, 401)["error"] in ("unauthorized", "invalid_token")


def test_a_query_string_of_raw_bytes_is_a_400(app: Flask, client: FlaskClient) -> None:
    """Werkzeug decodes raw query bytes strictly (request.args, request.full_path): a 500."""
    query = {"QUERY_STRING": raw(b"section=\xff\xfe&next=\xc3(")}
    page = client.get("/admin/", environ_overrides=query)
    assert page.status_code == 400
    assert "The query string is not UTF-8" in page.get_data(as_text=True)
    token = {"Authorization": f"Bearer {new_token(app)}"}
    api = client.get("/api/v1/articles", headers=token, environ_overrides=query)
    assert error(api, 400)["message"] == (
        "The query string is not UTF-8: percent-encode it (RFC 3986 §2.1)."
    )
    # Percent-escapes that are not UTF-8 are kept as they were typed: a plain miss.
    miss = client.get("/api/v1/articles?section=%ff%fe", headers=token)
    assert error(miss, 404)["message"] == "There is no section with the slug “%ff%fe”."


def test_a_host_werkzeug_cannot_route_is_a_plain_400(client: FlaskClient) -> None:
    """No URL adapter then, so no page template (url_for): the error page crashed, a 500."""
    for path in ["/", "/admin/", "/admin/login", "/articles/1", "/healthz"]:
        response = client.get(path, environ_overrides={"HTTP_HOST": BAD_HOST})
        assert response.status_code == 400, path
        assert response.mimetype == "text/plain"
        assert response.get_data(as_text=True) == f"400 Bad Request\n\n{ROUTING}\n"


def test_a_nul_in_a_login_name_is_a_wrong_login(client: FlaskClient) -> None:
    """PostgreSQL's text refuses a NUL: looking such a name up was a 500."""
    values = form_values(client.get("/admin/login"))
    values.update(username=EDITOR[0] + "\x00", password=EDITOR[1])
    response = client.post("/admin/login", data=values)
    assert response.status_code == 200
    assert "That username and password do not match." in response.get_data(as_text=True)


# --- a real server, bytes on the wire -------------------------------------------------------


def _exchange(port: int, request: bytes) -> bytes:
    """Send raw bytes on a fresh connection; everything the server answers before closing."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


WIRE = [
    (b"GET /?q=\xff\xfe HTTP/1.1\r\nHost: feeds\r\n", {400}),
    (b"GET /admin/?next=\xc3( HTTP/1.1\r\nHost: feeds\r\n", {400}),
    (b"GET / HTTP/1.1\r\nHost: " + BAD_HOST.encode() + b"\r\n", {400}),
    (b"GET / HTTP/1.1\r\nHost: \xff\xfe.example\r\n", {200, 400}),
    (b"GET /admin/ HTTP/1.1\r\nHost: feeds\r\nCookie: session=\xff\xfe\x80\r\n", {302}),
    (b"GET /api/v1/articles HTTP/1.1\r\nHost: f\r\nAuthorization: Bearer \xff\xfe\r\n", {401}),
    (b"GET /rss.xml HTTP/1.1\r\nHost: f\r\nIf-Modified-Since: \xff 99999999999\r\n", {200}),
    (
        b"GET /rss.xml HTTP/1.1\r\nHost: f\r\nIf-Modified-Since: "
        b"Thu, 01 Jan 99999999999 00:00:00 GMT\r\n",
        {200},
    ),
    (b"GET /sections/%00/ HTTP/1.1\r\nHost: feeds\r\n", {404}),
    (b"GET /sections/\xff/ HTTP/1.1\r\nHost: feeds\r\n", {400, 404}),
    (b"GET / HTTP/1.1\r\nHost: feeds\r\nX-Long: " + b"a" * 100_000 + b"\r\n", {400, 431}),
    (b"GET / HTTP/1.1\r\nHost: feeds\r\nAccept-Language: \x80\x81\xfe\r\n", {200}),
]


@pytest.mark.slow
@pytest.mark.parametrize("server", [web, gunicorn], ids=["granian", "gunicorn"])
def test_the_web_servers_answer_raw_bytes_without_a_500(
    site: Flask, tmp_path: Path, server: Callable[[dict[str, str], Path], Proc]
) -> None:
    """webserver.py (granian), what `make run` starts, and gunicorn, the alternative."""
    port = free_port()
    env = service_env(site.config["DATABASE_URL"], port=port, WEB_CONCURRENCY="1")
    with serving(server(env, tmp_path / "web.log"), port) as running:
        for head, expected in WIRE:
            answer = _exchange(port, head + b"Connection: close\r\n\r\n")
            assert _status(answer) in expected, (head[:80], answer[:300])
            assert b"Traceback" not in answer
        log = running.output()
    assert "Traceback" not in log and "Error handling request" not in log, log[-3000:]
