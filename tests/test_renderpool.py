"""Render processes: a big pass renders side by side and stores exactly what one process would."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import delete, select

from feedsvc.publishing import passes, renderpool, snapshot
from feedsvc.publishing.passes import run_pass
from feedsvc.storage.db import transaction
from feedsvc.storage.models import FeedDocument
from tests.support.factories import make_article, make_section

# Process ids of the sections _prepare_here_or_there rendered in this process; a render
# process appends to its own copy of the list, which this one never sees.
RENDERED_HERE: list[int] = []


def _prepare_here_or_there(
    app: Flask, section_id: int, as_of: datetime
) -> snapshot.SectionDocs | None:
    """prepare_section, noting the process: module-level, so a render process can unpickle it."""
    RENDERED_HERE.append(os.getpid())
    return snapshot.prepare_section(app, section_id, as_of)


@pytest.fixture
def noted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    monkeypatch.setattr(passes, "prepare_section", _prepare_here_or_there)
    RENDERED_HERE.clear()
    yield RENDERED_HERE
    RENDERED_HERE.clear()


def _bodies(app: Flask) -> dict[str, bytes]:
    with transaction(app, write=False) as s:
        return {doc.path: doc.body for doc in s.scalars(select(FeedDocument))}


def _forget_documents(app: Flask) -> None:
    with transaction(app) as s:
        s.execute(delete(FeedDocument))


@pytest.fixture
def four_sections(app: Flask) -> list[int]:
    ids = []
    for n, name in enumerate(["World", "Business", "Sport", "Culture & Arts"]):
        ids.append(make_section(app, name))
        make_article(app, ids[-1], f"Story {n}: “quotes” & <angles>")
    return ids


def test_small_passes_render_in_the_scheduler_itself(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    app.config["RENDER_PROCESSES"] = 0  # the default: one per core
    assert renderpool.processes_for(app, 5) == 1  # a tick: no process start-up
    assert renderpool.processes_for(app, 199) == 1
    assert renderpool.processes_for(app, 1000) == 8
    assert renderpool.processes_for(app, 250) == 2  # never fewer than 100 sections each
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert renderpool.processes_for(app, 1000) == 2
    monkeypatch.setattr(os, "cpu_count", lambda: None)  # unknown: render here
    assert renderpool.processes_for(app, 1000) == 1
    app.config["RENDER_PROCESSES"] = 1
    assert renderpool.processes_for(app, 1000) == 1
    app.config["RENDER_PROCESSES"] = 3
    assert renderpool.processes_for(app, 1000) == 3
    assert renderpool.processes_for(app, 5) == 1
    app.config["RENDER_PROCESSES"] = 16
    assert renderpool.processes_for(app, 1000) == 10


def test_processes_store_the_same_bytes_as_one_process(
    app: Flask,
    four_sections: list[int],
    noted: list[int],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app.config["RENDER_PROCESSES"] = 1
    assert not run_pass(app, full=True).failures
    assert noted == [os.getpid()] * 4  # one process: every section rendered here
    serial = _bodies(app)
    assert len(serial) == 4 * 3 + 4  # three feeds per section, three site feeds, OPML
    _forget_documents(app)
    noted.clear()

    monkeypatch.setattr(renderpool, "MIN_SECTIONS", 2)
    app.config["RENDER_PROCESSES"] = 2
    with caplog.at_level(logging.WARNING, logger="feedsvc.publishing.renderpool"):
        second = run_pass(app, full=True)
    assert sorted(second.sections_rendered) == sorted(four_sections) and not second.failures
    # Rendered and stored, and not one of them here: the render processes did the work.
    assert noted == [] and not caplog.records
    assert _bodies(app) == serial


def test_processes_that_cannot_start_leave_the_work_to_the_scheduler(
    app: Flask,
    four_sections: list[int],
    noted: list[int],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(renderpool, "MIN_SECTIONS", 2)
    app.config["RENDER_PROCESSES"] = 2
    # A setting the processes' own app refuses: their initializer fails, the pool breaks.
    broken = {**app.extensions["feedsvc.settings"], "LOG_FORMAT": "xml"}
    monkeypatch.setitem(app.extensions, "feedsvc.settings", broken)
    with caplog.at_level(logging.WARNING, logger="feedsvc.publishing.renderpool"):
        result = run_pass(app, full=True)
    assert sorted(result.sections_rendered) == sorted(four_sections) and not result.failures
    assert "rendering the rest in the scheduler" in caplog.text
    assert noted == [os.getpid()] * 4  # every section rendered here after all
    assert len(_bodies(app)) == 4 * 3 + 4


def test_a_section_that_fails_in_its_process_fails_alone(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(renderpool, "MIN_SECTIONS", 2)
    app.config["RENDER_PROCESSES"] = 2
    asked = [4, 1, 2, 3, 10]
    outcomes = list(renderpool.prepare_all(app, asked, datetime.now(UTC), _refuse_odd))
    assert [o.section_id for o in outcomes] == asked  # in the order asked
    for outcome in outcomes:
        if outcome.section_id % 2:
            assert isinstance(outcome, renderpool.Failed)
            assert str(outcome.error) == f"section {outcome.section_id} refused"
        else:
            assert isinstance(outcome, renderpool.Done)
            assert outcome.value != os.getpid()  # the pid of the process that ran it


def _refuse_odd(app: Flask, section_id: int, as_of: datetime) -> int:
    if section_id % 2:
        raise ValueError(f"section {section_id} refused")
    return os.getpid()
