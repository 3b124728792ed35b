"""The admin forms (Flask-WTF: every one carries a CSRF token) and field-error plumbing."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)

# SelectChoice is newer than the published WTForms stubs.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]
from wtforms.validators import InputRequired, NumberRange, Optional

from feedsvc.errors import ValidationError
from feedsvc.limits import (
    ITEMS_PER_FEED_DEFAULT,
    ITEMS_PER_FEED_MAX,
    ITEMS_PER_FEED_MIN,
    STATUS_DRAFT,
    STATUS_PUBLISHED,
)


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[InputRequired("Enter your username.")])
    password = PasswordField("Password", validators=[InputRequired("Enter your password.")])


class LogoutForm(FlaskForm):
    """Logging out changes state, so it is a POST with a CSRF token, not a link."""


class DeleteForm(FlaskForm):
    """A bare CSRF-protected POST for delete buttons."""


class SectionForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired("Give the section a name.")])
    slug = StringField(
        "Slug",
        description="Part of the feed URLs. Leave empty to derive it from the name.",
    )
    description = TextAreaField("Description")
    items_per_feed = IntegerField(
        "Items per feed",
        default=ITEMS_PER_FEED_DEFAULT,
        validators=[
            InputRequired("Say how many articles the feeds carry."),
            NumberRange(
                ITEMS_PER_FEED_MIN,
                ITEMS_PER_FEED_MAX,
                f"Items per feed must be between {ITEMS_PER_FEED_MIN} and {ITEMS_PER_FEED_MAX}.",
            ),
        ],
    )


def _section_id(value: object) -> int:
    """The select's value: a section id, or 0 for the "Choose a section" placeholder."""
    try:
        return int(str(value))
    except ValueError:
        return 0


class _PublishAtField(DateTimeLocalField):
    """datetime-local that always writes four-digit years: strftime's %Y makes "1" of the year
    1, which no browser reads back (a stored time that far out is shown, and refused)."""

    def _value(self) -> str:
        if self.raw_data:  # as typed, shown again beside its error
            return " ".join(self.raw_data)
        if self.data is None:
            return ""
        return f"{self.data.year:04d}{self.data:-%m-%dT%H:%M}"


class ArticleForm(FlaskForm):
    """One field per articles.ArticleInput field, by the same name, shown in this order."""

    title = StringField("Title", validators=[InputRequired("Title is required.")])
    section_id = SelectField(
        "Section",
        coerce=_section_id,
        validators=[InputRequired("Choose one of the sections.")],
        validate_choice=False,  # the service checks that the section exists
    )
    body = TextAreaField(
        "Body",
        description="Markdown. Separate paragraphs with a blank line.",
        validators=[InputRequired("Body is required.")],
        render_kw={"rows": 16},
    )
    summary = TextAreaField(
        "Summary",
        description="Optional. Left empty, it is taken from the body.",
        render_kw={"rows": 3},
    )
    author = StringField("Author", description="Optional.")
    publish_at = _PublishAtField(
        "Publish at",
        format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        validators=[Optional()],
        invalid_value_message=(  # type: ignore[call-arg]  # newer than the WTForms stubs
            "Publish at must be a date and time like 2026-11-28T14:30; "
            "leave it empty to publish now."
        ),
    )
    status = SelectField(
        "Status",
        choices=[SelectChoice(STATUS_PUBLISHED, "Published"), SelectChoice(STATUS_DRAFT, "Draft")],
        default=STATUS_PUBLISHED,
    )


def attach_errors(form: FlaskForm, error: ValidationError) -> None:
    """Show a service's field errors next to the fields they belong to."""
    for name, message in error.errors.items():
        field = getattr(form, name, None)
        if field is None:
            form.form_errors.append(message)
        else:
            field.errors = [*field.errors, message]
