"""API bearer tokens: create (shown once), find by token, revoke, list. Never commits.

Each token has a scope (read: GET and HEAD only; write: also changes) and may expire; it acts
as its user, with that user's role, and stops working while the user is disabled.

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
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.sql.dml import Update

from feedsvc.content.text import ContentError, clean_line, clean_text
from feedsvc.errors import NotFound, ValidationError
from feedsvc.limits import SCOPE_READ, SCOPES, TOKEN_DAYS_MAX, TOKEN_NAME_MAX, valid_id
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


def _expiry_problem(expires_at: datetime | None, now: datetime) -> str | None:
    if expires_at is None:
        return None
    if expires_at.tzinfo is None:
        return "The expiry needs a time zone."
    if expires_at <= now:
        return "The expiry must be in the future."
    if expires_at > now + timedelta(days=TOKEN_DAYS_MAX):
        return f"The expiry must be within {TOKEN_DAYS_MAX} days; or let the token not expire."
    return None


def expiry_of_day(day: date, zone: tzinfo, now: datetime) -> datetime:
    """A token given "expires on `day`" stops working at 00:00 that day in `zone` (in UTC).

    Raises ValidationError for a day that is not ahead or is too far ahead; the range is
    checked on the date itself, so year 1 or 9999 never reaches the time zone arithmetic.
    """
    today = now.astimezone(zone).date()
    if not today < day <= today + timedelta(days=TOKEN_DAYS_MAX):
        raise ValidationError(
            {
                "expires_at": f"The expiry date must be after today and within {TOKEN_DAYS_MAX} "
                "days; or leave it empty for a token that does not expire."
            }
        )
    # zoneinfo maps a midnight that a DST change skips to the hour after (PEP 495, fold=0).
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


_DAYS_RE = re.compile(r"\A([0-9]{1,6})d?\Z")


def parse_expiry(text: str, zone: tzinfo, now: datetime) -> datetime | None:
    """The CLI's --expires: "never", N or Nd (days from now), a date, or an RFC 3339 time.

    A date means 00:00 that day in `zone` (the TIMEZONE setting), as in the admin form.
    """
    text = text.strip().lower()
    if text in ("", "never"):
        return None
    when: datetime | None = None
    if match := _DAYS_RE.fullmatch(text):
        days = int(match.group(1))
        if not 1 <= days <= TOKEN_DAYS_MAX:
            raise ValidationError(
                {"expires_at": f"Give the expiry as 1 to {TOKEN_DAYS_MAX} days, like 90d."}
            )
        when = now + timedelta(days=days)
    else:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            pass
        else:
            return expiry_of_day(day, zone, now)
        try:
            when = datetime.fromisoformat(text.upper())
        except ValueError:
            when = None
        if when is None or when.tzinfo is None:
            raise ValidationError(
                {
                    "expires_at": "Give the expiry as days (90d), a date (2027-01-31) or a time "
                    "with its offset (2027-01-31T12:00:00Z); or never."
                }
            )
    if problem := _expiry_problem(when, now):
        raise ValidationError({"expires_at": problem})
    return when


def create_token(
    session: Session,
    username: str,
    name: str = "",
    *,
    scope: str = SCOPE_READ,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Make a token for an active user; return the row and the token (the only copy).

    The scope is read unless `scope` says write: least privilege, unless asked for.
    """
    errors: dict[str, str] = {}
    wanted = clean_text(username).strip()  # argv may carry surrogate escapes; keep them out of SQL
    user = session.scalar(select(User).where(func.lower(User.username) == wanted.lower()))
    if user is None:
        errors["username"] = f"There is no user “{wanted}”."
    elif not user.is_active:
        errors["username"] = f"The user “{user.username}” is disabled; enable it first."
    try:
        clean_name = clean_line(name, field="Name", max_length=TOKEN_NAME_MAX)
    except ContentError as exc:
        errors["name"] = str(exc)
    if scope not in SCOPES:
        errors["scope"] = f"The scope must be {' or '.join(f'“{s}”' for s in SCOPES)}."
    now = utcnow()
    if problem := _expiry_problem(expires_at, now):
        errors["expires_at"] = problem
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
        created_at=now,
        scope=scope,
        expires_at=expires_at.astimezone(UTC) if expires_at is not None else None,
    )
    session.add(token)
    session.flush()
    return token, secret


def match_token(session: Session, presented: str) -> ApiToken | None:
    """The token whose secret is `presented`, whatever its state (with its user), or None."""
    if not _TOKEN_RE.fullmatch(presented):
        hmac.compare_digest(_DUMMY_HASH, hash_token(presented))
        return None
    prefix = presented[len(MARKER) : len(MARKER) + PREFIX_LENGTH]
    token = session.scalar(
        select(ApiToken).options(joinedload(ApiToken.user)).where(ApiToken.prefix == prefix)
    )
    stored = token.token_hash if token is not None else _DUMMY_HASH
    if not hmac.compare_digest(stored, hash_token(presented)) or token is None:
        return None
    return token


def unusable_because(token: ApiToken, now: datetime) -> str | None:
    """Why a matched token cannot be used now ("revoked", "expired", "disabled"); None if it can.

    Said only to whoever presented the whole secret, so it tells them nothing new.
    """
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    if not token.user.is_active:
        return "disabled"
    return None


def find_token(session: Session, presented: str) -> ApiToken | None:
    """The usable token matching `presented` (not revoked or expired, its user active), or None."""
    token = match_token(session, presented)
    if token is None or unusable_because(token, utcnow()) is not None:
        return None
    return token


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
        token = match_token(session, text)
        if token is None:
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
    return _revoke(session, get_by_prefix(session, text))


def revoke_token_id(session: Session, token_id: int) -> tuple[ApiToken, bool]:
    """Revoke the token with this id (the admin page's button); as revoke_token."""
    token = session.get(ApiToken, token_id) if valid_id(token_id) else None
    if token is None:
        raise NotFound(f"There is no token with id {token_id}.")
    return _revoke(session, token)


def _revoke(session: Session, token: ApiToken) -> tuple[ApiToken, bool]:
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
    "expiry_of_day",
    "find_token",
    "get_by_prefix",
    "hash_token",
    "list_tokens",
    "match_token",
    "needs_touch",
    "parse_expiry",
    "revoke_token",
    "revoke_token_id",
    "touch_statement",
    "unusable_because",
]
