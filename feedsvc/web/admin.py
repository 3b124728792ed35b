"""The editors' side: sections and articles through plain HTML forms (Post/Redirect/Get)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

# SelectChoice is newer than the published WTForms stubs.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]

from feedsvc import articles, sections
from feedsvc.errors import NotFound, ValidationError
from feedsvc.storage.db import get_session
from feedsvc.storage.models import Article
from feedsvc.web.auth import login_required
from feedsvc.web.forms import ArticleForm, DeleteForm, SectionForm, attach_errors

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def to_local(moment: datetime | None) -> datetime | None:
    """Stored UTC → the newsroom's zone, for showing and pre-filling Publish at."""
    return moment.astimezone(_zone()) if moment is not None else None


@bp.route("/")
@login_required
def index() -> str:
    session = get_session()
    return render_template(
        "admin/articles.html",
        articles=articles.list_articles(session),
        sections=sections.list_sections(session),
        now=datetime.now(UTC),
        delete_form=DeleteForm(),
    )


@bp.route("/sections/")
@login_required
def section_list() -> str:
    return render_template("admin/sections.html", sections=sections.list_sections(get_session()))


def _section_input(form: SectionForm) -> sections.SectionInput:
    return sections.SectionInput(
        name=form.name.data or "",
        slug=form.slug.data or "",
        description=form.description.data or "",
        items_per_feed=form.items_per_feed.data or 0,
    )


@bp.route("/sections/new", methods=["GET", "POST"])
@login_required
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
@login_required
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


def _article_form(obj: Article | None = None) -> ArticleForm:
    form = ArticleForm(obj=obj)
    choices = [SelectChoice(str(s.id), s.name) for s in sections.list_sections(get_session())]
    if obj is None and len(choices) > 1:
        # No silent default: filing a story in the first section by accident is easy.
        choices.insert(0, SelectChoice("", "Choose a section…"))
    form.section_id.choices = choices
    form.publish_at.description = (
        f"In {_zone().key}. Empty means now; a future time schedules the article."
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
    return local.replace(tzinfo=_zone()).astimezone(UTC)


def _article_input(form: ArticleForm, article: Article | None = None) -> articles.ArticleInput:
    publish_at = _publish_at(form, article)
    return articles.ArticleInput(
        title=form.title.data or "",
        section_id=form.section_id.data or 0,
        body=form.body.data or "",
        summary=form.summary.data or "",
        author=form.author.data or "",
        publish_at=publish_at,
        status=form.status.data or "",
    )


def _render_article_form(form: ArticleForm, article: Article | None) -> str:
    return render_template("admin/article_form.html", form=form, article=article)


@bp.route("/articles/new", methods=["GET", "POST"])
@login_required
def article_new() -> str | Response:
    form = _article_form()
    if not form.section_id.choices:
        flash("Create a section first: every article belongs to one.")
        return redirect(url_for("admin.section_new"))
    if form.validate_on_submit():
        session = get_session()
        try:
            article = articles.create_article(
                session, _article_input(form), base_url=current_app.config["SITE_URL"] + "/"
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
def article_edit(article_id: int) -> str | Response:
    session = get_session()
    try:
        article = articles.get_article(session, article_id)
    except NotFound:
        abort(404)
    form = _article_form(article)
    if not form.is_submitted():
        form.body.data = article.body_source
        form.summary.data = article.summary_source
        local = to_local(article.publish_at)
        form.publish_at.data = local.replace(tzinfo=None) if local else None
    if form.validate_on_submit():
        try:
            article = articles.update_article(
                session,
                article_id,
                _article_input(form, article),
                base_url=current_app.config["SITE_URL"] + "/",
            )
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
    try:
        article = articles.get_article(session, article_id)
        title = article.title
        articles.delete_article(session, article_id)
    except NotFound:
        abort(404)
    session.commit()
    flash(f"Article deleted: {title}")
    return redirect(url_for("admin.index"))
