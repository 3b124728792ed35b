"""The article form's Preview: the entry as feed readers will show it, with nothing stored."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from markupsafe import Markup

from feedsvc import articles, previews
from feedsvc.errors import ValidationError
from feedsvc.storage.db import get_session
from feedsvc.storage.models import Article, utcnow
from feedsvc.web.forms import CORRECTION, ArticleForm, attach_errors

# The value of the form's `action` button that asks for a preview; any other value saves.
PREVIEW = "preview"


def wanted() -> bool:
    """Whether the form was sent with its Preview button."""
    return request.form.get("action") == PREVIEW


def build(
    form: ArticleForm, data: articles.ArticleInput, stored: Article | None
) -> dict[str, Any] | None:
    """The preview's template values, or None with the service's errors on the form's fields.

    The articles service validates and renders exactly as a save would (one code path, so the
    preview cannot differ from what is published); it only reads, and nothing is committed.
    """
    correction = getattr(form, "correction", None)  # the edit form's "What kind of change"
    try:
        entry = previews.preview_article(
            get_session(),
            data,
            base_url=current_app.config["SITE_URL"] + "/",
            stored=stored,
            correction=correction is not None and correction.data == CORRECTION,
        )
    except ValidationError as exc:
        attach_errors(form, exc)
        return None
    return {
        "entry": entry,
        # The sanitiser's own output (content/html.py), the bytes feeds carry as content.
        "body": Markup(entry.body_html),
        "now": utcnow(),
        "new": stored is None,
    }
