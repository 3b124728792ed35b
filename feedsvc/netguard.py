"""Outgoing HTTP to public addresses only: resolve, check every address, connect to the checked one.

Shared by the scheduler's attachment probe (publishing/probes.py) and the feed importer
(importing/fetch.py): a URL an editor gives must not make the service reach inside its own
network (SSRF). The name is resolved once, every address is checked, and the connection goes
to a checked address while Host and TLS (SNI, certificate) still name the host, so the name
cannot resolve elsewhere between check and connect. Redirects are followed by the same path.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from feedsvc.content.text import ContentError
from feedsvc.media import clean_url

REDIRECTS = {301, 302, 303, 307, 308}
# Resolving a name has no timeout of its own (getaddrinfo): it runs here, and is waited for
# only as long as the request may last. Two workers: a stuck resolver cannot pile up threads.
_RESOLVER = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="net-dns")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """The request will not be made (or followed): a private address, a bad redirect."""


class Unreachable(OSError):
    """No connection to one address: the next address of the same name may answer."""


class Failed(Exception):
    """No answer that can be used; `retry` when trying later may help."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True)
class Answer:
    """The final answer after redirects: its URL, status, headers and (for GET) body."""

    url: str
    status: int
    headers: http.client.HTTPMessage
    body: bytes = b""


def refusal(ip: IPAddress) -> str:
    """Why a connection to `ip` is refused ("" if it is a public address).

    IPv4-mapped, 6to4 and Teredo IPv6 addresses carry an IPv4 one, checked as such: "::ffff:
    127.0.0.1" is the loopback. Anything not globally reachable (RFC 6890's registries, as
    ipaddress reads them) is refused: an editor must not make the service reach inside.
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


def resolve(host: str, port: int, seconds: float) -> list[IPAddress]:
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


class PinnedConnection(http.client.HTTPConnection):
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


def _read_bounded(response: http.client.HTTPResponse, url: str, max_bytes: int) -> bytes:
    """The body, refused as soon as it passes max_bytes (whatever Content-Length claims)."""
    declared = response.getheader("Content-Length", "")
    if declared.strip().isdigit() and int(declared) > max_bytes:
        raise Refused(f"{url} is {int(declared):,} bytes, over the limit of {max_bytes:,}")
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read(65536):
        size += len(chunk)
        if size > max_bytes:
            raise Refused(f"{url} is over the limit of {max_bytes:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _request(
    method: str, url: str, ip: IPAddress, deadline: float, headers: dict[str, str], max_bytes: int
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request to `ip` for `url`: status, headers and (GET, unless redirected) the body."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise Failed(f"{url}: no time left", retry=True)
    conn = PinnedConnection(
        parts.hostname or "", port, ip, tls=parts.scheme == "https", timeout=remaining
    )

    def cut() -> None:  # a server trickling bytes cannot stretch the request past its deadline
        if conn.raw is not None:
            with contextlib.suppress(OSError):
                conn.raw.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(remaining, cut)
    watchdog.daemon = True
    watchdog.start()
    response: http.client.HTTPResponse | None = None
    try:
        try:
            conn.connect()
        except OSError as exc:
            raise Unreachable(str(exc)) from None
        conn.request(method, target, headers=headers)
        response = conn.getresponse()  # HEAD: http.client expects and reads no body
        body = b""
        if method != "HEAD" and response.status not in REDIRECTS:
            body = _read_bounded(response, url, max_bytes)
        if time.monotonic() >= deadline:  # the watchdog cut the body short: not a whole one
            raise Failed(f"{url}: took longer than allowed", retry=True)
        return response.status, response.headers, body
    except (Unreachable, Refused, Failed):
        raise
    except (OSError, http.client.HTTPException) as exc:
        raise Failed(f"{url}: {exc or type(exc).__name__}", retry=True) from None
    finally:
        watchdog.cancel()
        if response is not None:  # its file holds the socket open until closed itself
            response.close()
        conn.close()
        if conn.raw is not None:  # also when TLS failed before http.client had the socket
            conn.raw.close()


def fetch(
    url: str,
    *,
    timeout: float,
    allow_private: bool = False,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    max_bytes: int = 0,
    max_redirects: int = 3,
) -> Answer:
    """`method` on `url`, following up to max_redirects redirects, each checked like the first.

    The whole exchange (name lookups, connections, redirects, the body) lasts at most
    `timeout` seconds; a GET body past max_bytes is refused. Raises Refused (a non-public
    address without allow_private, a redirect elsewhere than http(s), too many redirects, too
    large a body) or Failed. Other statuses are returned for the caller to judge.
    """
    deadline = time.monotonic() + timeout
    for _hop in range(max_redirects + 1):
        try:
            url = clean_url(url, "The address")
        except ContentError as exc:
            raise Refused(str(exc)) from None
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = resolve(host, port, deadline - time.monotonic())
        if not allow_private:
            for ip in addresses:
                reason = refusal(ip)
                if reason:
                    raise Refused(f"{host} is {reason} ({ip})")
        error = ""
        for ip in addresses:  # all checked: the first that takes the connection answers
            try:
                status, got, body = _request(method, url, ip, deadline, headers or {}, max_bytes)
                break
            except Unreachable as exc:
                error = str(exc)
        else:
            raise Failed(f"{url}: no connection ({error})", retry=True)
        if status in REDIRECTS and got.get("Location"):
            url = urljoin(url, got["Location"])
            continue
        return Answer(url, status, got, body)
    raise Refused(f"more than {max_redirects} redirects")
