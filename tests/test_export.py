"""Static export: atomic files with the documents' dates, sync with the database, real nginx."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import re
import shutil
import ssl
import stat
import subprocess
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from devtools import nginx as nginx_tools
from devtools.procs import free_port, scheduler, service_env, wait_for
from feedsvc import nginxconf, settings
from feedsvc.assets import ASSETS
from feedsvc.publishing import export
from feedsvc.publishing.export import remove_document, sweep_temp_files, sync_all, write_document
from feedsvc.publishing.passes import run_pass
from feedsvc.publishing.scheduler import Publisher
from feedsvc.sections import SectionInput, update_section
from feedsvc.settings import SettingsError
from feedsvc.storage.db import database, transaction
from feedsvc.storage.models import FeedDocument, Section
from feedsvc.web import polling
from tests.support.app import make_app
from tests.support.factories import make_article, make_section
from tests.support.nginx import check_skips_locally_fails_in_ci, missing_tool, require_nginx

WHEN = datetime(2024, 5, 1, 12, 30, 15, tzinfo=UTC)
BODY = b"<?xml version='1.0' encoding='UTF-8'?>\n<rss>caf\xc3\xa9</rss>\n"
TIMEOUT = 10.0


def _gz(body: bytes) -> bytes:
    return gzip.compress(body, mtime=0)


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


# --- write_document / remove_document / sweep_temp_files ------------------------------------


def test_write_document_is_complete_dated_and_leaves_no_temp_files(tmp_path: Path) -> None:
    root = tmp_path / "export"
    write_document(root, "sections/world-news/atom.xml", BODY, _gz(BODY), WHEN)
    plain = root / "sections/world-news/atom.xml"
    packed = root / "sections/world-news/atom.xml.gz"
    assert plain.read_bytes() == BODY
    assert gzip.decompress(packed.read_bytes()) == BODY
    for f in (plain, packed):
        st = f.stat()
        assert st.st_mtime == WHEN.timestamp()  # nginx's Last-Modified = the document's
        assert stat.S_IMODE(st.st_mode) == 0o644
    for d in (root / "sections", root / "sections/world-news"):
        assert stat.S_IMODE(d.stat().st_mode) == 0o755
    assert _temp_files(root) == []


def test_rewrite_replaces_bytes_and_date(tmp_path: Path) -> None:
    write_document(tmp_path, "rss.xml", b"old", _gz(b"old"), WHEN)
    later = WHEN + timedelta(minutes=3, microseconds=900_000)
    write_document(tmp_path, "rss.xml", BODY, _gz(BODY), later)
    assert (tmp_path / "rss.xml").read_bytes() == BODY
    # HTTP dates have whole seconds; the file gets the same truncation the app applies.
    assert (tmp_path / "rss.xml").stat().st_mtime == int(later.timestamp())
    assert gzip.decompress((tmp_path / "rss.xml.gz").read_bytes()) == BODY


def test_empty_gzip_body_is_never_exported_as_an_empty_file(tmp_path: Path) -> None:
    write_document(tmp_path, "feed.json", BODY, b"", WHEN)
    assert gzip.decompress((tmp_path / "feed.json.gz").read_bytes()) == BODY


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/etc/passwd",
        "../escape.xml",
        "sections/../../escape.xml",
        "sections/..",
        "sections\\world\\rss.xml",
        "sections/world\0/rss.xml",
        "sections//rss.xml",
        "sections/./rss.xml",
        "sections/world/.rss.xml.abc.tmp",
    ],
)
def test_paths_that_could_escape_root_are_refused(tmp_path: Path, path: str) -> None:
    root = tmp_path / "export"
    with pytest.raises(ValueError):
        write_document(root, path, BODY, _gz(BODY), WHEN)
    with pytest.raises(ValueError):
        remove_document(root, path)
    assert not (tmp_path / "escape.xml").exists()


@pytest.mark.parametrize("failing", ["fsync", "replace"])
@pytest.mark.parametrize("fail_on_call", [1, 2])  # 1: the .gz, 2: the plain file
def test_a_crash_mid_write_keeps_the_previous_complete_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str, fail_on_call: int
) -> None:
    old = b"<rss>the previous, complete version</rss>"
    write_document(tmp_path, "sections/world/rss.xml", old, _gz(old), WHEN)
    real = getattr(os, failing)
    calls = 0

    def crash(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        # Directory fsyncs do not count: only the temp files' own fsync or rename.
        if failing == "fsync" and stat.S_ISDIR(os.fstat(args[0]).st_mode):
            return real(*args, **kwargs)
        calls += 1
        if calls == fail_on_call:
            raise OSError(28, "No space left on device (simulated)")
        return real(*args, **kwargs)

    monkeypatch.setattr(os, failing, crash)
    with pytest.raises(OSError, match="simulated"):
        write_document(tmp_path, "sections/world/rss.xml", BODY * 50, _gz(BODY * 50), WHEN)
    monkeypatch.undo()
    plain = (tmp_path / "sections/world/rss.xml").read_bytes()
    packed = gzip.decompress((tmp_path / "sections/world/rss.xml.gz").read_bytes())
    assert plain == old  # never truncated, never half new
    # The .gz is written first: it may already be the new version, but never older than plain.
    assert packed == (old if fail_on_call == 1 else BODY * 50)
    assert _temp_files(tmp_path) == []


def test_sweep_removes_leftover_temp_files_only(tmp_path: Path) -> None:
    write_document(tmp_path, "sections/world/rss.xml", BODY, _gz(BODY), WHEN)
    (tmp_path / ".x.tmp").write_bytes(b"half")
    (tmp_path / "sections/world/.rss.xml.k2j3h4.tmp").write_bytes(b"half")
    (tmp_path / "notes.tmp").write_bytes(b"not ours: no leading dot")
    assert sweep_temp_files(tmp_path) == 0  # too fresh: may be a writer still running
    assert sweep_temp_files(tmp_path, min_age=0) == 2
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [
        "notes.tmp",
        "rss.xml",
        "rss.xml.gz",
    ]
    assert sweep_temp_files(tmp_path / "missing") == 0


def test_remove_document_removes_both_files_and_the_empty_section_dir(tmp_path: Path) -> None:
    for name in ("rss.xml", "atom.xml"):
        write_document(tmp_path, f"sections/old/{name}", BODY, _gz(BODY), WHEN)
    remove_document(tmp_path, "sections/old/rss.xml")
    assert sorted(p.name for p in (tmp_path / "sections/old").iterdir()) == [
        "atom.xml",
        "atom.xml.gz",
    ]
    remove_document(tmp_path, "sections/old/atom.xml")
    assert not (tmp_path / "sections/old").exists()
    assert (tmp_path / "sections").is_dir()
    remove_document(tmp_path, "sections/old/atom.xml")  # already gone: fine
    remove_document(tmp_path, "rss.xml")
    assert tmp_path.is_dir()


# --- settings -------------------------------------------------------------------------------


def test_export_dir_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FEEDSVC_ENV", raising=False)
    monkeypatch.delenv("FEEDSVC_EXPORT_DIR", raising=False)
    assert settings.load(tmp_path)["EXPORT_DIR"] == ""
    monkeypatch.setenv("FEEDSVC_EXPORT_DIR", "/srv/feedsvc/export/")
    assert settings.load(tmp_path)["EXPORT_DIR"] == "/srv/feedsvc/export"
    monkeypatch.setenv("FEEDSVC_EXPORT_DIR", "export")
    with pytest.raises(SettingsError, match="EXPORT_DIR must be an absolute path"):
        settings.load(tmp_path)


# --- sync_all against the database ----------------------------------------------------------


@pytest.fixture
def export_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = make_app(database_url, tmp_path, EXPORT_DIR=str(tmp_path / "export"))
    yield app
    database(app).dispose()


def _root(app: Flask) -> Path:
    root = export.export_root(app)
    assert root is not None
    return root


def _documents(app: Flask) -> dict[str, FeedDocument]:
    with transaction(app, write=False) as s:
        return {d.path: d for d in s.scalars(select(FeedDocument))}


def _exported(root: Path) -> set[str]:
    """The documents' files under root (the assets, feed.xsl and favicon.ico, left out)."""
    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    return files - set(ASSETS)


def _expected(paths: Iterable[str]) -> set[str]:
    return {f for p in paths for f in (p, p + ".gz")}


def test_sync_all_does_nothing_without_export_dir(app: Flask) -> None:
    assert export.export_root(app) is None
    assert sync_all(app) == 0


def test_sync_all_writes_missing_and_changed_files_only(export_app: Flask) -> None:
    root = _root(export_app)
    make_article(export_app, make_section(export_app, "World News"), "Elections")
    run_pass(export_app)
    docs = _documents(export_app)
    # The publishing pass itself exports what it stored.
    assert _exported(root) == _expected(docs)
    assert sync_all(export_app) == 0
    # A wiped (or brand-new) export folder is filled in completely.
    shutil.rmtree(root)
    root.mkdir()
    assert sync_all(export_app) == len(docs) == 7
    assert _exported(root) == _expected(docs)
    for path, doc in docs.items():
        assert (root / path).read_bytes() == doc.body
        assert (root / f"{path}.gz").read_bytes() == doc.body_gzip
        assert (root / path).stat().st_mtime == doc.last_modified.timestamp()
    assert sync_all(export_app) == 0  # sizes and dates agree: nothing rewritten

    (root / "sections/world-news/rss.xml").unlink()
    os.utime(root / "atom.xml.gz", (0, 0))
    # Fresh (by ctime): perhaps another scheduler's write in flight, so it is left alone.
    in_flight = root / "sections/world-news/.feed.json.abc.tmp"
    in_flight.write_bytes(b"being written")
    assert sync_all(export_app) == 2
    assert _exported(root) == _expected(docs) | {in_flight.relative_to(root).as_posix()}
    assert (root / "sections/world-news/rss.xml").read_bytes() == docs[
        "sections/world-news/rss.xml"
    ].body


def test_sync_all_removes_a_renamed_sections_files(export_app: Flask) -> None:
    root = _root(export_app)
    business = make_section(export_app, "Business")
    make_section(export_app, "World News")
    run_pass(export_app)
    sync_all(export_app)
    assert (root / "sections/business/atom.xml").is_file()
    with transaction(export_app) as s:
        update_section(s, business, SectionInput(name="Business", slug="markets"))
    run_pass(export_app)  # the pass itself moves the files
    docs = _documents(export_app)
    assert "sections/business/atom.xml" not in docs
    assert _exported(root) == _expected(docs)
    assert sync_all(export_app) == 0
    assert not (root / "sections/business").exists()
    assert (root / "sections/markets/feed.json").is_file()


def test_sync_all_never_replaces_a_newer_export(export_app: Flask) -> None:
    """A leader that exported a later version after sync_all read the database wins."""
    root = _root(export_app)
    make_section(export_app, "World News")
    run_pass(export_app)
    sync_all(export_app)
    newer = b"<rss>written by the leader a moment later</rss>"
    doc = _documents(export_app)["rss.xml"]
    write_document(root, "rss.xml", newer, _gz(newer), doc.last_modified + timedelta(seconds=5))
    assert sync_all(export_app) == 0
    assert (root / "rss.xml").read_bytes() == newer


# --- real nginx -----------------------------------------------------------------------------


@pytest.mark.parametrize("ci", [None, "true", "1"])
def test_missing_nginx_skips_locally_but_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch, ci: str | None
) -> None:
    check_skips_locally_fails_in_ci(monkeypatch, ci, require_nginx, "nginx is not installed")


@dataclass
class Nginx:
    port: int
    seen: list[dict[str, str]]  # the headers each proxied request reached the app with
    tls: ssl.SSLContext | None = None  # https, trusting the test's own certificate

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        *,
        source: str = "127.0.0.1",
    ) -> tuple[http.client.HTTPResponse, bytes]:
        """One request on a fresh connection from the source address (any of 127.0.0.0/8)."""
        conn = (
            http.client.HTTPSConnection(
                "127.0.0.1",
                self.port,
                timeout=TIMEOUT,
                context=self.tls,
                source_address=(source, 0),
            )
            if self.tls
            else http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=TIMEOUT, source_address=(source, 0)
            )
        )
        try:
            conn.request(method, path, headers={"Accept-Encoding": "identity", **(headers or {})})
            response = conn.getresponse()
            return response, response.read()
        finally:
            conn.close()


def _nginx_values(
    base: Path, export_dir: Path, upstream_port: int, port: int, **tokens: str
) -> dict[str, str]:
    return nginx_tools.local_values(
        base,
        port,
        __EXPORT_DIR__=str(export_dir),
        __UPSTREAM__=f"127.0.0.1:{upstream_port}",
        **tokens,
    )


def with_tls_and_hsts(text: str, port: int, base: Path) -> tuple[str, ssl.SSLContext]:
    """deploy/nginx.conf's text as its comments say to turn TLS and HSTS on, with a
    self-signed certificate for 127.0.0.1 made here; and a client context that trusts it."""
    openssl = shutil.which("openssl")
    if openssl is None:
        missing_tool("openssl is not installed (apt-get install openssl); TLS is untested")
    assert openssl is not None
    cert, key = base / "cert.pem", base / "key.pem"
    base.mkdir(parents=True, exist_ok=True)
    made = subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    listen = f"listen 127.0.0.1:{port};"
    hsts = '# https "max-age=31536000";'
    assert listen in text and hsts in text
    text = text.replace(
        listen, f"listen 127.0.0.1:{port} ssl; ssl_certificate {cert}; ssl_certificate_key {key};"
    ).replace(hsts, hsts.removeprefix("# "))
    return text, ssl.create_default_context(cafile=str(cert))


@contextmanager
def running_nginx(app: Flask, base: Path, *, tls: bool = False, **tokens: str) -> Iterator[Nginx]:
    """The app on a real WSGI server thread, deploy/nginx.conf in front of it, both stopped.

    tls: on https, with HSTS turned on, as the template's comments say to do.
    tokens: template values other than the local ones (e.g. **nginx_tools.POLL_OFF)."""
    require_nginx()
    seen: list[dict[str, str]] = []

    def recording(environ: dict[str, Any], start_response: Any) -> Any:
        keys = ["HTTP_HOST", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO"]
        keys += ["HTTP_CONNECTION", "SERVER_PROTOCOL"]
        seen.append({k: str(environ.get(k)) for k in keys} | {"path": environ["PATH_INFO"]})
        return app(environ, start_response)

    upstream = make_server("127.0.0.1", 0, recording, threaded=True)
    thread = threading.Thread(target=upstream.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    port = free_port()
    values = _nginx_values(base, _root(app), upstream.server_port, port, **tokens)
    text, context = nginx_tools.render(values), None
    if tls:
        text, context = with_tls_and_hsts(text, port, base)
    try:
        with nginx_tools.running(text, base, port, timeout=TIMEOUT):
            yield Nginx(port, seen, context)
    finally:
        upstream.shutdown()
        upstream.server_close()
        thread.join(timeout=TIMEOUT)


TYPES = {
    "rss.xml": "application/rss+xml; charset=utf-8",
    "atom.xml": "application/atom+xml; charset=utf-8",
    "feed.json": "application/feed+json; charset=utf-8",
    "opml.xml": "text/x-opml; charset=utf-8",
}


# Written out: the app's values (feedsvc/web/headers.py) and deploy/nginx.conf's must agree.
PUBLIC_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'; img-src https: http: data:"
)


ADMIN_CSP = PUBLIC_CSP.replace("img-src https: http: data:", "img-src 'self' data:")


def assert_security_headers(
    response: http.client.HTTPResponse,
    *,
    referrer: str = "strict-origin-when-cross-origin",
    csp: str | None = None,
) -> None:
    """Each security header exactly once, whether nginx or the app answered; no HSTS on http."""
    headers = response.headers
    assert headers.get_all("X-Content-Type-Options") == ["nosniff"]
    assert headers.get_all("Referrer-Policy") == [referrer]
    assert headers.get_all("Strict-Transport-Security") is None  # http: RFC 6797 §7.2
    assert headers.get_all("Content-Security-Policy") == ([csp] if csp else None)


@pytest.mark.slow
def test_nginx_serves_the_export_with_validators_gzip_and_304(
    export_app: Flask, tmp_path: Path
) -> None:
    make_article(export_app, make_section(export_app, "World News"), "Elections")
    make_section(export_app, "Business")
    run_pass(export_app)  # exports as it stores: 10 documents, nothing left for sync_all
    assert sync_all(export_app) == 0
    assert len(_documents(export_app)) == 10
    # As if not exported yet (or lost): its feeds are only in the database.
    unexported = "sections/business/rss.xml"
    remove_document(_root(export_app), unexported)
    docs = _documents(export_app)
    path = "sections/world-news/atom.xml"
    doc = docs[path]

    with running_nginx(export_app, tmp_path / "nginx") as nginx:
        response, body = nginx.request("GET", "/" + path)
        assert response.status == 200
        assert body == doc.body
        assert response.headers.get_all("Content-Type") == [TYPES["atom.xml"]]
        assert response.headers["Last-Modified"] == format_datetime(doc.last_modified, usegmt=True)
        etag = response.headers["ETag"]
        assert re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+"', etag)  # nginx's own: the file served it
        assert response.headers.get_all("Cache-Control") == ["public, max-age=5"]
        assert response.headers["Vary"] == "Accept-Encoding"
        assert "Content-Encoding" not in response.headers
        assert_security_headers(response)

        for p in (p for p in docs if p != unexported):
            r, b = nginx.request("GET", "/" + p)
            assert (r.status, b) == (200, docs[p].body), p
            assert r.headers.get_all("Content-Type") == [TYPES[p.rsplit("/", 1)[-1]]], p

        response, packed = nginx.request("GET", "/" + path, {"Accept-Encoding": "gzip"})
        assert response.status == 200
        assert response.headers["Content-Encoding"] == "gzip"
        assert response.headers.get_all("Content-Type") == [TYPES["atom.xml"]]
        assert response.headers["Vary"] == "Accept-Encoding"
        assert gzip.decompress(packed) == doc.body
        gz_etag = response.headers["ETag"]
        assert_security_headers(response)
        assert gz_etag != etag  # a strong tag per encoding

        response, body = nginx.request("GET", "/" + path, {"If-None-Match": etag})
        assert (response.status, body) == (304, b"")
        assert response.headers["ETag"] == etag
        assert_security_headers(response)
        response, _ = nginx.request(
            "GET", "/" + path, {"If-None-Match": gz_etag, "Accept-Encoding": "gzip"}
        )
        assert response.status == 304
        last_modified = format_datetime(doc.last_modified, usegmt=True)
        response, _ = nginx.request("GET", "/" + path, {"If-Modified-Since": last_modified})
        assert response.status == 304
        # Like the app: 304 whenever the file is not newer than the date (not only on equality).
        later = format_datetime(doc.last_modified + timedelta(hours=1), usegmt=True)
        response, _ = nginx.request("GET", "/" + path, {"If-Modified-Since": later})
        assert response.status == 304
        earlier = format_datetime(doc.last_modified - timedelta(seconds=1), usegmt=True)
        response, _ = nginx.request("GET", "/" + path, {"If-Modified-Since": earlier})
        assert response.status == 200

        response, body = nginx.request("HEAD", "/" + path)
        assert (response.status, body) == (200, b"")
        assert response.headers["Content-Length"] == str(len(doc.body))
        assert response.headers["ETag"] == etag
        assert not nginx.seen  # nothing so far reached the app

        # Not exported: falls through to the app, which answers from the database.
        response, body = nginx.request("GET", "/" + unexported)
        assert (response.status, body) == (200, docs[unexported].body)
        assert response.headers["ETag"] == f'"{docs[unexported].etag}"'  # the app's tag
        assert response.headers.get_all("Content-Type") == [TYPES["rss.xml"]]
        assert response.headers.get_all("Cache-Control") == ["public, max-age=5"]
        assert_security_headers(response)  # the app's, and not nginx's as well
        response, _ = nginx.request("GET", "/sections/no-such-section/feed.json")
        assert response.status == 404
        assert_security_headers(response, csp=PUBLIC_CSP)
        assert [s["path"] for s in nginx.seen] == [
            "/" + unexported,
            "/sections/no-such-section/feed.json",
        ]

        # A new version replaces the file atomically; nginx opens it afresh on the next request.
        make_article(export_app, _section_id(export_app, "world-news"), "Results")
        run_pass(export_app, now=doc.last_modified + timedelta(seconds=30))
        sync_all(export_app)
        new = _documents(export_app)[path]
        assert new.body != doc.body

        def updated() -> bool:
            r, b = nginx.request("GET", "/" + path, {"If-None-Match": etag})
            return r.status == 200 and b == new.body

        wait_for("nginx to serve the new version", updated, timeout=TIMEOUT)


@pytest.mark.slow
def test_nginx_serves_a_replaced_file_within_a_second_and_a_new_one_at_once(
    export_app: Flask, tmp_path: Path
) -> None:
    # nginx keeps files open between requests (open_file_cache) and each worker re-checks a
    # name once a whole second has passed: a replaced feed reaches readers within a second.
    root = _root(export_app)
    path = "sections/world-news/rss.xml"
    first = b"<rss>first</rss>"
    write_document(root, path, first, gzip.compress(first), WHEN)
    # Hundreds of unconditional fetches from one address: the polling limit is off (as in
    # the benchmark); its own test is below.
    with running_nginx(export_app, tmp_path / "nginx", **nginx_tools.POLL_OFF) as nginx:
        for version in range(1, 4):
            for _ in range(20):  # every worker holds the current files open
                nginx.request("GET", "/" + path)
                nginx.request("GET", "/" + path, {"Accept-Encoding": "gzip"})
            body = f"<rss>version {version}</rss>".encode()
            write_document(root, path, body, gzip.compress(body), WHEN + timedelta(seconds=version))

            def everywhere(body: bytes = body) -> bool:
                """20 requests in a row, whichever worker answers: the new version."""
                for _ in range(20):
                    response, served = nginx.request("GET", "/" + path)
                    if (response.status, served) != (200, body):
                        return False
                    _, packed = nginx.request("GET", "/" + path, {"Accept-Encoding": "gzip"})
                    if gzip.decompress(packed) != body:
                        return False
                return True

            # Each worker re-checks a name once a second (open_file_cache_valid 1s); the
            # timeout only bounds the wait on a busy machine.
            wait_for(f"version {version} from every worker", everywhere, timeout=TIMEOUT)

        # Asked for before it exists (the app answers 404), then exported: nginx serves the
        # file on the next request rather than remembering that it was missing.
        new = "sections/business/atom.xml"
        response, _ = nginx.request("GET", "/" + new)
        assert response.status == 404
        write_document(root, new, b"<feed/>", gzip.compress(b"<feed/>"), WHEN)
        response, served = nginx.request("GET", "/" + new)
        assert (response.status, served) == (200, b"<feed/>")
        assert [s["path"] for s in nginx.seen] == ["/" + new]  # only the first reached the app


def _section_id(app: Flask, slug: str) -> int:
    with transaction(app, write=False) as s:
        section_id = s.scalar(select(Section.id).where(Section.slug == slug))
        assert section_id is not None
        return section_id


@pytest.mark.slow
def test_nginx_proxies_everything_else_with_forwarding_headers(
    export_app: Flask, tmp_path: Path
) -> None:
    with running_nginx(export_app, tmp_path / "nginx") as nginx:
        response, body = nginx.request("GET", "/healthz", {"Host": "feeds.example.org"})
        assert response.status == 200 and b'"database":"ok"' in body.replace(b" ", b"")
        assert response.headers.get_all("Cache-Control") == ["no-store"]
        assert_security_headers(response)
        response, _ = nginx.request("GET", "/admin/login")
        assert response.status == 200
        assert response.headers.get_all("Cache-Control") == ["no-store"]
        # The app's own values pass through alone: nginx adds none of its own next to them.
        assert_security_headers(response, referrer="same-origin", csp=ADMIN_CSP)
        assert response.headers.get_all("X-Frame-Options") == ["DENY"]
        response, _ = nginx.request("GET", "/")
        assert response.status == 200
        assert_security_headers(response, csp=PUBLIC_CSP)
        first = nginx.seen[0]
        assert first["HTTP_HOST"] == "feeds.example.org"
        assert first["HTTP_X_FORWARDED_FOR"] == "127.0.0.1"
        assert first["HTTP_X_FORWARDED_PROTO"] == "http"
        assert [s["path"] for s in nginx.seen] == ["/healthz", "/admin/login", "/"]
        # Cache-Control is added `always`, so it says nothing about who got through: the status.
        response, body = nginx.request("GET", "/metrics")  # from 127.0.0.1: let through
        assert response.status == 200 and b"feedsvc_" in body
        assert response.headers.get_all("Cache-Control") == ["no-store"]
        assert nginx.seen[-1]["path"] == "/metrics"
        proxied = len(nginx.seen)
        response, _ = nginx.request("GET", "/metrics", source="127.0.0.2")  # not localhost
        assert response.status == 403
        assert response.headers.get_all("Cache-Control") == ["no-store"]
        assert_security_headers(response)  # nginx's own error page: nginx's own headers
        assert len(nginx.seen) == proxied  # refused by nginx: the app never saw it
        # Upstream keepalive needs HTTP/1.1 without "Connection: close" (nginx's default). The
        # test server closes after each response anyway; gunicorn's gthread workers do not.
        assert first["SERVER_PROTOCOL"] == "HTTP/1.1"
        assert first["HTTP_CONNECTION"] == "None"


@pytest.mark.slow
def test_nginx_over_tls_sends_hsts_once_from_the_export_and_from_the_app(
    database_url: str, tmp_path: Path
) -> None:
    # The app knows it is served over https (SITE_URL) and sends its own HSTS: nginx adds it
    # only where it answers alone (the exported feeds, its own error pages).
    app = make_app(
        database_url,
        tmp_path,
        EXPORT_DIR=str(tmp_path / "export"),
        SITE_URL="https://feeds.example.org",
    )
    make_article(app, make_section(app, "World News"), "Elections")
    run_pass(app)
    hsts = ["max-age=31536000"]
    try:
        with running_nginx(app, tmp_path / "nginx", tls=True) as nginx:
            response, body = nginx.request("GET", "/sections/world-news/atom.xml")
            assert response.status == 200 and b"Elections" in body
            assert response.headers.get_all("Strict-Transport-Security") == hsts
            assert response.headers.get_all("X-Content-Type-Options") == ["nosniff"]
            assert not nginx.seen  # the export answered, not the app
            for path in ("/", "/admin/login", "/healthz", "/sections/no-such-section/rss.xml"):
                response, _ = nginx.request("GET", path)
                assert response.headers.get_all("Strict-Transport-Security") == hsts, path
                assert response.headers.get_all("X-Content-Type-Options") == ["nosniff"], path
            assert [s["path"] for s in nginx.seen] == [
                "/",
                "/admin/login",
                "/healthz",
                "/sections/no-such-section/rss.xml",
            ]
            response, _ = nginx.request("GET", "/metrics", source="127.0.0.2")
            assert response.status == 403  # nginx's own page
            assert response.headers.get_all("Strict-Transport-Security") == hsts
    finally:
        database(app).dispose()


@pytest.mark.slow
def test_nginx_refuses_unconditional_polls_past_the_burst_and_never_conditional_ones(
    export_app: Flask, tmp_path: Path
) -> None:
    make_section(export_app, "World News")
    run_pass(export_app)
    path = "/sections/world-news/atom.xml"
    # The shipped defaults, as render-nginx-conf gives them: 30 s, a burst of 5.
    with running_nginx(export_app, tmp_path / "nginx") as nginx:
        statuses = []
        for _ in range(5):
            response, _ = nginx.request("GET", path)
            statuses.append(response.status)
        assert statuses == [200] * 5  # the burst: five back to back, as the app allows
        etag = response.headers["ETag"]
        modified = response.headers["Last-Modified"]
        response, body = nginx.request("GET", path)
        assert response.status == 429
        assert response.headers["Retry-After"] == "30"
        assert response.headers.get_all("Content-Type") == ["text/plain; charset=utf-8"]
        assert response.headers.get_all("Cache-Control") == ["no-store"]
        assert response.headers.get_all("X-Content-Type-Options") == ["nosniff"]
        assert "ETag" not in response.headers
        # Word for word what the app says when it refuses (web/polling.py).
        assert body == polling.refusal(30.0)[2]
        response, _ = nginx.request("HEAD", path)
        assert response.status == 429
        # The same client polling politely, however often: never refused.
        for _ in range(10):
            response, body = nginx.request("GET", path, {"If-None-Match": etag})
            assert (response.status, body) == (304, b"")
            response, _ = nginx.request("GET", path, {"If-Modified-Since": modified})
            assert response.status == 304
        # A stale validator is still a conditional poll: the current bytes.
        response, body = nginx.request("GET", path, {"If-None-Match": '"stale"'})
        assert response.status == 200 and body
        # Other feeds of the same client, and the same feed for other clients: their own budgets.
        response, _ = nginx.request("GET", "/sections/world-news/rss.xml")
        assert response.status == 200
        response, _ = nginx.request("GET", path, source="127.0.0.3")
        assert response.status == 200
        assert not nginx.seen  # all of it from nginx: the app never saw a request


@pytest.mark.slow
def test_nginx_poll_limit_off_lets_every_fetch_through(export_app: Flask, tmp_path: Path) -> None:
    make_section(export_app, "World News")
    run_pass(export_app)
    with running_nginx(export_app, tmp_path / "nginx", **nginx_tools.POLL_OFF) as nginx:
        for _ in range(30):
            response, _ = nginx.request("GET", "/sections/world-news/atom.xml")
            assert response.status == 200


@pytest.mark.slow
def test_nginx_healthz_detail_only_for_this_machine(
    database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # As deployed behind nginx: TRUSTED_PROXIES 1, so the app sees nginx's client.
    app = make_app(database_url, tmp_path, EXPORT_DIR=str(tmp_path / "export"), TRUSTED_PROXIES=1)
    request.addfinalizer(database(app).dispose)
    publisher = Publisher(app)
    publisher.run()
    holder = publisher.holder
    with running_nginx(app, tmp_path / "nginx") as nginx:
        response, body = nginx.request("GET", "/healthz?detail=1")  # from 127.0.0.1
        assert response.status == 200
        data = json.loads(body)
        assert data["scheduler"]["leader"] == holder
        assert response.headers.get_all("Cache-Control") == ["no-store"]
        for query in ("", "?detail=1"):
            response, body = nginx.request("GET", "/healthz" + query, source="127.0.0.2")
            assert response.status == 200
            data = json.loads(body)
            assert set(data) == {"status", "database", "scheduler"}
            assert set(data["scheduler"]) == {"ok", "age_seconds"}
            assert data["status"] == "ok" and data["scheduler"]["ok"] is True
            assert holder.encode() not in body
            assert response.headers.get_all("Cache-Control") == ["no-store"]
        assert [s["HTTP_X_FORWARDED_FOR"] for s in nginx.seen] == [
            "127.0.0.1",
            "127.0.0.2",
            "127.0.0.2",
        ]


@pytest.mark.slow
def test_nginx_accepts_the_commented_proxy_cache_variant(tmp_path: Path) -> None:
    require_nginx()
    values = _nginx_values(tmp_path, tmp_path / "export", 9, free_port())
    conf = tmp_path / "nginx.conf"
    text = nginx_tools.render(values, proxy_cache=True)
    assert "proxy_cache feeds;" in text and "proxy_cache_lock on;" in text
    # Every directive of the variant, not only the proxy_cache* ones: without this line the
    # cache keeps each copy for the app's max-age (a whole tick) instead of one second.
    assert re.search(r"^\s*proxy_ignore_headers Cache-Control Expires;", text, re.MULTILINE)
    assert not re.search(r"^\s*# proxy_", text, re.MULTILINE)
    assert not nginxconf.TOKEN_RE.search(text)
    conf.write_text(text)
    result = nginx_tools.check(conf)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_scheduler_process_fills_an_empty_export_and_keeps_it_current(
    export_app: Flask, tmp_path: Path
) -> None:
    root = _root(export_app)
    section = make_section(export_app, "World News")
    run_pass(export_app)
    shutil.rmtree(root)
    root.mkdir()
    env = service_env(export_app.config["DATABASE_URL"], FEEDSVC_EXPORT_DIR=str(root))
    with scheduler(env, tmp_path / "sched.log") as proc:
        wait_for("the export at start", lambda: (root / "sections/world-news/atom.xml").is_file())
        make_article(export_app, section, "Fresh off the press")
        wait_for(
            "the new article in the exported feed",
            lambda: b"Fresh off the press" in (root / "sections/world-news/rss.xml").read_bytes(),
        )
        proc.stop()
    assert "Traceback" not in proc.output()
