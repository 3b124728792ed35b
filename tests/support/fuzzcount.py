"""How many generated examples the fuzz tests ran, and how many failed, printed after the run.

A counter in the tests themselves: what hypothesis actually ran (fewer than max_examples when
it exhausts a small input space, more while it shrinks a failure), not what was configured.
`make fuzz` loads this module as a pytest plugin (`-p tests.support.fuzzcount`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

RUN: Counter[str] = Counter()
FAILED: Counter[str] = Counter()


@contextmanager
def example(kind: str) -> Iterator[None]:
    """Count one example of ``kind`` as run, and as failed if its checks raise."""
    RUN[kind] += 1
    try:
        yield
    except BaseException:
        FAILED[kind] += 1
        raise


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    total, failed = sum(RUN.values()), sum(FAILED.values())
    kinds = ", ".join(f"{kind} {RUN[kind]}" for kind in sorted(RUN))
    terminalreporter.write_sep("=", "fuzz")
    terminalreporter.write_line(f"examples run: {total} ({kinds or 'none'})")
    terminalreporter.write_line(f"examples failed: {failed}")
    tests_failed = len(terminalreporter.stats.get("failed", []))
    terminalreporter.write_line(f"tests failed: {tests_failed}")
