"""Login and logout for editors, and the guard that keeps every /admin page behind them."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import unquote

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from werkzeug.urls import iri_to_uri
from werkzeug.wrappers import Response

from feedsvc.limits import NEXT_MAX
from feedsvc.storage.db import get_session
from feedsvc.storage.models import User
from feedsvc.users import authenticate
from feedsvc.web.forms import LoginForm, LogoutForm

bp = Blueprint("auth", __name__, url_prefix="/admin")
F = TypeVar("F", bound=Callable[..., Any])


@bp.before_app_request
def load_user() -> None:
    user_id = session.get("user_id")
    g.user = get_session().get(User, user_id) if isinstance(user_id, int) else None


def login_required(view: F) -> F:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.user is None:
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
def login() -> str | Response:
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(get_session(), form.username.data or "", form.password.data or "")
        if user is not None:
            session.clear()
            session["user_id"] = user.id
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors = ["That username and password do not match."]
    return render_template("admin/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    if LogoutForm().validate_on_submit():
        session.clear()
        flash("You are logged out.")
    return redirect(url_for("auth.login"))
