"""TRUSTED_PROXIES: whose X-Forwarded-For and X-Forwarded-Proto the app believes."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask, jsonify, request

from feedsvc.settings import SettingsError
from tests.support.app import make_app


def _echo_app(tmp_path: Path, **overrides: object) -> Flask:
    app = make_app(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path, **overrides)

    @app.route("/_whoami")
    def whoami() -> object:
        return jsonify(addr=request.remote_addr, scheme=request.scheme)

    return app


FORGED = {"X-Forwarded-For": "203.0.113.7, 198.51.100.9", "X-Forwarded-Proto": "https"}


def test_without_a_proxy_forwarded_headers_are_ignored(tmp_path: Path) -> None:
    client = _echo_app(tmp_path).test_client()
    body = client.get("/_whoami", headers=FORGED, environ_base={"REMOTE_ADDR": "192.0.2.1"}).json
    assert body == {"addr": "192.0.2.1", "scheme": "http"}


def test_one_proxy_believes_only_the_last_hop(tmp_path: Path) -> None:
    client = _echo_app(tmp_path, TRUSTED_PROXIES=1).test_client()
    # nginx appended 198.51.100.9 (the address it saw); 203.0.113.7 is the client's own claim.
    body = client.get("/_whoami", headers=FORGED, environ_base={"REMOTE_ADDR": "127.0.0.1"}).json
    assert body == {"addr": "198.51.100.9", "scheme": "https"}


def test_two_proxies_believe_two_hops(tmp_path: Path) -> None:
    client = _echo_app(tmp_path, TRUSTED_PROXIES=2).test_client()
    body = client.get("/_whoami", headers=FORGED, environ_base={"REMOTE_ADDR": "127.0.0.1"}).json
    assert body["addr"] == "203.0.113.7"


@pytest.mark.parametrize("value", [-1, 6])
def test_out_of_range_is_refused_at_start(tmp_path: Path, value: int) -> None:
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES"):
        _echo_app(tmp_path, TRUSTED_PROXIES=value)
