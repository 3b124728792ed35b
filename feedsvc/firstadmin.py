"""The first admin account, made on first start, and where its generated password goes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask import Flask

from feedsvc.errors import ValidationError
from feedsvc.storage.db import transaction
from feedsvc.users import ensure_admin


def _fail(message: str) -> None:
    raise click.ClickException(message)


ADMIN_PASSWORD_FILE = "admin-password.txt"


def _stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def _write_private(path: Path, text: str) -> None:
    """Write `text` to a new file that only this account may read (0600 from its creation).

    O_EXCL: a file (or a planted symlink) already at `path` is removed first, never written
    through; the mode is given to open(2), so the file is never world-readable, not even
    between its creation and a chmod.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(os.open(path, flags, 0o600), "w", encoding="utf-8") as out:
        out.write(text + "\n")


def ensure_first_admin(app: Flask) -> None:
    """Create the admin `admin` on first start; give a generated password to the operator once.

    On a terminal (`make run` on a laptop) it is printed. Otherwise standard output goes to a
    supervisor, a container runtime or a log collector, which keep it: the password goes to
    instance/admin-password.txt (mode 0600) and only that file's path is printed.
    """
    terminal = _stdout_is_terminal()
    path = Path(app.extensions["feedsvc.settings"]["INSTANCE_PATH"]) / ADMIN_PASSWORD_FILE
    try:
        with transaction(app) as s:
            generated = ensure_admin(s, os.environ.get("FEEDSVC_ADMIN_PASSWORD") or None)
            if generated and not terminal:
                # Inside the transaction: if the file cannot be written, no admin is made
                # with a password nobody knows.
                _write_private(path, generated)
    except ValidationError as exc:  # a too-short FEEDSVC_ADMIN_PASSWORD: a sentence, not a crash
        _fail("FEEDSVC_ADMIN_PASSWORD cannot be used. " + " ".join(exc.errors.values()))
    except OSError as exc:
        _fail(
            f"Cannot write the first admin's password to {path}: {exc.strerror}. "
            "Set FEEDSVC_ADMIN_PASSWORD to choose it instead."
        )
    if not generated:
        return
    if terminal:
        click.echo(
            "\n  Created the user 'admin' with the password:  "
            f"{generated}\n  (shown once; set FEEDSVC_ADMIN_PASSWORD to choose it yourself)\n"
        )
    else:
        click.echo(
            f"Created the user 'admin'; its generated password is in {path} (readable by this "
            "account only). Log in, change it on the Password page, then delete the file."
        )
