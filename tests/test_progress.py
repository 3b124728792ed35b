"""Long commands show progress: a bar on a terminal; one summary line in a pipe or a log.

The commands run in real processes, once with their output on a pseudo-terminal (what a person
at a shell sees) and once into pipes (cron, CI, `| tee`).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from devtools.procs import child_env, feedsvc_app, service_env
from feedsvc.settings import PROJECT_ROOT
from tests.support.env import SUBPROCESS_TIMEOUT
from tests.support.factories import STORY, make_article, make_section
from tests.support.published import publish
from tests.support.terminal import run_in_terminal

# A redraw of the bar: its label, count of total, rate and time left.
BAR = re.compile(r"Rebuilding every feed\s.*?\b(\d+)/(\d+)\s+[\d,]+ steps/s\s+\d+:\d\d:\d\d left")
SUMMARY = re.compile(r"Rebuilding every feed: [\d,]+ steps in \d+\.\d s \([\d,]+ steps/s\)")
# The command's own result line, which scripts read (tests/test_cli.py).
REBUILT = re.compile(r"Rendered 2 section\(s\) and the site-wide feeds; \d+ document\(s\) changed")


@pytest.fixture
def site(app: Flask) -> Flask:
    """Two sections, one past its feed's window (an open RFC 5005 archive page), an author,
    all published once, so the rebuild has every kind of step to count."""
    busy = make_section(app, "World News", items_per_feed=3)
    quiet = make_section(app, "Sport")
    for i in range(8):
        make_article(app, busy, f"Council story {i}", body=STORY, author="Ana Reporter")
    make_article(app, quiet, "Rovers win the cup", body=STORY)
    publish(app)
    return app


def rebuild_all(tmp_path: Path) -> list[str]:
    app = feedsvc_app(tmp_path / "child-instance")
    return [sys.executable, "-m", "flask", "--app", app, "rebuild-feeds", "--all"]


def test_rebuild_all_on_a_terminal_draws_a_bar_up_to_its_total(
    site: Flask, database_url: str, tmp_path: Path
) -> None:
    screen = run_in_terminal(
        rebuild_all(tmp_path),
        env=service_env(database_url),
        cwd=PROJECT_ROOT,
        timeout=SUBPROCESS_TIMEOUT,
    )

    assert screen.returncode == 0, screen.output
    draws = [(int(done), int(total)) for done, total in BAR.findall(screen.output)]
    assert draws, screen.output
    totals = {total for _done, total in draws}
    assert len(totals) == 1, draws  # known before the first step, never changed
    total = totals.pop()
    assert total > 9  # the nine articles alone are nine steps
    counts = [done for done, _total in draws]
    assert counts == sorted(counts), draws
    assert any(0 < done < total for done in counts), draws  # drawn while it worked
    assert counts[-1] == total, draws  # and the count it announced was right
    # Redrawn in place on one line (a carriage return before each), not a line per step.
    assert screen.output.count("\r\x1b[?25l") >= len(draws) > 1
    assert SUMMARY.search(screen.output), screen.output
    assert REBUILT.search(screen.output), screen.output


def test_rebuild_all_into_a_pipe_writes_one_summary_line(
    site: Flask, database_url: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        rebuild_all(tmp_path),
        cwd=PROJECT_ROOT,
        env=service_env(database_url),
        capture_output=True,
        encoding="utf-8",
        timeout=SUBPROCESS_TIMEOUT,
    )

    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stdout + done.stderr  # nothing redrawn
    assert "\x1b" not in done.stdout + done.stderr  # no terminal control codes in a log
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and SUMMARY.fullmatch(lines[0]), done.stderr
    assert REBUILT.search(done.stdout), done.stdout


# --- the benchmark's archive generator ----------------------------------------------------

GENERATE = (
    "import sys; from pathlib import Path; from bench.datasets import generate_archive; "
    "generate_archive(int(sys.argv[1]), Path(sys.argv[2]), log=lambda line: None)"
)
GENERATOR_BAR = re.compile(
    r"Generating the 200-article archive\s.*?\b(\d+)/(\d+)\s+[\d,]+ steps/s\s+\d+:\d\d:\d\d left"
)
GENERATOR_SUMMARY = re.compile(
    r"Generating the 200-article archive: [\d,]+ steps in \d+\.\d s \([\d,]+ steps/s\)"
)


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "pipe"])
def test_bench_archive_generation_shows_progress(tmp_path: Path, terminal: bool) -> None:
    args = [sys.executable, "-c", GENERATE, "200", str(tmp_path / "archive.sqlite3")]
    env = child_env()
    if terminal:
        screen = run_in_terminal(args, env=env, cwd=PROJECT_ROOT, timeout=SUBPROCESS_TIMEOUT)
        assert screen.returncode == 0, screen.output
        draws = [(int(d), int(t)) for d, t in GENERATOR_BAR.findall(screen.output)]
        assert any(0 < d < t for d, t in draws), screen.output
        assert draws[-1][0] == draws[-1][1], draws
        return
    done = subprocess.run(
        args, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT
    )
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and GENERATOR_SUMMARY.fullmatch(lines[0]), done.stderr
