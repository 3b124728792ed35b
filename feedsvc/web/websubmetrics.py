"""The WebSub notifications' figures for /metrics and /healthz, from the leader's lease row."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

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


def detail(row: SchedulerLease | None) -> dict[str, Any]:
    """The same figures and the last failure, for /healthz?detail=1 (never degrading it:
    subscribers still get every change at their next poll when no hub hears of it)."""
    if row is None:
        return {
            "sent_total": 0,
            "failures_total": 0,
            "given_up_total": 0,
            "dropped_total": 0,
            "queued": 0,
            "last_error": None,
        }
    return {
        "sent_total": row.websub_sent_total,
        "failures_total": row.websub_failures_total,
        "given_up_total": row.websub_given_up_total,
        "dropped_total": row.websub_dropped_total,
        "queued": row.websub_queued,
        "last_error": row.last_websub_error or None,
    }
