"""Accounts: create, authenticate, roles, disabling, passwords, and the first admin. Never commits.

Every change that should end a user's sessions (disabling, a password reset or change) bumps
``session_version``: a session cookie issued under an older version no longer counts.
Passwords are hashed (scrypt, salted) before any row is read or written, so the costly part
never runs inside a write transaction of its own making.
"""

from __future__ import annotations

import re
import secrets

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from feedsvc.errors import Conflict, NotFound, ValidationError
from feedsvc.limits import (
    PASSWORD_MAX,
    PASSWORD_MIN,
    ROLE_ADMIN,
    ROLE_EDITOR,
    ROLES,
    USERNAME_MAX,
    valid_id,
)
from feedsvc.storage.models import User, utcnow

USERNAME_RE = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.-]{{0,{USERNAME_MAX - 1}}}")
FIRST_ADMIN = "admin"
# Checked against when the user does not exist, so a wrong name costs as much as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password", method="scrypt")
_SURROGATE = re.compile("[\ud800-\udfff]")


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def password_problem(password: str) -> str | None:
    """Why `password` cannot be a new password, as a sentence; None when it can."""
    if len(password) < PASSWORD_MIN:
        return f"The password must be at least {PASSWORD_MIN} characters."
    if len(password) > PASSWORD_MAX:
        return f"The password must be at most {PASSWORD_MAX} characters."
    if _SURROGATE.search(password):  # not text (undecodable bytes from a pipe, say)
        return "The password contains characters that are not valid text."
    return None


def _role_problem(role: str) -> str | None:
    if role in ROLES:
        return None
    return f"The role must be {' or '.join(f'“{r}”' for r in ROLES)}."


def create_user(session: Session, username: str, password: str, role: str = ROLE_EDITOR) -> User:
    """Add an account (an editor unless `role` says otherwise).

    Raises ValidationError with every problem at once, or Conflict when the only one is a
    username already taken (whatever its case).
    """
    errors: dict[str, str] = {}
    if not USERNAME_RE.fullmatch(username):
        errors["username"] = (
            f"A username is 1 to {USERNAME_MAX} letters, digits, dots, hyphens or underscores, "
            "starting with a letter or digit."
        )
    if problem := password_problem(password):
        errors["password"] = problem
    if problem := _role_problem(role):
        errors["role"] = problem
    hashed = hash_password(password) if not errors else ""
    if "username" not in errors and session.scalar(
        select(User.id).where(func.lower(User.username) == username.lower())
    ):
        errors["username"] = f"The username “{username}” is taken."
        if len(errors) == 1:
            raise Conflict(errors)
    if errors:
        # In the form's order, whichever check found them first.
        raise ValidationError(
            {k: errors[k] for k in ("username", "password", "role") if k in errors}
        )
    user = User(username=username, password_hash=hashed, role=role, created_at=utcnow())
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The account these credentials name, if they match and it is not disabled.

    A disabled account's password is still checked, so its answer takes as long as any other.
    """
    user = find_user(session, username)
    if not password_matches(user, password) or user is None or not user.is_active:
        return None
    return user


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id) if valid_id(user_id) else None
    if user is None:
        raise NotFound(f"There is no user with id {user_id}.")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(func.lower(User.username), User.id)))


def _other_active_admins(session: Session, user_id: int) -> int:
    """Active admins other than `user_id`; every active admin's row locked until commit.

    All of them, `user_id` too: two admins disabling (or demoting) each other at once then
    take turns (PostgreSQL: the second waits, then sees the first one's change and is
    refused; SQLite writers take turns anyway), so one active admin always remains.
    """
    query = (
        select(User.id)
        .where(User.role == ROLE_ADMIN, User.disabled_at.is_(None))
        .order_by(User.id)  # one locking order for everyone: no deadlock
        .with_for_update()
    )
    return sum(1 for found in session.scalars(query) if found != user_id)


def _refuse_last_admin(session: Session, user: User, doing: str) -> None:
    if user.is_admin and user.is_active and _other_active_admins(session, user.id) == 0:
        raise Conflict(
            {
                "user": f"“{user.username}” is the only active admin: {doing} would leave "
                "nobody to manage accounts. Make another account an admin first."
            }
        )


def disable_user(session: Session, actor: User, user_id: int) -> User:
    """Disable an account: no login, no session, no API token works until it is enabled."""
    user = get_user(session, user_id)
    if user.id == actor.id:
        raise Conflict({"user": "You cannot disable your own account; ask another admin."})
    if not user.is_active:
        return user
    _refuse_last_admin(session, user, "disabling it")
    user.disabled_at = utcnow()
    user.session_version = User.session_version + 1
    session.flush()
    return user


def enable_user(session: Session, user_id: int) -> User:
    """Enable a disabled account again; its API tokens work again unless revoked or expired."""
    user = get_user(session, user_id)
    user.disabled_at = None
    session.flush()
    return user


def change_role(session: Session, actor: User, user_id: int, role: str) -> User:
    """Make an account an editor or an admin (never your own, never the last active admin)."""
    if problem := _role_problem(role):
        raise ValidationError({"role": problem})
    user = get_user(session, user_id)
    if user.role == role:
        return user
    if user.id == actor.id:
        raise Conflict({"role": "You cannot change your own role; ask another admin."})
    if role != ROLE_ADMIN:
        _refuse_last_admin(session, user, "making it an editor")
    user.role = role
    session.flush()
    return user


def _store_password(session: Session, user_id: int, hashed: str) -> None:
    session.execute(
        update(User)
        .where(User.id == user_id)
        .values(
            password_hash=hashed,
            password_changed_at=utcnow(),
            session_version=User.session_version + 1,
        )
    )
    session.flush()


def reset_password(session: Session, actor: User, user_id: int, new_password: str) -> User:
    """An admin sets another account's password; every session of that account ends."""
    if problem := password_problem(new_password):
        raise ValidationError({"password": problem})
    hashed = hash_password(new_password)
    user = get_user(session, user_id)
    if user.id == actor.id:
        raise Conflict(
            {
                "password": "Change your own password on the Password page; it asks for the "
                "current one."
            }
        )
    _store_password(session, user.id, hashed)
    session.refresh(user)
    return user


def change_password(session: Session, user: User, current: str, new_password: str) -> None:
    """A user changes their own password; the current one is required. Every session ends.

    Both hashes are computed before `session` is used. The update names the hash that was
    checked, so a reset by an admin meanwhile is not silently overwritten.
    """
    errors: dict[str, str] = {}
    if not check_password_hash(user.password_hash, current):
        errors["current"] = "That is not your current password."
    if problem := password_problem(new_password):
        errors["password"] = problem
    elif new_password == current:
        errors["password"] = "The new password must differ from the current one."
    if errors:
        raise ValidationError(errors)
    hashed = hash_password(new_password)
    changed = session.execute(
        update(User)
        .where(User.id == user.id, User.password_hash == user.password_hash)
        .values(
            password_hash=hashed,
            password_changed_at=utcnow(),
            session_version=User.session_version + 1,
        )
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]  # CursorResult
        raise Conflict({"current": "Your password was changed meanwhile; log in again."})
    session.flush()


def find_user(session: Session, username: str) -> User | None:
    """The account named `username` (any case), or None."""
    if not USERNAME_RE.fullmatch(username):
        return None  # no such name can exist (and PostgreSQL's text refuses a NUL)
    return session.scalar(select(User).where(func.lower(User.username) == username.lower()))


def password_matches(user: User | None, password: str) -> bool:
    """Whether `password` is the user's; with no user, a dummy hash costs the same time.

    The hash is scrypt, about 0.1 s of CPU: call this with no database transaction open, so a
    flood of logins holds no lock that publishing waits for.
    """
    stored = user.password_hash if user is not None else _DUMMY_HASH
    return check_password_hash(stored, password) and user is not None


def ensure_admin(session: Session, password: str | None) -> str | None:
    """Create the admin `admin` when no user exists; return the generated password, if made."""
    if session.scalar(select(func.count(User.id))):
        return None
    generated = None
    if not password:
        password = generated = secrets.token_urlsafe(12)
    create_user(session, FIRST_ADMIN, password, role=ROLE_ADMIN)
    return generated
