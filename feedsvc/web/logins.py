"""The login session in the signed cookie: what it carries, and when it stops counting.

The cookie (Flask's, signed with SECRET_KEY) carries the user's id, the user's
``session_version`` at login, a random session id that is new at every login (a session
planted before a login never becomes a logged-in one), the login time and the last-seen time.
Before every request it is checked against the clock and the database; it ends (the login's
keys are removed from the cookie) when

- the user is gone or disabled,
- the user's ``session_version`` moved (logout, a password change, disabling: every session
  of the user ends at once, on every instance, because the version lives in the database),
- no request came for SESSION_IDLE_MINUTES, or
- SESSION_MAX_HOURS passed since the login, however busy the session was.

The last-seen time is rewritten at most once a minute, so a busy editor's requests do not
each carry a new Set-Cookie.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from flask import current_app, session
from sqlalchemy import update

from feedsvc.storage.db import database, transaction
from feedsvc.storage.models import User

# Seconds: how stale the cookie's last-seen time may get before a request rewrites it (the
# idle limit is then exact to within this much).
SEEN_RESOLUTION = 60
# The keys a login session sets; anything else in the cookie (the CSRF secret, flashes)
# belongs to someone else.
_KEYS = ("uid", "ver", "sid", "iat", "seen")
# The key sessions used before versions existed: such a cookie no longer logs anyone in.
_LEGACY_KEY = "user_id"

# Why a session ended, as the login page tells it.
ENDED = {
    "idle": "Your session ended after {idle} without a request; log in again.",
    "expired": "Your session ended {max} after you logged in; log in again.",
    "revoked": (
        "Your session has ended: you logged out elsewhere, your password was changed, or "
        "your account was changed. Log in again."
    ),
}


def clock() -> float:
    """Seconds since the epoch; tests replace it to move time without sleeping."""
    return time.time()


@dataclass(frozen=True)
class Check:
    """The cookie's verdict: the user (None: no session), and why a session ended, if one did."""

    user: User | None
    ended: str | None = None
    session_id: str | None = None
    user_id: int | None = None  # whose session ended (the cookie's claim)


def start(user: User) -> str:
    """Begin a session for `user` with everything else in the cookie dropped; the new id."""
    now = int(clock())
    session.clear()
    sid = secrets.token_urlsafe(16)
    session.update(uid=user.id, ver=user.session_version, sid=sid, iat=now, seen=now)
    session.permanent = True  # kept across browser restarts, until idle or absolute expiry
    return sid


def check() -> Check:
    """Whether the cookie is a live session; ends it (drops the login) when it is not."""
    if _LEGACY_KEY in session:
        return _end("revoked", None, None)
    if "uid" not in session:
        return Check(None)
    uid, ver, sid, iat, seen = (session.get(key) for key in _KEYS)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (uid, ver, iat, seen)):
        return _end("revoked", None, None)  # signed by us, so only an older layout: start over
    assert isinstance(uid, int) and isinstance(iat, int) and isinstance(seen, int)
    sid = sid if isinstance(sid, str) else None
    now = int(clock())
    config = current_app.config
    if now - iat >= int(config["SESSION_MAX_HOURS"]) * 3600:
        return _end("expired", sid, uid)
    if now - seen >= int(config["SESSION_IDLE_MINUTES"]) * 60:
        return _end("idle", sid, uid)
    # A short read of its own, not the request's session: on SQLite a POST's session takes the
    # write lock at its first statement, and checking a cookie is no reason to hold it.
    with database().reader() as lookup:
        user = lookup.get(User, uid)
    if user is None or not user.is_active or user.session_version != ver:
        return _end("revoked", sid, uid)
    if now - seen >= SEEN_RESOLUTION:
        session["seen"] = now
    return Check(user, session_id=sid, user_id=uid)


def _end(reason: str, sid: str | None, uid: int | None) -> Check:
    # Only the login goes: the form secret stays, so a login page shown before the session
    # ended still submits (start() replaces the secret at the next login anyway).
    for key in (*_KEYS, _LEGACY_KEY):
        session.pop(key, None)
    return Check(None, reason, sid, uid)


def message(reason: str) -> str:
    """The sentence the login page shows for a session that ended for `reason`."""
    config = current_app.config
    return ENDED[reason].format(
        idle=_duration(int(config["SESSION_IDLE_MINUTES"]) * 60),
        max=_duration(int(config["SESSION_MAX_HOURS"]) * 3600),
    )


def _duration(seconds: int) -> str:
    if seconds % 86400 == 0:
        days = seconds // 86400
        return f"{days} day{'s' * (days != 1)}"
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour{'s' * (hours != 1)}"
    minutes = seconds // 60
    return f"{minutes} minute{'s' * (minutes != 1)}"


def end_everywhere(user_id: int) -> None:
    """Bump the user's session version: every session of theirs, on every instance, ends."""
    with transaction(current_app) as s:
        s.execute(
            update(User).where(User.id == user_id).values(session_version=User.session_version + 1)
        )
