"""Crash soak: SIGKILL the scheduler at random moments while an editor posts; lose nothing.

One web server (webserver.py, as `make run` starts it) and one `flask run-scheduler` with the
static export on, on a fresh database. An editor thread posts articles through the JSON API
without pause; an article counts as acknowledged when the API answered 201 with its id. Each
pass lets the scheduler run a random while (so the kill lands in a render, a store, an export
write or between passes; one pass in five kills the next scheduler again during its start-up),
kills it with SIGKILL, checks that no file under a final export name is partial, starts a new
scheduler, pauses the editor and waits for the site to settle: every acknowledged article a
row, every served feed strictly valid and carrying exactly the newest rows (its section's and
the site's, up to their item counts), every exported file the same bytes. A watcher reads the
whole export folder all along: no partial file under a final name, ever."""

from __future__ import annotations

import random
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from devtools import procs
from devtools.soak import checks, stack

# The scheduler at test speed: ticks of 0.3 s, a 2 s lease (the dead leader's lease must lapse
# before the new process leads), edits looked for every 0.2 s (the shipped default).
SCHEDULER_ENV = {**procs.QUICK}
STARTUP_KILL_SHARE = 0.2  # passes that also kill the new scheduler during its start-up
_SYNC = re.compile(r"static export .*: (\d+) written")


@dataclass
class CrashResult:
    engine: str
    passes: int = 0
    kills: int = 0
    acknowledged: int = 0
    post_failures: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    where: Counter[str] = field(default_factory=Counter)
    settle_seconds: list[float] = field(default_factory=list)
    export_scans: int = 0
    temp_files_left: int = 0
    leftovers: set[Path] = field(default_factory=set)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems and not self.post_failures


class _EditorThread(threading.Thread):
    """Posts without pause (round-robin over the sections) until stopped; pausable."""

    def __init__(self, port: int, site: stack.Site, seed: int) -> None:
        super().__init__(daemon=True)
        self.editor = stack.Editor(port, site.token)
        self.site = site
        self.rng = random.Random(seed)
        self.acked: list[str] = []
        self.failures: list[str] = []
        self.running = threading.Event()
        self.idle = threading.Event()
        self.stopped = False

    def run(self) -> None:
        n = 0
        while not self.stopped:
            if not self.running.is_set():
                self.idle.set()
                self.running.wait(0.1)
                continue
            self.idle.clear()
            section = self.site.sections[n % len(self.site.sections)]
            n += 1
            title = f"Crash soak {n:05d}"
            body = f"Article {n} of the crash soak.\n\n" + "Some words to render. " * 20
            try:
                status, answer, _ = self.editor.post(section.slug, title, body)
            except OSError as exc:
                self.failures.append(f"POST {title}: {type(exc).__name__}: {exc}")
                continue
            if status == 201 and "guid" in answer:
                self.acked.append(str(answer["guid"]))
            else:
                self.failures.append(f"POST {title}: {status} {answer}")
            time.sleep(self.rng.uniform(0, 0.03))
        self.editor.close()

    def pause(self) -> None:
        """Stop posting and wait for the post in flight to be answered."""
        self.running.clear()
        self.idle.wait(60)


class _ExportWatcher(threading.Thread):
    """Reads every final-name export file over and over; records any that is partial."""

    def __init__(self, root: Path) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.found: list[str] = []
        self.scans = 0
        self.stopped = False

    def run(self) -> None:
        while not self.stopped:
            for problem in checks.partial_exports(self.root):
                if problem not in self.found:
                    self.found.append(problem)
            self.scans += 1
            time.sleep(0.01)


def _settle(
    site: stack.Site, port: int, export: Path, acked: list[str], timeout: float
) -> tuple[list[str], float]:
    """Wait until verify_site finds nothing; the problems left at the timeout, and the wait."""
    start = time.monotonic()
    problems: list[str] = []
    while time.monotonic() - start < timeout:
        problems = checks.verify_site(site, port, export, acked)
        if not problems:
            break
        time.sleep(0.2)
    return problems, time.monotonic() - start


def _kill_point(log: str, new_temp_files: int) -> str:
    """Where a kill landed, from what it left: an interrupted export write leaves a temp file;
    a pass stored but not (wholly) exported makes the next start-up's sync write documents."""
    if new_temp_files:
        return "mid-export (an interrupted write left its temp file)"
    synced = _SYNC.search(log)
    if synced and int(synced.group(1)):
        return "after a store committed, before its export finished"
    return "before a store committed (render, queries, commit) or between passes"


def _kill(sched: procs.Proc, export: Path, what: str, result: CrashResult) -> int:
    """SIGKILL; then no final-name export file may be partial. Temp files it left behind."""
    sched.stop(signal.SIGKILL)
    result.kills += 1
    result.problems += [f"{what}: {p}" for p in checks.partial_exports(export)]
    # Any temp file there now was being written when the process died (the start-up sync
    # sweeps them only once a minute old, so earlier kills' leftovers are remembered).
    left = set(checks.temp_files(export)) - result.leftovers
    result.leftovers |= left
    return len(left)


def run(
    site: stack.Site,
    workdir: Path,
    *,
    passes: int,
    seed: int,
    min_delay: float = 0.3,
    max_delay: float = 2.5,
    settle_timeout: float = 60,
    background: int = 30,
    say: Callable[[str], None] | None = print,
) -> CrashResult:
    """The crash soak on a prepared site; every process it starts is stopped before it returns."""
    rng = random.Random(seed)
    result = CrashResult(site.engine)
    export = workdir / "export"
    export.mkdir()
    port = procs.free_port()
    web_env = {"FEEDSVC_POLL_MIN_INTERVAL": "0", "FEEDSVC_ACCESS_LOG": "", **SCHEDULER_ENV}
    sched_env = {**SCHEDULER_ENV, "FEEDSVC_EXPORT_DIR": str(export)}
    started = time.monotonic()
    stack.add_articles(site, background)
    editor = _EditorThread(port, site, seed)
    watcher = _ExportWatcher(export)
    web = stack.web(site, port, workdir / "web.log", web_env)
    sched: procs.Proc | None = None
    try:
        with procs.serving(web, port, "/healthz"):
            sched = stack.scheduler(site, workdir / "scheduler-00.log", sched_env)
            first, _ = _settle(site, port, export, [], settle_timeout)
            result.problems += [f"before any kill: {p}" for p in first]
            editor.start()
            watcher.start()
            for n in range(1, passes + 1):
                editor.running.set()
                time.sleep(rng.uniform(min_delay, max_delay))
                new_temps = _kill(sched, export, f"pass {n}, at the kill", result)
                sched = stack.scheduler(site, workdir / f"scheduler-{n:02d}.log", sched_env)
                if rng.random() < STARTUP_KILL_SHARE:
                    # Once more during the start-up (imports, the export's sync, a first pass).
                    time.sleep(rng.uniform(0.2, 2.0))
                    new_temps += _kill(sched, export, f"pass {n}, at the start-up kill", result)
                    result.where["during a start-up"] += 1
                    sched = stack.scheduler(site, workdir / f"scheduler-{n:02d}b.log", sched_env)
                editor.pause()
                problems, waited = _settle(site, port, export, editor.acked, settle_timeout)
                result.settle_seconds.append(waited)
                result.problems += [f"pass {n}, after the restart: {p}" for p in problems]
                result.where[_kill_point(sched.output(), new_temps)] += 1
                result.passes = n
                if say is not None:
                    say(
                        f"  pass {n}/{passes}: {len(editor.acked)} acknowledged, "
                        f"settled in {waited:.1f} s, {len(problems)} problem(s)"
                    )
            editor.pause()
            sched.stop()
            web.stop()
            logs = [web.output()] + [
                p.read_text(errors="replace") for p in sorted(workdir.glob("scheduler-*.log"))
            ]
            for log in logs:
                if "Traceback" in log:
                    tail = log[log.index("Traceback") :][:1500]
                    result.problems.append(f"a Traceback in a log:\n{tail}")
                    break
    finally:
        editor.stopped = watcher.stopped = True
        editor.running.set()
        if sched is not None:
            sched.stop(signal.SIGKILL)
        editor.join(30)
        watcher.join(30)
    result.acknowledged = len(editor.acked)
    result.post_failures = editor.failures
    result.problems += [f"export watcher: {p}" for p in watcher.found]
    result.export_scans = watcher.scans
    result.temp_files_left = len(checks.temp_files(export))
    result.seconds = time.monotonic() - started
    return result
