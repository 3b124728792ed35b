"""deploy/nginx.conf's tokens, their production values, and the rendering (pure, no Flask)."""

from __future__ import annotations

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
    Token("__UPSTREAM__", "upstream", "", "gunicorn (default: FEEDSVC_BIND, else 127.0.0.1:$PORT)"),
)
TOKEN_BY_NAME = {t.name: t for t in TOKENS}


def default_upstream(environ: Mapping[str, str]) -> str:
    """Where gunicorn.conf.py binds by default: FEEDSVC_BIND, else 127.0.0.1:$PORT."""
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
