"""The editors' side: articles (every account) and sections (admins) through HTML forms (PRG)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
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
    url_for,
)
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

# SelectChoice is newer than the published WTForms stubs.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]

from feedsvc import articles, localtime, sections, topics
from feedsvc.articles import ArticleConflict
from feedsvc.errors import NotFound, ValidationError
from feedsvc.limits import BODY_HTML, valid_id
from feedsvc.storage.db import get_session
from feedsvc.storage.models import Article
from feedsvc.urls import ADMIN_PREFIX
from feedsvc.web import articlelist, conflicts, preview
from feedsvc.web.auth import admin_required, login_required
from feedsvc.web.forms import (
    CORRECTION,
    ArticleEditForm,
    ArticleForm,
    DeleteForm,
    SectionForm,
    attach_errors,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

bp = Blueprint("admin", __name__, url_prefix=ADMIN_PREFIX)
InputT = TypeVar("InputT", bound="DataclassInstance")
FormT = TypeVar("FormT", bound=ArticleForm)


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def to_local(moment: datetime | None) -> datetime | None:
    """Stored UTC → the newsroom's zone, for showing and pre-filling Publish at."""
    return localtime.to_local(moment, _zone()) if moment is not None else None


@bp.route("/")
@login_required
def index() -> str:
    session = get_session()
    return render_template(
        "admin/articles.html",
        **articlelist.page_context(session, request.args),  # filters, search, page links
        delete_form=DeleteForm(),
    )


@bp.route("/sections/")
@admin_required
def section_list() -> str:
    return render_template("admin/sections.html", sections=sections.list_sections(get_session()))


def _service_input(form: FlaskForm, cls: type[InputT], **given: Any) -> InputT:
    """A service's input dataclass from the form's fields of the same names.

    `given` supplies fields the form holds in another shape (a local time, say). A field the
    request left out takes the input's default, or is empty.
    """
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in given:
            values[f.name] = given[f.name]
            continue
        data = form[f.name].data
        if data is None:
            data = "" if f.default is dataclasses.MISSING else f.default
        values[f.name] = data
    return cls(**values)


def _section_input(form: SectionForm) -> sections.SectionInput:
    return _service_input(form, sections.SectionInput)


@bp.route("/sections/new", methods=["GET", "POST"])
@admin_required
def section_new() -> str | Response:
    form = SectionForm()
    if form.validate_on_submit():
        session = get_session()
        try:
            section = sections.create_section(session, _section_input(form))
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            session.commit()
            flash(f"Section created: {section.name}. Its feeds appear within seconds.")
            return redirect(url_for("admin.section_list"))
    return render_template("admin/section_form.html", form=form, section=None)


@bp.route("/sections/<int:section_id>/edit", methods=["GET", "POST"])
@admin_required
def section_edit(section_id: int) -> str | Response:
    session = get_session()
    try:
        section = sections.get_section(session, section_id)
    except NotFound:
        abort(404)
    form = SectionForm(obj=section)
    if form.validate_on_submit():
        try:
            section = sections.update_section(session, section_id, _section_input(form))
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            session.commit()
            flash(f"Section saved: {section.name}")
            return redirect(url_for("admin.section_list"))
    return render_template("admin/section_form.html", form=form, section=section)


def _article_form(article: Article | None, cls: type[FormT]) -> FormT:
    """The article form, filled from the stored article (when editing) by the input's fields."""
    data = None
    if article is not None:
        data = dataclasses.asdict(articles.input_of(article))
        local = to_local(article.publish_at)
        data["publish_at"] = local.replace(tzinfo=None) if local else None
    form = cls(data=data)
    choices = [SelectChoice(str(s.id), s.name) for s in sections.list_sections(get_session())]
    if article is None and len(choices) > 1:
        # No silent default: filing a story in the first section by accident is easy.
        choices.insert(0, SelectChoice("", "Choose a section…"))
    form.section_id.choices = choices
    if article is not None and article.body_format == BODY_HTML:
        form.body.description = "HTML (imported): sanitised and kept as HTML, never as Markdown."
    form.publish_at.description = (
        f"In {_zone().key}. Empty means now; a future time schedules the article. "
        "A time the clocks skip when they go forward is moved on by the jump (02:30 becomes "
        "03:30); a time that occurs twice when they go back means the first."
    )
    return form


def _publish_at(form: ArticleForm, article: Article | None) -> datetime | None:
    """The form's minute-precision time in UTC; an unchanged field keeps the stored seconds."""
    local = form.publish_at.data
    if local is None:
        return None
    if article is not None and article.publish_at is not None:
        stored = to_local(article.publish_at)
        if stored is not None and stored.replace(second=0, tzinfo=None) == local:
            return article.publish_at
    return localtime.to_utc(local, _zone())


def _article_input(form: ArticleForm, article: Article | None = None) -> articles.ArticleInput:
    return _service_input(form, articles.ArticleInput, publish_at=_publish_at(form, article))


def _render_article_form(
    form: ArticleForm,
    article: Article | None,
    conflict: dict[str, Any] | None = None,
    shown: dict[str, Any] | None = None,
) -> str:
    return render_template(
        "admin/article_form.html",
        form=form,
        article=article,
        conflict=conflict,
        preview=shown,  # the Preview button's answer (web/preview.py)
        authors=topics.known_authors(get_session()),  # suggested in the Author field
    )


# --- lost updates: the version and digests the edit form carries (web/conflicts.py) ---------

_COMPARED = tuple(f.name for f in dataclasses.fields(articles.ArticleInput))
_LONG = {"body", "summary"}  # shown folded, in full


def _minute(local: datetime | None) -> str:
    return "" if local is None else f"{local.year:04d}{local:-%m-%dT%H:%M}"


def _stored_values(article: Article) -> dict[str, str]:
    """Each field's value as the edit form shows it for the stored article."""
    data = articles.input_of(article)
    values = {name: str(getattr(data, name)) for name in _COMPARED}
    length = data.attachment_length
    values["attachment_length"] = "" if length is None else str(length)  # as the form shows it
    values["publish_at"] = _minute(to_local(article.publish_at))
    values["tags"] = ", ".join(data.tags)
    return values


def _submitted_values(form: ArticleEditForm) -> dict[str, str]:
    values = {name: "" if form[name].data is None else str(form[name].data) for name in _COMPARED}
    values["publish_at"] = _minute(form.publish_at.data)
    values["tags"] = ", ".join(form.tags.data or ())
    return values


def _open_at(form: ArticleEditForm, article: Article) -> None:
    """Make the form a save against this version of the article, as its values are now."""
    form.version.data = str(article.version)
    form.opened.data = conflicts.encode_digests(_stored_values(article))


def _expected_version(raw: str | None) -> int:
    """The version a form was opened at; 0 (matches none) when missing or garbled."""
    try:
        version = int(raw or "")
    except ValueError:
        return 0
    return version if valid_id(version) else 0  # the column's range: an int, 1 and up


def _shown(form: ArticleEditForm, article: Article, name: str, value: str) -> str:
    """A stored value for people: the section's name, the status's label, "(empty)"."""
    if name == "section_id":
        return article.section.name
    if name == "status":
        labels = {str(choice[0]): str(choice[1]) for choice in form.status.iter_choices()}
        return str(labels.get(value, value))
    if name == "publish_at" and value:
        return f"{value.replace('T', ' ')} ({_zone().key})"
    return value or "(empty)"


def _refused(form: ArticleEditForm, current: Article) -> dict[str, Any]:
    """After a stale save: say what the other editor changed, keep this editor's own changes,
    take theirs for the fields this editor left alone, and make the form a save against the
    current version, so that saving again is deliberate and overwrites nothing unseen."""
    found = conflicts.changes(
        conflicts.decode_digests(form.opened.data),
        _stored_values(current),
        _submitted_values(form),
    )
    stored = articles.input_of(current)
    for change in found:
        if change.yours_too:
            continue
        field = form[change.name]
        if change.name == "publish_at":
            local = to_local(current.publish_at)
            field.data = local.replace(tzinfo=None) if local else None
        else:
            field.data = getattr(stored, change.name)
        field.raw_data = []  # shown from data, not as typed
    _open_at(form, current)
    return {
        "by": current.updated_by.username if current.updated_by else None,
        "at": current.updated_at,
        "version": current.version,
        "changes": [
            {
                "label": form[c.name].label.text,
                "value": _shown(form, current, c.name, c.theirs),
                "yours_too": c.yours_too,
                "long": c.name in _LONG,
            }
            for c in found
        ],
    }


@bp.route("/articles/new", methods=["GET", "POST"])
@login_required
def article_new() -> str | Response:
    form = _article_form(None, ArticleForm)
    if not form.section_id.choices:
        if not g.user.is_admin:
            flash("There are no sections yet: ask an admin to create one.")
            return redirect(url_for("admin.index"))
        flash("Create a section first: every article belongs to one.")
        return redirect(url_for("admin.section_new"))
    if form.validate_on_submit():
        if preview.wanted():
            shown = preview.build(form, _article_input(form), None)
            return _render_article_form(form, None, shown=shown)
        session = get_session()
        try:
            article = articles.create_article(
                session,
                _article_input(form),
                base_url=current_app.config["SITE_URL"] + "/",
                by=g.user.id,
            )
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            session.commit()
            flash(f"Article saved: {article.title}")
            return redirect(url_for("admin.index"))
    return _render_article_form(form, None)


@bp.route("/articles/<int:article_id>/edit", methods=["GET", "POST"])
@login_required
def article_edit(article_id: int) -> str | Response | tuple[str, int]:
    session = get_session()
    try:
        article = articles.get_article(session, article_id)
    except NotFound:
        abort(404)
    form = _article_form(article, ArticleEditForm)
    if not form.is_submitted():
        _open_at(form, article)
    elif form.validate():
        if preview.wanted():
            data = _article_input(form, article)
            return _render_article_form(form, article, shown=preview.build(form, data, article))
        try:
            article = articles.update_article(
                session,
                article_id,
                _article_input(form, article),
                base_url=current_app.config["SITE_URL"] + "/",
                by=g.user.id,
                expected_version=_expected_version(form.version.data),
                correction=form.correction.data == CORRECTION,
            )
        except ArticleConflict as exc:
            # 409: the save clashed with the stored state; the page shows how.
            return _render_article_form(form, exc.current, _refused(form, exc.current)), 409
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            session.commit()
            flash(f"Article saved: {article.title}")
            return redirect(url_for("admin.index"))
    return _render_article_form(form, article)


@bp.route("/articles/<int:article_id>/delete", methods=["POST"])
@login_required
def article_delete(article_id: int) -> Response:
    if not DeleteForm().validate_on_submit():
        abort(400, "The form expired. Reload the page and try again.")
    session = get_session()
    # A delete confirmed on a list loaded before someone else's save would throw away text
    # its editor never saw: the button carries the version the list showed.
    expected = _expected_version(request.form.get("version"))
    try:
        article = articles.get_article(session, article_id)
        title = article.title
        articles.delete_article(session, article_id, expected_version=expected)
    except NotFound:
        abort(404)
    except ArticleConflict as exc:
        current = exc.current
        who = current.updated_by.username if current.updated_by else "someone"
        when = localtime.to_local(current.updated_at, _zone())
        flash(
            f"Not deleted: {who} changed “{current.title}” at {when:%Y-%m-%d %H:%M %Z} "
            "after this list was loaded. Look at it, then delete it again if you still want to."
        )
        return redirect(url_for("admin.index"))
    session.commit()
    flash(f"Article deleted: {title}")
    return redirect(url_for("admin.index"))
