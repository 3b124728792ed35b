"""deploy/nginx.conf's tokens, their production values, and the rendering (pure, no Flask)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from feedsvc.settings import PROJECT_ROOT

TEMPLATE = PROJECT_ROOT / "deploy" / "nginx.conf"
TOKEN_RE = re.compile(r"__[A-Z_]+__")
# A value lands inside one nginx directive: whitespace, quotes, `;`, braces or `#` would end
# it early or start another, so such a value is refused rather than rendered.
_UNSAFE = re.compile(r"[\s;{}#'\"\\]")


class RenderError(ValueError):
    """A token has no value, or a value cannot stand in an nginx directive."""


@dataclass(frozen=True)
class Token:
    name: str  # as written in the template: __EXPORT_DIR__
    option: str  # the command's option: export-dir
    production: str  # "" when there is no fixed production value (the app's settings give it)
    meaning: str


TOKENS = (
    Token("__USER__", "user", "www-data", "worker user (must be able to read the export)"),
    Token("__PID_FILE__", "pid-file", "/run/nginx.pid", "the master's pid file"),
    Token("__LOG_DIR__", "log-dir", "/var/log/nginx", "where error.log and access.log go"),
    Token("__TEMP_DIR__", "temp-dir", "/var/lib/nginx", "request-body, proxy temp and cache"),
    Token("__LISTEN__", "listen", "80", 'listen address ("127.0.0.1:8080" works too)'),
    Token(
        "__EXPORT_DIR__", "export-dir", "", "the static export (default: the EXPORT_DIR setting)"
    ),
    Token(
        "__UPSTREAM__",
        "upstream",
        "",
        "the web server (default: FEEDSVC_BIND, else 127.0.0.1:$PORT)",
    ),
    # Polite polling, for the feeds nginx serves itself: the app's own limit (POLL_MIN_INTERVAL,
    # POLL_BURST; web/polling.py) in nginx's terms, worked out by poll_values().
    Token(
        "__POLL_LIMIT__", "poll-limit", "", "on, or off (default: off when POLL_MIN_INTERVAL is 0)"
    ),
    Token("__POLL_RATE__", "poll-rate", "", "limit_req rate (default: 60 / POLL_MIN_INTERVAL r/m)"),
    Token("__POLL_BURST__", "poll-burst", "", "limit_req burst (default: POLL_BURST - 1)"),
    Token(
        "__POLL_RETRY_AFTER__",
        "poll-retry-after",
        "",
        "Retry-After of its 429s (default: the rate's interval)",
    ),
)
TOKEN_BY_NAME = {t.name: t for t in TOKENS}


def poll_values(min_interval: float, burst: int) -> dict[str, str]:
    """The polling-limit tokens for the app's POLL_MIN_INTERVAL (seconds) and POLL_BURST.

    nginx's rate is a whole number of requests per minute (or second): 60 / interval,
    rounded, and at least one a minute, so an interval above a minute is enforced as one a
    minute. nginx's burst counts the requests allowed beyond the first one, the app's counts
    them all: burst - 1 lets the same number through back to back (but at least 1, nginx's
    smallest, so POLL_BURST 1 lets two through in nginx). Interval 0: off (the key
    is empty, so limit_req counts nothing at all; the other values only keep nginx -t happy).
    """
    if min_interval <= 0:
        return {
            "__POLL_LIMIT__": "off",
            "__POLL_RATE__": "1r/s",
            "__POLL_BURST__": "1",
            "__POLL_RETRY_AFTER__": "1",
        }
    per_minute = max(1, round(60 / min_interval))
    return {
        "__POLL_LIMIT__": "on",
        "__POLL_RATE__": f"{per_minute}r/m",
        "__POLL_BURST__": str(max(1, burst - 1)),
        "__POLL_RETRY_AFTER__": str(math.ceil(60 / per_minute)),
    }


def default_upstream(environ: Mapping[str, str]) -> str:
    """Where webserver.py binds by default: FEEDSVC_BIND, else 127.0.0.1:$PORT."""
    return environ.get("FEEDSVC_BIND") or f"127.0.0.1:{environ.get('PORT') or '8000'}"


def render(values: Mapping[str, str], text: str | None = None) -> str:
    """The template (deploy/nginx.conf unless text is given) with every token replaced.

    values maps token names (__LISTEN__) to values; every token in the text needs one.
    """
    if text is None:
        text = TEMPLATE.read_text()
    used = set(TOKEN_RE.findall(text))
    missing = sorted(t for t in used if not values.get(t))
    if missing:
        named = [f"{t} (--{TOKEN_BY_NAME[t].option})" if t in TOKEN_BY_NAME else t for t in missing]
        raise RenderError(f"no value for {', '.join(named)}")
    for token in sorted(used):
        value = values[token]
        if _UNSAFE.search(value):
            raise RenderError(
                f"{token} cannot be {value!r}: no spaces, quotes, ';', '#', '{{' or '}}'"
            )
        text = text.replace(token, value)
    return text


def template_tokens(text: str | None = None) -> set[str]:
    """Every __TOKEN__ the template uses."""
    return set(TOKEN_RE.findall(TEMPLATE.read_text() if text is None else text))


def production_values(**given: str | None) -> dict[str, str]:
    """Token values from options (keyword = option name, dashes as underscores) or defaults."""
    values: dict[str, str] = {}
    for token in TOKENS:
        value = given.get(token.option.replace("-", "_"))
        values[token.name] = token.production if value is None else value
    return values
