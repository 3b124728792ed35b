"""The access log: one line per request, formatted and written in batches off the request path.

A request only appends a tuple to a list; a background thread formats what gathered and
writes it to stderr with one call, every FLUSH_SECONDS and when the process exits. Python's
logging per request (what the server's own access log does) costs as much as answering a
304 from memory. A worker killed outright loses at most its last FLUSH_SECONDS of lines.

Text lines read like gunicorn's: `address "request line" status bytes duration "user agent"`.
With FEEDSVC_LOG_FORMAT=json each line is the JSON object the rest of the log uses
(feedsvc/logs.py), the same line as its message.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from flask import Flask

from feedsvc.web.periodic import Periodic

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Entry = tuple[float, str, str, str, str, int, str, float, str]

FLUSH_SECONDS = 0.25
LOGGER = "feedsvc.access"


def _safe(value: str) -> str:
    """The value with quotes, backslashes and control characters escaped: a user agent or a
    path can forge neither a second field nor a second line."""
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return value  # nearly always: no copy
    return value.encode("unicode_escape").decode("ascii").replace('"', '\\"')


def _line(entry: Entry) -> str:
    _when, addr, method, target, protocol, status, size, took, agent = entry
    return (
        f'{addr} "{method} {_safe(target)} {protocol}" {status} {size} {took * 1000:.1f}ms'
        f' "{_safe(agent)}"'
    )


class Lines:
    """Formatted lines by entry, less its time: readers poll the same feed from the same
    address with the same agent, and the fast path's lines carry no duration, so most lines
    are a lookup. Bounded: emptied whole when full."""

    MAX = 10_000

    def __init__(self, quoted: bool = False) -> None:
        self._known: dict[tuple[object, ...], str] = {}
        self._quoted = quoted

    def __call__(self, entry: Entry) -> str:
        """The line, or with quoted=True the line as a JSON string."""
        key = entry[1:]
        line = self._known.get(key)
        if line is None:
            if len(self._known) >= self.MAX:
                self._known.clear()
            line = _line(entry)
            if self._quoted:
                line = json.dumps(line, ensure_ascii=False)
            self._known[key] = line
        return line


def format_text(entries: list[Entry], lines: Callable[[Entry], str] = _line) -> str:
    return "".join([lines(e) + "\n" for e in entries])


def _quoted(entry: Entry) -> str:
    return json.dumps(_line(entry), ensure_ascii=False)


def format_json(entries: list[Entry], lines: Callable[[Entry], str] = _quoted) -> str:
    """The JSON object feedsvc/logs.py writes, built as text: `lines` gives each message as
    a JSON string (Lines(quoted=True): once per distinct line); the time is formatted once
    per millisecond."""
    head = '{"time": "'
    tail = f'", "level": "info", "logger": "{LOGGER}", "message": '
    end = f', "pid": {os.getpid()}}}\n'
    out = []
    last_ms, stamp = -1, ""
    for e in entries:
        ms = int(e[0] * 1000)
        if ms != last_ms:
            last_ms = ms
            stamp = datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
        out.append(head + stamp + tail + lines(e) + end)
    return "".join(out)


class Stream(Protocol):
    def write(self, text: str, /) -> int: ...
    def flush(self) -> None: ...


class _AppendOnly:
    """A file every worker appends to: each flush is one write(2) with O_APPEND, so the
    workers' batches never overwrite or split each other's lines."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)

    def flush(self) -> None:
        pass  # nothing buffered

    def write(self, text: str, /) -> int:
        data = text.encode("utf-8")
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        return len(text)


class RequestLog:
    """Gathers entries; `flush` writes them. One per process."""

    def __init__(self, json_lines: bool, stream: Stream | None = None) -> None:
        # A deque: appends and pops are atomic, so no entry added during a flush is lost.
        self.entries: deque[Entry] = deque()
        self.format = format_json if json_lines else format_text
        self.lines = Lines(quoted=json_lines)
        self.stream = stream
        self._lock = threading.Lock()  # one flush at a time, so lines keep their order
        self._flusher = Periodic("access-log", FLUSH_SECONDS, self.flush)

    def add(self, entry: Entry) -> None:
        self.entries.append(entry)
        if not self._flusher.started:
            self._flusher.start()

    def flush(self) -> None:
        with self._lock:
            entries = self.entries
            batch = [entries.popleft() for _ in range(len(entries))]
            if not batch:
                return
            stream = self.stream or sys.stderr
            try:
                stream.write(self.format(batch, self.lines))
                stream.flush()
            except (OSError, ValueError):
                pass  # stderr closed at exit: nothing left to tell


class AccessLog:
    """WSGI middleware for what Flask answers; inside ProxyFix, so it logs the client's
    address ProxyFix settled on."""

    def __init__(self, app: WSGIApp, log: RequestLog) -> None:
        self.app = app
        self.log = log

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        started = time.time()
        clock = time.perf_counter()
        answer: list[Any] = [0, "-"]

        def recording(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            answer[0] = int(status[:3])
            for name, value in headers:
                if name == "Content-Length":
                    answer[1] = value
                    break
            return start_response(status, headers, *exc)

        try:
            return self.app(environ, recording)
        finally:
            query = environ.get("QUERY_STRING")
            path = environ.get("PATH_INFO", "")
            self.log.add(
                (
                    started,
                    environ.get("REMOTE_ADDR", "-"),
                    environ.get("REQUEST_METHOD", "-"),
                    f"{path}?{query}" if query else path,
                    environ.get("SERVER_PROTOCOL", "-"),
                    answer[0] or 500,
                    answer[1],
                    time.perf_counter() - clock,
                    environ.get("HTTP_USER_AGENT", "-"),
                )
            )


def install(app: Flask, environ: Mapping[str, str]) -> None:
    """Turn the access log on for a served app when FEEDSVC_ACCESS_LOG asks: "-" for stderr,
    else the path of a file to append to. Off by default: its cost per poll is a tenth of a
    304's (README, Performance), and behind nginx nginx's own log is the record. The fast path
    (web/fastpath.py) logs its own answers; AccessLog wraps what it hands on to Flask."""
    target = environ.get("FEEDSVC_ACCESS_LOG", "")
    if not target:
        return
    log = RequestLog(
        json_lines=app.config["LOG_FORMAT"] == "json",
        stream=None if target == "-" else _AppendOnly(target),
    )
    fast = app.extensions["feedsvc.fastpath"]
    fast.app = AccessLog(fast.app, log)
    fast.log = log.add
