"""Prometheus metrics at /metrics: requests, 304 ratio, refused polls, scheduler state.

Under the web server every worker counts in files under PROMETHEUS_MULTIPROC_DIR (set up by
webserver.py, or gunicorn.conf.py) and a scrape adds them up; scheduler figures come from the
lease row, because the scheduler may run on another host.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime

from flask import Flask, Response, request
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select

from feedsvc.storage.db import database
from feedsvc.storage.models import RENDER_LEASE, FeedDocument, SchedulerLease
from feedsvc.web import outage, websubmetrics
from feedsvc.web.periodic import Periodic

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


FLUSH_SECONDS = 1.0


class Metrics:
    """This app's request counter; children cached per label pair (the fast path calls it).

    A request only appends its (route, status) to a deque; a background thread adds them to
    the counters every FLUSH_SECONDS, and a scrape first adds its own worker's. The counter's
    own increment (a lock and a write to its file under PROMETHEUS_MULTIPROC_DIR) cost a
    tenth of a 304's time. Another worker's requests reach a scrape up to a second late;
    none is lost: deque appends and pops are atomic.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "feedsvc_http_requests",
            "HTTP requests answered, by route and status.",
            ["route", "status"],
            registry=self.registry,
        )
        self._children: dict[tuple[str, int], Counter] = {}
        self._pending: deque[tuple[str, int]] = deque()
        self._flusher = Periodic("metrics", FLUSH_SECONDS, self.flush)
        # Polite polling (web/polling.py): refusals, and the (client, feed) pairs in memory.
        self.polls_refused = Counter(
            "feedsvc_polls_refused",
            "Unconditional feed fetches refused with 429: the same client and feed too often.",
            registry=self.registry,
        )
        # livesum: the workers' figures added up, a dead worker's dropped (gunicorn.conf.py
        # marks it dead); written every few hundred new pairs, so it lags by that much.
        self.poll_clients = Gauge(
            "feedsvc_poll_clients_tracked",
            "(client address, feed) pairs the polling limit holds in memory, all workers.",
            multiprocess_mode="livesum",
            registry=self.registry,
        )

    def poll_refused(self) -> None:
        self.polls_refused.inc()

    def poll_tracked(self, pairs: int) -> None:
        self.poll_clients.set(pairs)

    def observe(self, route: str, status: int) -> None:
        self._pending.append((route, status))
        if not self._flusher.started:
            self._flusher.start()

    def flush(self) -> None:
        """Add the requests observed since the last flush to the counters."""
        pending = self._pending
        tally: dict[tuple[str, int], int] = {}
        for _ in range(len(pending)):
            key = pending.popleft()
            tally[key] = tally.get(key, 0) + 1
        for key, n in tally.items():
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = self.requests.labels(key[0], str(key[1]))
            child.inc(n)


class _DerivedCollector:
    """Figures computed at scrape time: the 304 ratio, and what the database knows."""

    def __init__(self, app: Flask, requests: CollectorRegistry) -> None:
        self.app = app
        self.requests = requests

    def collect(self) -> Iterator[Metric]:
        total = not_modified = 0.0
        for metric in self.requests.collect():
            for sample in metric.samples:
                if sample.name == "feedsvc_http_requests_total":
                    total += sample.value
                    if sample.labels.get("status") == "304":
                        not_modified += sample.value
        ratio = GaugeMetricFamily(
            "feedsvc_http_not_modified_ratio",
            "Share of answered requests that were 304 Not Modified.",
        )
        ratio.add_metric([], not_modified / total if total else 0.0)
        yield ratio
        # What the database knows, unless it is unreachable (web/outage.py): then the scrape
        # still answers, without those figures, and says so.
        try:
            figures = outage.state(self.app).attempt(lambda: list(self._scheduler()))
        except outage.Unavailable:
            figures = []
        reachable = GaugeMetricFamily(
            "feedsvc_database_reachable",
            "1 when the database answered this scrape; 0 while it is unreachable and this "
            "worker serves the feeds it holds.",
        )
        reachable.add_metric([], 1.0 if figures else 0.0)
        yield reachable
        yield from figures

    def _scheduler(self) -> Iterator[Metric]:
        with database(self.app).reader() as s:
            row = s.get(SchedulerLease, RENDER_LEASE)
            documents = s.scalar(select(func.count()).select_from(FeedDocument)) or 0
        now = datetime.now(UTC)
        docs = GaugeMetricFamily("feedsvc_documents", "Feed documents stored and served.")
        docs.add_metric([], float(documents))
        yield docs
        if row is None:
            return
        leader = GaugeMetricFamily(
            "feedsvc_scheduler_leader", "1 for the process holding the lease.", labels=["holder"]
        )
        alive = row.expires_at is not None and row.expires_at > now
        leader.add_metric([row.holder if alive else ""], 1.0 if alive else 0.0)
        yield leader
        lag = GaugeMetricFamily(
            "feedsvc_scheduler_lag_seconds", "Seconds since the last successful publishing pass."
        )
        if row.last_success_at is not None:
            lag.add_metric([], (now - row.last_success_at).total_seconds())
        yield lag
        totals = [
            ("feedsvc_publish_passes", "Publishing passes run.", row.passes_total),
            ("feedsvc_sections_rendered", "Section renders.", row.sections_rendered_total),
            ("feedsvc_documents_rendered", "Changed documents.", row.documents_changed_total),
            ("feedsvc_publish_pass_seconds", "Time in publishing.", row.pass_seconds_total),
        ]
        for name, doc, value in totals:
            counter = CounterMetricFamily(name, doc)
            counter.add_metric([], float(value))
            yield counter
        last = GaugeMetricFamily("feedsvc_last_pass_seconds", "Duration of the last pass.")
        last.add_metric([], row.last_pass_seconds)
        yield last
        # The static export, from the lease row (the scheduler may run on another host).
        failures = CounterMetricFamily(
            "feedsvc_export_failures", "Static export files (writes or removals) that failed."
        )
        failures.add_metric([], float(row.export_failures_total))
        yield failures
        behind = GaugeMetricFamily(
            "feedsvc_export_oldest_unexported_change_age_seconds",
            "Age of the oldest change not yet in the static export; 0 when it is up to date.",
        )
        since = row.export_behind_since
        behind.add_metric([], (now - since).total_seconds() if since is not None else 0.0)
        yield behind
        yield from websubmetrics.families(row)  # WebSub publish notifications


def _requests_registry(metrics: Metrics) -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return metrics.registry


def init_app(app: Flask) -> Metrics:
    metrics = Metrics()
    app.extensions["feedsvc.metrics"] = metrics

    @app.after_request
    def count(response: Response) -> Response:
        rule = request.url_rule
        metrics.observe(rule.rule if rule is not None else "<unmatched>", response.status_code)
        return response

    @app.route("/metrics")
    def scrape() -> Response:
        metrics.flush()
        requests = _requests_registry(metrics)
        output = CollectorRegistry()
        output.register(_DerivedCollector(app, requests))
        body = generate_latest(requests) + generate_latest(output)
        return Response(body, content_type=CONTENT_TYPE)

    return metrics
