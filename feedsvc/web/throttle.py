"""Login and API-token throttling: Flask-Limiter counts, in Redis when REDIS_URL is set.

What counts (config/default.toml says the same to operators):

- LOGIN_LIMIT_PER_ADDRESS: every login attempt from one client address, successful or not. It
  bounds how many accounts one address can try and how many scrypt hashes (~0.1 s of CPU
  each) it can demand. Checked first: an address over its limit counts against no account.
- LOGIN_LIMIT_PER_ACCOUNT: attempts naming one username (any case; unknown names too, so a
  429 tells nothing about which accounts exist), forgotten at a successful login, so it counts
  the failures since the owner last got in. The guard against guessing one password from many
  addresses. Both are counted *before* the hash, atomically in the store, so concurrent
  guesses cannot slip past between a check and a count.
- TOKEN_LIMIT_PER_ADDRESS: API requests whose bearer token is not valid. The limiter is only
  asked after the token lookup failed, so a valid token is never counted nor slowed.

Counts use the moving window ("5 per 15 minutes" means at most 5 in any 15 minutes), through
Flask-Limiter's documented context-manager form (`with limiter.shared_limit(...)`), which counts
one hit on entering and raises RateLimitExceeded over the limit. Shared: one count per key
whichever route asked (a bad token on ten API routes is ten bad tokens, not one on each).

When Redis cannot be reached at request time, Flask-Limiter logs a warning and counts in this
process's memory until Redis answers again (it probes with exponential backoff): the limits
still hold, per worker, instead of failing open for everyone or refusing every login. No
request ever gets a 500 for it. Redis calls time out after REDIS_TIMEOUT, so a Redis that
hangs costs a login at most that long.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from flask import Flask, current_app, g, request
from flask_limiter import Limiter, RateLimitExceeded, RequestLimit

EXTENSION = "feedsvc.limiter"
# Seconds: connecting to or waiting on Redis longer than this counts as Redis being down.
REDIS_TIMEOUT = 1
# Retry-After when the store cannot say when the window frees up (it just went away).
_FALLBACK_RETRY_SECONDS = 60


@dataclass(frozen=True)
class Refused(Exception):
    """Over a limit: try again in `retry_after` seconds (RFC 9110 §10.2.3 Retry-After)."""

    retry_after: int
    limit: str  # which setting refused, e.g. "LOGIN_LIMIT_PER_ACCOUNT"


def init_app(app: Flask) -> Limiter:
    """This app's limiter: Redis at REDIS_URL, or this process's memory when it is empty."""
    redis_url = str(app.config["REDIS_URL"])
    limiter = Limiter(
        key_func=client_address,
        app=app,
        storage_uri=redis_url or "memory://",
        storage_options=(
            {"socket_connect_timeout": REDIS_TIMEOUT, "socket_timeout": REDIS_TIMEOUT}
            if redis_url
            else {}
        ),
        key_prefix=str(app.config["REDIS_KEY_PREFIX"]),
        strategy="moving-window",
        # Redis down: count in memory (per process) rather than fail open or closed.
        in_memory_fallback_enabled=bool(redis_url),
        # Any other storage error is logged and the request goes on: never a 500.
        swallow_errors=True,
        # Retry-After is set on the 429s alone; no X-RateLimit-* on every login page.
        headers_enabled=False,
    )
    app.extensions[EXTENSION] = limiter
    return limiter


def limiter() -> Limiter:
    found: Limiter = current_app.extensions[EXTENSION]
    return found


def client_address() -> str:
    """The client's address (ProxyFix has made it the one nginx saw when TRUSTED_PROXIES)."""
    return request.remote_addr or "unknown"


_LOOPBACK = frozenset({"127.0.0.1", "::1"})
_WARNED = "feedsvc.proxy_warned"


def _warn_if_behind_an_unknown_proxy() -> None:
    """Once per process: a proxy on this machine forwards, but TRUSTED_PROXIES is 0.

    Then every client has the proxy's address, and one guesser exhausts the per-address login
    limit for everybody.
    """
    if (
        not current_app.config["TRUSTED_PROXIES"]
        and request.remote_addr in _LOOPBACK
        and "X-Forwarded-For" in request.headers
        and not current_app.extensions.get(_WARNED)
    ):
        current_app.extensions[_WARNED] = True
        current_app.logger.warning(
            "a login came through a proxy (X-Forwarded-For) but TRUSTED_PROXIES is 0: every "
            "client counts as %s for the per-address limits; behind nginx set "
            "FEEDSVC_TRUSTED_PROXIES=1",
            request.remote_addr,
        )


def account_key(username: str) -> str:
    """The per-account key: a digest of the lower-cased name, so a megabyte of "username"
    makes a short key, and the store never holds what was typed."""
    return hashlib.sha256(username.lower().encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _account() -> str:
    key: str = g.login_account_key
    return key


def _rate(name: str) -> str:
    rate: str = current_app.config[name]
    return rate


def _login_per_address() -> str:
    return _rate("LOGIN_LIMIT_PER_ADDRESS")


def _login_per_account() -> str:
    return _rate("LOGIN_LIMIT_PER_ACCOUNT")


def _token_per_address() -> str:
    return _rate("TOKEN_LIMIT_PER_ADDRESS")


def count_login(username: str) -> None:
    """Count one login attempt for this address, then for `username`; Refused when over.

    Each `with` block below is its own call site on purpose: Flask-Limiter keys a
    context-manager limit by the code location that enters it.
    """
    _warn_if_behind_an_unknown_proxy()
    ext = limiter()
    try:
        with ext.shared_limit(_login_per_address, "login-address", key_func=client_address):
            pass
    except RateLimitExceeded:
        raise Refused(_retry_after(ext.current_limit), "LOGIN_LIMIT_PER_ADDRESS") from None
    g.login_account_key = account_key(username)
    try:
        with ext.shared_limit(_login_per_account, "login-account", key_func=_account):
            pass
    except RateLimitExceeded:
        raise Refused(_retry_after(ext.current_limit), "LOGIN_LIMIT_PER_ACCOUNT") from None
    g.login_account_limits = list(ext.current_limits)


def forget_failures() -> None:
    """After a successful login: the account's count starts again (the address's does not)."""
    counted: list[RequestLimit] = g.pop("login_account_limits", [])
    for item in counted:
        try:
            item.limiter.clear(item.limit, *item.request_args)
        except Exception:  # the store went away since the count; the window ages it out
            current_app.logger.warning("could not reset a login count", exc_info=True)


def count_bad_token() -> None:
    """Count one request with a bad bearer token from this address; Refused when over."""
    ext = limiter()
    try:
        with ext.shared_limit(_token_per_address, "bad-token", key_func=client_address):
            pass
    except RateLimitExceeded:
        raise Refused(_retry_after(ext.current_limit), "TOKEN_LIMIT_PER_ADDRESS") from None


def _retry_after(breached: RequestLimit | None) -> int:
    """Whole seconds until the oldest counted attempt leaves the window (at least 1)."""
    if breached is None:
        return _FALLBACK_RETRY_SECONDS
    try:
        reset = breached.window[0]  # when the oldest counted hit leaves the moving window
    except Exception:  # the store went away between the count and this question
        return min(_FALLBACK_RETRY_SECONDS, breached.limit.get_expiry())
    return max(1, math.ceil(reset - time.time()))
