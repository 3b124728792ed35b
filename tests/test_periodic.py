"""web/periodic.py: the flush thread behind the access log and the request counter."""

from __future__ import annotations

import itertools
import threading
import time

from feedsvc.web.periodic import Periodic


def test_it_flushes_on_its_interval_from_one_thread_however_often_started() -> None:
    calls: list[float] = []
    flusher = Periodic("periodic-test", 0.05, lambda: calls.append(time.monotonic()))
    assert not calls and not flusher.started  # nothing runs before the first start()
    starting = [threading.Thread(target=flusher.start) for _ in range(8)]
    for t in starting:
        t.start()
    for t in starting:
        t.join()
    deadline = time.monotonic() + 10
    while len(calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(calls) >= 3  # again and again, not once
    threads = [t for t in threading.enumerate() if t.name == "periodic-test"]
    assert len(threads) == 1 and threads[0].daemon
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert min(gaps) >= 0.045  # one thread: never two flushes at once
