"""deploy/nginx.conf in front of the app on a real WSGI server thread, serving the export."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

from devtools import nginx as nginx_tools
from devtools.procs import free_port
from feedsvc.publishing.export import export_root
from tests.support.nginx import require_nginx

TIMEOUT = 10.0


@dataclass
class Nginx:
    port: int
    base: str  # http://127.0.0.1:port
    seen: list[str]  # the path of each request that reached the app

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None
    ) -> tuple[http.client.HTTPResponse, bytes]:
        """One request on a fresh connection; identity encoding unless headers say otherwise."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            conn.request(method, path, headers={"Accept-Encoding": "identity", **(headers or {})})
            response = conn.getresponse()
            return response, response.read()
        finally:
            conn.close()


@contextmanager
def nginx_over_export(app: Flask, base: Any, **tokens: str) -> Iterator[Nginx]:
    """nginx (deploy/nginx.conf) with app's EXPORT_DIR as root and app upstream; both stopped
    after. tokens: template values beyond the local ones (e.g. **nginx_tools.POLL_OFF)."""
    require_nginx()
    root = export_root(app)
    assert root is not None, "the app needs an EXPORT_DIR"
    seen: list[str] = []

    def recording(environ: dict[str, Any], start_response: Any) -> Any:
        seen.append(environ["PATH_INFO"])
        return app(environ, start_response)

    upstream = make_server("127.0.0.1", 0, recording, threaded=True)
    thread = threading.Thread(target=upstream.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    port = free_port()
    values = nginx_tools.local_values(
        base,
        port,
        __EXPORT_DIR__=str(root),
        __UPSTREAM__=f"127.0.0.1:{upstream.server_port}",
        **tokens,
    )
    try:
        with nginx_tools.running(nginx_tools.render(values), base, port, timeout=TIMEOUT):
            yield Nginx(port, f"http://127.0.0.1:{port}", seen)
    finally:
        upstream.shutdown()
        upstream.server_close()
        thread.join(timeout=TIMEOUT)
