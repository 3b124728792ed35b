"""Load soak: hundreds of readers poll every feed while editors post through the API.

webserver.py (granian, 2 workers, as `make run` starts it) and `flask run-scheduler`
at the shipped settings, on a fresh database with some articles already published. Readers
(readers.py) poll the section and site feeds in all three formats, conditional or not, gzip or
not, without pause; editors post articles through the JSON API at random intervals. Figures:
requests, errors (every 5xx, broken connection, short or unparsable body, two bodies for one
ETag; must be 0), latency p50/p99, throughput, and freshness: from the API's 201 to the first
reader that has the article in a feed.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from devtools import procs
from devtools.soak import checks, readers, stack

WARM_UP = 1.0  # readers run alone this long before the first post
SEEN_TIMEOUT = 30.0  # after the last post: an article no reader saw by then is lost


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


@dataclass
class LoadResult:
    engine: str
    readers: int
    articles: int
    poll_limit: bool
    seconds: float = 0.0
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    conditional: int = 0
    gzip: int = 0
    reconnects: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    freshness: list[float] = field(default_factory=list)
    acknowledged: int = 0
    unseen: list[str] = field(default_factory=list)
    documents_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors and not self.unseen and self.acknowledged == self.articles


def _editors(
    site: stack.Site,
    port: int,
    result: LoadResult,
    count: int,
    on_ack: object,
    interval: tuple[float, float],
    seed: int,
) -> None:
    """`count` articles through the API, spread over threads; on_ack(guid, when) for each 201."""
    threads = max(1, min(count, 2))
    lock = threading.Lock()

    def post(k: int) -> None:
        rng = random.Random(seed + k)
        editor = stack.Editor(port, site.token)
        for n in range(k, count, threads):
            time.sleep(rng.uniform(*interval))
            section = site.sections[n % len(site.sections)]
            try:
                status, answer, answered = editor.post(
                    section.slug, f"Load soak {n:04d}", f"Article {n} of the load soak."
                )
            except OSError as exc:
                with lock:
                    result.errors.append(f"POST {n}: {type(exc).__name__}: {exc}")
                continue
            if status == 201 and "guid" in answer:
                with lock:
                    result.acknowledged += 1
                on_ack(str(answer["guid"]), answered)  # type: ignore[operator]
            else:
                with lock:
                    result.errors.append(f"POST {n}: {status} {answer}")
        editor.close()

    workers = [threading.Thread(target=post, args=(k,), daemon=True) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


async def _drive(
    site: stack.Site,
    port: int,
    result: LoadResult,
    tally: readers.Tally,
    interval: tuple[float, float],
    seed: int,
    think: float,
) -> float:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    paths = site.feed_paths()
    started = time.monotonic()
    tasks = [
        asyncio.create_task(readers.reader(port, paths, tally, stop, seed * 1000 + i, think))
        for i in range(result.readers)
    ]

    def on_ack(guid: str, when: float) -> None:
        loop.call_soon_threadsafe(tally.acked.__setitem__, guid, when)

    await asyncio.sleep(WARM_UP)
    await loop.run_in_executor(
        None, _editors, site, port, result, result.articles, on_ack, interval, seed
    )
    deadline = time.monotonic() + SEEN_TIMEOUT
    while tally.acked.keys() - tally.seen.keys() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.gather(*tasks)
    return time.monotonic() - started


def run(
    site: stack.Site,
    workdir: Path,
    *,
    readers_count: int,
    articles: int,
    seed: int,
    interval: tuple[float, float] = (0.1, 0.5),
    think: float = 0.0,
    poll_limit: bool = False,
    background: int = 60,
) -> LoadResult:
    """The load soak on a prepared site; every process it starts is stopped before it returns."""
    result = LoadResult(site.engine, readers_count, articles, poll_limit)
    stack.add_articles(site, background)
    port = procs.free_port()
    # No access log: a line per poll would cost the server more than the poll (behind nginx
    # it is off too). Without the polling limit unless asked: every reader here is 127.0.0.1,
    # where in the field each has an address of its own.
    web_env = {"FEEDSVC_ACCESS_LOG": ""}
    if not poll_limit:
        web_env["FEEDSVC_POLL_MIN_INTERVAL"] = "0"
    tally = readers.Tally()
    with (
        procs.serving(stack.web(site, port, workdir / "web.log", web_env), port, "/healthz") as web,
        stack.scheduler(site, workdir / "scheduler.log", {}) as sched,
    ):
        procs.wait_for(
            "every feed rendered",
            lambda: not checks.verify_site(site, port, None, []),
            timeout=120,
            every=0.2,
        )
        result.seconds = asyncio.run(_drive(site, port, result, tally, interval, seed, think))
        # After the run: every acknowledged article a row, every feed complete and current.
        acked = list(tally.acked)
        try:
            procs.wait_for(
                "the feeds to settle",
                lambda: not checks.verify_site(site, port, None, acked),
                timeout=30,
                every=0.2,
            )
        except TimeoutError:
            result.errors += checks.verify_site(site, port, None, acked)
        sched.stop()
        web.stop()
        for proc in (web, sched):
            log = proc.output()
            if "Traceback" in log:
                result.errors.append(
                    "a Traceback in a log:\n" + log[log.index("Traceback") :][:1500]
                )
    result.documents_checked = readers.full_check(tally)
    result.requests = tally.requests
    result.statuses = tally.statuses
    result.conditional = tally.conditional
    result.gzip = tally.gzip
    result.reconnects = tally.reconnects
    result.errors += tally.errors
    result.latencies = tally.latencies
    result.freshness = [
        max(0.0, tally.seen[g] - t) for g, t in tally.acked.items() if g in tally.seen
    ]
    result.unseen = [g for g in tally.acked if g not in tally.seen]
    return result
