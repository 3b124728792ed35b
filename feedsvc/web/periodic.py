"""A worker's background flush: a function called every few seconds on a daemon thread."""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Callable


class Periodic:
    """Calls `flush` every `seconds` once `start()` has been called, and once more at exit.

    start() is meant for the first request, not for import or app creation: a server may
    fork its workers after creating the app, and a thread does not survive a fork. After
    the first call it costs one attribute test.
    """

    def __init__(self, name: str, seconds: float, flush: Callable[[], None]) -> None:
        self.name = name
        self.seconds = seconds
        self.flush = flush
        self.started = False
        self._lock = threading.Lock()

    def start(self) -> None:
        if self.started:
            return
        with self._lock:
            if self.started:
                return
            self.started = True
            threading.Thread(target=self._run, name=self.name, daemon=True).start()
            atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            time.sleep(self.seconds)
            self.flush()
