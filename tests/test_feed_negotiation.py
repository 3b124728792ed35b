"""Feeds in a browser: the stylesheet link, Accept negotiation, ETags of both variants, assets."""

from __future__ import annotations

import gzip
import http.client
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from werkzeug.test import Client, TestResponse

from devtools import nginx as nginx_tools
from feedsvc.assets import ASSETS
from feedsvc.publishing.export import sync_all
from feedsvc.publishing.passes import run_pass
from feedsvc.storage.db import database
from feedsvc.web.headers import PUBLIC_CSP
from feedsvc.web.negotiation import prefers_html
from tests.support.app import make_app
from tests.support.exportnginx import nginx_over_export
from tests.support.factories import make_article, make_section
from tests.support.feedcheck import check_atom, check_json, check_rss

STATIC = Path(__file__).resolve().parent.parent / "feedsvc" / "static"

# Real clients' Accept headers, as they send them.
CHROMIUM = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
FIREFOX = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
SAFARI = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
FEEDPARSER = (
    "application/atom+xml,application/rdf+xml,application/rss+xml,application/x-netcdf,"
    "application/xml;q=0.9,text/xml;q=0.2,*/*;q=0.1"
)
READER = "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.8"

RSS = "application/rss+xml; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"
XML = "application/xml; charset=utf-8"


@pytest.mark.parametrize(
    ("accept", "page"),
    [
        (CHROMIUM, True),
        (FIREFOX, True),
        (SAFARI, True),
        (FEEDPARSER, False),
        (READER, False),
        (None, False),  # no Accept: anything goes, and a reader is the likelier client
        ("", False),
        ("*/*", False),  # a tie: the feed
        ("text/html", True),
        ("TEXT/HTML", True),  # types are case-insensitive (RFC 9110 §8.3.1)
        ("text/html, application/rss+xml", False),  # a tie again
        ("application/rss+xml;q=0.5, text/html", True),
        ("text/html;q=0.5, application/rss+xml", False),
        ("text/html;q=0.9, application/rss+xml;q=0.8", True),
        ("text/html;q=0.9, */*", False),  # */* gives the feed 1
        ("text/html;q=0.9, */*;q=0.8", True),
        ("text/*, application/rss+xml;q=0.5", True),  # text/* covers text/html
        ("*/*, application/rss+xml;q=0.5", True),  # the feed named, lower than anything else
        ("application/*;q=0.2, text/html;q=0.3", True),
        ("text/html;q=0", False),  # refused outright
        ("text/html;q=0, */*", False),
        ("text/html;level=1, application/rss+xml;q=0.5", False),  # a narrower type than ours
        ("text/html;q=2, application/rss+xml;q=0.5", False),  # malformed weight: ignored
        ("text/html;q=0.8;ext=1, application/rss+xml;q=0.5", True),  # accept-ext after q
        ("text/html ; q=1.000 , application/rss+xml ; q=0.999", True),
        ("application/rss+xml;charset=utf-8, text/html;q=0.9", False),
        ("application/atom+xml, text/html;q=0.9", True),  # for RSS: atom is not ours
        (",, ;q=1, /, text/, text/html", True),  # junk elements are skipped
    ],
)
def test_accept_prefers_html_by_rfc_9110_weights(accept: str | None, page: bool) -> None:
    assert prefers_html(accept, RSS) is page


def test_negotiation_is_per_feed_type() -> None:
    accept = "application/atom+xml, text/html;q=0.9"
    assert prefers_html(accept, ATOM) is False
    assert prefers_html(accept, RSS) is True


@pytest.fixture(params=["fast path", "flask"])
def served(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[Client]:
    """A client of the app with published feeds: through the WSGI fast path, or Flask alone
    (what answers when the fast path hands a request on)."""
    app = make_app(database_url, tmp_path, DOCUMENT_CACHE_SECONDS=60.0)
    section = make_section(app, "World News")
    make_article(app, section, "Storm & <surge> hits the coast", body="Waves *everywhere*.")
    run_pass(app)
    wsgi = app.wsgi_app if request.param == "fast path" else app.wsgi_app.app  # type: ignore[attr-defined]
    yield Client(wsgi, TestResponse)
    database(app).dispose()


def _vary(response: TestResponse) -> set[str]:
    # Flask alone may add Cookie (a session was looked at); the fast path never does.
    return {v.strip() for v in response.headers.get("Vary", "").split(",")}


FEEDS = [("/sections/world-news/rss.xml", RSS), ("/atom.xml", ATOM)]


@pytest.mark.parametrize(("path", "own_type"), FEEDS)
def test_a_browser_gets_the_same_bytes_as_xml_and_readers_get_the_feed(
    served: Client, path: str, own_type: str
) -> None:
    feed = served.get(path, headers={"Accept": FEEDPARSER})
    page = served.get(path, headers={"Accept": CHROMIUM})
    bare = served.get(path)
    assert feed.status_code == page.status_code == bare.status_code == 200
    assert feed.headers["Content-Type"] == bare.headers["Content-Type"] == own_type
    assert page.headers["Content-Type"] == XML
    assert page.data == feed.data == bare.data
    assert b'<?xml-stylesheet type="text/xsl" href="/feed.xsl"?>' in page.data
    for response in (feed, page, bare):
        assert {"Accept", "Accept-Encoding"} <= _vary(response)
    # The page lives under the site's CSP; the feed answer needs none.
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" not in feed.headers
    # Two representations, two strong ETags.
    assert page.headers["ETag"] != feed.headers["ETag"] == bare.headers["ETag"]
    assert not page.headers["ETag"].startswith("W/")


@pytest.mark.parametrize(("path", "own_type"), FEEDS)
def test_each_variant_revalidates_against_its_own_etag(
    served: Client, path: str, own_type: str
) -> None:
    for accept, expected_type in ((CHROMIUM, XML), (READER, own_type)):
        for encoding in ("identity", "gzip"):
            first = served.get(path, headers={"Accept": accept, "Accept-Encoding": encoding})
            assert first.headers["Content-Type"] == expected_type
            tag = first.headers["ETag"]
            again = served.get(
                path,
                headers={"Accept": accept, "Accept-Encoding": encoding, "If-None-Match": tag},
            )
            assert again.status_code == 304, (accept, encoding)
            assert again.headers["ETag"] == tag
            assert {"Accept", "Accept-Encoding"} <= _vary(again)
            assert again.data == b""
    page_tag = served.get(path, headers={"Accept": CHROMIUM}).headers["ETag"]
    feed_tag = served.get(path, headers={"Accept": READER}).headers["ETag"]
    # A tag of the other variant is not this one: the full answer, with the right type.
    crossed = served.get(path, headers={"Accept": CHROMIUM, "If-None-Match": feed_tag})
    assert crossed.status_code == 200 and crossed.headers["Content-Type"] == XML
    crossed = served.get(path, headers={"Accept": READER, "If-None-Match": page_tag})
    assert crossed.status_code == 200 and crossed.headers["Content-Type"] == own_type
    # A cache holding both sends both (RFC 9111 §4.3.1): 304 with the chosen one's tag.
    both = f"{feed_tag}, {page_tag}"
    reval = served.get(path, headers={"Accept": CHROMIUM, "If-None-Match": both})
    assert reval.status_code == 304 and reval.headers["ETag"] == page_tag
    reval = served.get(path, headers={"Accept": READER, "If-None-Match": both})
    assert reval.status_code == 304 and reval.headers["ETag"] == feed_tag


def test_head_and_gzip_of_the_browser_variant(served: Client) -> None:
    path = "/sections/world-news/atom.xml"
    get = served.get(path, headers={"Accept": CHROMIUM, "Accept-Encoding": "gzip"})
    head = served.head(path, headers={"Accept": CHROMIUM, "Accept-Encoding": "gzip"})
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Type"] == XML
    assert head.headers["Content-Encoding"] == "gzip"
    assert head.headers["Content-Length"] == get.headers["Content-Length"]
    assert head.headers["ETag"] == get.headers["ETag"]
    assert gzip.decompress(get.data) == served.get(path).data
    plain_head = served.head(path, headers={"Accept": CHROMIUM})
    assert plain_head.headers["ETag"] != head.headers["ETag"]  # identity and gzip differ too


def test_json_feed_and_opml_are_never_negotiated(served: Client) -> None:
    for path, own_type in (
        ("/sections/world-news/feed.json", "application/feed+json; charset=utf-8"),
        ("/opml.xml", "text/x-opml; charset=utf-8"),
    ):
        response = served.get(path, headers={"Accept": CHROMIUM})
        assert response.headers["Content-Type"] == own_type
        assert "Accept" not in _vary(response) and "Accept-Encoding" in _vary(response)
    check_json(served.get("/sections/world-news/feed.json").data)
    assert b"xml-stylesheet" not in served.get("/sections/world-news/feed.json").data


def test_the_feeds_with_their_stylesheet_stay_valid(served: Client) -> None:
    rss = served.get("/sections/world-news/rss.xml").data
    atom = served.get("/sections/world-news/atom.xml").data
    check_rss(rss)
    check_atom(atom)
    for body in (rss, atom):
        pis = etree.fromstring(body).getroottree().getroot().itersiblings(preceding=True)
        assert [(p.target, p.get("type"), p.get("href")) for p in pis] == [
            ("xml-stylesheet", "text/xsl", "/feed.xsl")
        ]


def test_the_stylesheet_href_follows_the_site_urls_path(database_url: str, tmp_path: Path) -> None:
    app = make_app(database_url, tmp_path, SITE_URL="https://example.org/news")
    make_section(app, "World News")
    run_pass(app)
    client = app.test_client()
    for path in ("/rss.xml", "/sections/world-news/atom.xml"):
        body = client.get(path).data
        assert b'<?xml-stylesheet type="text/xsl" href="/news/feed.xsl"?>' in body
    database(app).dispose()


def test_the_app_serves_the_stylesheet_and_the_icon(database_url: str, tmp_path: Path) -> None:
    app = make_app(database_url, tmp_path)
    client = app.test_client()
    for path, content_type, file in (
        ("/feed.xsl", "text/xsl; charset=utf-8", "feed.xsl"),
        ("/favicon.ico", "image/vnd.microsoft.icon", "favicon.ico"),
    ):
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == content_type
        assert response.data == (STATIC / file).read_bytes()
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        cache_control = response.headers["Cache-Control"]
        assert "public" in cache_control and "max-age=" in cache_control
        again = client.get(path, headers={"If-None-Match": response.headers["ETag"]})
        assert again.status_code == 304
    assert (STATIC / "favicon.ico").read_bytes()[:4] == b"\x00\x00\x01\x00"  # an ICO file
    database(app).dispose()


def _transform(body: bytes) -> etree._Element:
    xslt = etree.XSLT(etree.parse(str(STATIC / "feed.xsl")))
    return xslt(etree.fromstring(body).getroottree()).getroot()


@pytest.mark.parametrize("name", ["rss.xml", "atom.xml"])
def test_the_stylesheet_shows_what_a_feed_is_how_to_subscribe_and_the_items(
    served: Client, name: str
) -> None:
    html = _transform(served.get(f"/sections/world-news/{name}").data)
    text = " ".join(html.itertext())
    assert "A feed lets you follow" in text
    (field,) = html.iterfind(".//input[@id='feed-url']")
    assert field.get("value") == f"http://feeds.example.org/sections/world-news/{name}"
    assert html.find(".//label[@for='feed-url']") is not None
    readers = {a.text: a.get("href") for a in html.iterfind(".//ul[@class='readers']/li/a")}
    feed_url = field.get("value")
    assert readers["Feedly"] == f"https://feedly.com/i/subscription/feed/{feed_url}"
    assert readers["The Old Reader"].endswith(f"?url={feed_url}")
    assert {"Inoreader", "NewsBlur"} <= set(readers)
    assert f"feed:{feed_url}" in readers.values()
    (link,) = html.iterfind(".//ul[@class='articles']/li/h3/a")
    # The title as typed, never markup, without RSS's word joiners (feeds/htmltext.py).
    assert link.text == "Storm & <surge> hits the coast"
    assert link.get("href", "").startswith("http://feeds.example.org/articles/")
    assert html.find(".//script") is None and html.find(".//style") is None
    icons = [e.get("href") for e in html.iterfind(".//link[@rel='icon']")]
    assert icons == ["/favicon.ico"]


def test_an_empty_feed_says_so(database_url: str, tmp_path: Path) -> None:
    app = make_app(database_url, tmp_path)
    make_section(app, "Quiet")
    run_pass(app)
    html = _transform(app.test_client().get("/sections/quiet/atom.xml").data)
    assert "No articles yet." in " ".join(html.itertext())
    database(app).dispose()


# --- nginx serving the export ----------------------------------------------------------------

# Accept values nginx decides itself (from the file), and ones only the app can weigh.
NGINX_DECIDES = [
    *(CHROMIUM, FIREFOX, FEEDPARSER, READER, None, "*/*", "text/html", "application/*"),
    "text/html;q=0.9, */*",  # */* gives the feed full weight: no type can beat it
]
APP_DECIDES = [
    "text/html;q=0.9, application/rss+xml;q=0.8, application/atom+xml;q=0.8",
    "*/*, application/rss+xml;q=0.5, application/atom+xml;q=0.5",
    "text/*",
]


def _vary_all(response: http.client.HTTPResponse) -> set[str]:
    values = response.headers.get_all("Vary") or []
    return {v.strip() for value in values for v in value.split(",")}


@pytest.mark.slow
def test_nginx_negotiates_like_the_app_and_keeps_validators_right(
    database_url: str, tmp_path: Path
) -> None:
    # Many unconditional fetches of one feed: the polling limit off, in the app and in nginx.
    app = make_app(
        database_url, tmp_path, EXPORT_DIR=str(tmp_path / "export"), POLL_MIN_INTERVAL=0.0
    )
    make_article(app, make_section(app, "World News"), "Elections")
    run_pass(app)
    sync_all(app)
    client = app.test_client()
    with nginx_over_export(app, tmp_path / "nginx", **nginx_tools.POLL_OFF) as nginx:
        for path in ("/sections/world-news/rss.xml", "/atom.xml"):
            for accept in [*NGINX_DECIDES, *APP_DECIDES]:
                headers = {} if accept is None else {"Accept": accept}
                before = len(nginx.seen)
                response, body = nginx.request("GET", path, headers)
                expected = client.get(path, headers=headers)
                assert response.status == 200
                # The same answer as the app's own RFC 9110 weighing, and the same bytes.
                assert response.headers["Content-Type"] == expected.headers["Content-Type"], (
                    path,
                    accept,
                )
                assert body == expected.data
                assert "Accept" in _vary_all(response)
                went_to_app = len(nginx.seen) > before
                assert went_to_app is (accept in APP_DECIDES), (path, accept)

            # The feed type: nginx's ETag and 304.
            feed, _ = nginx.request("GET", path, {"Accept": FEEDPARSER})
            etag = feed.headers["ETag"]
            again, body = nginx.request("GET", path, {"Accept": FEEDPARSER, "If-None-Match": etag})
            assert again.status == 304 and body == b""
            # The page: no ETag (a strong tag names one representation), Last-Modified works,
            # and the feed type's tag is not taken for it.
            page, _ = nginx.request("GET", path, {"Accept": CHROMIUM})
            assert page.headers["Content-Type"] == XML
            assert "ETag" not in page.headers
            # The app's CSP for pages, written out in deploy/nginx.conf too: they must agree.
            assert page.headers.get_all("Content-Security-Policy") == [PUBLIC_CSP]
            assert page.headers["X-Frame-Options"] == "DENY"
            crossed, body = nginx.request("GET", path, {"Accept": CHROMIUM, "If-None-Match": etag})
            assert crossed.status == 200 and body == expected.data
            since = page.headers["Last-Modified"]
            reval, body = nginx.request(
                "GET", path, {"Accept": CHROMIUM, "If-Modified-Since": since}
            )
            assert reval.status == 304 and body == b""
            head, body = nginx.request("HEAD", path, {"Accept": CHROMIUM})
            assert head.status == 200 and body == b""
            assert head.headers["Content-Type"] == XML
            assert head.headers["Content-Length"] == page.headers["Content-Length"]
            gz, packed = nginx.request("GET", path, {"Accept": CHROMIUM, "Accept-Encoding": "gzip"})
            assert gz.headers["Content-Encoding"] == "gzip"
            assert gz.headers["Content-Type"] == XML
            assert gzip.decompress(packed) == expected.data
            assert {"Accept", "Accept-Encoding"} <= _vary_all(gz)

        # JSON Feed is never negotiated.
        response, _ = nginx.request("GET", "/sections/world-news/feed.json", {"Accept": CHROMIUM})
        assert response.headers["Content-Type"] == "application/feed+json; charset=utf-8"

        # The assets, from the export's copies, with the app's types and lifetimes.
        seen = len(nginx.seen)
        for name, (content_type, max_age) in ASSETS.items():
            response, body = nginx.request("GET", f"/{name}")
            assert response.status == 200
            assert response.headers["Content-Type"] == content_type
            assert response.headers["Cache-Control"] == f"public, max-age={max_age}"
            assert body == (STATIC / name).read_bytes()
        assert len(nginx.seen) == seen  # nginx served them from the files
    database(app).dispose()


def test_the_export_holds_the_assets_and_repairs_them(database_url: str, tmp_path: Path) -> None:
    root = tmp_path / "export"
    app = make_app(database_url, tmp_path, EXPORT_DIR=str(root))
    make_section(app, "World News")
    run_pass(app)
    sync_all(app)
    for name in ASSETS:
        assert (root / name).read_bytes() == (STATIC / name).read_bytes()
        assert (root / name).stat().st_mode & 0o777 == 0o644  # nginx's workers read it
    (root / "feed.xsl").write_bytes(b"<broken")
    (root / "favicon.ico").unlink()
    sync_all(app)
    for name in ASSETS:
        assert (root / name).read_bytes() == (STATIC / name).read_bytes()
    assert not [p for p in root.iterdir() if p.name.endswith(".tmp")]
    database(app).dispose()
