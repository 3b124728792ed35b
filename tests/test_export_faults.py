"""Export faults: a full or read-only export folder never stops publishing; every file that
failed is retried until done, removals included; /healthz and /metrics say how far behind."""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from devtools.procs import QUICK, scheduler, service_env, wait_for
from feedsvc.assets import ASSETS
from feedsvc.publishing import backlog
from feedsvc.publishing.passes import run_pass
from feedsvc.publishing.scheduler import Publisher
from feedsvc.sections import SectionInput, update_section
from feedsvc.storage.db import database, transaction
from feedsvc.storage.models import RENDER_LEASE, FeedDocument, SchedulerLease
from tests.support.app import make_app
from tests.support.factories import make_article, make_section
from tests.support.faultyfs import faulty_folder

FEED = "sections/world-news/rss.xml"


@pytest.fixture
def export_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    # Short tick and lease: the export counts as behind after 3 × 0.2 + 1 = 1.6 s.
    app = make_app(
        database_url,
        tmp_path,
        EXPORT_DIR=str(tmp_path / "export"),
        TICK_SECONDS=0.2,
        LEASE_SECONDS=1.0,
    )
    yield app
    database(app).dispose()


def health(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/healthz?detail=1")  # the test client is 127.0.0.1
    assert response.status_code == 200
    data = response.get_json()
    assert isinstance(data, dict)
    return data


def metrics(client: FlaskClient) -> dict[str, float]:
    text = client.get("/metrics").get_data(as_text=True)
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("feedsvc_export_")
    }


def in_step(app: Flask, root: Path) -> bool:
    """Every document exported as stored, and no other feed file left."""
    with transaction(app, write=False) as s:
        docs = {d.path: d.body for d in s.scalars(select(FeedDocument))}
    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    files -= set(ASSETS)  # feed.xsl and favicon.ico: the release's files, not documents
    if files != {f for p in docs for f in (p, p + ".gz")}:
        return False
    return all((root / path).read_bytes() == body for path, body in docs.items())


def _inject(monkeypatch: pytest.MonkeyPatch, root: Path, code: int, names: list[str]) -> None:
    """os.NAME raises OSError(code) for any path under root: a fault at the system call."""
    for name in names:
        real: Callable[..., Any] = getattr(os, name)

        def failing(*args: Any, _real: Callable[..., Any] = real, **kwargs: Any) -> Any:
            if any(str(a).startswith(str(root)) for a in args):
                raise OSError(code, os.strerror(code) + " (injected)")
            return _real(*args, **kwargs)

        monkeypatch.setattr(os, name, failing)


@pytest.mark.parametrize(
    ("code", "calls"),
    [
        (errno.ENOSPC, ["replace"]),  # a full disk: writes fail, removals still work
        (errno.EROFS, ["open", "mkdir", "replace", "unlink"]),  # read-only: removals fail too
    ],
)
def test_a_broken_export_delays_files_not_publishing_and_is_repaired(
    export_app: Flask, monkeypatch: pytest.MonkeyPatch, code: int, calls: list[str]
) -> None:
    app, client = export_app, export_app.test_client()
    root = Path(app.config["EXPORT_DIR"])
    section = make_section(app)
    business = make_section(app, "Business")
    publisher = Publisher(app)
    publisher.run()
    assert in_step(app, root) and health(client)["export"]["behind_seconds"] is None

    _inject(monkeypatch, root, code, calls)
    make_article(app, section, "During the outage")
    with transaction(app) as s:  # its files must go: a removal, retried like any write
        update_section(s, business, SectionInput(name="Business", slug="markets"))
    assert publisher.run() is not None
    # The database publishes as ever: the app serves the new article at once.
    assert b"During the outage" in client.get(f"/{FEED}").data
    assert b"During the outage" not in (root / FEED).read_bytes()
    pending = backlog.of(app).pending
    assert FEED in pending and "sections/markets/atom.xml" in pending
    assert ("sections/business/atom.xml" in pending) == (code == errno.EROFS)
    data = health(client)
    assert data["export"]["failures_total"] >= 7 and data["export"]["behind_seconds"] >= 0
    assert os.strerror(code) in data["export"]["last_error"]
    assert metrics(client)["feedsvc_export_failures_total"] == data["export"]["failures_total"]
    time.sleep(1.7)  # past 3 ticks and a lease: behind for longer than a retry explains
    assert publisher.run() is not None  # the retry fails again
    data = health(client)
    assert data["status"] == "degraded" and data["export"]["ok"] is False
    assert client.get("/healthz").get_json()["status"] == "degraded"
    assert metrics(client)["feedsvc_export_oldest_unexported_change_age_seconds"] > 1.6
    failures = data["export"]["failures_total"]

    monkeypatch.undo()  # the folder is repaired
    assert publisher.run() is not None  # the next tick brings it up to date
    assert in_step(app, root)
    assert not (root / "sections/business").exists()
    data = health(client)
    assert data["status"] == "ok" and data["export"]["behind_seconds"] is None
    assert data["export"]["failures_total"] == failures
    assert metrics(client)["feedsvc_export_oldest_unexported_change_age_seconds"] == 0


def test_a_restart_finds_what_the_last_process_missed(
    export_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = export_app
    root = Path(app.config["EXPORT_DIR"])
    section = make_section(app)
    first = Publisher(app)
    first.run()
    _inject(monkeypatch, root, errno.ENOSPC, ["replace"])
    make_article(app, section, "Missed")
    first.run()
    monkeypatch.undo()
    app.extensions.pop("feedsvc.export_backlog")  # the process died with its backlog
    first.release()
    assert not in_step(app, root)
    Publisher(app).run()  # a new process, a new leadership: a whole sync
    assert in_step(app, root)


def test_a_restart_rewrites_a_file_of_the_same_size_and_second(export_app: Flask) -> None:
    """A crash between storing a version and exporting it, when the older file has the same
    length and the same whole-second date (two versions stored in one second): the next
    sync must still see the file is not the stored one."""
    app = export_app
    root = Path(app.config["EXPORT_DIR"])
    make_section(app)
    publisher = Publisher(app)
    publisher.run()
    target = root / FEED
    stored = target.read_bytes()
    when = target.stat().st_mtime
    older = stored.replace(b"</channel>", b"</channeL>")  # same length, other bytes
    assert len(older) == len(stored) and older != stored
    target.write_bytes(older)
    os.utime(target, (when, when))
    publisher.release()
    app.extensions.pop("feedsvc.export_backlog", None)
    Publisher(app).run()  # a new process, a new leadership: a whole sync
    assert target.read_bytes() == stored
    assert in_step(app, root)


def _leader_pid(app: Flask) -> int | None:
    with transaction(app, write=False) as s:
        row = s.get(SchedulerLease, RENDER_LEASE)
        return int(row.holder.split(":")[1]) if row is not None and row.holder else None


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["read-only", "full"])
def test_the_scheduler_starts_and_publishes_with_a_broken_export_folder(
    export_app: Flask, tmp_path: Path, kind: str
) -> None:
    """Real faults (a read-only mount, a full tmpfs) under a real run-scheduler process."""
    app, client = export_app, export_app.test_client()
    root = Path(app.config["EXPORT_DIR"])
    section = make_section(app)
    business = make_section(app, "Business")
    with faulty_folder(kind, root) as fault:
        run_pass(app)
        assert in_step(app, root)
        for name in ("opml.xml", "opml.xml.gz"):  # the sync at start has work to do
            (root / name).unlink()
        fault.break_()
        env = service_env(app.config["DATABASE_URL"], FEEDSVC_EXPORT_DIR=str(root), **QUICK)
        with scheduler(env, tmp_path / "sched.log") as proc:
            wait_for("the scheduler to lead", lambda: _leader_pid(app) == proc.pid)
            make_article(app, section, "During the outage")
            with transaction(app) as s:
                update_section(s, business, SectionInput(name="Business", slug="markets"))
            wait_for(
                "the app to serve the new article",
                lambda: b"During the outage" in client.get(f"/{FEED}").data,
            )
            # The leader reports the export's health on the lease row at its next tick, so
            # "degraded" (the export is behind) can show before the failure itself does.
            wait_for("/healthz to say degraded", lambda: health(client)["status"] == "degraded")
            wait_for("/healthz to report the failure", lambda: not health(client)["export"]["ok"])
            data = health(client)["export"]
            assert data["ok"] is False and data["failures_total"] > 0
            code = errno.EROFS if kind == "read-only" else errno.ENOSPC
            assert os.strerror(code) in data["last_error"]
            assert metrics(client)["feedsvc_export_failures_total"] > 0
            # The lag grows while the folder stays broken: wait for it to pass 1.6 s (the
            # failure itself may be reported sooner than that, on a fast tick).
            wait_for(
                "/metrics to show the export falling behind",
                lambda: (
                    metrics(client)["feedsvc_export_oldest_unexported_change_age_seconds"] > 1.6
                ),
            )
            assert b"During the outage" not in (root / FEED).read_bytes()
            assert proc.alive()

            fault.repair()
            wait_for("the export to catch up", lambda: in_step(app, root))
            assert not (root / "sections/business").exists()
            wait_for("/healthz to say ok", lambda: health(client)["status"] == "ok")
            proc.stop()
    assert "Traceback" not in proc.output(), proc.output()
