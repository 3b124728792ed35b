"""Feed import refuses hostile XML (entity expansion, external entities and DTDs, oversize),
reads only public addresses (after name resolution, at every redirect) and bounds its time."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from feedsvc import netguard
from feedsvc.importing.parse import FeedRefused, parse_feed
from feedsvc.storage.db import database, transaction
from feedsvc.storage.models import Article
from tests.support.app import make_app
from tests.support.factories import make_section

WORDPRESS = (Path(__file__).parent / "data" / "wordpress.xml").read_bytes()

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>t</title><link>https://x.example/</link><description>d</description>
<item><guid>https://x.example/1</guid><title>&lol9;</title><description>&lol9;</description></item>
</channel></rss>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>t</title><link>https://x.example/</link><description>d</description>
<item><guid>https://x.example/1</guid><title>Leak</title><description>&xxe;</description></item>
</channel></rss>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY % remote SYSTEM "{dtd}"> %remote;]>
<rss version="2.0"><channel><title>t</title><link>https://x.example/</link><description>d</description>
<item><guid>https://x.example/1</guid><title>x</title><description>x</description></item>
</channel></rss>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE rss SYSTEM "{dtd}">
<rss version="2.0"><channel><title>t</title><link>https://x.example/</link><description>d</description>
<item><guid>https://x.example/1</guid><title>&ent;</title><description>x</description></item>
</channel></rss>"""


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        server: FeedServer = self.server  # type: ignore[assignment]
        server.requests.append(self.path)
        if self.path == "/feed":
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(WORDPRESS)))
            self.end_headers()
            self.wfile.write(WORDPRESS)
        elif self.path == "/big":  # no Content-Length: the size shows only while reading
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"<rss>" + b" " * 50_000)
        elif self.path == "/slow":  # a byte at a time, until the client gives up
            self.send_response(200)
            self.send_header("Content-Length", "10000")
            self.end_headers()
            for _ in range(200):
                try:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                except OSError:
                    return
                if server.stop.wait(0.05):
                    return
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class FeedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[str] = []
        self.stop = threading.Event()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    srv = FeedServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.stop.set()
    srv.shutdown()
    srv.server_close()


def _app(database_url: str, tmp_path: Path, **overrides: Any) -> Iterator[Flask]:
    app = make_app(database_url, tmp_path, **overrides)
    make_section(app, "Local", slug="local")
    yield app
    database(app).dispose()


@pytest.fixture
def guarded(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The default settings: public addresses only, a small size limit for the tests."""
    yield from _app(database_url, tmp_path, IMPORT_MAX_BYTES=20_000, IMPORT_TIMEOUT=1.0)


@pytest.fixture
def open_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """IMPORT_ALLOW_PRIVATE: a feed on the newsroom's own network may be read."""
    yield from _app(
        database_url, tmp_path, IMPORT_ALLOW_PRIVATE=True, IMPORT_MAX_BYTES=20_000,
        IMPORT_TIMEOUT=1.0,
    )  # fmt: skip


def run(app: Flask, source: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["import-feed", source, "--section", "local"])
    return result.exit_code, result.output


def stored(app: Flask) -> int:
    with transaction(app, write=False) as s:
        return int(s.scalar(select(func.count()).select_from(Article)) or 0)


@pytest.mark.parametrize(
    "document",
    [
        BILLION_LAUGHS,
        XXE,
        BILLION_LAUGHS.decode().encode("utf-16"),  # the same, in another encoding
    ],
    ids=["billion-laughs", "external-entity", "utf-16"],
)
def test_documents_with_a_dtd_are_refused_unread(
    guarded: Flask, tmp_path: Path, document: bytes
) -> None:
    source = tmp_path / "evil.xml"
    source.write_bytes(document)
    code, output = run(guarded, str(source))
    assert code != 0
    assert "declares a DTD" in output
    assert "root:" not in output
    assert stored(guarded) == 0


@pytest.mark.parametrize("template", [EXTERNAL_DTD, PARAMETER_ENTITY], ids=["dtd", "param"])
def test_an_external_dtd_is_never_fetched(server: FeedServer, template: bytes) -> None:
    document = template.replace(b"{dtd}", f"{server.base}/evil.dtd".encode())
    with pytest.raises(FeedRefused, match="declares a DTD"):
        parse_feed(document)
    assert server.requests == []


def test_an_undeclared_html_entity_without_a_dtd_is_read_forgivingly() -> None:
    # A common real-world slip: &nbsp; in a title, outside CDATA. No DTD, nothing to expand.
    document = WORDPRESS.replace(b"Council approves", b"Council&nbsp;approves")
    feed = parse_feed(document)
    assert feed.entries[1].title == "Council approves new sea wall"  # one line, as titles are


@pytest.mark.parametrize(
    ("document", "why"),
    [
        (b"<html><body><p>Not a feed</p></body></html>", "not an RSS or Atom feed"),
        (b"<rss><channel><title>cut off", "not well-formed XML"),
        (b"<rss>" + b"<x>" * 5000 + b"</x>" * 5000 + b"</rss>", "not well-formed XML"),
    ],
    ids=["html", "truncated", "deep"],
)
def test_documents_that_are_no_feed_are_refused(document: bytes, why: str) -> None:
    with pytest.raises(FeedRefused, match=why):
        parse_feed(document)


def test_an_oversized_file_is_refused(guarded: Flask, tmp_path: Path) -> None:
    source = tmp_path / "huge.xml"
    source.write_bytes(WORDPRESS + b"<!--" + b"x" * 20_000 + b"-->")
    code, output = run(guarded, str(source))
    assert code != 0 and "over the limit of 20,000 bytes" in output
    assert stored(guarded) == 0


def test_a_loopback_url_is_refused_unless_allowed(
    guarded: Flask, server: FeedServer, database_url: str, tmp_path: Path
) -> None:
    code, output = run(guarded, f"{server.base}/feed")
    assert code != 0 and "loopback" in output
    assert server.requests == []  # refused before any connection
    allowing = make_app(database_url, tmp_path, IMPORT_ALLOW_PRIVATE=True)
    try:
        code, output = run(allowing, f"{server.base}/feed")
    finally:
        database(allowing).dispose()
    assert code == 0, output
    assert "4 imported" in output
    assert server.requests == ["/feed"]


def test_a_public_name_that_resolves_to_loopback_is_refused(
    guarded: Flask, server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = server.server_address[1]

    def resolve(host: str, *args: Any, **kw: Any) -> list[Any]:
        assert host == "news.example.com"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(netguard.socket, "getaddrinfo", resolve)
    code, output = run(guarded, f"http://news.example.com:{port}/feed")
    assert code != 0 and "news.example.com is a loopback address (127.0.0.1)" in output
    assert server.requests == []


def test_a_redirect_to_loopback_is_refused(
    guarded: Flask, server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A public address whose answer redirects into the machine: the second hop is refused.
    hops: list[str] = []

    def first_hop(method: str, url: str, *rest: object) -> tuple[int, dict[str, str], bytes]:
        hops.append(url)
        return 302, {"Location": f"{server.base}/feed"}, b""

    monkeypatch.setattr(netguard, "_request", first_hop)
    code, output = run(guarded, "http://93.184.216.34/feed")
    assert code != 0 and "loopback" in output
    assert hops == ["http://93.184.216.34/feed"]
    assert server.requests == []


def test_a_large_or_slow_answer_is_cut_off(open_app: Flask, server: FeedServer) -> None:
    code, output = run(open_app, f"{server.base}/big")
    assert code != 0 and "over the limit of 20,000 bytes" in output
    # 200 bytes over 10 s, and IMPORT_TIMEOUT is 1 s: the import gives up, nothing stored.
    code, output = run(open_app, f"{server.base}/slow")
    assert code != 0 and "could not be fetched" in output
    assert stored(open_app) == 0
