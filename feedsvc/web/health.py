"""/healthz: status and ages for anyone; the leader's host and pid and error text for a few.

A public health check is a reconnaissance aid when it names hosts, process ids or raw
exception text (which can quote SQL, file paths and driver versions). Anyone gets whether
the database answers and how long ago the scheduler last published; `?detail=1` adds who
holds the scheduler lease and the last error, but only for a request from this machine or
from a logged-in admin. Anyone else asking for detail gets the public answer, with the same
status code: a monitor pointed at `?detail=1` from outside keeps seeing health, not a 403 it
would page someone about.

With the database unreachable the answer is "degraded" with 200 while this worker holds feeds
it can still serve (a load balancer keeps it), and 503 only when it holds none; the database
is then asked at most once per DB_RETRY_SECONDS (web/outage.py), not on every check.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy import text
from werkzeug.wrappers import Response

from feedsvc.storage.db import get_session
from feedsvc.storage.models import RENDER_LEASE, SchedulerLease
from feedsvc.web import outage, websubmetrics
from feedsvc.web.documents import cache

bp = Blueprint("health", __name__)

# "This machine", as deploy/nginx.conf says it for /metrics (`allow 127.0.0.1`): the loopback
# addresses a local client connects from, not all of 127.0.0.0/8, so the two agree.
LOCAL_ADDRESSES = frozenset({ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")})
# Headers a reverse proxy adds (nginx: deploy/nginx.conf; RFC 7239 for Forwarded).
_FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


def is_local_address(address: str | None) -> bool:
    """127.0.0.1 or ::1 (also as ::ffff:127.0.0.1, which a dual-stack socket reports)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:  # empty (a unix socket), or not an address at all
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip in LOCAL_ADDRESSES


def local_request() -> bool:
    """Whether the client is this machine: its address (the real client's behind
    TRUSTED_PROXIES) is local, and it did not come through a proxy the app was not told of.

    With TRUSTED_PROXIES 0 and nginx in front anyway, every visitor would connect from
    127.0.0.1; nginx's forwarding headers show that, so such a request is not taken as local.
    """
    if not is_local_address(request.remote_addr):
        return False
    if int(current_app.config["TRUSTED_PROXIES"]) == 0:
        return not any(name in request.headers for name in _FORWARDING_HEADERS)
    return True


def may_see_detail() -> bool:
    """This machine, or a logged-in, enabled admin (g.user comes from auth.load_user)."""
    user = g.get("user")
    if user is not None and user.is_admin and user.is_active:
        return True
    return local_request()


def _wants_detail() -> bool:
    return request.args.get("detail", "").lower() in {"1", "true", "yes"}


def _answer(body: dict[str, Any], status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    # Live, and for some clients more detailed than for others: never stored anywhere.
    response.headers["Cache-Control"] = "no-store"
    return response


def _read_lease() -> SchedulerLease | None:
    session = get_session()
    session.execute(text("SELECT 1"))
    return session.get(SchedulerLease, RENDER_LEASE)


def _database_down(detail: bool, error: str | None) -> Response:
    """Degraded (200) while this worker holds feeds to serve, so a load balancer keeps it;
    unavailable (503) when it can serve nothing."""
    held = len(cache(current_app))
    down: dict[str, Any] = {
        "status": "degraded" if held else "unavailable",
        "database": "unreachable",
    }
    if detail:
        down["error"] = error
        seconds = outage.state().down_seconds
        if held and seconds is not None:
            down["documents_held"] = held
            down["down_seconds"] = round(seconds, 1)
    return _answer(down, 200 if held else 503)


@bp.route("/healthz")
def healthz() -> Response:
    """200 when the database answers (status ok, or degraded without a recent publishing
    pass) or when it does not but feeds are held (degraded); 503 when nothing can be served."""
    detail = _wants_detail() and may_see_detail()
    try:
        # While the database is known down this asks it at most once per DB_RETRY_SECONDS
        # (web/outage.py), so a load balancer's checks never queue on the connect timeout.
        lease = outage.state().attempt(_read_lease)
    except outage.Unavailable:
        return _database_down(detail, outage.state().last_error)
    except Exception as exc:  # any other database failure is "not ready", reported, not raised
        current_app.logger.warning("health check: database unreachable: %s", exc)
        return _database_down(detail, outage.one_line(exc))
    now = datetime.now(UTC)
    age: float | None = None
    if lease is not None and lease.last_success_at is not None:
        age = round((now - lease.last_success_at).total_seconds(), 1)
    stale_after = 3 * float(current_app.config["TICK_SECONDS"]) + float(
        current_app.config["LEASE_SECONDS"]
    )
    ok = age is not None and age <= stale_after
    scheduler: dict[str, Any] = {"ok": ok, "age_seconds": age}
    if detail:
        alive = lease is not None and lease.expires_at is not None and lease.expires_at > now
        scheduler["leader"] = lease.holder if lease is not None and alive else None
        scheduler["last_success"] = (
            lease.last_success_at.isoformat()
            if lease is not None and lease.last_success_at is not None
            else None
        )
        scheduler["last_error"] = (lease.last_error or None) if lease is not None else None
    # 200 either way: this instance can serve (the last good feeds) without a scheduler, so a
    # load balancer must not pull it; monitors alert on "degraded" / scheduler.ok instead.
    export_ok, export = export_health(lease, now, stale_after)
    status = "ok" if ok and export_ok else "degraded"
    body = {"status": status, "database": "ok", "scheduler": scheduler}
    if detail:
        body["export"] = export
        body["websub"] = websubmetrics.detail(lease)  # hub notifications: figures only
    return _answer(body, 200)


def export_health(
    lease: SchedulerLease | None, now: datetime, stale_after: float
) -> tuple[bool, dict[str, Any]]:
    """Whether the static export keeps up, and its figures for ?detail=1.

    Behind for longer than stale_after (the scheduler's own bound: a few ticks and a lease)
    means files have failed more than one retry: "degraded" with 200, since the app still
    serves every feed from the database; nginx serving the export may be serving old files.
    """
    since = lease.export_behind_since if lease is not None else None
    behind = round((now - since).total_seconds(), 1) if since is not None else None
    ok = behind is None or behind <= stale_after
    return ok, {
        "ok": ok,
        "behind_seconds": behind,
        "behind_since": since.isoformat() if since is not None else None,
        "failures_total": lease.export_failures_total if lease is not None else 0,
        "last_error": (lease.last_export_error or None) if lease is not None else None,
    }
