"""The WebSub notifications' figures for /metrics, from the lease row the leader reports to."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from feedsvc.storage.models import SchedulerLease


def families(row: SchedulerLease) -> Iterator[Metric]:
    """Counters and the queue gauge; they lag the sender by at most one scheduler tick."""
    counters = [
        (
            "feedsvc_websub_pings_sent",
            "WebSub publish notifications a hub accepted (2xx).",
            row.websub_sent_total,
        ),
        (
            "feedsvc_websub_ping_failures",
            "WebSub notification attempts that failed (error, timeout or non-2xx); each retry "
            "counts.",
            row.websub_failures_total,
        ),
        (
            "feedsvc_websub_pings_given_up",
            "WebSub notifications abandoned after their last retry.",
            row.websub_given_up_total,
        ),
        (
            "feedsvc_websub_pings_dropped",
            "WebSub notifications not queued because the queue was full.",
            row.websub_dropped_total,
        ),
    ]
    for name, doc, value in counters:
        counter = CounterMetricFamily(name, doc)
        counter.add_metric([], float(value))
        yield counter
    queued = GaugeMetricFamily(
        "feedsvc_websub_pings_queued",
        "WebSub notifications waiting or being sent, at the leader's last report.",
    )
    queued.add_metric([], float(row.websub_queued))
    yield queued
