"""A small WebSub hub in its own process on loopback: records publish POSTs, can fail or hang.

Run as ``python -m tests.support.websubhub``: it prints its port and serves until stdin closes.
The hub endpoint is ``POST /``: a form-encoded ``hub.mode=publish`` with ``hub.topic`` or
``hub.url`` (an absolute http(s) URL) is answered 204, anything else 400, like the public
hubs. ``POST /control`` (JSON ``{"fail": N, "status": 503, "hang": true}``) makes the next N
notifications fail with that status, or every one hang until told otherwise; ``GET /received``
lists every notification that arrived, as JSON. HubProcess drives it from a test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[2]
# Straight to loopback, whatever proxy the environment names.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
HANG_MAX_SECONDS = 120.0


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[dict[str, Any]] = []
        self.fail = 0
        self.status = 503
        self.hang = False
        self.release = threading.Event()


STATE = _State()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _answer(self, status: int, body: bytes = b"", content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/received":
            with STATE.lock:
                body = json.dumps(STATE.received).encode()
            self._answer(200, body, "application/json")
        else:
            self._answer(404)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path == "/control":
            order = json.loads(raw)
            with STATE.lock:
                STATE.fail = int(order.get("fail", 0))
                STATE.status = int(order.get("status", 503))
                STATE.hang = bool(order.get("hang", False))
                if STATE.hang:
                    STATE.release.clear()
                else:
                    STATE.release.set()
            self._answer(204)
            return
        if urlsplit(self.path).path != "/":
            self._answer(404)
            return
        form = parse_qs(raw.decode("ascii", "replace"))
        topic = (form.get("hub.topic") or form.get("hub.url") or [""])[0]
        valid = (
            self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded")
            and form.get("hub.mode") == ["publish"]
            and urlsplit(topic).scheme in {"http", "https"}
            and bool(urlsplit(topic).netloc)
        )
        with STATE.lock:
            hang, failing = STATE.hang, STATE.fail > 0
            if failing and not hang:
                STATE.fail -= 1
            status = 400 if not valid else STATE.status if failing else 204
            STATE.received.append(
                {
                    "topic": topic,
                    "form": form,
                    "user_agent": self.headers.get("User-Agent", ""),
                    "at": time.time(),
                    "status": 0 if hang else status,  # 0: held, never answered
                }
            )
        if hang:
            STATE.release.wait(HANG_MAX_SECONDS)
            self.close_connection = True
            return
        self._answer(status)


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()  # until the test closes the pipe (or dies)
    STATE.release.set()


class HubProcess:
    """The hub above, started as a child process; stopped by stop()."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.websubhub"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        port = self.process.stdout.readline().strip()
        assert port.isdigit(), f"the hub did not start: {port!r}"
        self.base = f"http://127.0.0.1:{port}"
        self.url = self.base + "/"  # the hub URL feeds name and notifications go to

    def control(self, *, fail: int = 0, status: int = 503, hang: bool = False) -> None:
        body = json.dumps({"fail": fail, "status": status, "hang": hang}).encode()
        request = urllib.request.Request(self.base + "/control", data=body, method="POST")
        with _DIRECT.open(request, timeout=5) as response:
            assert response.status == 204

    def received(self) -> list[dict[str, Any]]:
        with _DIRECT.open(self.base + "/received", timeout=5) as response:
            found: list[dict[str, Any]] = json.loads(response.read())
            return found

    def accepted(self) -> list[str]:
        """The topics of the notifications answered 204, in the order they arrived."""
        return [r["topic"] for r in self.received() if r["status"] == 204]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Every notification received, once there are at least count of them."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.received()
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


if __name__ == "__main__":
    main()
