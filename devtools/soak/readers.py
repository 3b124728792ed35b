"""Feed readers on raw asyncio sockets: keep-alive, conditional or not, gzip or not, timed.

Hundreds of readers cost one thread: each is a task holding one HTTP/1.1 connection. Every
answer is checked as it comes: a 200's bytes must be the same as every other 200 carrying its
ETag (a new ETag's body is parsed at once and kept for the full check after the run), a 304
must answer a conditional request, a 429 is the polling limit (counted, not an error), and
anything else, a 5xx, a broken connection or a short body, is an error.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import random
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field

from devtools.soak import checks

TIMEOUT = 30.0
CONDITIONAL_SHARE = 0.6  # of requests that have validators to send (the rest: none)
GZIP_SHARE = 0.5


@dataclass
class Tally:
    """What every reader saw, shared by all of them (one thread: no locks needed)."""

    statuses: Counter[int] = field(default_factory=Counter)
    conditional: int = 0
    unconditional: int = 0
    gzip: int = 0
    reconnects: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    # (path, content-encoding, etag) → digest of the bytes; plain bodies for the full check
    digests: dict[tuple[str, str, str], bytes] = field(default_factory=dict)
    documents: dict[bytes, tuple[str, bytes]] = field(default_factory=dict)
    # guid → monotonic time the editor got 201; guid → when a reader first had it in a feed
    acked: dict[str, float] = field(default_factory=dict)
    seen: dict[str, float] = field(default_factory=dict)

    def error(self, text: str) -> None:
        if len(self.errors) < 10_000:
            self.errors.append(text)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())


class _Broken(Exception):
    """The connection failed; `early` when before any byte of the answer (safe to retry)."""

    def __init__(self, why: str, early: bool) -> None:
        super().__init__(why)
        self.early = early


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, dict[str, str], bytes]:
    writer.write(request)
    try:
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        partial = isinstance(exc, asyncio.IncompleteReadError) and bool(exc.partial)
        raise _Broken(f"{type(exc).__name__}: {exc}", early=not partial) from exc
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    try:
        if status == 304 or status < 200:
            body = b""
        elif "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:  # no trailer fields: the last chunk's CRLF ends the message
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await reader.readexactly(size + 2)
                if size == 0:
                    break
                chunks.append(chunk[:-2])
            body = b"".join(chunks)
        else:
            body = await reader.read()
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        raise _Broken(f"short body: {type(exc).__name__}: {exc}", early=False) from exc
    return status, headers, body


def _first_sight(tally: Tally, path: str, encoding: str, raw: bytes, now: float) -> None:
    """A body not seen before: inflate, parse, keep for the full check, look for new guids."""
    try:
        plain = gzip.decompress(raw) if encoding == "gzip" else raw
    except (OSError, EOFError, zlib.error) as exc:
        tally.error(f"{path}: gzip body does not inflate: {exc}")
        return
    why = checks.whole(path, plain)
    if why:
        tally.error(f"{path}: body does not parse: {why}")
        return
    key = hashlib.blake2b(plain, digest_size=16).digest()
    tally.documents.setdefault(key, (path, plain))
    for guid in tally.acked.keys() - tally.seen.keys():
        if guid.encode() in plain:
            tally.seen[guid] = now


def _check(
    tally: Tally, path: str, sent_validators: bool, answer: tuple[int, dict[str, str], bytes]
) -> None:
    status, headers, body = answer
    tally.statuses[status] += 1
    if status == 200:
        encoding = headers.get("content-encoding", "identity")
        key = (path, encoding, headers.get("etag", ""))
        digest = hashlib.blake2b(body, digest_size=16).digest()
        known = tally.digests.get(key)
        if known is None:
            tally.digests[key] = digest
            _first_sight(tally, path, encoding, body, time.monotonic())
        elif known != digest:
            tally.error(f"{path}: two different bodies under ETag {key[2]} ({encoding})")
    elif status == 304:
        if not sent_validators:
            tally.error(f"{path}: 304 to a request without validators")
    elif status != 429:  # 429: the polling limit, designed behaviour, counted apart
        tally.error(f"{path}: {status} {body[:120]!r}")


async def reader(
    port: int, paths: list[str], tally: Tally, stop: asyncio.Event, seed: int, think: float
) -> None:
    """One reader: polls random feeds on one keep-alive connection until stop is set."""
    rng = random.Random(seed)
    validators: dict[tuple[str, bool], tuple[str, str]] = {}
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    while not stop.is_set():
        path, gz = rng.choice(paths), rng.random() < GZIP_SHARE
        head = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "User-Agent: feedsvc-soak"]
        if gz:
            head.append("Accept-Encoding: gzip")
            tally.gzip += 1
        known = validators.get((path, gz))
        conditional = known is not None and rng.random() < CONDITIONAL_SHARE
        if conditional and known is not None:
            # Either validator alone, or both (If-None-Match then wins, RFC 9110 §13.2.2).
            pick = rng.randrange(3)
            if pick != 1 and known[0]:
                head.append(f"If-None-Match: {known[0]}")
            if pick != 0 and known[1]:
                head.append(f"If-Modified-Since: {known[1]}")
            tally.conditional += 1
        else:
            tally.unconditional += 1
        request = ("\r\n".join(head) + "\r\n\r\n").encode()
        started = time.perf_counter()
        answer = None
        for attempt in range(2):
            fresh = conn is None
            try:
                if conn is None:
                    conn = await asyncio.open_connection("127.0.0.1", port)
                answer = await asyncio.wait_for(_exchange(*conn, request), TIMEOUT)
                break
            except (_Broken, OSError, TimeoutError) as exc:
                if conn is not None:
                    conn[1].close()
                conn = None
                # A kept-alive connection the server closed as we reused it: retry once on a
                # new one (RFC 9112 §9.3.1 allows it for idempotent requests). Else an error.
                if isinstance(exc, _Broken) and exc.early and not fresh and attempt == 0:
                    tally.reconnects += 1
                    continue
                tally.error(f"{path}: connection error: {type(exc).__name__}: {exc}")
                break
        if answer is None:
            continue
        tally.latencies.append(time.perf_counter() - started)
        _check(tally, path, conditional, answer)
        status, headers, _ = answer
        if status == 200:
            validators[(path, gz)] = (headers.get("etag", ""), headers.get("last-modified", ""))
        if headers.get("connection", "").lower() == "close" and conn is not None:
            conn[1].close()
            conn = None
        if think:
            await asyncio.sleep(rng.uniform(0, 2 * think))
    if conn is not None:
        conn[1].close()


def full_check(tally: Tally) -> int:
    """Validate every distinct body readers got with the suite's strict checks; how many."""
    for path, plain in tally.documents.values():
        for problem in checks.problems_in_feed(path, plain, None):
            tally.error(f"a served body failed the full check: {problem}")
    return len(tally.documents)
