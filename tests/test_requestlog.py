"""The access log (web/requestlog.py): one line a request, in order, fields that cannot be
forged, the status and size the client got, 500 for an app that raised."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from feedsvc.web.requestlog import AccessLog, Lines, RequestLog, format_json, format_text


def _app(status: str, headers: list[tuple[str, str]], body: bytes) -> Any:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response(status, headers)
        return [body]

    return app


def _environ(path: str = "/rss.xml", query: str = "", agent: str = "Reader/1") -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "198.51.100.7",
        "HTTP_USER_AGENT": agent,
    }


def _lines(log: RequestLog, stream: io.StringIO) -> list[str]:
    log.flush()
    return stream.getvalue().splitlines()


def test_a_line_holds_address_request_status_size_and_agent() -> None:
    stream = io.StringIO()
    log = RequestLog(json_lines=False, stream=stream)
    app = AccessLog(_app("200 OK", [("Content-Length", "5")], b"hello"), log)
    assert list(app(_environ(query="a=1"), lambda *a: None)) == [b"hello"]
    app2 = AccessLog(_app("304 Not Modified", [("ETag", '"x"')], b""), log)
    list(app2(_environ("/atom.xml"), lambda *a: None))
    first, second = _lines(log, stream)
    assert first.startswith('198.51.100.7 "GET /rss.xml?a=1 HTTP/1.1" 200 5 ')
    assert first.endswith('ms "Reader/1"')
    assert second.startswith('198.51.100.7 "GET /atom.xml HTTP/1.1" 304 - ')


@pytest.mark.parametrize(
    "agent",
    ['evil" 200 0 0.0ms "x', "line\nbreak", "back\\slash", "tab\there", "\x00nul", "ünï"],
)
def test_what_a_client_sends_cannot_forge_a_field_or_a_line(agent: str) -> None:
    stream = io.StringIO()
    log = RequestLog(json_lines=False, stream=stream)
    list(AccessLog(_app("200 OK", [], b""), log)(_environ(path='/a"\n', agent=agent), print))
    (line,) = _lines(log, stream)
    # Unescaped, the line has exactly four quote marks: two fields.
    assert line.replace("\\\\", "").replace('\\"', "").count('"') == 4, line
    assert line.isprintable()


def test_an_app_that_raises_is_logged_as_500() -> None:
    def broken(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        raise RuntimeError("boom")

    stream = io.StringIO()
    log = RequestLog(json_lines=False, stream=stream)
    with pytest.raises(RuntimeError):
        AccessLog(broken, log)(_environ(), print)
    (line,) = _lines(log, stream)
    assert ' "GET /rss.xml HTTP/1.1" 500 - ' in line


def test_json_lines_match_the_rest_of_the_log() -> None:
    stream = io.StringIO()
    log = RequestLog(json_lines=True, stream=stream)
    list(AccessLog(_app("200 OK", [("Content-Length", "2")], b"ok"), log)(_environ(), print))
    (line,) = _lines(log, stream)
    entry = json.loads(line)
    assert {"time", "level", "logger", "message", "pid"} <= set(entry)
    assert entry["message"].startswith('198.51.100.7 "GET /rss.xml HTTP/1.1" 200 2 ')


def test_lines_keep_the_order_of_the_requests() -> None:
    stream = io.StringIO()
    log = RequestLog(json_lines=False, stream=stream)
    app = AccessLog(_app("200 OK", [], b""), log)
    for n in range(300):
        list(app(_environ(f"/p{n}"), print))
        if n % 97 == 0:
            log.flush()
    lines = _lines(log, stream)
    assert [line.split()[2] for line in lines] == [f"/p{n}" for n in range(300)]


def test_remembered_lines_are_the_lines_formatted_afresh() -> None:
    """Lines caches by entry less its time: the output must not change, JSON time included."""
    entries = [
        (1_800_000_000.0 + n * 0.0004, "192.0.2.1", "GET", "/rss.xml", "HTTP/1.1", 304, "-", 0.0, a)
        for n in range(40)
        for a in ("Feedly/1.0", 'Odd "agent"\n', "NetNewsWire (RSS Reader)")
    ]
    assert format_text(entries, Lines()) == format_text(entries)
    assert format_json(entries, Lines(quoted=True)) == format_json(entries)
    decoded = [json.loads(line) for line in format_json(entries).splitlines()]
    assert decoded[0]["time"] == "2027-01-15T08:00:00.000+00:00"
    assert decoded[-1]["time"] == "2027-01-15T08:00:00.015+00:00"  # 39 × 0.4 ms
    assert decoded[4]["message"].endswith('"Odd \\"agent\\"\\n"')
