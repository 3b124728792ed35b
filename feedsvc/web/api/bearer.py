"""Bearer tokens (RFC 6750) on every API route but the description; the cookie never counts.

The blueprint is exempt from CSRF for that reason: no ambient credential (a cookie) is ever
honoured, so a cross-site form has nothing to ride on.

A token acts as its account, with the account's role (sections are an admin's), within its
own scope (read: GET and HEAD only).
"""

from __future__ import annotations

import math
from datetime import datetime

from flask import current_app, g, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from feedsvc import tokens
from feedsvc.limits import ROLE_ADMIN, SCOPE_WRITE
from feedsvc.storage.db import database, get_session, transaction
from feedsvc.storage.models import utcnow
from feedsvc.web import throttle
from feedsvc.web.api.contract import INSUFFICIENT_SCOPE, INVALID_TOKEN, OPENAPI_PATH
from feedsvc.web.api.errors import FALLBACK, ApiError

REALM = 'Bearer realm="feedsvc"'
# Why a token that was sent is refused. Whoever sends a token whole may learn its state:
# they hold its secret. (Quoted in WWW-Authenticate: printable ASCII only, no '"' or '\\'.)
_REFUSED = {
    "unknown": "The token is not valid: it is mistyped or unknown.",
    "revoked": "The token was revoked; ask an admin for a new one.",
    "expired": "The token has expired; ask an admin for a new one.",
    "disabled": "The account of this token is disabled; the token works again if it is enabled.",
}
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def require_token() -> None:
    """Before each request: a valid bearer token, or 401 (RFC 6750 §3)."""
    if request.path == OPENAPI_PATH:
        return
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials:
        # RFC 6750 §3.1: a request without credentials gets no error code.
        raise ApiError(
            401,
            "This API needs a token: send “Authorization: Bearer <token>” "
            "(an operator makes one with “flask --app feedsvc create-token USERNAME”).",
            headers={"WWW-Authenticate": REALM},
        )
    # A short read session of its own: a request without a valid token never touches the
    # request's session (for writes on SQLite, that would take the write lock).
    now = utcnow()
    with database(current_app).reader() as lookup:
        token = tokens.match_token(lookup, credentials)
        why = "unknown" if token is None else tokens.unusable_because(token, now)
        role = token.user.role if token is not None else ""
    if why is not None or token is None:
        _count_bad_token()
        raise ApiError(
            401,
            _REFUSED[why or "unknown"],
            headers={
                "WWW-Authenticate": f'{REALM}, error="{INVALID_TOKEN}", '
                f'error_description="{_REFUSED[why or "unknown"]}"'
            },
            code=INVALID_TOKEN,
        )
    g.api_token_id = token.id
    g.api_user_id = token.user_id
    g.api_user_role = role
    if tokens.needs_touch(token, now):
        _touch(token.id, now)
    if (
        token.scope != SCOPE_WRITE
        and request.method not in _SAFE
        and request.endpoint != f"{request.blueprint}.{FALLBACK}"  # 404 and 405 stay honest
    ):
        # RFC 6750 §3.1: 403 insufficient_scope, naming the scope the request needs.
        raise ApiError(
            403,
            "This token may only read (scope “read”); changes need a token with scope “write”.",
            headers={
                "WWW-Authenticate": f'{REALM}, error="{INSUFFICIENT_SCOPE}", '
                f'scope="{SCOPE_WRITE}", error_description="The token may only read."'
            },
            code=INSUFFICIENT_SCOPE,
        )


def require_admin() -> None:
    """In a view: the token's account must be an admin's (sections); an editor's gets 403."""
    if g.api_user_role != ROLE_ADMIN:
        raise ApiError(
            403,
            "Only an admin's token may create or change sections; this token's account is an "
            "editor's, which may change articles only.",
        )


def _count_bad_token() -> None:
    """A bad token counts against the client's address (TOKEN_LIMIT_PER_ADDRESS): 429 over it.

    Asked only after the lookup failed, so a valid token is never counted nor slowed; a
    request without any token is a mistake, not a guess, and is not counted either.
    """
    try:
        throttle.count_bad_token()
    except throttle.Refused as refused:
        current_app.logger.warning(
            "API requests with bad tokens refused (%s) from %s", refused.limit, request.remote_addr
        )
        minutes = max(1, math.ceil(refused.retry_after / 60))
        raise ApiError(
            429,
            "Too many requests with a bad token from your address: wait "
            f"{minutes} minute{'s' * (minutes != 1)} (Retry-After says how many seconds).",
            headers={"Retry-After": str(refused.retry_after)},
        ) from None


def _touch(token_id: int, now: datetime) -> None:
    """Record last use (at most once a minute; best effort: a failure never fails the call)."""
    statement = tokens.touch_statement(token_id, now)
    session = get_session()
    try:
        if request.method in _SAFE:
            # The request's session reads only; a short write transaction of its own.
            with transaction(current_app) as s:
                s.execute(statement)
        else:
            # The request's session is the writer (SQLite: its first statement takes the write
            # lock), so write here and commit before the view runs.
            session.execute(statement)
            session.commit()
    except SQLAlchemyError:
        session.rollback()
        current_app.logger.warning("could not record API token %s use", token_id, exc_info=True)


def no_store(response: Response) -> Response:
    """After each request: answers depend on the token, so no shared cache may keep them."""
    if request.path != OPENAPI_PATH:
        response.headers["Cache-Control"] = "no-store"
    return response
