"""Layered configuration: defaults, environment file, instance file, FEEDSVC_* variables, tests."""

from __future__ import annotations

import math
import os
import secrets
import time
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from limits import parse_many

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_ROOT / "config"
ENV_PREFIX = "FEEDSVC_"
# A day between unconditional fetches is already stricter than any reader needs; a billion
# back to back is "never refused" (the benchmark measures the limiter's cost that way).
POLL_INTERVAL_MAX = 86_400
POLL_BURST_MAX = 1_000_000_000
# An article's HTML: a page of text at least; at most what a feed document can carry whole.
BODY_HTML_MIN_BYTES = 10_000
BODY_HTML_MAX_BYTES_MAX = 50_000_000
# Feed import: a WordPress export of many thousand posts fits in the default 50 MB; the
# bounds keep a mistyped setting from making the importer read without end.
IMPORT_MIN_BYTES = 10_000
IMPORT_MAX_BYTES_MAX = 500_000_000
IMPORT_TIMEOUT_MAX = 600
# Ten years of RFC 6721 tombstones in a feed is already more than any reader keeps an entry.
TOMBSTONE_DAYS_MAX = 3650


class SettingsError(click.ClickException):
    """A configuration value is missing or unsafe; the message says which and why.

    A ClickException, so `flask --app feedsvc …` prints the sentence, not a traceback.
    """


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path} is not valid TOML: {exc}") from exc


def _coerce(name: str, raw: str, like: Any) -> Any:
    """Turn an environment string into the type of the default it overrides."""
    if isinstance(like, bool):
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off", ""}:
            return False
        raise SettingsError(f"{ENV_PREFIX}{name} must be true or false, not {raw!r}.")
    if isinstance(like, int):
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(
                f"{ENV_PREFIX}{name} must be a whole number, not {raw!r}."
            ) from None
    if isinstance(like, float):
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):  # "nan" and "inf" parse, but no interval can use them
            raise SettingsError(f"{ENV_PREFIX}{name} must be a number, not {raw!r}.")
        return value
    return raw


def _check_file_types(settings: Mapping[str, Any], defaults: Mapping[str, Any]) -> None:
    """A number or switch written in a TOML file must be one (TOML `2` is fine for seconds)."""
    for name, like in defaults.items():
        value = settings.get(name, like)
        if isinstance(like, bool):
            ok = isinstance(value, bool)
            kind = "true or false"
        elif isinstance(like, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
            kind = "a whole number"
        elif isinstance(like, float):
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            ok = ok and math.isfinite(value)
            kind = "a number"
        else:
            continue
        if not ok:
            raise SettingsError(f"{name} must be {kind}, not {value!r}.")


def load(instance_path: Path, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Merge every layer and check the result; raise SettingsError on bad values."""
    if not (CONFIG_DIR / "default.toml").is_file():
        raise SettingsError(
            f"{CONFIG_DIR / 'default.toml'} is missing: run feedsvc from its checkout "
            "(pip install -e .), where config/ and instance/ live."
        )
    defaults = _read_toml(CONFIG_DIR / "default.toml")
    settings = dict(defaults)
    env_name = os.environ.get("FEEDSVC_ENV", "")
    if env_name:
        env_file = CONFIG_DIR / f"{env_name}.toml"
        if not env_file.is_file():
            raise SettingsError(f"FEEDSVC_ENV={env_name!r} but {env_file} does not exist.")
        settings.update(_read_toml(env_file))
    settings.update(_read_toml(instance_path / "config.toml"))
    _check_file_types(settings, defaults)
    for name, current in list(settings.items()):
        raw = os.environ.get(ENV_PREFIX + name)
        if raw is not None:
            # The type of the shipped default, not of a file's value: TOML `2` is an int.
            settings[name] = _coerce(name, raw, defaults.get(name, current))
    if overrides:
        settings.update(overrides)
    _finish(settings, instance_path)
    return settings


def forget_environment() -> None:
    """Remove FEEDSVC_* from the process environment, once the app has read its settings.

    A WSGI server may copy the whole environment into every request's environ (granian does,
    as CGI did): the secret key and the database password would travel with each request into
    anything that records an environ, and the copy costs time on every request besides. The
    web process starts no child that would need them (wsgi.py).
    """
    for name in [n for n in os.environ if n.startswith(ENV_PREFIX)]:
        del os.environ[name]


def _finish(s: dict[str, Any], instance_path: Path) -> None:
    """Fill derived values and refuse unsafe ones, so a bad setting fails at start, not later."""
    port = os.environ.get("PORT", "8000")
    if not s.get("SITE_URL"):
        s["SITE_URL"] = f"http://127.0.0.1:{port}"
    try:
        site = urlsplit(s["SITE_URL"])
        valid = site.scheme in {"http", "https"} and bool(site.hostname)
    except ValueError:  # e.g. "http://[oops": an unclosed IPv6 bracket
        valid = False
    if not valid:
        raise SettingsError(f"SITE_URL must be an absolute http(s) URL, not {s['SITE_URL']!r}.")
    s["SITE_URL"] = s["SITE_URL"].rstrip("/")
    if not s.get("DATABASE_URL"):
        s["DATABASE_URL"] = f"sqlite:///{instance_path / 'feedsvc.sqlite3'}"
    if not s.get("SECRET_KEY"):
        s["SECRET_KEY"] = _instance_secret(instance_path)
    elif len(str(s["SECRET_KEY"])) < 16:
        raise SettingsError("SECRET_KEY must be at least 16 characters long.")
    for name, low in (("TICK_SECONDS", 0.2), ("FULL_REBUILD_MINUTES", 1), ("LEASE_SECONDS", 1)):
        if float(s[name]) < low:
            raise SettingsError(f"{name} must be at least {low}, not {s[name]!r}.")
    if float(s["LEASE_SECONDS"]) <= float(s["TICK_SECONDS"]):
        raise SettingsError("LEASE_SECONDS must be longer than TICK_SECONDS.")
    if float(s["WATCH_SECONDS"]) != 0 and float(s["WATCH_SECONDS"]) < 0.05:
        raise SettingsError(
            f"WATCH_SECONDS must be 0 (off) or at least 0.05, not {s['WATCH_SECONDS']!r}."
        )
    if int(s["SITE_FEED_ITEMS"]) < 1:
        raise SettingsError("SITE_FEED_ITEMS must be at least 1.")
    for name, low in (("ARCHIVE_PAGE_ITEMS", 10), ("ARCHIVE_PAGES_PER_PASS", 1)):
        if not low <= int(s[name]) <= 1000:
            raise SettingsError(f"{name} must be {low} to 1000, not {s[name]!r}.")
    if not 1 <= int(s["ARCHIVE_OPEN_STEP"]) <= int(s["ARCHIVE_PAGE_ITEMS"]):
        raise SettingsError(
            "ARCHIVE_OPEN_STEP must be 1 to ARCHIVE_PAGE_ITEMS "
            f"({s['ARCHIVE_PAGE_ITEMS']}), not {s['ARCHIVE_OPEN_STEP']!r}."
        )
    if int(s["ARCHIVE_MAX_AGE"]) < 1:
        raise SettingsError("ARCHIVE_MAX_AGE must be at least 1 (seconds).")
    if not 0 <= int(s["RENDER_PROCESSES"]) <= 64:
        raise SettingsError(
            f"RENDER_PROCESSES must be 0 (one per core) to 64, not {s['RENDER_PROCESSES']!r}."
        )
    try:
        ZoneInfo(str(s["TIMEZONE"]))
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "America" is a folder
        raise SettingsError(f"TIMEZONE {s['TIMEZONE']!r} is not a known time zone.") from None
    if not 0 <= int(s["TRUSTED_PROXIES"]) <= 5:
        raise SettingsError(
            f"TRUSTED_PROXIES must be 0 (no proxy in front) to 5, not {s['TRUSTED_PROXIES']!r}."
        )
    for name in ("LOGIN_LIMIT_PER_ACCOUNT", "LOGIN_LIMIT_PER_ADDRESS", "TOKEN_LIMIT_PER_ADDRESS"):
        _check_rate(name, s[name])
    redis_url = str(s["REDIS_URL"])
    if redis_url and urlsplit(redis_url).scheme not in {"redis", "rediss", "unix"}:
        raise SettingsError(
            f"REDIS_URL must be empty (counts in memory) or a redis://, rediss:// or unix:// "
            f"URL, not {redis_url!r}."
        )
    if not str(s["REDIS_KEY_PREFIX"]).strip():
        raise SettingsError("REDIS_KEY_PREFIX must not be empty.")
    for name, low in (("SESSION_IDLE_MINUTES", 1), ("SESSION_MAX_HOURS", 1)):
        if int(s[name]) < low:
            raise SettingsError(f"{name} must be at least {low}, not {s[name]!r}.")
    if not 0 <= float(s["POLL_MIN_INTERVAL"]) <= POLL_INTERVAL_MAX:
        raise SettingsError(
            f"POLL_MIN_INTERVAL must be 0 (no limit) to {POLL_INTERVAL_MAX} seconds, "
            f"not {s['POLL_MIN_INTERVAL']!r}."
        )
    if not 1 <= int(s["POLL_BURST"]) <= POLL_BURST_MAX:
        raise SettingsError(f"POLL_BURST must be 1 to {POLL_BURST_MAX}, not {s['POLL_BURST']!r}.")
    if not BODY_HTML_MIN_BYTES <= int(s["BODY_HTML_MAX_BYTES"]) <= BODY_HTML_MAX_BYTES_MAX:
        raise SettingsError(
            f"BODY_HTML_MAX_BYTES must be {BODY_HTML_MIN_BYTES:,} to {BODY_HTML_MAX_BYTES_MAX:,}, "
            f"not {s['BODY_HTML_MAX_BYTES']!r}."
        )
    if not 1 <= int(s["TOMBSTONE_DAYS"]) <= TOMBSTONE_DAYS_MAX:
        raise SettingsError(
            f"TOMBSTONE_DAYS must be 1 to {TOMBSTONE_DAYS_MAX}, not {s['TOMBSTONE_DAYS']!r}."
        )
    if not 0.5 <= float(s["MEDIA_PROBE_TIMEOUT"]) <= 60:
        raise SettingsError(
            f"MEDIA_PROBE_TIMEOUT must be 0.5 to 60 seconds, not {s['MEDIA_PROBE_TIMEOUT']!r}."
        )
    if not IMPORT_MIN_BYTES <= int(s["IMPORT_MAX_BYTES"]) <= IMPORT_MAX_BYTES_MAX:
        raise SettingsError(
            f"IMPORT_MAX_BYTES must be {IMPORT_MIN_BYTES:,} to {IMPORT_MAX_BYTES_MAX:,}, "
            f"not {s['IMPORT_MAX_BYTES']!r}."
        )
    if not 1 <= float(s["IMPORT_TIMEOUT"]) <= IMPORT_TIMEOUT_MAX:
        raise SettingsError(
            f"IMPORT_TIMEOUT must be 1 to {IMPORT_TIMEOUT_MAX} seconds, "
            f"not {s['IMPORT_TIMEOUT']!r}."
        )
    _check_analytics(s)
    if s["LOG_FORMAT"] not in {"text", "json"}:
        raise SettingsError("LOG_FORMAT must be 'text' or 'json'.")
    _check_database_timeouts(s)
    s["WEBSUB_HUBS"] = _websub_hubs(s["WEBSUB_HUBS"])
    if s.get("EXPORT_DIR"):
        # Absolute only: nginx's `root` names the same directory, and a relative path would
        # depend on each process's working directory.
        export = Path(str(s["EXPORT_DIR"]))
        if not export.is_absolute():
            raise SettingsError(f"EXPORT_DIR must be an absolute path, not {s['EXPORT_DIR']!r}.")
        s["EXPORT_DIR"] = str(export)


def _check_analytics(s: dict[str, Any]) -> None:
    if not 0.1 <= float(s["ANALYTICS_FLUSH_SECONDS"]) <= 3600:
        raise SettingsError(
            f"ANALYTICS_FLUSH_SECONDS must be 0.1 to 3600, not {s['ANALYTICS_FLUSH_SECONDS']!r}."
        )
    # Absolute, like EXPORT_DIR: the scheduler's working directory is nobody's business.
    if s.get("ACCESS_LOG_PATH") and not Path(str(s["ACCESS_LOG_PATH"])).is_absolute():
        raise SettingsError(
            f"ACCESS_LOG_PATH must be an absolute path, not {s['ACCESS_LOG_PATH']!r}."
        )


def _websub_hubs(value: object) -> tuple[str, ...]:
    """WEBSUB_HUBS: space-separated absolute http(s) URLs (a TOML list too), in order, once each.

    Already a tuple when the render processes rebuild the app from checked settings.
    """
    if isinstance(value, str):
        hubs = value.split()
    elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        hubs = [str(v).strip() for v in value]
    else:
        raise SettingsError(f"WEBSUB_HUBS must be space-separated hub URLs, not {value!r}.")
    for hub in hubs:
        try:
            parts = urlsplit(hub)
            valid = parts.scheme in {"http", "https"} and bool(parts.hostname)
        except ValueError:
            valid = False
        # WebSub §4: the hub URL is advertised in every feed and receives each publish POST.
        if not valid or parts.fragment or any(c.isspace() or c in '<>"' for c in hub):
            raise SettingsError(
                f"WEBSUB_HUBS must list absolute http(s) hub URLs separated by spaces "
                f"(e.g. https://pubsubhubbub.appspot.com/), not {hub!r}."
            )
    return tuple(dict.fromkeys(hubs))


def _check_database_timeouts(s: Mapping[str, Any]) -> None:
    """DB_* waits: bounded, and within what the drivers accept (libpq: whole seconds, >= 2)."""
    connect = float(s["DB_CONNECT_TIMEOUT"])
    if connect != 0 and not 2 <= connect <= 600:
        raise SettingsError(
            f"DB_CONNECT_TIMEOUT must be 0 (the driver's default) or 2 to 600 seconds, "
            f"not {s['DB_CONNECT_TIMEOUT']!r}."
        )
    for name, low in (("DB_STATEMENT_TIMEOUT", 0.0), ("DB_POOL_TIMEOUT", 0.1)):
        if not low <= float(s[name]) <= 3600:
            raise SettingsError(f"{name} must be {low:g} to 3600 seconds, not {s[name]!r}.")
    if not 0.1 <= float(s["DB_RETRY_SECONDS"]) <= 3600:
        raise SettingsError(
            f"DB_RETRY_SECONDS must be 0.1 to 3600 seconds, not {s['DB_RETRY_SECONDS']!r}."
        )


def _check_rate(name: str, value: object) -> None:
    """A rate in Flask-Limiter's syntax: "5 per 15 minutes", "30/hour", several joined by ";"."""
    try:
        # "0 per minute" parses, but would refuse every login: at least one must be allowed.
        ok = isinstance(value, str) and all(item.amount >= 1 for item in parse_many(value))
    except ValueError:
        ok = False
    if not ok:
        raise SettingsError(
            f"{name} must be a rate like “5 per 15 minutes” (several joined by “;”), not {value!r}."
        )


def _instance_secret(instance_path: Path) -> str:
    """Read, or create once, instance/secret_key: every worker and restart signs alike."""
    path = instance_path / "secret_key"
    instance_path.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: when several workers start together, exactly one writes the key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            key = path.read_text().strip()
            if key:
                return key
            time.sleep(0.02)
        raise SettingsError(f"{path} is empty; delete it to have a new key generated.") from None
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key
