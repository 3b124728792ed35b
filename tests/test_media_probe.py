"""The scheduler's HEAD request for attachments: real local servers, redirects, time limits,
and the refusal of every non-public address (with no connection made)."""

from __future__ import annotations

import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from feedsvc import netguard
from feedsvc.articles import ArticleInput, create_article
from feedsvc.netguard import refusal
from feedsvc.publishing import probes
from feedsvc.publishing.probes import Failed, Refused, probe, run_probes
from feedsvc.storage.db import database, transaction
from feedsvc.storage.media import MediaProbe
from feedsvc.storage.models import Article, Section, utcnow
from tests.support.app import make_app
from tests.support.factories import BASE_URL, make_section
from tests.support.feedcheck import check_atom, check_rss
from tests.support.published import publish

# path -> (status, headers) the file server answers HEAD with.
ANSWERS: dict[str, tuple[int, dict[str, str]]] = {
    "/episode.mp3": (200, {"Content-Length": "12345", "Content-Type": "audio/mpeg"}),
    "/download": (200, {"Content-Length": "777", "Content-Type": "Application/PDF; q=1"}),
    "/no-headers": (200, {}),
    "/moved": (302, {"Location": "/episode.mp3"}),
    "/hop1": (301, {"Location": "/hop2"}),
    "/hop2": (307, {"Location": "/hop3"}),
    "/hop3": (308, {"Location": "/hop4"}),
    "/hop4": (302, {"Location": "/episode.mp3"}),
    "/busy": (503, {}),
    "/gone": (404, {}),
}


class _Handler(BaseHTTPRequestHandler):
    def do_HEAD(self) -> None:
        self.server.requests.append((self.command, self.path))  # type: ignore[attr-defined]
        status, headers = ANSWERS.get(self.path, (404, {}))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def do_GET(self) -> None:
        self.server.requests.append((self.command, self.path))  # type: ignore[attr-defined]
        self.send_error(405)

    def log_message(self, format: str, *args: object) -> None:
        pass


class FileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, str]] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def files() -> Iterator[FileServer]:
    server = FileServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent() -> Iterator[tuple[str, list[socket.socket]]]:
    """A server that accepts connections and never answers a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


# --- the probe itself -------------------------------------------------------------------------


def test_probe_reads_length_and_type_without_reading_a_body(files: FileServer) -> None:
    found = probe(files.base + "/episode.mp3", timeout=5, allow_private=True)
    assert (found.length, found.media_type) == (12345, "audio/mpeg")
    found = probe(files.base + "/download", timeout=5, allow_private=True)
    assert (found.length, found.media_type) == (777, "application/pdf")  # parameters dropped
    found = probe(files.base + "/no-headers", timeout=5, allow_private=True)
    assert (found.length, found.media_type) == (None, None)
    assert {method for method, _ in files.requests} == {"HEAD"}


def test_probe_follows_up_to_three_redirects_each_checked(files: FileServer) -> None:
    found = probe(files.base + "/moved", timeout=5, allow_private=True)
    assert found.length == 12345
    assert files.requests[-2:] == [("HEAD", "/moved"), ("HEAD", "/episode.mp3")]
    files.requests.clear()
    with pytest.raises(Refused, match="more than 3 redirects"):
        probe(files.base + "/hop1", timeout=5, allow_private=True)
    assert [path for _, path in files.requests] == ["/hop1", "/hop2", "/hop3", "/hop4"]
    # A redirect to a private address is refused like a first address would be: here the
    # server itself is on loopback, so its first answer is already refused.
    files.requests.clear()
    with pytest.raises(Refused):
        probe(files.base + "/moved", timeout=5)
    assert files.requests == []


def test_a_redirect_to_loopback_is_refused_before_any_connection(
    monkeypatch: pytest.MonkeyPatch, files: FileServer
) -> None:
    # A public-looking host that redirects into the machine: the second hop is refused.
    calls: list[str] = []

    def head(
        method: str, url: str, ip: object, deadline: float, *rest: object
    ) -> tuple[int, dict[str, str], bytes]:
        calls.append(url)
        return 302, {"Location": files.base + "/episode.mp3"}, b""

    monkeypatch.setattr(netguard, "_request", head)
    with pytest.raises(Refused, match="loopback"):
        probe("http://93.184.216.34/file.mp3", timeout=5)
    assert calls == ["http://93.184.216.34/file.mp3"]
    assert files.requests == []


def test_a_server_that_never_answers_costs_the_timeout_and_no_more(
    silent: tuple[str, list[socket.socket]],
) -> None:
    url, accepted = silent
    started = time.monotonic()
    with pytest.raises(Failed) as caught:
        probe(url + "/file.mp3", timeout=0.6, allow_private=True)
    elapsed = time.monotonic() - started
    assert caught.value.retry
    assert 0.5 <= elapsed < 1.5, elapsed
    assert accepted  # it did connect, and gave up waiting


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/episode.mp3",
        "http://10.0.0.1/file.mp3",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:{port}/episode.mp3",
        "http://[::ffff:127.0.0.1]:{port}/episode.mp3",
        "http://localhost:{port}/episode.mp3",
        "http://0.0.0.0:{port}/episode.mp3",
        "http://224.0.0.1/x.mp3",
        "http://192.168.1.10/x.mp3",
        "http://[fe80::1]/x.mp3",
    ],
)
def test_non_public_addresses_are_refused_with_no_connection(
    url: str, files: FileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_connection(*args: object, **kw: object) -> None:
        raise AssertionError(f"connected: {args}")

    monkeypatch.setattr(socket, "create_connection", no_connection)
    with pytest.raises(Refused):
        probe(url.format(port=files.server_address[1]), timeout=2)
    assert files.requests == []


def test_the_address_rules() -> None:
    refused = [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.251",
        "240.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::",  # 6to4 around 127.0.0.1
    ]
    for text in refused:
        assert refusal(ipaddress.ip_address(text)), text
    for text in ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:93.184.216.34"):
        assert refusal(ipaddress.ip_address(text)) == "", text


# --- the job: queue in, values and fresh feeds out --------------------------------------------


def _app(database_url: str, tmp_path: Path, **settings: object) -> Flask:
    return make_app(database_url, tmp_path, MEDIA_PROBE_TIMEOUT=2.0, **settings)


def _article(app: Flask, section_id: int, url: str, **kw: object) -> int:
    data = ArticleInput(title="Episode", section_id=section_id, body="Listen.", attachment_url=url)
    with transaction(app) as s:
        return create_article(s, data, base_url=BASE_URL, **kw).id  # type: ignore[arg-type]


def _values(app: Flask, article_id: int) -> tuple[str, int | None]:
    with transaction(app, write=False) as s:
        article = s.get(Article, article_id)
        assert article is not None
        return article.attachment_type, article.attachment_length


def _queue(app: Flask) -> dict[int, int]:
    with transaction(app, write=False) as s:
        return dict(s.execute(select(MediaProbe.article_id, MediaProbe.attempts)).all())


def _revision(app: Flask, section_id: int) -> int:
    with transaction(app, write=False) as s:
        return int(s.scalar(select(Section.revision).where(Section.id == section_id)) or 0)


def test_the_job_stores_what_it_found_and_the_feeds_follow(
    database_url: str, tmp_path: Path, files: FileServer
) -> None:
    app = _app(database_url, tmp_path, MEDIA_PROBE_ALLOW_PRIVATE=True)
    try:
        section = make_section(app)
        first = _article(app, section, files.base + "/download")  # no extension
        second = _article(app, section, files.base + "/moved")
        assert set(_queue(app)) == {first, second}
        publish(app)
        before = _revision(app, section)
        assert run_probes(app, budget_seconds=10) == 2
        assert _values(app, first) == ("application/pdf", 777)
        assert _values(app, second) == ("audio/mpeg", 12345)
        assert _queue(app) == {}
        assert _revision(app, section) > before  # its feeds are out of date
        publish(app)
        client = app.test_client()
        rss = check_rss(client.get("/sections/world-news/rss.xml").get_data())
        lengths = {e.enclosures[0]["href"]: e.enclosures[0]["length"] for e in rss.entries}
        assert lengths == {files.base + "/download": "777", files.base + "/moved": "12345"}
        check_atom(client.get("/sections/world-news/atom.xml").get_data())
    finally:
        database(app).dispose()


def test_by_default_the_job_refuses_loopback_and_gives_length_zero(
    database_url: str, tmp_path: Path, files: FileServer
) -> None:
    app = _app(database_url, tmp_path)
    try:
        section = make_section(app)
        typed = _article(app, section, files.base + "/episode.mp3")
        untyped = _article(app, section, files.base + "/download")
        assert run_probes(app, budget_seconds=10) == 2
        assert _values(app, typed) == ("audio/mpeg", 0)  # the extension's type stays
        assert _values(app, untyped) == ("application/octet-stream", 0)
        assert files.requests == []
        assert _queue(app) == {}
    finally:
        database(app).dispose()


def test_passing_failures_are_retried_later_then_given_up(
    database_url: str, tmp_path: Path, files: FileServer
) -> None:
    app = _app(database_url, tmp_path, MEDIA_PROBE_ALLOW_PRIVATE=True)
    try:
        section = make_section(app)
        busy = _article(app, section, files.base + "/busy")
        gone = _article(app, section, files.base + "/gone")
        now = utcnow()
        assert run_probes(app, budget_seconds=10, now=now) == 1  # the 404: final at once
        assert _values(app, gone) == ("application/octet-stream", 0)
        assert _queue(app) == {busy: 1}
        # Not due again yet; then due, failing again; the third failure gives up.
        assert run_probes(app, budget_seconds=10, now=now) == 0
        later = now + timedelta(hours=1)
        assert run_probes(app, budget_seconds=10, now=later) == 0
        assert _queue(app) == {busy: 2}
        assert run_probes(app, budget_seconds=10, now=later + timedelta(hours=1)) == 1
        assert _values(app, busy) == ("application/octet-stream", 0)
        assert [path for _, path in files.requests].count("/busy") == 3
    finally:
        database(app).dispose()


def test_a_file_changed_during_the_probe_is_not_given_the_old_files_values(
    database_url: str, tmp_path: Path, files: FileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app(database_url, tmp_path, MEDIA_PROBE_ALLOW_PRIVATE=True)
    try:
        section = make_section(app)
        article_id = _article(app, section, files.base + "/episode.mp3")
        real_probe = probes.probe

        def probe_while_edited(url: str, **kw: object) -> probes.Found:
            found = real_probe(url, **kw)  # type: ignore[arg-type]
            with transaction(app) as s:  # the editor gives another file meanwhile
                article = s.get(Article, article_id)
                assert article is not None
                article.attachment_url = "https://cdn.example.net/other.mp3"
                article.attachment_length = None
            return found

        monkeypatch.setattr(probes, "probe", probe_while_edited)
        run_probes(app, budget_seconds=10)
        assert _values(app, article_id) == ("audio/mpeg", None)  # not the old file's 12345
        assert article_id in _queue(app)  # still waiting, for the new file
    finally:
        database(app).dispose()


def test_the_job_runs_only_on_the_leader_and_never_raises(
    database_url: str, tmp_path: Path
) -> None:
    app = _app(database_url, tmp_path)
    try:
        section = make_section(app)
        _article(app, section, "https://files.example.net/x.mp3")
        probes.run_job(app, lambda: False)
        assert len(_queue(app)) == 1  # a standby leaves the queue alone
        database(app).dispose()
        app.config["MEDIA_PROBE_TIMEOUT"] = "not a number"  # makes run_probes raise
        probes.run_job(app, lambda: True)  # logged, not raised
    finally:
        database(app).dispose()


# --- TLS: the connection goes to the checked address, the certificate is checked by name ------


@pytest.fixture
def tls_files(tmp_path: Path) -> Iterator[tuple[FileServer, Path]]:
    """The file server over TLS, with a self-signed certificate for the name "localhost"."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    server = FileServer()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    # The handshake in the handler thread, not in accept(): a bad client cannot stall the server.
    server.socket = context.wrap_socket(
        server.socket, server_side=True, do_handshake_on_connect=False
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, cert
    server.shutdown()
    server.server_close()


def test_https_probe_checks_the_certificate_against_the_name(
    tls_files: tuple[FileServer, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, cert = tls_files
    port = server.server_address[1]
    trusting = ssl.create_default_context(cafile=cert)  # this test's certificate only
    monkeypatch.setattr(netguard.ssl, "create_default_context", lambda: trusting)
    # "localhost" may resolve to ::1 first, where nothing listens: the next address answers.
    found = probe(f"https://localhost:{port}/episode.mp3", timeout=5, allow_private=True)
    assert (found.length, found.media_type) == (12345, "audio/mpeg")
    # The same server by its address: the certificate names "localhost", not 127.0.0.1.
    with pytest.raises(Failed):
        probe(f"https://127.0.0.1:{port}/episode.mp3", timeout=5, allow_private=True)


def test_the_probe_settings(instance: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from feedsvc import settings

    loaded = settings.load(instance)
    assert (loaded["MEDIA_PROBE_TIMEOUT"], loaded["MEDIA_PROBE_ALLOW_PRIVATE"]) == (5.0, False)
    monkeypatch.setenv("FEEDSVC_MEDIA_PROBE_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("FEEDSVC_MEDIA_PROBE_TIMEOUT", "2.5")
    loaded = settings.load(instance)
    assert (loaded["MEDIA_PROBE_TIMEOUT"], loaded["MEDIA_PROBE_ALLOW_PRIVATE"]) == (2.5, True)
    for bad in ("0", "120"):
        monkeypatch.setenv("FEEDSVC_MEDIA_PROBE_TIMEOUT", bad)
        with pytest.raises(settings.SettingsError, match=r"MEDIA_PROBE_TIMEOUT must be 0\.5 to 60"):
            settings.load(instance)


def test_the_scheduler_process_finds_the_length_and_the_feeds_carry_it(
    app: Flask, tmp_path: Path, files: FileServer
) -> None:
    """The whole way: a save queues, the leader's probe job asks the server, the pass renders."""
    from devtools.procs import scheduler, service_env, wait_for
    from feedsvc.storage.models import FeedDocument

    section = make_section(app)
    env = service_env(
        app.config["DATABASE_URL"],
        FEEDSVC_TICK_SECONDS="0.5",
        FEEDSVC_LEASE_SECONDS="5",
        FEEDSVC_MEDIA_PROBE_ALLOW_PRIVATE="true",
    )
    article_id = _article(app, section, files.base + "/download")

    def rss() -> bytes:
        with transaction(app, write=False) as s:
            doc = s.get(FeedDocument, "sections/world-news/rss.xml")
            return doc.body if doc is not None else b""

    with scheduler(env, tmp_path / "sched.log") as proc:
        wait_for("the length in the feed", lambda: b'length="777"' in rss(), timeout=30)
        proc.stop()
    assert "Traceback" not in proc.output()
    assert _values(app, article_id) == ("application/pdf", 777)
    assert files.requests == [("HEAD", "/download")]
    check_rss(rss())
