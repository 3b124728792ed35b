"""Progress of long commands: a bar with count, rate and time left on a terminal, else one line.

Used by the CLI (rebuild-feeds --all, import-feed) and the benchmark's data generation. On a
terminal it draws click's progress bar (count, percentage, time left) with the rate beside it;
when the output is a file, a pipe or cron's mail it writes nothing while working and one
summary line at the end, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import click


class Progress:
    """Counts work done; draws on a terminal, summarises once otherwise."""

    def __init__(
        self, label: str, total: int, *, unit: str = "items", stream: TextIO | None = None
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0
        self.stream: TextIO = stream if stream is not None else sys.stderr
        self.started = time.monotonic()
        self._bar: Any = None

    @property
    def interactive(self) -> bool:
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def _show_rate(self, _item: object) -> str:
        return f"{self.rate():,.0f} {self.unit}/s"

    def __enter__(self) -> Progress:
        self.started = time.monotonic()
        if self.interactive:
            self._bar = click.progressbar(
                length=self.total,
                label=self.label,
                show_eta=True,
                show_pos=True,
                item_show_func=self._show_rate,
                file=self.stream,
            )
            self._bar.__enter__()
        return self

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n, self.done)

    def summary(self) -> str:
        elapsed = time.monotonic() - self.started
        of = f"/{self.total:,}" if self.total != self.done else ""
        return (
            f"{self.label}: {self.done:,}{of} {self.unit} in {elapsed:.1f} s "
            f"({self.rate():,.0f} {self.unit}/s)"
        )

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
            self._bar = None
        click.echo(self.summary(), file=self.stream)


@contextmanager
def progress(
    label: str, total: int, *, unit: str = "items", stream: TextIO | None = None
) -> Iterator[Progress]:
    """with progress("Importing", 120) as p: ... p.advance() ..."""
    with Progress(label, total, unit=unit, stream=stream) as p:
        yield p
