"""API bearer tokens: create (shown once), find by token, revoke, list. Never commits.

A token is ``fsv_`` followed by 43 URL-safe characters (secrets.token_urlsafe(32), 256 bits).
Only its SHA-256 (hex) is stored, with the first 8 characters of the random part as a
``prefix``: a non-secret selector that finds the row and names the token in listings and in
``revoke-token``. The stored hash is then compared in constant time (hmac.compare_digest).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.sql.dml import Update

from feedsvc.content.text import ContentError, clean_line, clean_text
from feedsvc.errors import NotFound, ValidationError
from feedsvc.limits import TOKEN_NAME_MAX
from feedsvc.storage.models import ApiToken, User, utcnow

MARKER = "fsv_"
PREFIX_LENGTH = 8
# secrets.token_urlsafe(32): 32 random bytes as unpadded base64url, 43 characters.
_TOKEN_RE = re.compile(r"\Afsv_[A-Za-z0-9_-]{43}\Z")
_PREFIX_RE = re.compile(r"\A(?:fsv_)?([A-Za-z0-9_-]{8})\Z")
# How often last_used_at may be written per token: a busy integration must not turn every
# API read into a database write.
TOUCH_INTERVAL = timedelta(minutes=1)
# Compared against when no row matches, so a wrong prefix costs what a wrong secret costs.
_DUMMY_HASH = hashlib.sha256(b"no such token").hexdigest()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def display_prefix(token: ApiToken) -> str:
    """How a token is named to people: its first 12 characters, marker included."""
    return f"{MARKER}{token.prefix}"


def create_token(session: Session, username: str, name: str = "") -> tuple[ApiToken, str]:
    """Make a token for an existing user; return the row and the token (the only copy)."""
    errors: dict[str, str] = {}
    wanted = clean_text(username).strip()  # argv may carry surrogate escapes; keep them out of SQL
    user = session.scalar(select(User).where(func.lower(User.username) == wanted.lower()))
    if user is None:
        errors["username"] = f"There is no user “{wanted}”."
    try:
        clean_name = clean_line(name, field="Name", max_length=TOKEN_NAME_MAX)
    except ContentError as exc:
        errors["name"] = str(exc)
    if errors:
        raise ValidationError(errors)
    assert user is not None
    while True:
        secret = MARKER + secrets.token_urlsafe(32)
        prefix = secret[len(MARKER) : len(MARKER) + PREFIX_LENGTH]
        # A prefix that starts with "-" reads as an option to `revoke-token PREFIX` (click);
        # dropping those costs log2(64/63) bits of 256.
        if prefix.startswith("-"):
            continue
        # 48 random bits: a clash is rare, but the prefix must name one token only.
        if session.scalar(select(ApiToken.id).where(ApiToken.prefix == prefix)) is None:
            break
    token = ApiToken(
        user_id=user.id,
        name=clean_name,
        token_hash=hash_token(secret),
        prefix=prefix,
        created_at=utcnow(),
    )
    session.add(token)
    session.flush()
    return token, secret


def find_token(session: Session, presented: str) -> ApiToken | None:
    """The live (not revoked) token matching `presented`, or None."""
    if not _TOKEN_RE.fullmatch(presented):
        hmac.compare_digest(_DUMMY_HASH, hash_token(presented))
        return None
    prefix = presented[len(MARKER) : len(MARKER) + PREFIX_LENGTH]
    token = session.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
    stored = token.token_hash if token is not None else _DUMMY_HASH
    if not hmac.compare_digest(stored, hash_token(presented)) or token is None:
        return None
    return token if token.revoked_at is None else None


def touch_statement(token_id: int, now: datetime) -> Update:
    """UPDATE last_used_at, but only when the stored value is a minute old or more.

    The condition is in the statement, so concurrent requests on several workers write it
    at most once per minute between them.
    """
    return (
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - TOUCH_INTERVAL),
        )
        .values(last_used_at=now)
    )


def needs_touch(token: ApiToken, now: datetime) -> bool:
    return token.last_used_at is None or now - token.last_used_at >= TOUCH_INTERVAL


def get_by_prefix(session: Session, text: str) -> ApiToken:
    """The token named by its prefix (``fsv_abcd1234`` or ``abcd1234``) or by the whole token."""
    text = text.strip()
    if _TOKEN_RE.fullmatch(text):
        token = find_token(session, text)
        if token is None:  # revoked, or not ours: look it up by prefix for a precise message
            token = session.scalar(
                select(ApiToken).where(ApiToken.prefix == text[len(MARKER) :][:PREFIX_LENGTH])
            )
            if token is None or not hmac.compare_digest(token.token_hash, hash_token(text)):
                raise NotFound("No token matches that value.")
        return token
    match = _PREFIX_RE.fullmatch(text)
    if match is None:
        raise NotFound(
            "Name a token by the prefix that list-tokens shows, like fsv_AbCd1234 "
            "(fsv_ and 8 characters)."
        )
    token = session.scalar(select(ApiToken).where(ApiToken.prefix == match.group(1)))
    if token is None:
        raise NotFound(f"There is no token with the prefix {MARKER}{match.group(1)}.")
    return token


def revoke_token(session: Session, text: str) -> tuple[ApiToken, bool]:
    """Revoke the token named by `text`; return it and whether it was live until now."""
    token = get_by_prefix(session, text)
    if token.revoked_at is not None:
        return token, False
    token.revoked_at = utcnow()
    session.flush()
    return token, True


def list_tokens(session: Session) -> list[ApiToken]:
    query = (
        select(ApiToken)
        .options(joinedload(ApiToken.user))
        .order_by(ApiToken.created_at, ApiToken.id)
    )
    return list(session.scalars(query))


__all__ = [
    "MARKER",
    "TOUCH_INTERVAL",
    "create_token",
    "display_prefix",
    "find_token",
    "get_by_prefix",
    "hash_token",
    "list_tokens",
    "needs_touch",
    "revoke_token",
    "touch_statement",
]
