"""/metrics in Prometheus text format: requests by route and status, 304 ratio, scheduler."""

from __future__ import annotations

import threading

from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from feedsvc.publishing.scheduler import Publisher
from feedsvc.web.metrics import Metrics
from tests.support.factories import make_section


def _samples(client: FlaskClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    out = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_requests_are_counted_by_route_and_status(app: Flask, client: FlaskClient) -> None:
    make_section(app, "World News")
    Publisher(app).run()
    etag = client.get("/sections/world-news/atom.xml").headers["ETag"]
    for _ in range(3):
        client.get("/sections/world-news/atom.xml", headers={"If-None-Match": etag})
    client.get("/sections/nowhere/")
    samples = _samples(client)
    feed = "/sections/<slug>/atom.xml"
    total = "feedsvc_http_requests_total"
    assert samples[(total, (("route", feed), ("status", "200")))] == 1
    assert samples[(total, (("route", feed), ("status", "304")))] == 3
    assert samples[(total, (("route", "/sections/<slug>/"), ("status", "404")))] == 1
    assert samples[("feedsvc_http_not_modified_ratio", ())] == 3 / 5


def test_scheduler_state_is_reported(app: Flask, client: FlaskClient) -> None:
    make_section(app, "World News")
    publisher = Publisher(app)
    publisher.run()
    samples = _samples(client)
    assert samples[("feedsvc_scheduler_leader", (("holder", publisher.holder),))] == 1
    assert 0 <= samples[("feedsvc_scheduler_lag_seconds", ())] < 5
    assert samples[("feedsvc_sections_rendered_total", ())] == 1
    assert samples[("feedsvc_documents_rendered_total", ())] == 7  # 3 + 3 site + OPML
    assert samples[("feedsvc_publish_passes_total", ())] == 1
    assert samples[("feedsvc_documents", ())] == 7


def test_requests_counted_from_many_threads_while_flushing_are_all_counted() -> None:
    """The request counter is batched (web/metrics.py): no count lost between a thread's
    append and a flush, whichever runs when."""
    metrics = Metrics()
    stop = threading.Event()

    def flushing() -> None:
        while not stop.is_set():
            metrics.flush()

    def serving(status: int) -> None:
        for _ in range(20_000):
            metrics.observe("/rss.xml", status)

    flusher = threading.Thread(target=flushing)
    flusher.start()
    workers = [threading.Thread(target=serving, args=(200 + k % 2 * 104,)) for k in range(6)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stop.set()
    flusher.join()
    metrics.flush()
    counted = {
        sample.labels["status"]: sample.value
        for family in metrics.registry.collect()
        for sample in family.samples
        if sample.name == "feedsvc_http_requests_total"
    }
    assert counted == {"200": 60_000, "304": 60_000}
