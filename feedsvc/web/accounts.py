"""Accounts in the admin: users (admins only) and the Password page every account has (PRG).

Admins list, create, disable, enable and reset users and change their roles; everyone
changes their own password, the current one required.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, session, url_for
from werkzeug.wrappers import Response

from feedsvc import users
from feedsvc.errors import Conflict, NotFound, ValidationError
from feedsvc.storage.db import get_session
from feedsvc.storage.models import User
from feedsvc.urls import ADMIN_PREFIX
from feedsvc.web.auth import admin_required, login_required
from feedsvc.web.forms import (
    ActionForm,
    ChangePasswordForm,
    ResetPasswordForm,
    RoleForm,
    UserForm,
    attach_errors,
)

bp = Blueprint("accounts", __name__, url_prefix=ADMIN_PREFIX)


@bp.route("/users/")
@admin_required
def user_list() -> str:
    return render_template("admin/users.html", users=users.list_users(get_session()))


@bp.route("/users/new", methods=["GET", "POST"])
@admin_required
def user_new() -> str | Response:
    form = UserForm()
    if form.validate_on_submit():
        db = get_session()
        try:
            user = users.create_user(
                db, form.username.data or "", form.password.data or "", form.role.data or ""
            )
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            db.commit()
            flash(f"Account created: {user.username} ({user.role}).")
            return redirect(url_for("accounts.user_list"))
    return render_template("admin/user_form.html", form=form)


def _user_or_404(user_id: int) -> User:
    try:
        return users.get_user(get_session(), user_id)
    except NotFound:
        abort(404)


def _user_page(
    user: User,
    *,
    role_form: RoleForm | None = None,
    password_form: ResetPasswordForm | None = None,
    problem: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """The account's page; a refused change shows its sentence or its field errors."""
    page = render_template(
        "admin/user.html",
        user=user,
        # formdata=None: a form not sent in this request starts from the stored values.
        role_form=role_form or RoleForm(formdata=None, role=user.role),
        password_form=password_form or ResetPasswordForm(formdata=None),
        action_form=ActionForm(formdata=None),
        problem=problem,
        is_self=user.id == g.user.id,
    )
    return page, status


def _conflict(user: User, exc: Conflict) -> tuple[str, int]:
    """A change the accounts' state forbids (the last admin, yourself): 409, saying why."""
    get_session().rollback()
    return _user_page(user, problem=" ".join(exc.errors.values()), status=409)


@bp.route("/users/<int:user_id>")
@admin_required
def user_page(user_id: int) -> tuple[str, int]:
    return _user_page(_user_or_404(user_id))


def _done(user: User, message: str) -> Response:
    get_session().commit()
    flash(message)
    return redirect(url_for("accounts.user_page", user_id=user.id))


@bp.route("/users/<int:user_id>/role", methods=["POST"])
@admin_required
def user_role(user_id: int) -> tuple[str, int] | Response:
    user = _user_or_404(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        return _user_page(user, role_form=form)
    try:
        user = users.change_role(get_session(), g.user, user_id, form.role.data or "")
    except Conflict as exc:
        return _conflict(user, exc)
    except ValidationError as exc:
        attach_errors(form, exc)
        return _user_page(user, role_form=form)
    return _done(user, f"{user.username} is now an {user.role}.")


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@admin_required
def user_password(user_id: int) -> tuple[str, int] | Response:
    user = _user_or_404(user_id)
    form = ResetPasswordForm()
    if not form.validate_on_submit():
        return _user_page(user, password_form=form)
    try:
        user = users.reset_password(get_session(), g.user, user_id, form.password.data or "")
    except Conflict as exc:
        return _conflict(user, exc)
    except ValidationError as exc:
        attach_errors(form, exc)
        return _user_page(user, password_form=form)
    return _done(
        user, f"Password of {user.username} reset; every session of that account has ended."
    )


@bp.route("/users/<int:user_id>/disable", methods=["POST"])
@admin_required
def user_disable(user_id: int) -> tuple[str, int] | Response:
    user = _user_or_404(user_id)
    if not ActionForm().validate_on_submit():
        abort(400, "The form expired. Reload the page and try again.")
    try:
        user = users.disable_user(get_session(), g.user, user_id)
    except Conflict as exc:
        return _conflict(user, exc)
    return _done(
        user,
        f"{user.username} is disabled: their sessions have ended and their API tokens "
        "answer 401 until the account is enabled again.",
    )


@bp.route("/users/<int:user_id>/enable", methods=["POST"])
@admin_required
def user_enable(user_id: int) -> Response:
    _user_or_404(user_id)
    if not ActionForm().validate_on_submit():
        abort(400, "The form expired. Reload the page and try again.")
    user = users.enable_user(get_session(), user_id)
    return _done(
        user,
        f"{user.username} is enabled again: they can log in, and their API tokens work again "
        "unless revoked or expired.",
    )


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password() -> str | Response:
    """Every account changes its own password here; the current one is required."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        db = get_session()
        try:
            users.change_password(db, g.user, form.current.data or "", form.password.data or "")
        except ValidationError as exc:
            db.rollback()
            attach_errors(form, exc)
        else:
            db.commit()
            # Every session of the account ended, this one too: log in with the new password.
            session.clear()
            flash("Your password is changed and every session of yours has ended: log in again.")
            return redirect(url_for("auth.login"))
    return render_template("admin/password.html", form=form)
