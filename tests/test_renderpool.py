"""Render processes: a big pass renders side by side and stores exactly what one process would."""

from __future__ import annotations

import logging
import os

import pytest
from flask import Flask
from sqlalchemy import delete, select

from feedsvc.publishing import renderpool
from feedsvc.publishing.passes import run_pass
from feedsvc.storage.db import transaction
from feedsvc.storage.models import FeedDocument
from tests.support.factories import make_article, make_section


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


def test_small_passes_render_in_the_scheduler_itself(app: Flask) -> None:
    app.config["RENDER_PROCESSES"] = 0
    assert renderpool.processes_for(app, 5) == 1  # a tick: no process start-up
    # One per core, but never fewer than 100 sections each.
    assert renderpool.processes_for(app, 1000) == min(os.cpu_count() or 1, 10)
    app.config["RENDER_PROCESSES"] = 1
    assert renderpool.processes_for(app, 1000) == 1
    app.config["RENDER_PROCESSES"] = 2
    assert renderpool.processes_for(app, 1000) == 2


def test_processes_store_the_same_bytes_as_one_process(
    app: Flask, four_sections: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    app.config["RENDER_PROCESSES"] = 1
    assert not run_pass(app, full=True).failures
    serial = _bodies(app)
    assert len(serial) == 4 * 3 + 4  # three feeds per section, three site feeds, OPML
    _forget_documents(app)

    monkeypatch.setattr(renderpool, "MIN_SECTIONS", 2)
    app.config["RENDER_PROCESSES"] = 2
    assert renderpool.processes_for(app, 4) == 2
    second = run_pass(app, full=True)
    assert sorted(second.sections_rendered) == sorted(four_sections) and not second.failures
    assert _bodies(app) == serial


def test_processes_that_cannot_start_leave_the_work_to_the_scheduler(
    app: Flask,
    four_sections: list[int],
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
    assert len(_bodies(app)) == 4 * 3 + 4
