"""Editor accounts: who may be created, how passwords are kept, who gets in, the first admin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import delete, select
from werkzeug.security import check_password_hash

from feedsvc import limits
from feedsvc.errors import Conflict, ValidationError
from feedsvc.limits import PASSWORD_MIN
from feedsvc.storage.db import database, transaction
from feedsvc.storage.models import User
from feedsvc.users import authenticate, create_user, ensure_admin
from tests.support.app import make_app

PASSWORD = "correct horse battery"
NAME_RULE = (
    "A username is 1 to 64 letters, digits, dots, hyphens or underscores, "
    "starting with a letter or digit."
)


@pytest.fixture
def blank(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """A migrated database without any user (the `app` fixture already has an editor)."""
    app = make_app(database_url, tmp_path)
    yield app
    database(app).dispose()


def add(app: Flask, username: str, password: str = PASSWORD) -> None:
    with transaction(app) as s:
        create_user(s, username, password)


def refused(app: Flask, username: str, password: str = PASSWORD) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        add(app, username, password)
    return caught.value.errors


def usernames(app: Flask) -> list[str]:
    with transaction(app, write=False) as s:
        return list(s.scalars(select(User.username).order_by(User.id)))


def login(app: Flask, username: str, password: str) -> str | None:
    with transaction(app, write=False) as s:
        user = authenticate(s, username, password)
        return None if user is None else user.username


# --- create_user --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "9lives", "ana.lopez", "Ana_Lopez-2", "x" * 64])
def test_good_usernames_are_accepted(blank: Flask, name: str) -> None:
    add(blank, name)
    assert usernames(blank) == [name]


@pytest.mark.parametrize(
    "name",
    [
        *["", "-ana", ".ana", "_ana", "ana lopez", "ana/lopez", "ana@example.org"],
        *["x" * 65, "ána", "ana\n", " ana"],
    ],
)
def test_bad_usernames_are_refused_with_the_rule(blank: Flask, name: str) -> None:
    assert refused(blank, name) == {"username": NAME_RULE}
    assert usernames(blank) == []


@pytest.mark.parametrize("again", ["Ana", "ana", "ANA"])
def test_taken_username_is_refused_whatever_the_case(blank: Flask, again: str) -> None:
    add(blank, "Ana")
    with pytest.raises(Conflict) as caught:  # alone, a clash with what is stored
        add(blank, again)
    assert caught.value.errors == {"username": f"The username “{again}” is taken."}
    assert usernames(blank) == ["Ana"]


def test_a_taken_username_beside_other_problems_is_a_plain_refusal(blank: Flask) -> None:
    add(blank, "Ana")
    with pytest.raises(ValidationError) as caught:
        add(blank, "ana", "short")
    assert not isinstance(caught.value, Conflict)
    assert list(caught.value.errors) == ["username", "password"]


def roles(app: Flask) -> dict[str, str]:
    with transaction(app, write=False) as s:
        return {name: role for name, role in s.execute(select(User.username, User.role))}


def test_an_account_is_an_editor_unless_made_an_admin(blank: Flask) -> None:
    add(blank, "ana")
    with transaction(blank) as s:
        create_user(s, "ben", PASSWORD, role="admin")
    assert roles(blank) == {"ana": "editor", "ben": "admin"}


@pytest.mark.parametrize("role", ["", "Admin", "root", "editor "])
def test_an_unknown_role_is_refused(blank: Flask, role: str) -> None:
    with pytest.raises(ValidationError) as caught, transaction(blank) as s:
        create_user(s, "ana", PASSWORD, role=role)
    assert caught.value.errors == {"role": "The role must be “editor” or “admin”."}
    assert usernames(blank) == []


def test_passwords_longer_than_the_limit_or_not_text_are_refused(blank: Flask) -> None:
    assert refused(blank, "ana", "p" * (limits.PASSWORD_MAX + 1)) == {
        "password": f"The password must be at most {limits.PASSWORD_MAX} characters."
    }
    # What a pipe of non-UTF-8 bytes becomes under surrogateescape.
    assert refused(blank, "ana", "long enough \udcff") == {
        "password": "The password contains characters that are not valid text."
    }
    add(blank, "ana", "p" * limits.PASSWORD_MAX)
    assert login(blank, "ana", "p" * limits.PASSWORD_MAX) == "ana"


def test_password_must_have_minimum_length(blank: Flask) -> None:
    assert PASSWORD_MIN == 8
    assert refused(blank, "ana", "seven77") == {
        "password": "The password must be at least 8 characters."
    }
    add(blank, "ana", "eight888")
    assert login(blank, "ana", "eight888") == "ana"


def test_every_problem_is_reported_at_once(blank: Flask) -> None:
    errors = refused(blank, "bad name", "short")
    assert set(errors) == {"username", "password"}
    assert usernames(blank) == []


def test_passwords_are_stored_as_salted_scrypt_hashes(blank: Flask) -> None:
    add(blank, "ana")
    add(blank, "ben")
    with transaction(blank, write=False) as s:
        hashes = {name: h for name, h in s.execute(select(User.username, User.password_hash))}
    for stored in hashes.values():
        assert stored.startswith("scrypt:")
        assert PASSWORD not in stored
        assert check_password_hash(stored, PASSWORD)
    assert hashes["ana"] != hashes["ben"]  # same password, different salt


# --- authenticate -------------------------------------------------------------------------


def test_authenticate_right_wrong_and_unknown(blank: Flask) -> None:
    add(blank, "Ana")
    assert login(blank, "Ana", PASSWORD) == "Ana"
    assert login(blank, "ana", PASSWORD) == "Ana"  # names are matched case-insensitively
    assert login(blank, "Ana", PASSWORD.upper()) is None
    assert login(blank, "Ana", PASSWORD + " ") is None
    assert login(blank, "Ana", "") is None
    assert login(blank, "nobody", PASSWORD) is None


# --- ensure_admin -------------------------------------------------------------------------


def test_ensure_admin_with_chosen_password(blank: Flask) -> None:
    with transaction(blank) as s:
        assert ensure_admin(s, "chosen by the operator") is None
    assert usernames(blank) == ["admin"]
    assert roles(blank) == {"admin": "admin"}
    assert login(blank, "admin", "chosen by the operator") == "admin"


def test_ensure_admin_generates_a_password_once(blank: Flask) -> None:
    with transaction(blank) as s:
        generated = ensure_admin(s, None)
    assert generated is not None and len(generated) >= 12
    assert login(blank, "admin", generated) == "admin"
    assert roles(blank) == {"admin": "admin"}
    with transaction(blank) as s:
        assert ensure_admin(s, None) is None
    assert usernames(blank) == ["admin"]
    assert login(blank, "admin", generated) == "admin"


def test_generated_passwords_differ(blank: Flask) -> None:
    with transaction(blank) as s:
        first = ensure_admin(s, None)
        s.execute(delete(User))
        second = ensure_admin(s, None)
    assert first and second and first != second


def test_ensure_admin_does_nothing_when_any_user_exists(blank: Flask) -> None:
    add(blank, "editor")
    with transaction(blank) as s:
        assert ensure_admin(s, None) is None
        assert ensure_admin(s, "chosen by the operator") is None
    assert usernames(blank) == ["editor"]


def test_ensure_admin_refuses_a_short_password(blank: Flask) -> None:
    with pytest.raises(ValidationError) as caught, transaction(blank) as s:
        ensure_admin(s, "short")
    assert caught.value.errors == {"password": "The password must be at least 8 characters."}
    assert usernames(blank) == []


def test_user_limits_are_the_ones_in_limits(blank: Flask) -> None:
    add(blank, "u" * limits.USERNAME_MAX, "p" * limits.PASSWORD_MIN)
    assert refused(blank, "v" * (limits.USERNAME_MAX + 1), "p" * (limits.PASSWORD_MIN - 1)) == {
        "username": NAME_RULE,
        "password": f"The password must be at least {limits.PASSWORD_MIN} characters.",
    }
    assert f"1 to {limits.USERNAME_MAX} letters" in NAME_RULE
