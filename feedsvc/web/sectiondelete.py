"""Deleting a section (admins): empty, or with its articles moved to another in one go."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from sqlalchemy import func, select
from werkzeug.wrappers import Response
from wtforms import SelectField

# SelectChoice is newer than the published WTForms stubs.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]

from feedsvc import sectionhistory, sections
from feedsvc.errors import NotFound, ValidationError
from feedsvc.storage.db import get_session
from feedsvc.storage.models import Article, Section
from feedsvc.urls import ADMIN_PREFIX
from feedsvc.web.auth import admin_required
from feedsvc.web.forms import FlaskForm, attach_errors

bp = Blueprint("sectiondelete", __name__, url_prefix=ADMIN_PREFIX)


def _target(value: object) -> int:
    """The select's value: a section id, or 0 for "Choose a section…" (none chosen)."""
    try:
        return int(str(value))
    except ValueError:
        return 0


class SectionDeleteForm(FlaskForm):
    # validate_choice=False: the service says why a section cannot take the articles.
    move_to = SelectField("Move its articles to", coerce=_target, validate_choice=False)


@bp.route("/sections/<int:section_id>/delete", methods=["GET", "POST"])
@admin_required
def section_delete(section_id: int) -> str | Response:
    session = get_session()
    try:
        section = sections.get_section(session, section_id)
    except NotFound:
        abort(404)
    count = session.scalar(
        select(func.count()).select_from(Article).where(Article.section_id == section_id)
    )
    others = [s for s in sections.list_sections(session) if s.id != section_id]
    form = SectionDeleteForm()
    form.move_to.choices = [
        SelectChoice("", "Choose a section…"),
        *(SelectChoice(str(s.id), s.name) for s in others),
    ]
    if form.validate_on_submit():
        name, chosen = section.name, form.move_to.data or None
        try:
            moved = sectionhistory.delete_section(session, section_id, move_to=chosen)
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            target = session.get(Section, chosen) if chosen else None
            session.commit()
            where = f" {moved} article(s) moved to {target.name}." if moved and target else ""
            flash(f"Section deleted: {name}.{where} Its feed URLs now answer 410 Gone.")
            return redirect(url_for("admin.section_list"))
    return render_template(
        "admin/section_delete.html", form=form, section=section, count=count or 0
    )
