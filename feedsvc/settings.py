"""Layered configuration: defaults, environment file, instance file, FEEDSVC_* variables, tests."""

from __future__ import annotations

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

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_ROOT / "config"
ENV_PREFIX = "FEEDSVC_"


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
            return float(raw)
        except ValueError:
            raise SettingsError(f"{ENV_PREFIX}{name} must be a number, not {raw!r}.") from None
    return raw


def load(instance_path: Path, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Merge every layer and check the result; raise SettingsError on bad values."""
    settings = _read_toml(CONFIG_DIR / "default.toml")
    env_name = os.environ.get("FEEDSVC_ENV", "")
    if env_name:
        env_file = CONFIG_DIR / f"{env_name}.toml"
        if not env_file.is_file():
            raise SettingsError(f"FEEDSVC_ENV={env_name!r} but {env_file} does not exist.")
        settings.update(_read_toml(env_file))
    settings.update(_read_toml(instance_path / "config.toml"))
    for name, default in list(settings.items()):
        raw = os.environ.get(ENV_PREFIX + name)
        if raw is not None:
            settings[name] = _coerce(name, raw, default)
    if overrides:
        settings.update(overrides)
    _finish(settings, instance_path)
    return settings


def _finish(s: dict[str, Any], instance_path: Path) -> None:
    """Fill derived values and refuse unsafe ones, so a bad setting fails at start, not later."""
    port = os.environ.get("PORT", "8000")
    if not s.get("SITE_URL"):
        s["SITE_URL"] = f"http://127.0.0.1:{port}"
    site = urlsplit(s["SITE_URL"])
    if site.scheme not in {"http", "https"} or not site.hostname:
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
    if int(s["SITE_FEED_ITEMS"]) < 1:
        raise SettingsError("SITE_FEED_ITEMS must be at least 1.")
    try:
        ZoneInfo(str(s["TIMEZONE"]))
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"TIMEZONE {s['TIMEZONE']!r} is not a known time zone.") from None
    if s["LOG_FORMAT"] not in {"text", "json"}:
        raise SettingsError("LOG_FORMAT must be 'text' or 'json'.")


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
