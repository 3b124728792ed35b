"""Account services: disabling, roles, password resets and changes, and the last admin."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from feedsvc import users
from feedsvc.errors import Conflict, ValidationError
from feedsvc.storage.db import database, transaction
from feedsvc.storage.models import User, utcnow
from tests.support.app import make_app

PASSWORD = "correct horse battery"
LAST_ADMIN = (
    "“{name}” is the only active admin: {doing} would leave nobody to manage accounts. "
    "Make another account an admin first."
)


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """Two admins (ada, bob) and an editor (eve), ids 1, 2, 3."""
    app = make_app(database_url, tmp_path)
    with transaction(app) as s:
        users.create_user(s, "ada", PASSWORD, role="admin")
        users.create_user(s, "bob", PASSWORD, role="admin")
        users.create_user(s, "eve", PASSWORD)
    yield app
    database(app).dispose()


def account(app: Flask, name: str) -> User:
    with transaction(app, write=False) as s:
        return s.scalars(select(User).where(User.username == name)).one()


def as_(app: Flask, actor: str, change: str, target: str, *args: str) -> User:
    """Run users.<change>(session, actor, target's id, *args) and commit."""
    with transaction(app) as s:
        me = s.scalars(select(User).where(User.username == actor)).one()
        result: User = getattr(users, change)(s, me, account(app, target).id, *args)
        return result


def refusal(app: Flask, actor: str, change: str, target: str, *args: str) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        as_(app, actor, change, target, *args)
    return caught.value.errors


def logs_in(app: Flask, name: str, password: str = PASSWORD) -> bool:
    with transaction(app, write=False) as s:
        return users.authenticate(s, name, password) is not None


# --- disabling ---------------------------------------------------------------------------


def test_disabling_refuses_login_and_ends_sessions_until_enabled(site: Flask) -> None:
    before = account(site, "eve")
    assert before.is_active and before.session_version == 0
    as_(site, "ada", "disable_user", "eve")
    after = account(site, "eve")
    assert not after.is_active
    assert after.disabled_at is not None and utcnow() - after.disabled_at < timedelta(seconds=5)
    assert after.session_version == 1  # every cookie issued before no longer counts
    assert not logs_in(site, "eve")  # the right password, but disabled
    assert not logs_in(site, "eve", "wrong password")

    as_(site, "ada", "disable_user", "eve")  # again: nothing changes
    assert account(site, "eve").session_version == 1

    with transaction(site) as s:
        users.enable_user(s, account(site, "eve").id)
    assert account(site, "eve").is_active
    assert account(site, "eve").session_version == 1  # old sessions stay ended
    assert logs_in(site, "eve")


def test_nobody_disables_their_own_account(site: Flask) -> None:
    assert refusal(site, "ada", "disable_user", "ada") == {
        "user": "You cannot disable your own account; ask another admin."
    }
    assert account(site, "ada").is_active


def test_the_last_active_admin_is_never_disabled_or_demoted(site: Flask) -> None:
    as_(site, "ada", "disable_user", "bob")  # two admins: one may go
    # bob, disabled, still holding a page open: ada is now the only active admin.
    with pytest.raises(Conflict) as caught:
        as_(site, "bob", "disable_user", "ada")
    assert caught.value.errors == {"user": LAST_ADMIN.format(name="ada", doing="disabling it")}
    with pytest.raises(Conflict) as caught:
        as_(site, "bob", "change_role", "ada", "editor")
    assert caught.value.errors == {
        "user": LAST_ADMIN.format(name="ada", doing="making it an editor")
    }
    assert account(site, "ada").is_active and account(site, "ada").is_admin
    # An editor may be disabled whatever the admins' state.
    as_(site, "ada", "disable_user", "eve")
    assert not account(site, "eve").is_active


def test_two_admins_disabling_each_other_at_once_leave_one_active(site: Flask) -> None:
    """The first takes the admins' rows; the second waits, then sees it and is refused."""
    db = database(site)
    first = db.writer()
    me = first.scalars(select(User).where(User.username == "ada")).one()
    users.disable_user(first, me, account(site, "bob").id)  # not committed yet
    outcome: list[object] = []

    def other() -> None:
        try:
            as_(site, "bob", "disable_user", "ada")
            outcome.append("done")
        except Conflict as exc:
            outcome.append(exc.errors)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(timeout=0.5)
    assert thread.is_alive()  # waiting for the first transaction
    first.commit()
    first.close()
    thread.join(timeout=30)
    assert outcome == [{"user": LAST_ADMIN.format(name="ada", doing="disabling it")}]
    assert account(site, "ada").is_active and not account(site, "bob").is_active


# --- roles ------------------------------------------------------------------------------------


def test_roles_change_but_never_your_own(site: Flask) -> None:
    assert as_(site, "ada", "change_role", "eve", "admin").role == "admin"
    assert as_(site, "ada", "change_role", "bob", "editor").role == "editor"
    assert (account(site, "eve").role, account(site, "bob").role) == ("admin", "editor")
    assert refusal(site, "ada", "change_role", "ada", "editor") == {
        "role": "You cannot change your own role; ask another admin."
    }
    assert refusal(site, "ada", "change_role", "eve", "owner") == {
        "role": "The role must be “editor” or “admin”."
    }
    assert account(site, "ada").role == "admin"


# --- passwords ---------------------------------------------------------------------------


def test_an_admin_resets_another_accounts_password(site: Flask) -> None:
    as_(site, "ada", "reset_password", "eve", "a fresh passphrase")
    eve = account(site, "eve")
    assert eve.session_version == 1 and eve.password_changed_at is not None
    assert logs_in(site, "eve", "a fresh passphrase") and not logs_in(site, "eve")
    assert refusal(site, "ada", "reset_password", "eve", "short") == {
        "password": "The password must be at least 8 characters."
    }
    assert refusal(site, "ada", "reset_password", "ada", "a fresh passphrase") == {
        "password": "Change your own password on the Password page; it asks for the current one."
    }
    assert logs_in(site, "ada")


def change(app: Flask, name: str, current: str, new: str) -> None:
    with transaction(app) as s:
        users.change_password(s, account(app, name), current, new)


def test_everyone_changes_their_own_password_with_the_current_one(site: Flask) -> None:
    change(site, "eve", PASSWORD, "my own new passphrase")
    eve = account(site, "eve")
    assert eve.session_version == 1 and eve.password_changed_at is not None
    assert logs_in(site, "eve", "my own new passphrase") and not logs_in(site, "eve")


@pytest.mark.parametrize(
    ("current", "new", "errors"),
    [
        ("not it", "my own new passphrase", {"current": "That is not your current password."}),
        (PASSWORD, "short", {"password": "The password must be at least 8 characters."}),
        (PASSWORD, PASSWORD, {"password": "The new password must differ from the current one."}),
        (
            "not it",
            "short",
            {
                "current": "That is not your current password.",
                "password": "The password must be at least 8 characters.",
            },
        ),
    ],
)
def test_a_password_change_is_refused_with_reasons(
    site: Flask, current: str, new: str, errors: dict[str, str]
) -> None:
    with pytest.raises(ValidationError) as caught:
        change(site, "eve", current, new)
    assert caught.value.errors == errors
    assert logs_in(site, "eve") and account(site, "eve").session_version == 0


def test_a_change_from_a_stale_page_never_undoes_a_reset(site: Flask) -> None:
    stale = account(site, "eve")  # eve's page, loaded before the reset
    as_(site, "ada", "reset_password", "eve", "set by the admin")
    with pytest.raises(Conflict), transaction(site) as s:
        users.change_password(s, stale, PASSWORD, "my own new passphrase")
    assert logs_in(site, "eve", "set by the admin")
