"""Polite polling: a client refetching one feed unconditionally too often is answered 429.

Readers that send If-None-Match or If-Modified-Since are never refused and never counted:
their polls cost a 304 and a few hundred bytes. A client that fetches the same feed without
them more often than once per POLL_MIN_INTERVAL seconds, once POLL_BURST such fetches are
spent, gets 429 Too Many Requests with Retry-After (RFC 6585 §4, RFC 9110 §10.2.3) until its
budget allows one again. The fast path (fastpath.py) and Flask's feed routes (public.py) ask
the same limiter, so a poll is counted once whichever of them answers it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from flask import Flask
from werkzeug.wrappers import Response

Headers = list[tuple[str, str]]


def _nothing(*_args: object) -> None:
    return None


class PollLimiter:
    """Unconditional fetches per (client address, document path), counted by GCRA.

    GCRA (the generic cell rate algorithm, ITU-T I.371; a token bucket in one number) keeps
    per key only the "theoretical arrival time" (TAT): when the key's budget is full again. A
    fetch moves it one interval on from max(TAT, now); it is refused when that would put the
    TAT more than burst intervals ahead of now. So `burst` fetches pass back to back, then one
    per interval, and a refusal tells exactly when the next fetch will pass. A refused fetch
    does not move the TAT: hammering does not push the wait further out.

    Memory is bounded whatever the traffic: keys live in two dicts, the current and the
    previous generation, each of at most MAX_TRACKED / 2 keys. When the current one is full
    it becomes the previous one and the old previous one is dropped whole (O(1), no scan).
    Forgetting a key only hands its client a fresh burst, never refuses anyone; a key seen
    again is carried into the current generation, so a client that keeps polling is kept
    across MAX_TRACKED / 2 new (client, feed) pairs at the least. Keys are the 64-bit hash of
    (address, path): str hashing is keyed per process (SipHash), so nobody can aim for a
    collision, and a chance one (about 1 in 10⁹ at the cap) only makes two clients share a
    budget. A key costs about 110 bytes (an int, a float and the dict slot), so the cap is
    about 11 MB per worker (tests/test_polling.py measures it).

    No lock: under the GIL each dict read and write is atomic, and two threads racing on one
    key can at worst count one fetch less. Counted per worker: behind gunicorn's W workers a
    client reaching several of them (new connections) may get up to W times the budget.
    """

    MAX_TRACKED = 100_000
    # The tracked-keys gauge is written every this many new keys (and at every rotation),
    # not on each: under multiprocess metrics a write is a file write.
    REPORT_EVERY = 256

    def __init__(
        self,
        interval: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        refused: Callable[[], None] = _nothing,
        tracked: Callable[[int], None] = _nothing,
        max_tracked: int | None = None,
    ) -> None:
        if interval <= 0 or burst < 1:
            raise ValueError("a poll limit needs an interval above 0 and a burst of 1 or more")
        self._interval = interval
        # A microsecond of slack: the TAT is a sum of float intervals, and the burst-th fetch
        # must not be refused for a rounding error in the last bit.
        self._tolerance = interval * burst + 1e-6
        self._clock = clock
        self._refused = refused
        self._tracked = tracked
        self._half = max(1, (self.MAX_TRACKED if max_tracked is None else max_tracked) // 2)
        self._current: dict[int, float] = {}
        self._previous: dict[int, float] = {}

    def wait(
        self, address: str, path: str, if_none_match: str | None, if_modified_since: str | None
    ) -> float:
        """0 when this fetch may be answered; else the seconds until one will be (> 0).

        Conditional fetches (either validator present, RFC 9110 §13.1) always pass and are not
        counted: they neither spend the budget nor refill it (a refill would let a client
        reset its budget with one cheap 304 between every two full downloads).
        """
        if if_none_match or if_modified_since:
            return 0.0
        key = hash((address, path))
        now = self._clock()
        current = self._current
        seen = current.get(key)
        new_key = seen is None
        if new_key:
            seen = self._previous.get(key)
        tat = (seen if seen is not None and seen > now else now) + self._interval
        if tat - now > self._tolerance:
            if new_key and seen is not None:
                current[key] = seen  # keep a refused client in view across the rotation
            self._refused()
            return tat - self._tolerance - now
        current[key] = tat
        if new_key:
            size = len(current)
            if size >= self._half:
                self._rotate()
            elif size % self.REPORT_EVERY == 0:
                self._tracked(size + len(self._previous))
        return 0.0

    def __len__(self) -> int:
        """Keys held (a key carried into the current generation is counted in both)."""
        return len(self._current) + len(self._previous)

    def _rotate(self) -> None:
        self._previous = self._current
        self._current = {}
        self._tracked(len(self._previous))


def retry_after(wait: float) -> int:
    """Whole seconds (RFC 9110 §10.2.3: delay-seconds), rounded up: a client that waits that
    long is let through."""
    return max(1, math.ceil(wait))


def refusal(wait: float) -> tuple[str, Headers, bytes]:
    """The 429 answer as a WSGI status line, headers and body."""
    seconds = retry_after(wait)
    body = (
        "Too many requests for this feed without If-None-Match or If-Modified-Since.\n"
        f"Try again in {seconds} seconds, and send the ETag or Last-Modified the feed came "
        "with: a poll that does is never refused.\n"
    ).encode()
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Retry-After", str(seconds)),
        # RFC 6585 §4 already forbids storing a 429; said again for caches that do not know it.
        ("Cache-Control", "no-store"),
    ]
    return "429 Too Many Requests", headers, body


def refusal_response(wait: float) -> Response:
    _status, headers, body = refusal(wait)
    return Response(body, status=429, headers=headers)


def init_app(
    app: Flask, *, refused: Callable[[], None], tracked: Callable[[int], None]
) -> PollLimiter | None:
    """The worker's limiter, or None when POLL_MIN_INTERVAL is 0 (off: nothing is counted)."""
    interval = float(app.config["POLL_MIN_INTERVAL"])
    polls = None
    if interval > 0:
        polls = PollLimiter(
            interval, int(app.config["POLL_BURST"]), refused=refused, tracked=tracked
        )
    app.extensions["feedsvc.polls"] = polls
    return polls


def limiter(app: Flask) -> PollLimiter | None:
    polls: PollLimiter | None = app.extensions["feedsvc.polls"]
    return polls
