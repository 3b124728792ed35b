"""Login and logout for editors, and the guard that keeps every /admin page behind them.

Sessions are checked (and ended) by feedsvc.web.logins; attempts are throttled by
feedsvc.web.throttle. Every login, failed or not, is logged with the username as typed (made
log-safe) and the client's address; never the password.
"""

from __future__ import annotations

import functools
import math
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.urls import iri_to_uri
from werkzeug.wrappers import Response

from feedsvc import users
from feedsvc.limits import NEXT_MAX
from feedsvc.storage.db import database
from feedsvc.storage.models import User
from feedsvc.urls import ADMIN_PREFIX
from feedsvc.web import logins, outage, throttle
from feedsvc.web.forms import LoginForm, LogoutForm

bp = Blueprint("auth", __name__, url_prefix=ADMIN_PREFIX)
F = TypeVar("F", bound=Callable[..., Any])
# How much of a typed username a log line keeps (the form accepts any length).
_LOGGED_NAME_MAX = 100


@bp.before_app_request
def load_user() -> None:
    """g.user: the session's user (detached from any database session), or None."""
    if outage.database_optional():
        # /healthz, /metrics and static files answer while the database is down: without
        # it, a logged-in admin counts as anyone (the cookie is left as it is). They re-check
        # the database themselves; a cookie check (no query without a login) cannot.
        if outage.state().down:
            g.user = None
            return
        try:
            checked = logins.check()
        except Exception as exc:
            if outage.answer(exc) is None:
                raise
            g.user = None
            return
    else:
        checked = logins.check()
    g.user = checked.user
    if checked.ended is not None:
        current_app.logger.info(
            "session %s of user id %s ended (%s) for %s",
            checked.session_id,
            checked.user_id,
            checked.ended,
            _address(),
        )
        if bp.url_prefix and request.path.startswith(bp.url_prefix):
            # The admin page asked for redirects to the login page, which says why.
            flash(logins.message(checked.ended))


def login_required(view: F) -> F:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        # A disabled account is logged out everywhere (its session version moved on); this
        # also holds for a session that has not been checked against it.
        if g.user is None or not g.user.is_active:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect after login would be a phishing aid.

    A path-absolute reference ("/" and then not "/", RFC 3986 §4.2) names no other host, but
    browsers read Location leniently (WHATWG URL): they drop tabs and newlines and take "\\"
    for "/", so "/\\evil.example" or "/<TAB>/evil.example" would mean //evil.example. So
    the target, and its percent-decoding (for anything on the way that decodes it once more,
    such as "/%2F/evil.example"), must not start with "//" and hold no control character
    (none can split the header either) or backslash; a longer one than NEXT_MAX is no page
    of ours. Anything else lands on the article list.
    """
    fallback = url_for("admin.index")
    if not target or len(target) > NEXT_MAX:
        return fallback
    for text in (target, unquote(target, errors="replace")):
        if not text.startswith("/") or text.startswith("//"):
            return fallback
        if any(ch == "\\" or unicodedata.category(ch) in ("Cc", "Cs") for ch in text):
            return fallback
    # A path such as /admin/é goes out percent-encoded: header values are ISO-8859-1 at most.
    return iri_to_uri(target)


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int, dict[str, str]]:
    form = LoginForm()
    if form.validate_on_submit():
        username = form.username.data or ""
        try:
            throttle.count_login(username)
        except throttle.Refused as refused:
            current_app.logger.warning(
                "login refused (%s) for user %s from %s",
                refused.limit,
                _log_safe(username),
                _address(),
            )
            return _too_many(refused)
        user = _check_credentials(username, form.password.data or "")
        if user is not None:
            throttle.forget_failures()
            sid = logins.start(user)
            current_app.logger.info(
                "login ok for user %s from %s (session %s)", _log_safe(username), _address(), sid
            )
            return redirect(_safe_next(request.args.get("next")))
        current_app.logger.warning(
            "login failed for user %s from %s", _log_safe(username), _address()
        )
        form.password.errors = ["That username and password do not match."]
    elif form.csrf_token.errors:
        # The form's token outlived LoginForm's time limit: a fresh one comes with this page.
        form.password.errors = [
            "This login page was open too long; enter your username and password again."
        ]
    return render_template("admin/login.html", form=form)


def _check_credentials(username: str, password: str) -> User | None:
    """The active account these credentials name, or None.

    The row is read in a short session of its own, closed before the hash runs: scrypt takes
    about 0.1 s (116–137 ms here), and on SQLite a POST's request session would hold the
    database's write lock meanwhile, stalling every publishing write behind a flood of logins.
    """
    with database().reader() as lookup:
        user = users.find_user(lookup, username)
    if not users.password_matches(user, password) or user is None or not user.is_active:
        return None
    return user


def _too_many(refused: throttle.Refused) -> tuple[str, int, dict[str, str]]:
    """429 with Retry-After (RFC 6585 §4, RFC 9110 §10.2.3) and a page that says when."""
    minutes = max(1, math.ceil(refused.retry_after / 60))
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    # Rounded up to the minute, so "after 14:32" is never a minute early.
    moment = datetime.now(UTC) + timedelta(seconds=refused.retry_after + 59)
    at = moment.replace(second=0, microsecond=0).astimezone(zone)
    page = render_template(
        "error.html",
        code=429,
        name="Too many login attempts",
        description=(
            f"Wait {minutes} minute{'s' * (minutes != 1)} before trying again "
            f"(after {at:%H:%M} {at.tzname()} on {at:%Y-%m-%d}). Logins are limited "
            "per account and per address to keep passwords from being guessed."
        ),
    )
    return page, 429, {"Retry-After": str(refused.retry_after)}


def _address() -> str:
    return throttle.client_address()


def _log_safe(text: str) -> str:
    """A typed value for a log line: quoted and escaped (no line breaks), and not too long."""
    cut = text[:_LOGGED_NAME_MAX]
    return repr(cut) + ("…" if len(text) > _LOGGED_NAME_MAX else "")


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    if LogoutForm().validate_on_submit():
        user = g.user
        if user is not None:
            # Every session of the user ends, on every device and instance: a copied cookie
            # stops working with this one.
            logins.end_everywhere(user.id)
            current_app.logger.info("logout for user %r from %s", user.username, _address())
        session.clear()
        flash("You are logged out, on every device.")
    return redirect(url_for("auth.login"))


def admin_required(view: F) -> F:
    """login_required, and the admin role: an editor gets 403, a page that says why."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        user = g.user
        if user is None or not user.is_active:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if not user.is_admin:
            abort(
                403,
                "This page is for admins. Your account is an editor's: it writes articles; "
                "ask an admin for anything else.",
            )
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
