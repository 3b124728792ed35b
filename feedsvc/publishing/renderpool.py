"""Render many sections side by side in worker processes, in order, for one publishing pass."""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from flask import Flask

log = logging.getLogger(__name__)

# Below this many sections the processes' start-up (about a second each: they import the
# app) costs more than they save; a tick that renders a handful never uses them.
MIN_SECTIONS = 200
# Sections handed out ahead of the one being stored: keeps every process busy while bounding
# how much rendered output waits in memory.
AHEAD_PER_PROCESS = 4

T = TypeVar("T")
# create_app, as the app stores it in its extensions: the processes build their own app with
# it, from the same settings, without this module importing the package root.
AppFactory = Callable[[Mapping[str, Any]], Flask]


@dataclass(frozen=True)
class Done(Generic[T]):
    """A section's work finished: what it returned."""

    section_id: int
    value: T


@dataclass(frozen=True)
class Failed:
    """A section's work raised: the exception, for the caller to report."""

    section_id: int
    error: Exception


Outcome = Done[T] | Failed

_worker_app: Flask | None = None


def processes_for(app: Flask, sections: int) -> int:
    """How many render processes a pass of this many sections gets (1: none, render here)."""
    if sections < MIN_SECTIONS:
        return 1
    wanted = int(app.config["RENDER_PROCESSES"]) or (os.cpu_count() or 1)
    return max(1, min(wanted, sections // (MIN_SECTIONS // 2)))


def _start(factory: AppFactory, settings: Mapping[str, Any]) -> None:
    global _worker_app
    _worker_app = factory(settings)


def _run(work: Callable[[Flask, int, datetime], T], section_id: int, as_of: datetime) -> T:
    assert _worker_app is not None, "render process used before its initializer ran"
    return work(_worker_app, section_id, as_of)


# What submit raises once the pool is broken: BrokenProcessPool, or, when it breaks while a
# process is being spawned, OSError from the pool's closed wake-up pipe (CPython's
# ProcessPoolExecutor), or RuntimeError once the interpreter is exiting.
_STOPPED = (BrokenProcessPool, OSError, RuntimeError)


def prepare_all(
    app: Flask,
    section_ids: Sequence[int],
    as_of: datetime,
    work: Callable[[Flask, int, datetime], T],
) -> Generator[Outcome[T], None, None]:
    """Yield each section's outcome (work's result, or the exception it raised) in order.

    ``work`` must be a module-level function (it is pickled by name). With one process it runs
    here; otherwise in "spawn" processes (never fork: the scheduler runs threads), each with
    its own app built by the app's factory from the same settings. Closing the iterator early
    cancels what has not started yet.
    """
    count = processes_for(app, len(section_ids))
    if count <= 1:
        yield from _serial(app, section_ids, as_of, work)
        return
    factory: AppFactory = app.extensions["feedsvc.factory"]
    settings: Mapping[str, Any] = app.extensions["feedsvc.settings"]
    pool = ProcessPoolExecutor(
        count,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start,
        initargs=(factory, settings),
    )
    try:
        pending: deque[tuple[int, Future[T]]] = deque()
        ids = iter(section_ids)
        for section_id in ids:
            try:
                pending.append((section_id, pool.submit(_run, work, section_id, as_of)))
            except _STOPPED:  # the pool broke while starting its processes
                log.warning("render processes stopped; rendering the rest in the scheduler")
                yield from _serial(
                    app, [*(sid for sid, _ in pending), section_id, *ids], as_of, work
                )
                return
            if len(pending) >= count * AHEAD_PER_PROCESS:
                break
        while pending:
            section_id, future = pending.popleft()
            outcome: Outcome[T]
            try:
                outcome = Done(section_id, future.result())
            except BrokenProcessPool:
                # A process died or could not start: render the rest here rather than fail them.
                log.warning("render processes stopped; rendering the rest in the scheduler")
                rest = [section_id, *(sid for sid, _ in pending), *ids]
                pending.clear()
                yield from _serial(app, rest, as_of, work)
                return
            except Exception as exc:  # the section's own failure, raised in its process
                outcome = Failed(section_id, exc)
            yield outcome
            following = next(ids, None)
            if following is not None:
                try:
                    pending.append((following, pool.submit(_run, work, following, as_of)))
                except _STOPPED:
                    log.warning("render processes stopped; rendering the rest in the scheduler")
                    rest = [*(sid for sid, _ in pending), following, *ids]
                    pending.clear()
                    yield from _serial(app, rest, as_of, work)
                    return
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _serial(
    app: Flask,
    section_ids: Sequence[int],
    as_of: datetime,
    work: Callable[[Flask, int, datetime], T],
) -> Iterator[Outcome[T]]:
    for section_id in section_ids:
        outcome: Outcome[T]
        try:
            outcome = Done(section_id, work(app, section_id, as_of))
        except Exception as exc:  # reported by the caller, per section
            outcome = Failed(section_id, exc)
        yield outcome
