"""Polite polling: unconditional refetches of one feed past a burst get 429 + Retry-After;
conditional polls never do; memory stays bounded; both serving paths and /metrics agree."""

from __future__ import annotations

import http.client
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.test import Client, TestResponse

from devtools.procs import free_port, service_env, wait_for, web
from feedsvc import settings
from feedsvc.publishing.passes import run_pass
from feedsvc.settings import SettingsError
from feedsvc.storage.db import database
from feedsvc.web import polling
from feedsvc.web.fastpath import FastPath
from feedsvc.web.polling import PollLimiter, retry_after
from tests.support.app import make_app
from tests.support.factories import make_section

FEED = "sections/world-news/atom.xml"
READER = "203.0.113.7"  # RFC 5737 documentation addresses: never this machine
OTHER = "198.51.100.20"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _unconditional(limiter: PollLimiter, address: str = READER, path: str = FEED) -> float:
    return limiter.wait(address, path, None, None)


# --- the algorithm, on a clock of our own ---------------------------------------------------


def test_a_burst_passes_then_one_fetch_per_interval() -> None:
    clock = Clock()
    limiter = PollLimiter(30.0, 5, clock=clock)
    assert [_unconditional(limiter) for _ in range(5)] == [0.0] * 5
    assert _unconditional(limiter) == pytest.approx(30.0, abs=1e-5)
    clock.now += 29.5
    assert _unconditional(limiter) == pytest.approx(0.5, abs=1e-5)
    clock.now += 0.5
    assert _unconditional(limiter) == 0.0  # exactly when Retry-After said
    assert _unconditional(limiter) == pytest.approx(30.0, abs=1e-5)
    # A reader at one fetch per interval is never refused, for as long as it keeps to it.
    for _ in range(100):
        clock.now += 30.0
        assert _unconditional(limiter) == 0.0
    # Quiet for 5 intervals: the whole burst is back, and no more than that.
    clock.now += 150.0
    assert [_unconditional(limiter) for _ in range(6)][-2:] == [0.0, pytest.approx(30.0, abs=1e-5)]


def test_hammering_does_not_push_the_wait_further_out() -> None:
    clock = Clock()
    limiter = PollLimiter(30.0, 5, clock=clock)
    for _ in range(5):
        _unconditional(limiter)
    for _ in range(1000):
        assert _unconditional(limiter) > 0
    clock.now += 30.0
    assert _unconditional(limiter) == 0.0


def test_conditional_polls_are_never_refused_and_never_counted() -> None:
    clock = Clock()
    limiter = PollLimiter(30.0, 5, clock=clock)
    for _ in range(4):
        assert _unconditional(limiter) == 0.0
    for _ in range(1000):  # either validator makes a poll conditional (RFC 9110 §13.1)
        assert limiter.wait(READER, FEED, '"abc"', None) == 0.0
        assert limiter.wait(READER, FEED, None, "Wed, 01 May 2024 12:30:15 GMT") == 0.0
    # Not counted: one unconditional fetch of the burst is still left ...
    assert _unconditional(limiter) == 0.0
    # ... and not a refill either: the next one is refused.
    assert _unconditional(limiter) > 0
    assert limiter.wait(READER, FEED, '"abc"', None) == 0.0
    # An empty header is no validator.
    assert limiter.wait(READER, FEED, "", "") > 0


def test_budgets_are_per_address_and_feed() -> None:
    limiter = PollLimiter(30.0, 2, clock=Clock())
    for _ in range(2):
        _unconditional(limiter)
    assert _unconditional(limiter) > 0
    assert _unconditional(limiter, address=OTHER) == 0.0
    assert _unconditional(limiter, path="sections/world-news/rss.xml") == 0.0
    assert _unconditional(limiter, address="2001:db8::7") == 0.0


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert [retry_after(w) for w in (0.001, 1.0, 1.2, 29.999, 30.0)] == [1, 1, 2, 30, 30]


def test_refusals_and_tracked_pairs_are_reported() -> None:
    refused: list[None] = []
    tracked: list[int] = []
    limiter = PollLimiter(
        30.0,
        1,
        clock=Clock(),
        refused=lambda: refused.append(None),
        tracked=tracked.append,
        max_tracked=1000,
    )
    _unconditional(limiter)
    _unconditional(limiter)
    _unconditional(limiter)
    assert len(refused) == 2
    for n in range(1, 600):
        _unconditional(limiter, address=f"10.0.{n // 256}.{n % 256}")
    # Every 256 new pairs, and when the current half (500 pairs) becomes the previous one.
    assert tracked == [256, 500]


# --- the memory bound -------------------------------------------------------------------


def test_a_flood_of_distinct_addresses_stays_within_the_bound() -> None:
    clock = Clock()
    limiter = PollLimiter(30.0, 5, clock=clock)
    cap = PollLimiter.MAX_TRACKED
    assert cap == 100_000
    # A rude client, hammering the feed throughout the flood (every 1000 other clients).
    for _ in range(5):
        _unconditional(limiter, address=OTHER)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for i in range(200_000):
            clock.now += 0.0001  # 20 s in all: shorter than the interval, nothing expires
            _unconditional(limiter, address=f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}")
            assert len(limiter) <= cap
            if i % 1000 == 0:
                assert _unconditional(limiter, address=OTHER) > 0, i  # still held, refused
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    # About 120 bytes per (client, feed) pair at the cap: 12 MB. The bound is a property of
    # the structure, not of the traffic: 200 000 or 20 million addresses, the same.
    assert peak < 14 * 1024 * 1024, peak


# --- in the app: the fast path and Flask's routes alike -----------------------------------


@pytest.fixture
def polite_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = make_app(
        database_url,
        tmp_path,
        DOCUMENT_CACHE_SECONDS=60.0,
        POLL_MIN_INTERVAL=30.0,
        POLL_BURST=5,
    )
    make_section(app, "World News")
    run_pass(app)
    yield app
    database(app).dispose()


def _client(app: Flask, path: str) -> Client:
    """A client of the whole app ("fast": the WSGI fast path in front) or of Flask alone."""
    front = app.wsgi_app
    assert isinstance(front, FastPath)
    return Client(front if path == "fast" else front.app)


def _get(
    client: Client, address: str = READER, method: str = "GET", **headers: str
) -> TestResponse:
    return client.open(
        "/" + FEED,
        method=method,
        headers=headers,
        environ_base={"REMOTE_ADDR": address},
    )


@pytest.mark.parametrize("path", ["fast", "flask"])
def test_the_sixth_unconditional_fetch_is_refused_conditional_ones_never(
    polite_app: Flask, path: str
) -> None:
    client = _client(polite_app, path)
    first = _get(client)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    modified = first.headers["Last-Modified"]
    for _ in range(4):
        assert _get(client).status_code == 200
    refused = _get(client)
    assert refused.status_code == 429
    # Just now refused: the full interval, give or take the test's own run time.
    assert int(refused.headers["Retry-After"]) in (29, 30)
    assert refused.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert refused.headers["Cache-Control"] == "no-store"
    assert refused.headers.getlist("X-Content-Type-Options") == ["nosniff"]
    text = refused.get_data(as_text=True)
    assert "If-None-Match" in text and "seconds" in text
    assert "ETag" not in refused.headers
    head = _get(client, method="HEAD")
    assert (head.status_code, head.get_data()) == (429, b"")
    # The same client, polling politely: answered as always.
    for _ in range(20):
        assert _get(client, **{"If-None-Match": etag}).status_code == 304
        assert _get(client, **{"If-Modified-Since": modified}).status_code == 304
    # A stale tag is still a conditional poll: the new bytes, not a refusal.
    assert _get(client, **{"If-None-Match": '"stale"'}).status_code == 200
    # Other readers are not affected.
    assert _get(client, address=OTHER).status_code == 200
    assert _get(client, address="2001:db8::7").status_code == 200


def test_both_serving_paths_spend_one_budget(polite_app: Flask) -> None:
    fast, flask = _client(polite_app, "fast"), _client(polite_app, "flask")
    statuses = [_get(c).status_code for c in (fast, flask, fast, flask, fast, flask)]
    assert statuses == [200, 200, 200, 200, 200, 429]


def _samples(app: Flask) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body = app.test_client().get("/metrics").get_data(as_text=True)
    out = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_metrics_count_refusals_by_route_and_the_pairs_held(polite_app: Flask) -> None:
    client = _client(polite_app, "fast")
    for _ in range(8):
        _get(client)
    flask = _client(polite_app, "flask")
    for _ in range(7):
        _get(flask, address=OTHER)
    for n in range(254):  # with READER and OTHER, 256 pairs: the gauge is written
        _get(client, address=f"192.0.2.{n}")
    samples = _samples(polite_app)
    assert samples[("feedsvc_polls_refused_total", ())] == 3 + 2
    total = "feedsvc_http_requests_total"
    fast_route = (("route", "/sections/<slug>/atom.xml"), ("status", "429"))
    flask_route = (
        ("route", "/sections/<slug>/<any(rss.xml, atom.xml, feed.json):name>"),
        ("status", "429"),
    )
    assert samples[(total, fast_route)] == 3
    assert samples[(total, flask_route)] == 2
    assert samples[("feedsvc_poll_clients_tracked", ())] == 256


def test_zero_turns_the_limit_off(database_url: str, tmp_path: Path) -> None:
    app = make_app(database_url, tmp_path, DOCUMENT_CACHE_SECONDS=60.0, POLL_MIN_INTERVAL=0.0)
    make_section(app, "World News")
    run_pass(app)
    assert polling.limiter(app) is None
    client = _client(app, "fast")
    assert {_get(client).status_code for _ in range(50)} == {200}
    assert _samples(app)[("feedsvc_polls_refused_total", ())] == 0
    database(app).dispose()


def test_missing_feeds_are_not_counted(polite_app: Flask) -> None:
    client = Client(polite_app.wsgi_app)
    for _ in range(20):
        response = client.get(
            "/sections/no-such-desk/rss.xml", environ_base={"REMOTE_ADDR": READER}
        )
        assert response.status_code == 404
    limiter = polling.limiter(polite_app)
    assert limiter is not None and len(limiter) == 0


# --- settings ------------------------------------------------------------------------------


def test_poll_settings_defaults_and_bad_values(
    instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = settings.load(instance)
    assert (s["POLL_MIN_INTERVAL"], s["POLL_BURST"]) == (30.0, 5)
    monkeypatch.setenv("FEEDSVC_POLL_MIN_INTERVAL", "0")
    assert settings.load(instance)["POLL_MIN_INTERVAL"] == 0.0
    for name, value, message in (
        ("POLL_MIN_INTERVAL", -1.0, "POLL_MIN_INTERVAL must be 0 (no limit) to 86400 seconds"),
        ("POLL_MIN_INTERVAL", 86_401.0, "POLL_MIN_INTERVAL must be 0 (no limit) to 86400"),
        ("POLL_BURST", 0, "POLL_BURST must be 1 to 1000000000, not 0"),
    ):
        with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
            settings.load(instance, {name: value})
    monkeypatch.setenv("FEEDSVC_POLL_BURST", "five")
    with pytest.raises(SettingsError, match="FEEDSVC_POLL_BURST must be a whole number"):
        settings.load(instance)


# --- gunicorn: several workers, one /metrics ------------------------------------------------


@pytest.mark.slow
def test_the_web_server_refuses_past_the_burst_and_sums_refusals_over_workers(
    polite_app: Flask, tmp_path: Path
) -> None:
    port = free_port()
    # The shipped defaults (devtools.procs pins them): 30 s, a burst of 5.
    env = service_env(polite_app.config["DATABASE_URL"], port=port, WEB_CONCURRENCY="2")
    with web(env, tmp_path / "web.log") as server:
        wait_for("the web server", lambda: _status(port, "/healthz") == 200)
        # One keep-alive connection: one worker, one budget.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        statuses = []
        for _ in range(8):
            conn.request("GET", "/" + FEED)
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
            if response.status == 429:
                assert response.getheader("Retry-After") in ("29", "30")
        conn.close()
        assert statuses == [200] * 5 + [429] * 3

        def refused() -> float:
            # Whichever worker answers the scrape, it adds up every worker's files.
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/metrics")
            body = conn.getresponse().read().decode()
            conn.close()
            for family in text_string_to_metric_families(body):
                for sample in family.samples:
                    if sample.name == "feedsvc_polls_refused_total":
                        return sample.value
            return -1.0

        for _ in range(4):  # several scrapes: several workers answer, all say 3
            assert refused() == 3
        server.stop()
    assert "Traceback" not in server.output()


def _status(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError:
        return 0
    finally:
        conn.close()
