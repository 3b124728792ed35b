"""API tokens in the admin (admins only): list, create (the token shown once), revoke.

A new token is shown in the answer to the POST that made it, and nowhere else: not in a flash
message (Flask keeps those in the signed, readable session cookie), not in the database (only
its hash is kept). That answer is marked no-store, so no cache and no "back" keeps a copy; a
reload asks the browser to send the form again, which makes a second, separate token.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

# SelectChoice is newer than the published WTForms stubs.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]

from feedsvc import tokens
from feedsvc.errors import NotFound, ValidationError
from feedsvc.storage.db import get_session
from feedsvc.storage.models import User, utcnow
from feedsvc.urls import ADMIN_PREFIX
from feedsvc.web.auth import admin_required
from feedsvc.web.forms import ActionForm, TokenForm, attach_errors

bp = Blueprint("apitokens", __name__, url_prefix=ADMIN_PREFIX)


def _form() -> TokenForm:
    form = TokenForm()
    active = get_session().scalars(
        select(User).where(User.disabled_at.is_(None)).order_by(User.username)
    )
    form.username.choices = [SelectChoice(u.username, f"{u.username} ({u.role})") for u in active]
    zone = current_app.config["TIMEZONE"]
    form.expires_at.description = (
        f"Optional. The token stops working at 00:00 on that day ({zone}); empty: never."
    )
    return form


def _listing(form: TokenForm) -> str:
    return render_template(
        "admin/tokens.html",
        tokens=tokens.list_tokens(get_session()),
        form=form,
        action_form=ActionForm(formdata=None),
        now=utcnow(),
        display_prefix=tokens.display_prefix,
        state=tokens.unusable_because,
    )


@bp.route("/tokens/")
@admin_required
def token_list() -> str:
    return _listing(_form())


@bp.route("/tokens/", methods=["POST"])
@admin_required
def token_new() -> str | Response:
    form = _form()
    if form.validate_on_submit():
        db = get_session()
        try:
            expires = None
            if form.expires_at.data is not None:
                zone = ZoneInfo(current_app.config["TIMEZONE"])
                expires = tokens.expiry_of_day(form.expires_at.data, zone, utcnow())
            token, secret = tokens.create_token(
                db,
                form.username.data or "",
                form.name.data or "",
                scope=form.scope.data or "",
                expires_at=expires,
            )
        except ValidationError as exc:
            db.rollback()
            attach_errors(form, exc)
        else:
            db.commit()
            page = render_template(
                "admin/token_created.html",
                token=token,
                secret=secret,
                label=tokens.display_prefix(token),
            )
            response = Response(page, status=201, mimetype="text/html")
            # The secret is in this page alone: no cache, shared or private, may keep it.
            response.headers["Cache-Control"] = "no-store"
            return response
    return _listing(form)


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@admin_required
def token_revoke(token_id: int) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400, "The form expired. Reload the page and try again.")
    db = get_session()
    try:
        token, was_live = tokens.revoke_token_id(db, token_id)
    except NotFound:
        abort(404)
    label = tokens.display_prefix(token)
    db.commit()
    if was_live:
        flash(f"Token {label}… revoked; requests with it now get 401.")
    else:
        flash(f"Token {label}… was already revoked.")
    return redirect(url_for("apitokens.token_list"))
