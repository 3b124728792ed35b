"""/admin/import: import an RSS or Atom feed (a URL or an uploaded file) into a section.

Every account may import, into any section, as every account may write articles there. The
page runs the same service as `flask --app feedsvc import-feed` and shows its report (counts,
then each refused item with why); a feed of more than IMPORT_FORM_ITEMS_MAX items is left to
the command, which commits in batches and shows its progress, rather than one long request.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, render_template, request
from flask_wtf.file import FileField
from wtforms import SelectField, URLField

# SelectChoice is newer than the published WTForms stubs.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]
from wtforms.validators import InputRequired

from feedsvc import sections
from feedsvc.errors import NotFound
from feedsvc.importing.fetch import SourceRefused, fetch_configured, is_url, read_stream
from feedsvc.importing.parse import FeedRefused, ParsedFeed, parse_feed
from feedsvc.importing.service import (
    IMPORTED,
    REFUSED,
    SKIPPED,
    Report,
    import_entries,
    section_id_of,
)
from feedsvc.limits import IMPORT_FORM_ITEMS_MAX
from feedsvc.storage.db import get_session
from feedsvc.urls import ADMIN_PREFIX
from feedsvc.web.auth import login_required
from feedsvc.web.forms import FlaskForm

bp = Blueprint("importing", __name__, url_prefix=ADMIN_PREFIX)
# Room for the form's other fields and the multipart framing around the file.
_FORM_OVERHEAD = 64 * 1024


class ImportForm(FlaskForm):
    url = URLField(
        "Feed URL",
        description="An RSS 2.0 or Atom feed on a public address, e.g. https://example.org/feed/",
    )
    file = FileField("Feed file", description="Or a feed saved as a file (a WordPress export).")
    section = SelectField("Section", validators=[InputRequired("Choose a section.")])


def _form() -> ImportForm:
    form = ImportForm()
    form.section.choices = [
        SelectChoice(s.slug, s.name) for s in sections.list_sections(get_session())
    ]
    return form


def _load(form: ImportForm) -> ParsedFeed:
    """The feed the form names (URL or file), parsed safely; SourceRefused, FeedRefused."""
    config = current_app.config
    max_bytes = int(config["IMPORT_MAX_BYTES"])
    url = (form.url.data or "").strip()
    upload = form.file.data
    if url and upload:
        raise SourceRefused("Give a feed URL or a feed file, not both.")
    if upload:
        return parse_feed(read_stream(upload.stream, max_bytes=max_bytes, name="The file"))
    if not url:
        raise SourceRefused("Give a feed URL or choose a feed file.")
    if not is_url(url):
        raise SourceRefused("The feed URL must start with http:// or https://.")
    data = fetch_configured(config, url)
    return parse_feed(data, url=url)


@bp.route("/import", methods=["GET", "POST"])
@login_required
def import_feed() -> str | tuple[str, int]:
    if request.method == "POST":
        # The upload may be as large as the command takes, not just an API body's 4 MB.
        request.max_content_length = int(current_app.config["IMPORT_MAX_BYTES"]) + _FORM_OVERHEAD
    form = _form()
    report: Report | None = None
    if form.validate_on_submit():
        user_id = g.user.id
        session = get_session()
        # A POST's session takes the write lock (SQLite: BEGIN IMMEDIATE): let it go while
        # the feed is fetched, which may take IMPORT_TIMEOUT; the import opens a new one.
        session.rollback()
        try:
            feed = _load(form)
            if len(feed.entries) > IMPORT_FORM_ITEMS_MAX:
                raise SourceRefused(
                    f"The feed has {len(feed.entries):,} items; this page imports at most "
                    f"{IMPORT_FORM_ITEMS_MAX:,} at once. Import it with "
                    f"`flask --app feedsvc import-feed URL_OR_FILE --section SLUG`."
                )
            slug = form.section.data or ""
            report = Report(section=slug, feed_title=feed.title)
            # One transaction: at most IMPORT_FORM_ITEMS_MAX items, saved together or not.
            report.outcomes = import_entries(
                session,
                feed.entries,
                section_id=section_id_of(session, slug),
                base_url=current_app.config["SITE_URL"] + "/",
                by=user_id,
            )
            session.commit()
        except (SourceRefused, FeedRefused, NotFound) as exc:
            form.form_errors.append(str(exc))
    status = 422 if form.errors or form.form_errors else 200
    page = render_template(
        "admin/import.html",
        form=form,
        report=report,
        IMPORTED=IMPORTED,
        SKIPPED=SKIPPED,
        REFUSED=REFUSED,
        items_max=IMPORT_FORM_ITEMS_MAX,
    )
    return (page, status) if status != 200 else page
