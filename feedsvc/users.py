"""Editor accounts: create, authenticate, and make sure the first admin exists."""

from __future__ import annotations

import re
import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from feedsvc.errors import ValidationError
from feedsvc.limits import PASSWORD_MIN, USERNAME_MAX
from feedsvc.storage.models import User

USERNAME_RE = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.-]{{0,{USERNAME_MAX - 1}}}")
# Checked against when the user does not exist, so a wrong name costs as much as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password", method="scrypt")


def create_user(session: Session, username: str, password: str) -> User:
    """Add an editor (raises ValidationError). Passwords are stored as scrypt hashes only."""
    errors: dict[str, str] = {}
    if not USERNAME_RE.fullmatch(username):
        errors["username"] = (
            f"A username is 1 to {USERNAME_MAX} letters, digits, dots, hyphens or underscores, "
            "starting with a letter or digit."
        )
    elif session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        errors["username"] = f"The username “{username}” is taken."
    if len(password) < PASSWORD_MIN:
        errors["password"] = f"The password must be at least {PASSWORD_MIN} characters."
    if errors:
        raise ValidationError(errors)
    user = User(username=username, password_hash=generate_password_hash(password, method="scrypt"))
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = None
    # No other name can exist, so it needs no query (and PostgreSQL's text refuses a NUL).
    if USERNAME_RE.fullmatch(username):
        user = session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def ensure_admin(session: Session, password: str | None) -> str | None:
    """Create `admin` when no user exists; return the generated password, if one was made."""
    if session.scalar(select(func.count(User.id))):
        return None
    generated = None
    if not password:
        password = generated = secrets.token_urlsafe(12)
    create_user(session, "admin", password)
    return generated
