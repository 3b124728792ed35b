"""Login and logout for editors, and the guard that keeps every /admin page behind them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from feedsvc.storage.db import get_session
from feedsvc.storage.models import User
from feedsvc.urls import ADMIN_PREFIX
from feedsvc.users import authenticate
from feedsvc.web.forms import LoginForm, LogoutForm

bp = Blueprint("auth", __name__, url_prefix=ADMIN_PREFIX)
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
    """Only same-site paths: an open redirect after login would be a phishing aid."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and "\\" not in target:
            return target
    return url_for("admin.index")


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
