"""Attachments' type and length: one bounded HEAD request each, to public addresses only."""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import ipaddress
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urljoin, urlsplit

from flask import Flask
from sqlalchemy import delete, select, update

from feedsvc import tombstones
from feedsvc.articles import feeds_changed
from feedsvc.content.text import ContentError
from feedsvc.limits import ATTACHMENT_LENGTH_MAX
from feedsvc.media import MEDIA_TYPE, OCTET_STREAM, clean_url
from feedsvc.storage.db import transaction
from feedsvc.storage.media import MediaProbe
from feedsvc.storage.models import Article, utcnow

log = logging.getLogger(__name__)

MAX_REDIRECTS = 3
# A probe that failed for a reason that may pass (a timeout, a 503) is tried this many times,
# RETRY_SECONDS apart and twice as long each time; then the attachment is given 0 bytes.
MAX_ATTEMPTS = 3
RETRY_SECONDS = 60.0
# Probes one run takes at most: the queue drains over several runs, and a run stays short.
BATCH = 20
_REDIRECTS = {301, 302, 303, 307, 308}
_RETRY_STATUSES = {408, 429, 500, 502, 503, 504}
_DIGITS = re.compile(r"\A[0-9]{1,16}\Z")
# Resolving a name has no timeout of its own (getaddrinfo): it runs here, and is waited for
# only as long as the probe may last. Two workers: a stuck resolver cannot pile up threads.
_RESOLVER = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="probe-dns")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """The probe will not be made (or followed): a private address, a bad redirect."""


class _Unreachable(OSError):
    """No connection to one address: the next address of the same name may answer."""


class Failed(Exception):
    """The probe did not get an answer it can use; `retry` when trying later may help."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True)
class Found:
    """What a HEAD answer says of the file; None where it says nothing usable."""

    length: int | None
    media_type: str | None


def refusal(ip: IPAddress) -> str:
    """Why a connection to `ip` is refused ("" if it is a public address).

    IPv4-mapped, 6to4 and Teredo IPv6 addresses carry an IPv4 one, checked as such: "::ffff:
    127.0.0.1" is the loopback. Anything not globally reachable (RFC 6890's registries, as
    ipaddress reads them) is refused: an editor must not make the scheduler reach inside.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # a dual-stack socket reaches the IPv4 address itself
            return refusal(ip.ipv4_mapped)
        teredo = ip.teredo
        for inner in (ip.sixtofour, teredo[1] if teredo else None):
            if inner is not None and refusal(inner):
                return f"{refusal(inner)} (inside {ip})"
        if ip.is_site_local:
            return "a site-local address"
    for attribute, what in (
        ("is_loopback", "a loopback address"),
        ("is_private", "a private address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_reserved", "a reserved address"),
        ("is_unspecified", "the unspecified address"),
    ):
        if getattr(ip, attribute):
            return what
    return "" if ip.is_global else "not a public address"


def _resolve(host: str, port: int, seconds: float) -> list[IPAddress]:
    """Every address `host` has, within `seconds` (Failed otherwise)."""
    try:
        literal: IPAddress = ipaddress.ip_address(host)
        return [literal]
    except ValueError:
        pass
    future = _RESOLVER.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=max(seconds, 0.001))
    except concurrent.futures.TimeoutError:
        raise Failed(f"resolving {host} took too long", retry=True) from None
    except (OSError, UnicodeError) as exc:
        raise Failed(f"{host} does not resolve: {exc}", retry=True) from None
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, address in infos:
        ip = ipaddress.ip_address(str(address[0]).split("%", 1)[0])
        if ip not in found:
            found.append(ip)
    if not found:
        raise Failed(f"{host} has no address", retry=True)
    return found


class _PinnedConnection(http.client.HTTPConnection):
    """HTTP(S) to one address already checked, naming the host in Host and in TLS (SNI and
    certificate check): the name is not resolved again, so it cannot resolve elsewhere now."""

    def __init__(self, host: str, port: int, ip: IPAddress, *, tls: bool, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._ip = ip
        self._tls = tls
        self.raw: socket.socket | None = None

    def connect(self) -> None:
        sock = socket.create_connection((str(self._ip), self.port), timeout=self.timeout)
        self.raw = sock
        if self._tls:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
        self.sock = sock


def _head(url: str, ip: IPAddress, deadline: float) -> tuple[int, http.client.HTTPMessage]:
    """One HEAD request to `ip` for `url`; the answer's status and headers. No body is read."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise Failed("no time left", retry=True)
    conn = _PinnedConnection(
        parts.hostname or "", port, ip, tls=parts.scheme == "https", timeout=remaining
    )

    def cut() -> None:  # a server trickling bytes cannot stretch the probe past its deadline
        if conn.raw is not None:
            with contextlib.suppress(OSError):
                conn.raw.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(remaining, cut)
    watchdog.daemon = True
    watchdog.start()
    try:
        try:
            conn.connect()
        except OSError as exc:
            raise _Unreachable(str(exc)) from None
        conn.request(
            "HEAD", target, headers={"User-Agent": "feedsvc (enclosure check)", "Accept": "*/*"}
        )
        response = conn.getresponse()  # HEAD: http.client expects and reads no body
        return response.status, response.headers
    except _Unreachable:
        raise
    except (OSError, http.client.HTTPException) as exc:
        raise Failed(f"{url}: {exc or type(exc).__name__}", retry=True) from None
    finally:
        watchdog.cancel()
        conn.close()
        if conn.raw is not None:  # also when TLS failed before http.client had the socket
            conn.raw.close()


def _head_any(
    url: str, addresses: list[IPAddress], deadline: float
) -> tuple[int, http.client.HTTPMessage]:
    """_head on the name's addresses in turn (all checked), until one takes the connection."""
    error = ""
    for ip in addresses:
        try:
            return _head(url, ip, deadline)
        except _Unreachable as exc:
            error = str(exc)
    raise Failed(f"{url}: no connection ({error})", retry=True)


def probe(url: str, *, timeout: float, allow_private: bool = False) -> Found:
    """HEAD `url` (following up to MAX_REDIRECTS redirects, each checked like the first) and
    read Content-Length and Content-Type. The whole probe lasts at most `timeout` seconds.

    Raises Refused (a non-public address without allow_private, a redirect elsewhere than
    http(s), too many redirects) or Failed.
    """
    deadline = time.monotonic() + timeout
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            url = clean_url(url, "The address")
        except ContentError as exc:
            raise Refused(str(exc)) from None
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = _resolve(host, port, deadline - time.monotonic())
        if not allow_private:
            for ip in addresses:
                reason = refusal(ip)
                if reason:
                    raise Refused(f"{host} is {reason} ({ip})")
        status, headers = _head_any(url, addresses, deadline)
        if status in _REDIRECTS and headers.get("Location"):
            url = urljoin(url, headers["Location"])
            continue
        if status in _RETRY_STATUSES:
            raise Failed(f"{url} answered {status}", retry=True)
        if not 200 <= status < 300:
            raise Failed(f"{url} answered {status}", retry=False)
        return Found(_length(headers.get("Content-Length")), _type(headers.get("Content-Type")))
    raise Refused(f"more than {MAX_REDIRECTS} redirects")


def _length(value: str | None) -> int | None:
    text = (value or "").strip()
    if _DIGITS.fullmatch(text) and int(text) <= ATTACHMENT_LENGTH_MAX:
        return int(text)
    return None


def _type(value: str | None) -> str | None:
    media_type = (value or "").split(";", 1)[0].strip().lower()
    return media_type if MEDIA_TYPE.fullmatch(media_type) else None


def _store(app: Flask, article_id: int, url: str, found: Found) -> None:
    """Fill in what the article still lacks, if it still has this attachment; mark its feeds."""
    with transaction(app) as s:
        article = s.get(Article, article_id)
        if article is None or article.attachment_url != url:
            return  # deleted, or given another file meanwhile: that save queued it again
        changed = False
        if article.attachment_length is None:
            article.attachment_length = found.length if found.length is not None else 0
            changed = True
        if not article.attachment_type:
            article.attachment_type = found.media_type or OCTET_STREAM
            changed = True
        s.execute(delete(MediaProbe).where(MediaProbe.article_id == article_id))
        if changed:
            s.flush()
            # Shown where it was shown: an enclosure's length moves no entry in or out.
            feeds_changed(s, article, shown_before=tombstones.shown_in(article))


def _retry_later(app: Flask, article_id: int, attempts: int, now: datetime) -> None:
    pause = timedelta(seconds=RETRY_SECONDS * 2 ** (attempts - 1))
    with transaction(app) as s:
        s.execute(
            update(MediaProbe)
            .where(MediaProbe.article_id == article_id)
            .values(attempts=attempts, due_at=now + pause)
        )


def run_probes(app: Flask, *, budget_seconds: float, now: datetime | None = None) -> int:
    """Probe the attachments that are due, until the batch or the time budget is used up.

    A probe starts only while the budget lasts, and each is bounded by MEDIA_PROBE_TIMEOUT.
    Returns how many were stored (found, or given up on). Never raises for one probe.
    """
    config = app.config
    timeout = float(config["MEDIA_PROBE_TIMEOUT"])
    allow_private = bool(config["MEDIA_PROBE_ALLOW_PRIVATE"])
    stop = time.monotonic() + budget_seconds
    now = now or utcnow()
    with transaction(app, write=False) as s:
        due = s.execute(
            select(MediaProbe.article_id, MediaProbe.attempts, Article.attachment_url)
            .join(Article, Article.id == MediaProbe.article_id)
            .where(MediaProbe.due_at <= now)
            .order_by(MediaProbe.due_at, MediaProbe.article_id)
            .limit(BATCH)
        ).all()
    stored = 0
    for article_id, attempts, url in due:
        if time.monotonic() >= stop:
            break
        try:
            found = probe(url, timeout=timeout, allow_private=allow_private)
            log.info("attachment of article %s: %s bytes, %s", article_id, *_shown(found))
        except Refused as exc:
            log.warning("attachment of article %s not checked: %s", article_id, exc)
            found = Found(None, None)
        except Failed as exc:
            if exc.retry and attempts + 1 < MAX_ATTEMPTS:
                log.info("attachment of article %s: %s; tried again later", article_id, exc)
                _retry_later(app, article_id, attempts + 1, now)
                continue
            log.warning("attachment of article %s: %s; length 0", article_id, exc)
            found = Found(None, None)
        except Exception:  # one bad probe must not stop the others, nor the scheduler
            log.exception("attachment of article %s: probe failed", article_id)
            _retry_later(app, article_id, MAX_ATTEMPTS, now)
            continue
        _store(app, article_id, url, found)
        stored += 1
    return stored


def _shown(found: Found) -> tuple[str, str]:
    return (
        "unknown" if found.length is None else str(found.length),
        found.media_type or "no type",
    )


# A probe run's time budget: it runs beside the publishing passes (its own job, its own
# thread), never inside one, so a slow file server delays no feed; the budget only keeps
# the run short enough for its interval.
RUN_BUDGET_SECONDS = 20.0


def run_job(app: Flask, leading: Callable[[], bool]) -> None:
    """The scheduler's probe job: the leader drains the queue; failures are only logged."""
    if not leading():
        return
    try:
        run_probes(app, budget_seconds=RUN_BUDGET_SECONDS)
    except Exception:  # the database may be away: the next run tries again
        log.exception("attachment probes failed")
