"""Progress of long commands: a bar with count, rate and time left on a terminal, else one line.

Used by the CLI (rebuild-feeds --all, import-feed) and the benchmark's data generation. On a
terminal it draws click's progress bar (count, rate, time left); when the output is a file, a
pipe or cron's mail it writes nothing while working and one summary line at the end, so logs
stay readable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import click

# Redraws at most this often: a bar advanced a million times (one step an article) would
# otherwise spend more time formatting its line than the work it shows.
REDRAW_SECONDS = 0.1


def clock(seconds: float) -> str:
    """H:MM:SS, the time-left figure of the bar."""
    whole = round(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02}:{whole % 60:02}"


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
        self._drawn = 0  # the count the bar shows
        self._drawn_at = 0.0

    @property
    def interactive(self) -> bool:
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def left(self) -> str:
        """Time left at the average rate so far; "-:--:--" until the first step is done."""
        rate = self.rate()
        if rate <= 0:
            return "-:--:--"
        return clock(max(self.total - self.done, 0) / rate)

    def _info(self, _item: object) -> str:
        # Our own estimate rather than click's: click shows one only after a second of work.
        return f"{self.rate():,.0f} {self.unit}/s  {self.left()} left"

    def __enter__(self) -> Progress:
        self.started = time.monotonic()
        if self.interactive:
            self._bar = click.progressbar(
                length=self.total,
                label=self.label,
                show_eta=False,
                show_pos=True,
                item_show_func=self._info,
                file=self.stream,
                width=0,  # as wide as the terminal leaves room for
            )
            self._bar.__enter__()
        return self

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self._bar is None:
            return
        now = time.monotonic()
        # The first step is drawn at once (it gives the first rate), then at most every
        # REDRAW_SECONDS; the last one at the end (__exit__).
        if self._drawn and now - self._drawn_at < REDRAW_SECONDS:
            return
        self._draw(now)

    def _draw(self, now: float) -> None:
        self._bar.update(self.done - self._drawn)
        self._drawn, self._drawn_at = self.done, now

    def summary(self) -> str:
        elapsed = time.monotonic() - self.started
        of = f"/{self.total:,}" if self.total != self.done else ""
        return (
            f"{self.label}: {self.done:,}{of} {self.unit} in {elapsed:.1f} s "
            f"({self.rate():,.0f} {self.unit}/s)"
        )

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            if self._drawn != self.done:
                self._draw(time.monotonic())
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
