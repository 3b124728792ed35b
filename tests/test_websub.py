"""WebSub: feeds name their hubs; the leader tells a real hub (a process on loopback) of changes."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from devtools import procs
from feedsvc.publishing import websub
from feedsvc.publishing.scheduler import Publisher
from feedsvc.settings import SettingsError
from feedsvc.storage.db import database
from tests.support.app import SITE_URL, make_app
from tests.support.factories import make_article, make_section
from tests.support.feedcheck import ATOM_NS, check_atom, check_json, check_rss
from tests.support.websubhub import HubProcess

FEEDS = ("rss.xml", "atom.xml", "feed.json")
# Fast retries, so a test sees the whole retry schedule in well under a second.
TIMEOUT = 2.0
ATTEMPTS = 3


@pytest.fixture
def hub() -> Iterator[HubProcess]:
    process = HubProcess()
    yield process
    process.stop()


@pytest.fixture
def apps(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[Flask]]:
    """Apps made by make_hub_app; their senders are stopped and databases closed afterwards."""
    monkeypatch.setattr(websub, "TIMEOUT_SECONDS", TIMEOUT)
    monkeypatch.setattr(websub, "ATTEMPTS", ATTEMPTS)
    monkeypatch.setattr(websub, "BACKOFF_SECONDS", 0.05)
    made: list[Flask] = []
    yield made
    for app in made:
        websub.of(app).close()
        database(app).dispose()


def make_hub_app(apps: list[Flask], url: str, tmp: Path, *hubs: str) -> Flask:
    app = make_app(url, tmp, WEBSUB_HUBS=" ".join(hubs), TICK_SECONDS=60.0, LEASE_SECONDS=120.0)
    apps.append(app)
    return app


def _topics(*slugs: str) -> list[str]:
    """The feeds' own URLs (what their rel="self" says), for these sections and the site."""
    paths = [f"sections/{slug}/{name}" for slug in slugs for name in FEEDS] + list(FEEDS)
    return sorted(f"{SITE_URL}/{path}" for path in paths)


def _metrics(client: FlaskClient) -> dict[str, float]:
    text = client.get("/metrics").get_data(as_text=True)
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("feedsvc_websub_")
    }


def _self_url(fmt: str, body: bytes) -> str:
    if fmt == "json":
        return str(json.loads(body)["feed_url"])
    links = feedparser.parse(body).feed.links
    return next(str(link.href) for link in links if link.rel == "self")


def test_feeds_name_every_hub_and_stay_valid(
    apps: list[Flask], database_url: str, tmp_path: Path
) -> None:
    hubs = ("https://hub.example.org/", "http://push.example.net/hub?site=1")
    app = make_hub_app(apps, database_url, tmp_path, *hubs)
    section = make_section(app, "World")
    make_article(app, section, "Story")
    Publisher(app).run()
    client = app.test_client()
    for path in ("/sections/world/", "/"):
        rss = client.get(f"{path}rss.xml").data
        parsed = check_rss(rss)
        # WebSub §4: a subscriber finds the hubs and the topic (rel="self") in the feed itself.
        assert [link.href for link in parsed.feed.links if link.rel == "hub"] == list(hubs)
        assert _self_url("rss", rss) == f"{SITE_URL}{path}rss.xml"
        atom = client.get(f"{path}atom.xml").data
        root = check_atom(atom)
        assert [
            link.get("href") for link in root.iterfind(f"{{{ATOM_NS}}}link[@rel='hub']")
        ] == list(hubs)
        assert _self_url("atom", atom) == f"{SITE_URL}{path}atom.xml"
        feed = check_json(client.get(f"{path}feed.json").data)
        assert feed["hubs"] == [{"type": "WebSub", "url": hub} for hub in hubs]


def test_without_hubs_no_links_and_no_notifications(
    apps: list[Flask], database_url: str, tmp_path: Path, hub: HubProcess
) -> None:
    app = make_hub_app(apps, database_url, tmp_path)  # WEBSUB_HUBS empty, the default
    make_section(app, "World")
    publisher = Publisher(app)
    publisher.run()
    client = app.test_client()
    for name in ("rss.xml", "atom.xml"):
        body = client.get(f"/sections/world/{name}").data
        assert b'rel="hub"' not in body
        (check_rss if name == "rss.xml" else check_atom)(body)
    assert "hubs" not in check_json(client.get("/sections/world/feed.json").data)
    assert websub.of(app).hubs == [] and websub.of(app).queued() == 0
    publisher.run()
    assert _metrics(client)["feedsvc_websub_pings_sent_total"] == 0
    assert hub.received() == []


def test_each_changed_feed_is_notified_once_per_change(
    apps: list[Flask], database_url: str, tmp_path: Path, hub: HubProcess
) -> None:
    app = make_hub_app(apps, database_url, tmp_path, hub.url)
    make_section(app, "World")
    business = make_section(app, "Business")
    publisher = Publisher(app)
    publisher.run()
    notifier = websub.of(app)
    assert notifier.wait_idle(10)
    first = hub.wait_for(9)
    # Every new feed once (OPML names no hub: not a topic), each the URL its rel="self" names.
    assert sorted(r["topic"] for r in first) == _topics("world", "business")
    assert {r["status"] for r in first} == {204}
    assert first[0]["form"]["hub.mode"] == ["publish"]
    assert first[0]["form"]["hub.url"] == first[0]["form"]["hub.topic"]

    # Nothing changed: neither a tick nor a full rebuild notifies anyone.
    publisher.run()
    publisher.run(full=True)
    assert notifier.wait_idle(10)
    time.sleep(0.2)
    assert len(hub.received()) == len(first)

    make_article(app, business, "Markets")
    publisher.run()
    assert notifier.wait_idle(10)
    again = hub.wait_for(len(first) + 6)[len(first) :]
    assert sorted(r["topic"] for r in again) == _topics("business")
    publisher.run()  # reports the outcomes on the lease row
    figures = _metrics(app.test_client())
    assert figures["feedsvc_websub_pings_sent_total"] == len(first) + 6
    assert figures["feedsvc_websub_ping_failures_total"] == 0
    assert figures["feedsvc_websub_pings_queued"] == 0


def test_a_failing_hub_is_retried_until_it_accepts(
    apps: list[Flask], database_url: str, tmp_path: Path, hub: HubProcess
) -> None:
    app = make_hub_app(apps, database_url, tmp_path, hub.url)
    hub.control(fail=2, status=503)
    make_section(app, "World")
    publisher = Publisher(app)
    publisher.run()
    assert websub.of(app).wait_idle(10)
    received = hub.received()
    assert [r["status"] for r in received].count(503) == 2
    # Each feed reached the hub exactly once in the end, the two refused ones by a retry.
    assert sorted(hub.accepted()) == _topics("world")
    publisher.run()
    figures = _metrics(app.test_client())
    assert figures["feedsvc_websub_pings_sent_total"] == 6
    assert figures["feedsvc_websub_ping_failures_total"] == 2
    assert figures["feedsvc_websub_pings_given_up_total"] == 0


def test_a_hub_that_keeps_failing_is_given_up_and_counted(
    apps: list[Flask],
    database_url: str,
    tmp_path: Path,
    hub: HubProcess,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_hub_app(apps, database_url, tmp_path, hub.url)
    hub.control(fail=1_000, status=500)
    make_section(app, "World")
    publisher = Publisher(app)
    with caplog.at_level(logging.WARNING, logger="feedsvc.publishing.websub"):
        publisher.run()
        assert websub.of(app).wait_idle(10)
    # Bounded: ATTEMPTS tries per feed, then no more.
    time.sleep(0.3)
    assert len(hub.received()) == 6 * ATTEMPTS
    assert sum("gave up notifying" in r.getMessage() for r in caplog.records) == 6
    publisher.run()
    figures = _metrics(app.test_client())
    assert figures["feedsvc_websub_pings_sent_total"] == 0
    assert figures["feedsvc_websub_ping_failures_total"] == 6 * ATTEMPTS
    assert figures["feedsvc_websub_pings_given_up_total"] == 6
    assert figures["feedsvc_websub_pings_queued"] == 0
    health = app.test_client().get("/healthz?detail=1").get_json()
    assert health["status"] == "ok"  # readers still get every change at their next poll
    assert health["websub"]["given_up_total"] == 6
    assert health["websub"]["last_error"] == f"{hub.url}: HTTP 500 Internal Server Error"


def test_a_hanging_hub_does_not_delay_a_pass(
    apps: list[Flask], database_url: str, tmp_path: Path, hub: HubProcess
) -> None:
    app = make_hub_app(apps, database_url, tmp_path, hub.url)
    section = make_section(app, "World")
    publisher = Publisher(app)
    publisher.run()
    assert websub.of(app).wait_idle(10)
    seen = len(hub.received())
    hub.control(hang=True)
    timings = []
    for title in ("One", "Two"):
        make_article(app, section, title)
        started = time.perf_counter()
        result = publisher.run()
        timings.append(time.perf_counter() - started)
        assert result is not None and result.documents_changed == 6
        assert len(hub.wait_for(seen + 1)) > seen  # a notification is held by the hub
    # Each pass took less than one notification's timeout: none of them waited for the hub.
    assert max(timings) < TIMEOUT, timings
    time.sleep(TIMEOUT + 0.5)  # the held notification times out ...
    hub.control(hang=False)  # ... and the hub answers again: the retries go through
    assert websub.of(app).wait_idle(20)
    assert set(hub.accepted()) == set(_topics("world"))
    publisher.run()
    figures = _metrics(app.test_client())
    assert figures["feedsvc_websub_ping_failures_total"] >= 1
    assert figures["feedsvc_websub_pings_given_up_total"] == 0


def test_the_queue_is_bounded_and_holds_each_topic_once(hub: HubProcess) -> None:
    hub.control(hang=True)
    notifier = websub.Notifier([hub.url], timeout=TIMEOUT, queue_max=3)
    try:
        notifier.publish(["http://feeds.example.org/first.xml"])
        hub.wait_for(1)  # in flight, held by the hub
        topics = [f"http://feeds.example.org/{n}.xml" for n in range(5)]
        notifier.publish(topics)
        notifier.publish(topics)  # the first three wait already: no second copy
        assert notifier.queued() == 1 + 3
        assert notifier.totals.dropped == 2 + 2
    finally:
        notifier.close()
        hub.control(hang=False)


@pytest.mark.parametrize(
    "value",
    ["ftp://hub.example.org/", "hub.example.org", "https://", "https://hub.example.org/#x"],
)
def test_a_bad_hub_url_stops_the_start_with_a_sentence(
    instance: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    from feedsvc import settings

    monkeypatch.setenv("FEEDSVC_WEBSUB_HUBS", f"https://ok.example.org/ {value}")
    with pytest.raises(SettingsError) as caught:
        settings.load(instance)
    assert "WEBSUB_HUBS must list absolute http(s) hub URLs" in caught.value.message
    assert repr(value) in caught.value.message


def test_hub_urls_come_from_the_environment_in_order(
    instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feedsvc import settings

    assert settings.load(instance)["WEBSUB_HUBS"] == ()
    monkeypatch.setenv("FEEDSVC_WEBSUB_HUBS", " https://b.example.org/  http://a.example.org/h ")
    loaded = settings.load(instance)
    assert loaded["WEBSUB_HUBS"] == ("https://b.example.org/", "http://a.example.org/h")
    # The render processes rebuild the app from checked settings: the same value again.
    assert settings.load(instance, loaded)["WEBSUB_HUBS"] == loaded["WEBSUB_HUBS"]


def test_only_the_leader_notifies(
    apps: list[Flask], database_url: str, tmp_path: Path, hub: HubProcess
) -> None:
    app = make_hub_app(apps, database_url, tmp_path, hub.url)
    section = make_section(app, "World")
    leader, standby = Publisher(app), Publisher(app)
    leader.run()
    assert websub.of(app).wait_idle(10)
    seen = len(hub.wait_for(6))
    make_article(app, section, "Story")
    assert standby.run() is None  # the lease is the leader's: the standby neither renders ...
    # ... nor does a one-off `flask rebuild-feeds` (no fencing token: not the leader).
    published = app.test_cli_runner().invoke(args=["rebuild-feeds"])
    assert published.exit_code == 0 and "6 document(s) changed" in published.output
    assert websub.of(app).wait_idle(10)
    time.sleep(0.2)
    assert len(hub.received()) == seen


@pytest.mark.slow
def test_a_real_scheduler_process_notifies_a_real_hub(
    app: Flask, hub: HubProcess, tmp_path: Path
) -> None:
    """Two processes, as deployed: `flask run-scheduler` with FEEDSVC_WEBSUB_HUBS, and the hub."""
    env = procs.service_env(
        app.config["DATABASE_URL"],
        FEEDSVC_WEBSUB_HUBS=hub.url,
        FEEDSVC_TICK_SECONDS="0.5",
        FEEDSVC_LEASE_SECONDS="3",
    )
    section = make_section(app, "World")
    with procs.scheduler(env, tmp_path / "scheduler.log") as scheduler:
        first = procs.wait_for(
            "the first notifications", lambda: r if len(r := hub.received()) >= 6 else None
        )
        assert sorted(r["topic"] for r in first) == _topics("world")
        make_article(app, section, "Breaking")  # the watch publishes it between ticks
        procs.wait_for("the change's notifications", lambda: len(hub.received()) >= 12)
        procs.wait_for(
            "the outcomes on the lease row",
            lambda: _metrics(app.test_client())["feedsvc_websub_pings_sent_total"] >= 12,
        )
        assert scheduler.alive(), scheduler.output()
    assert sorted(hub.accepted()) == sorted(_topics("world") * 2)
