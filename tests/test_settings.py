"""Configuration layers, as an operator meets them: files, FEEDSVC_* variables, bad values."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from devtools.procs import child_env
from feedsvc import settings
from feedsvc.settings import PROJECT_ROOT, SettingsError
from tests.support.env import SUBPROCESS_TIMEOUT


def write_instance_config(instance: Path, text: str) -> None:
    instance.mkdir(parents=True, exist_ok=True)
    (instance / "config.toml").write_text(text, encoding="utf-8")


def load(instance: Path, **overrides: Any) -> dict[str, Any]:
    return settings.load(instance, overrides or None)


def error_of(instance: Path, **overrides: Any) -> str:
    with pytest.raises(SettingsError) as caught:
        load(instance, **overrides)
    return caught.value.message


# --- layers -------------------------------------------------------------------------------


def test_defaults_come_from_config_default_toml(instance: Path) -> None:
    s = load(instance)
    assert s["SITE_NAME"] == "feedsvc"
    assert s["TIMEZONE"] == "UTC"
    assert s["TICK_SECONDS"] == 5.0
    assert s["FULL_REBUILD_MINUTES"] == 60
    assert s["LEASE_SECONDS"] == 15.0
    assert s["SITE_FEED_ITEMS"] == 50
    assert s["LOG_FORMAT"] == "text"
    # Empty DATABASE_URL: a SQLite file inside the instance folder.
    assert s["DATABASE_URL"] == f"sqlite:///{instance / 'feedsvc.sqlite3'}"


@pytest.mark.parametrize(
    ("env", "key", "value"),
    [("production", "LOG_FORMAT", "json"), ("testing", "SITE_URL", "http://feeds.example.org")],
)
def test_feedsvc_env_selects_the_environment_file(
    instance: Path, monkeypatch: pytest.MonkeyPatch, env: str, key: str, value: str
) -> None:
    monkeypatch.setenv("FEEDSVC_ENV", env)
    assert load(instance)[key] == value


def test_unknown_feedsvc_env_is_a_clear_error(
    instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDSVC_ENV", "staging")
    message = error_of(instance)
    assert "FEEDSVC_ENV='staging'" in message
    assert str(PROJECT_ROOT / "config" / "staging.toml") in message
    assert "does not exist" in message


def test_instance_config_overrides_environment_file(
    instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDSVC_ENV", "production")
    write_instance_config(instance, 'LOG_FORMAT = "text"\nSITE_NAME = "Daily Bugle"\n')
    s = load(instance)
    assert s["LOG_FORMAT"] == "text"
    assert s["SITE_NAME"] == "Daily Bugle"


def test_environment_variable_overrides_instance_config(
    instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_instance_config(instance, 'SITE_NAME = "Daily Bugle"\n')
    monkeypatch.setenv("FEEDSVC_SITE_NAME", "Evening Post")
    assert load(instance)["SITE_NAME"] == "Evening Post"


def test_explicit_overrides_win_over_everything(
    instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDSVC_SITE_NAME", "Evening Post")
    assert load(instance, SITE_NAME="Test Site")["SITE_NAME"] == "Test Site"


def test_invalid_instance_toml_names_the_file(instance: Path) -> None:
    write_instance_config(instance, "SITE_NAME = \n")
    message = error_of(instance)
    assert str(instance / "config.toml") in message
    assert "not valid TOML" in message


# --- FEEDSVC_* coercion -------------------------------------------------------------------


def test_environment_values_take_the_type_of_the_default(
    instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDSVC_TICK_SECONDS", "2.5")
    monkeypatch.setenv("FEEDSVC_FULL_REBUILD_MINUTES", "15")
    monkeypatch.setenv("FEEDSVC_LEASE_SECONDS", "30")
    monkeypatch.setenv("FEEDSVC_SITE_FEED_ITEMS", "20")
    s = load(instance)
    assert s["TICK_SECONDS"] == 2.5 and isinstance(s["TICK_SECONDS"], float)
    assert s["FULL_REBUILD_MINUTES"] == 15 and isinstance(s["FULL_REBUILD_MINUTES"], int)
    assert s["LEASE_SECONDS"] == 30.0 and isinstance(s["LEASE_SECONDS"], float)
    assert s["SITE_FEED_ITEMS"] == 20


def test_float_variable_accepted_when_instance_file_wrote_a_whole_number(
    instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # TOML `TICK_SECONDS = 2` is an int; the variable must still be read as seconds (a float).
    write_instance_config(instance, "TICK_SECONDS = 2\n")
    monkeypatch.setenv("FEEDSVC_TICK_SECONDS", "0.5")
    assert load(instance)["TICK_SECONDS"] == 0.5


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        *[("1", True), ("true", True), ("Yes", True), ("ON", True)],
        *[("0", False), ("false", False), ("no", False), ("off", False), ("", False)],
    ],
)
def test_boolean_variables(
    instance: Path, monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool
) -> None:
    write_instance_config(instance, "MAINTENANCE = false\n")
    monkeypatch.setenv("FEEDSVC_MAINTENANCE", raw)
    assert load(instance)["MAINTENANCE"] is expected


@pytest.mark.parametrize(
    ("name", "raw", "sentence"),
    [
        ("TICK_SECONDS", "abc", "FEEDSVC_TICK_SECONDS must be a number, not 'abc'."),
        ("TICK_SECONDS", "nan", "FEEDSVC_TICK_SECONDS must be a number, not 'nan'."),
        ("LEASE_SECONDS", "inf", "FEEDSVC_LEASE_SECONDS must be a number, not 'inf'."),
        (
            "FULL_REBUILD_MINUTES",
            "1.5",
            "FEEDSVC_FULL_REBUILD_MINUTES must be a whole number, not '1.5'.",
        ),
        ("SITE_FEED_ITEMS", "many", "FEEDSVC_SITE_FEED_ITEMS must be a whole number, not 'many'."),
        ("MAINTENANCE", "maybe", "FEEDSVC_MAINTENANCE must be true or false, not 'maybe'."),
    ],
)
def test_bad_environment_value_is_one_sentence(
    instance: Path, monkeypatch: pytest.MonkeyPatch, name: str, raw: str, sentence: str
) -> None:
    write_instance_config(instance, "MAINTENANCE = false\n")
    monkeypatch.setenv(f"FEEDSVC_{name}", raw)
    assert error_of(instance) == sentence


@pytest.mark.parametrize(
    ("line", "sentence"),
    [
        ('TICK_SECONDS = "fast"', "TICK_SECONDS must be a number, not 'fast'."),
        ("TICK_SECONDS = nan", "TICK_SECONDS must be a number, not nan."),
        ("FULL_REBUILD_MINUTES = 1.5", "FULL_REBUILD_MINUTES must be a whole number, not 1.5."),
        ("SITE_FEED_ITEMS = true", "SITE_FEED_ITEMS must be a whole number, not True."),
    ],
)
def test_wrongly_typed_value_in_a_file_is_one_sentence(
    instance: Path, line: str, sentence: str
) -> None:
    write_instance_config(instance, line + "\n")
    assert error_of(instance) == sentence


def test_whole_number_of_seconds_in_a_file_is_fine(instance: Path) -> None:
    write_instance_config(instance, "TICK_SECONDS = 2\nLEASE_SECONDS = 10\n")
    s = load(instance)
    assert (s["TICK_SECONDS"], s["LEASE_SECONDS"]) == (2, 10)


def test_unknown_environment_variables_are_ignored(
    instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDSVC_NO_SUCH_SETTING", "x")
    assert "NO_SUCH_SETTING" not in load(instance)


# --- derived and checked values -----------------------------------------------------------


def test_empty_site_url_uses_port(instance: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load(instance)["SITE_URL"] == "http://127.0.0.1:8000"
    monkeypatch.setenv("PORT", "5050")
    assert load(instance)["SITE_URL"] == "http://127.0.0.1:5050"


def test_site_url_trailing_slash_is_dropped(instance: Path) -> None:
    assert load(instance, SITE_URL="https://news.example.org/")["SITE_URL"] == (
        "https://news.example.org"
    )


@pytest.mark.parametrize(
    "bad",
    [
        "news.example.org",
        "ftp://news.example.org",
        "http://",
        "javascript:alert(1)",
        "http://[oops",
    ],
)
def test_bad_site_url_is_rejected(instance: Path, bad: str) -> None:
    assert error_of(instance, SITE_URL=bad) == (
        f"SITE_URL must be an absolute http(s) URL, not {bad!r}."
    )


def test_known_timezone_is_accepted(instance: Path) -> None:
    assert load(instance, TIMEZONE="Europe/Berlin")["TIMEZONE"] == "Europe/Berlin"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../etc/passwd", "America"])
def test_unknown_timezone_is_rejected(instance: Path, zone: str) -> None:
    assert error_of(instance, TIMEZONE=zone) == f"TIMEZONE {zone!r} is not a known time zone."


@pytest.mark.parametrize(("lease", "tick"), [(5.0, 5.0), (3.0, 5.0)])
def test_lease_must_outlast_the_tick(instance: Path, lease: float, tick: float) -> None:
    message = error_of(instance, LEASE_SECONDS=lease, TICK_SECONDS=tick)
    assert message == "LEASE_SECONDS must be longer than TICK_SECONDS."


def test_tick_below_minimum_is_rejected(instance: Path) -> None:
    assert error_of(instance, TICK_SECONDS=0.1) == "TICK_SECONDS must be at least 0.2, not 0.1."


@pytest.mark.parametrize("watch", [0.01, -1.0])
def test_watch_interval_too_short_or_negative_is_rejected(instance: Path, watch: float) -> None:
    message = error_of(instance, WATCH_SECONDS=watch)
    assert message == f"WATCH_SECONDS must be 0 (off) or at least 0.05, not {watch!r}."


@pytest.mark.parametrize("watch", [0.0, 0.05, 1.0])
def test_watch_interval_off_or_long_enough_is_accepted(instance: Path, watch: float) -> None:
    assert load(instance, WATCH_SECONDS=watch)["WATCH_SECONDS"] == watch


def test_short_secret_key_is_rejected(instance: Path) -> None:
    assert "at least 16 characters" in error_of(instance, SECRET_KEY="short")


def test_bad_log_format_is_rejected(instance: Path) -> None:
    assert error_of(instance, LOG_FORMAT="xml") == "LOG_FORMAT must be 'text' or 'json'."


# --- the generated secret key -------------------------------------------------------------


def test_secret_key_is_generated_once_private_and_reused(instance: Path) -> None:
    first = load(instance)["SECRET_KEY"]
    key_file = instance / "secret_key"
    assert len(first) >= 32
    assert key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # A restart (or another worker) signs sessions with the same key.
    assert load(instance)["SECRET_KEY"] == first
    # A different instance folder gets its own key.
    assert load(instance.parent / "other")["SECRET_KEY"] != first


def test_configured_secret_key_writes_no_file(instance: Path) -> None:
    assert load(instance, SECRET_KEY="x" * 32)["SECRET_KEY"] == "x" * 32
    assert not (instance / "secret_key").exists()


def load_together(instance: Path, workers: int) -> list[str]:
    """Start `workers` threads at the same instant, each loading settings from `instance`."""
    start = threading.Barrier(workers)
    keys: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        start.wait()
        try:
            keys.append(settings.load(instance)["SECRET_KEY"])
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    return keys


def test_workers_starting_together_share_one_key(tmp_path: Path) -> None:
    # Repeated: one round may happen not to interleave; a racy writer loses within a few.
    for attempt in range(60):
        instance = tmp_path / f"instance{attempt}"
        keys = load_together(instance, workers=8)
        assert len(keys) == 8
        assert len(set(keys)) == 1
        assert (instance / "secret_key").read_text().strip() == keys[0]


def test_empty_secret_key_file_says_what_to_do(instance: Path) -> None:
    instance.mkdir()
    (instance / "secret_key").write_text("")
    message = error_of(instance)
    assert str(instance / "secret_key") in message
    assert "delete it" in message


# --- the CLI prints the sentence ----------------------------------------------------------


@pytest.mark.slow
def test_flask_cli_prints_settings_error_without_traceback(tmp_path: Path) -> None:
    env = child_env(
        FEEDSVC_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        FEEDSVC_SECRET_KEY="a-test-secret-key-of-enough-length",
        FEEDSVC_TICK_SECONDS="abc",
    )
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "feedsvc", "db", "current"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
    )
    assert done.returncode != 0
    assert "Error: FEEDSVC_TICK_SECONDS must be a number" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "database:" not in done.stdout


def test_the_served_app_forgets_its_settings_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """wsgi.py: granian copies os.environ into every request's environ; the secret key and
    the database URL must not ride along. (A stand-in environment: the real one holds the
    test run's own FEEDSVC_TEST_* variables.)"""
    environment = {
        "FEEDSVC_SECRET_KEY": "a-secret-that-must-not-travel",
        "FEEDSVC_DATABASE_URL": "postgresql+psycopg://u:password@db/x",
        "PATH": "/usr/bin",
    }
    monkeypatch.setattr(os, "environ", environment)
    settings.forget_environment()
    assert environment == {"PATH": "/usr/bin"}
