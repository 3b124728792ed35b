"""The account commands: the first admin's password (terminal or private file), create-user's
password (asked on a terminal, else the first line of stdin), and token scope and expiry."""

from __future__ import annotations

import logging
import os
import pty
import re
import select
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select as sql_select

from devtools.procs import feedsvc_app, service_env
from feedsvc.settings import PROJECT_ROOT
from feedsvc.storage.db import database, transaction
from feedsvc.storage.models import ApiToken, User
from tests.support.app import EDITOR, unmigrated_app
from tests.support.env import SUBPROCESS_TIMEOUT
from tests.support.forms import AuthActions

TOKEN = re.compile(r"\Afsv_[A-Za-z0-9_-]{43}\Z")
GENERATED = re.compile(r"Created the user 'admin' with the password:\s+(\S+)")
FILE_NOTE = re.compile(r"its generated password is in (\S+) \(readable by this account only\)")


def invoke(app: Flask, *args: str, stdin_text: str | None = None) -> Result:
    return app.test_cli_runner().invoke(args=list(args), input=stdin_text)


def logs_in(app: Flask, username: str, password: str) -> bool:
    client = app.test_client()
    return AuthActions(client).login(username, password).status_code == 302


def password_file(app: Flask) -> Path:
    return Path(app.extensions["feedsvc.settings"]["INSTANCE_PATH"]) / "admin-password.txt"


def roles(app: Flask) -> dict[str, str]:
    with transaction(app, write=False) as s:
        return {name: role for name, role in s.execute(sql_select(User.username, User.role))}


# --- the first admin's generated password ----------------------------------------------------


def test_off_a_terminal_the_password_goes_to_a_private_file_and_only_its_path_is_shown(
    empty_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    result = invoke(empty_app, "init-db")  # CliRunner's stdout is no terminal
    assert result.exit_code == 0, result.output
    path = password_file(empty_app)
    assert FILE_NOTE.search(result.output)[1] == str(path)  # type: ignore[index]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    password = path.read_text(encoding="utf-8").removesuffix("\n")
    assert len(password) >= 12
    assert password not in result.output and GENERATED.search(result.output) is None
    assert all(password not in r.getMessage() for r in caplog.records)
    assert logs_in(empty_app, "admin", password)
    assert roles(empty_app) == {"admin": "admin"}

    again = invoke(empty_app, "init-db")
    assert again.exit_code == 0 and "password" not in again.output
    assert path.read_text(encoding="utf-8") == password + "\n"  # left alone


def test_the_file_is_private_whatever_the_umask(empty_app: Flask) -> None:
    old = os.umask(0)
    try:
        assert invoke(empty_app, "init-db").exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(password_file(empty_app).stat().st_mode) == 0o600


def test_a_stale_file_or_planted_link_is_replaced_never_written_through(
    empty_app: Flask, tmp_path: Path
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    path = password_file(empty_app)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(victim)
    result = invoke(empty_app, "init-db")
    assert result.exit_code == 0, result.output
    assert victim.read_text() == "precious\n"
    assert not path.is_symlink() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert logs_in(empty_app, "admin", path.read_text().strip())


def test_no_admin_is_made_when_the_file_cannot_be_written(empty_app: Flask) -> None:
    password_file(empty_app).mkdir(parents=True)  # a folder where the file should go
    result = invoke(empty_app, "init-db")
    assert result.exit_code == 1
    assert "Error: Cannot write the first admin's password to " in result.output
    assert "Set FEEDSVC_ADMIN_PASSWORD to choose it instead." in result.output
    assert roles(empty_app) == {}  # no admin whose password nobody knows


def run_piped(
    instance: Path, database_url: str, *args: str, stdin_text: str = ""
) -> subprocess.CompletedProcess[str]:
    """`flask … ARGS` in a real process whose standard streams are pipes, as under a supervisor."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", feedsvc_app(instance), *args],
        cwd=PROJECT_ROOT,
        env=service_env(database_url),
        input=stdin_text,
        capture_output=True,
        encoding="utf-8",
        timeout=SUBPROCESS_TIMEOUT,
    )


@pytest.mark.slow
def test_a_real_process_with_piped_output_writes_the_file(
    database_url: str, tmp_path: Path
) -> None:
    instance = tmp_path / "child"
    done = run_piped(instance, database_url, "init-db")
    assert done.returncode == 0, done.stderr
    path = instance / "admin-password.txt"
    assert f"its generated password is in {path} " in done.stdout
    password = path.read_text(encoding="utf-8").strip()
    assert password not in done.stdout + done.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    app = unmigrated_app(database_url, tmp_path)
    try:
        assert logs_in(app, "admin", password)
    finally:
        database(app).dispose()


def on_a_terminal(
    instance: Path, database_url: str, *args: str, answers: tuple[tuple[str, str], ...] = ()
) -> tuple[int, str]:
    """`flask … ARGS` with a pseudo-terminal as its standard streams, as typed in a shell.

    Each (prompt, answer): once `prompt` appears, `answer` and Enter are typed. Returns the exit
    status and everything the terminal showed (what is typed shows, unless echo is off).
    """
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", feedsvc_app(instance), *args],
        cwd=PROJECT_ROOT,
        env=service_env(database_url),
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        # A session of its own: /dev/tty is then no terminal of the test runner's, and the
        # password prompt turns echo off on this one (getpass falls back to stdin).
        start_new_session=True,
    )
    os.close(terminal)
    shown, pending = b"", list(answers)
    deadline = time.monotonic() + SUBPROCESS_TIMEOUT
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(controller, 4096)
                except OSError:  # EIO: the child closed its end
                    break
                if not chunk:
                    break
                shown += chunk
            if pending and pending[0][0].encode() in shown.split(b"\r\n")[-1]:
                os.write(controller, pending.pop(0)[1].encode() + b"\n")
        return proc.wait(timeout=SUBPROCESS_TIMEOUT), shown.decode("utf-8", "replace")
    finally:
        os.close(controller)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_on_a_terminal_the_password_is_shown_and_no_file_made(
    database_url: str, tmp_path: Path
) -> None:
    instance = tmp_path / "child"
    status, shown = on_a_terminal(instance, database_url, "init-db")
    assert status == 0, shown
    found = GENERATED.findall(shown)
    assert len(found) == 1, shown
    assert not (instance / "admin-password.txt").exists()
    app = unmigrated_app(database_url, tmp_path)
    try:
        assert logs_in(app, "admin", found[0])
    finally:
        database(app).dispose()


# --- create-user -------------------------------------------------------------------------


@pytest.mark.slow
def test_create_user_on_a_terminal_asks_twice_without_echo(
    app: Flask, database_url: str, tmp_path: Path
) -> None:
    typed = "typed at the terminal"
    status, shown = on_a_terminal(
        tmp_path / "child",
        database_url,
        "create-user",
        "ana",
        "--role",
        "admin",
        answers=(("Password for the new user", typed), ("Repeat the password", typed)),
    )
    assert status == 0, shown
    assert "User 'ana' created (admin)." in shown
    assert typed not in shown  # echo was off while it was typed
    assert logs_in(app, "ana", typed) and roles(app)["ana"] == "admin"


@pytest.mark.parametrize(
    ("stdin_text", "password"),
    [
        ("a piped passphrase\n", "a piped passphrase"),
        ("a piped passphrase", "a piped passphrase"),  # no newline at the end
        ("a piped passphrase\r\nsecond line\n", "a piped passphrase"),
        ("  spaces kept  \n", "  spaces kept  "),
    ],
)
def test_create_user_off_a_terminal_reads_the_first_line(
    app: Flask, stdin_text: str, password: str
) -> None:
    result = invoke(app, "create-user", "ana", stdin_text=stdin_text)
    assert result.exit_code == 0, result.output
    assert "Password" not in result.output  # nothing asked
    assert "User 'ana' created (editor)." in result.output
    assert logs_in(app, "ana", password)
    assert roles(app)["ana"] == "editor"


def test_create_user_with_nothing_on_stdin_says_how(app: Flask) -> None:
    result = invoke(app, "create-user", "ana", stdin_text="")
    assert result.exit_code == 1
    assert "Error: No password on standard input: send it as the first line" in result.output
    assert "ana" not in roles(app)


def test_create_user_role_must_be_editor_or_admin(app: Flask) -> None:
    result = invoke(app, "create-user", "ana", "--role", "owner", stdin_text="x" * 10 + "\n")
    assert result.exit_code == 2
    assert "'owner' is not one of 'editor', 'admin'" in result.output
    assert invoke(app, "create-user", "ben", "--role", "admin", stdin_text="b" * 9).exit_code == 0
    assert roles(app) == {EDITOR[0]: "admin", "ben": "admin"}


@pytest.mark.slow
def test_create_user_from_a_pipe_in_a_real_process(
    app: Flask, database_url: str, tmp_path: Path
) -> None:
    done = run_piped(
        tmp_path / "child", database_url, "create-user", "ana", stdin_text="from a pipe\n"
    )
    assert done.returncode == 0, done.stderr
    assert "User 'ana' created (editor)." in done.stdout
    assert "from a pipe" not in done.stdout + done.stderr
    assert logs_in(app, "ana", "from a pipe")


# --- create-token and list-tokens ------------------------------------------------------------


def make_token(app: Flask, *args: str) -> str:
    result = invoke(app, "create-token", EDITOR[0], *args)
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert TOKEN.fullmatch(token), result.stdout
    return token


def post(client: FlaskClient, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    return client.post("/api/v1/sections", json={"name": "N"}, headers=headers).status_code


def stored_expiry(app: Flask) -> datetime | None:
    with transaction(app, write=False) as s:
        return s.scalars(sql_select(ApiToken.expires_at).order_by(ApiToken.id.desc())).first()


def test_tokens_are_read_only_unless_write_is_asked_for(app: Flask, client: FlaskClient) -> None:
    result = invoke(app, "create-token", EDITOR[0])
    assert "(scope read; does not expire)" in result.stderr
    assert post(client, result.stdout.strip()) == 403
    assert post(client, make_token(app, "--scope", "write")) == 201
    wrong = invoke(app, "create-token", EDITOR[0], "--scope", "admin")
    assert wrong.exit_code == 2 and "'admin' is not one of 'read', 'write'" in wrong.output


@pytest.mark.parametrize("expires", ["30", "30d", "30D"])
def test_expires_in_days(app: Flask, expires: str) -> None:
    before = datetime.now(UTC).replace(microsecond=0)  # stored to the second
    make_token(app, "--expires", expires)
    expiry = stored_expiry(app)
    assert expiry is not None
    assert before + timedelta(days=30) <= expiry <= datetime.now(UTC) + timedelta(days=30)


def test_expires_on_a_date_or_at_a_time(app: Flask) -> None:
    day = datetime.now(UTC).date() + timedelta(days=10)
    make_token(app, "--expires", day.isoformat())
    assert stored_expiry(app) == datetime(day.year, day.month, day.day, tzinfo=UTC)  # TIMEZONE
    make_token(app, "--expires", f"{day.isoformat()}T12:30:00+02:00")
    assert stored_expiry(app) == datetime(day.year, day.month, day.day, 10, 30, tzinfo=UTC)
    make_token(app, "--expires", "never")
    assert stored_expiry(app) is None


@pytest.mark.parametrize(
    ("expires", "sentence"),
    [
        ("soon", "Give the expiry as days (90d), a date (2027-01-31) or a time"),
        ("0", "Give the expiry as 1 to 3660 days, like 90d."),
        ("3661d", "Give the expiry as 1 to 3660 days, like 90d."),
        ("99999999", "Give the expiry as days (90d)"),
        ("2001-01-01", "The expiry date must be after today and within 3660 days"),
        ("9999-12-31", "The expiry date must be after today and within 3660 days"),
        ("2001-01-01T00:00:00Z", "The expiry must be in the future."),
        ("9999-12-31T23:59:59+01:00", "The expiry must be within 3660 days"),
        ("2030-01-01T00:00:00", "Give the expiry as days (90d)"),  # no offset
    ],
)
def test_a_bad_expiry_is_a_sentence(app: Flask, expires: str, sentence: str) -> None:
    result = invoke(app, "create-token", EDITOR[0], "--expires", expires)
    assert result.exit_code == 1, result.output
    assert f"Error: {sentence}" in result.output
    with transaction(app, write=False) as s:
        assert s.scalars(sql_select(ApiToken)).all() == []


def test_list_tokens_shows_scope_and_expiry(app: Flask) -> None:
    day = datetime.now(UTC).date() + timedelta(days=10)
    token = make_token(app, "--scope", "write", "--expires", day.isoformat())
    lines = invoke(app, "list-tokens").output.splitlines()
    assert re.split(r"\s{2,}", lines[0].strip())[2:8:3] == ["scope", "expires"]
    row = re.split(r"\s{2,}", lines[1].strip())
    assert row[0] == token[:12] and row[2] == "write"
    assert row[5] == f"{day.isoformat()} 00:00:00Z" and row[6] == "active"
