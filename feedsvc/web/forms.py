"""The admin forms (Flask-WTF: every one carries a CSRF token) and field-error plumbing."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_wtf import FlaskForm as _FlaskForm
from wtforms import (
    DateField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)

# SelectChoice is newer than the published WTForms stubs.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]
from wtforms.validators import EqualTo, InputRequired, NumberRange, Optional

from feedsvc.errors import ValidationError
from feedsvc.limits import (
    ITEMS_PER_FEED_DEFAULT,
    ITEMS_PER_FEED_MAX,
    ITEMS_PER_FEED_MIN,
    LOGIN_FORM_SECONDS,
    PASSWORD_MIN,
    ROLE_ADMIN,
    ROLE_EDITOR,
    SCOPE_READ,
    SCOPE_WRITE,
    STATUS_DRAFT,
    STATUS_PUBLISHED,
    TAGS_MAX,
)


class FlaskForm(_FlaskForm):
    """Flask-WTF's form reading form fields only, never a JSON body.

    Flask-WTF fills a form from `request.get_json()` when a POST says application/json; a
    broken or deeply nested body then raises inside any view or template that builds a form
    (the logout button on every page). An admin form is posted as a form, nothing else.
    """

    class Meta(_FlaskForm.Meta):
        def wrap_formdata(self, form: Any, formdata: Any) -> Any:
            if request.is_json and formdata is not None and not hasattr(formdata, "getlist"):
                # Flask-WTF's "read the request" marker on a JSON request: the form fields
                # (none) for a POST, nothing otherwise.
                return request.form if request.method in {"POST", "PUT", "PATCH"} else None
            return super().wrap_formdata(form, formdata)


class LoginForm(FlaskForm):
    class Meta:
        csrf_time_limit = LOGIN_FORM_SECONDS

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


class _LengthField(IntegerField):
    """A whole number of bytes: digits only (int() would also take "1_000" or "+5")."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist:
            return
        text = str(valuelist[0]).strip()
        if text.isascii() and text.isdigit():
            self.data = int(text)
            return
        self.data = None
        raise ValueError(
            "Attachment length must be a whole number of bytes, like 12345678; "
            "leave it empty to have it found."
        )


class TagsField(StringField):
    """Comma-separated tags, held as a tuple (articles.ArticleInput.tags); the service
    normalises them (topics.clean_tags) and says what is wrong with them."""

    data: Any

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = str(valuelist[0]) if valuelist else ""
        self.data = tuple(t.strip() for t in text.split(",") if t.strip())

    def _value(self) -> str:
        return ", ".join(self.data or ())


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
    # Free text; the browser suggests the authors already known (the form's <datalist>).
    author = StringField("Author", description="Optional.", render_kw={"list": "known-authors"})
    tags = TagsField(
        "Tags",
        description=f"Optional. Separate tags with commas; at most {TAGS_MAX}.",
    )
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
    # The lead image and the attachment (feedsvc/media.py checks them).
    image_url = StringField(
        "Image URL",
        description="Optional. The lead image, https://…; shown above the article and in feeds.",
        render_kw={"inputmode": "url"},
    )
    image_alt = StringField(
        "Image alt text", description="What the image shows, for people who cannot see it."
    )
    attachment_url = StringField(
        "Attachment URL",
        description="Optional. Audio, video or a document, https://…; feeds carry it as an "
        "enclosure.",
        render_kw={"inputmode": "url"},
    )
    attachment_type = StringField(
        "Attachment type",
        description="Like audio/mpeg. Empty: taken from the file name, or asked of its server.",
    )
    attachment_length = _LengthField(
        "Attachment length",
        description="In bytes. Empty: asked of the file's server.",
        validators=[Optional()],
    )


# The edit form's answers to "what kind of change is this?".
SILENT_FIX, CORRECTION = "silent-fix", "correction"


class ArticleEditForm(ArticleForm):
    """The article form for an edit; it also carries what the save is made against."""

    # Lost updates: the article's version when the form was opened, and a digest of each
    # field's value then (web/conflicts.py). Not ArticleInput fields: the edit view reads them.
    version = HiddenField()
    opened = HiddenField()
    # Honest updates: only a correction moves the date feeds show as the entry's updated
    # (RFC 4287 §4.2.15: changes "the publisher considers significant"); not an input field.
    correction = RadioField(
        "What kind of change is this?",
        choices=[
            SelectChoice(SILENT_FIX, "Silent fix: keep the updated date (a typo, a broken link)"),
            SelectChoice(
                CORRECTION, "Correction: show readers this story again (its updated date moves)"
            ),
        ],
        default=SILENT_FIX,
        description="Only matters once the article is public. The story's id never changes.",
    )


# --- accounts and API tokens (web/accounts.py, web/apitokens.py) -------------------------------

ROLE_CHOICES = [
    SelectChoice(ROLE_EDITOR, "Editor: writes articles"),
    SelectChoice(ROLE_ADMIN, "Admin: also sections, users and API tokens"),
]
_NEW_PASSWORD_HINT = f"At least {PASSWORD_MIN} characters."
# HTML autofill tokens: password managers offer the stored password, or make up a new one.
_NEW = {"autocomplete": "new-password"}


class ActionForm(FlaskForm):
    """A bare CSRF-protected POST for buttons: disable, enable, revoke."""


class UserForm(FlaskForm):
    """One field per users.create_user argument, by the same name."""

    username = StringField(
        "Username",
        description="Letters, digits, dots, hyphens or underscores.",
        validators=[InputRequired("Give the account a username.")],
    )
    # validate_choice=False here and below: the service refuses an unknown role in a sentence.
    role = SelectField("Role", choices=ROLE_CHOICES, default=ROLE_EDITOR, validate_choice=False)
    password = PasswordField(
        "Password",
        description=_NEW_PASSWORD_HINT + " Tell it to its owner, who then changes it.",
        validators=[InputRequired("Give the account a password.")],
        render_kw=_NEW,
    )


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES, validate_choice=False)


class ResetPasswordForm(FlaskForm):
    password = PasswordField(
        "New password",
        description=_NEW_PASSWORD_HINT + " Every session of the account ends.",
        validators=[InputRequired("Give the new password.")],
        render_kw=_NEW,
    )


class ChangePasswordForm(FlaskForm):
    current = PasswordField(
        "Current password",
        validators=[InputRequired("Give your current password.")],
        render_kw={"autocomplete": "current-password"},
    )
    password = PasswordField(
        "New password",
        description=_NEW_PASSWORD_HINT,
        validators=[InputRequired("Give the new password.")],
        render_kw=_NEW,
    )
    confirm = PasswordField(
        "New password again",
        validators=[
            InputRequired("Type the new password again."),
            EqualTo("password", "The two new passwords differ."),
        ],
        render_kw=_NEW,
    )


class TokenForm(FlaskForm):
    """One field per tokens.create_token argument, by the same name."""

    # validate_choice=False: the service says why a user or scope cannot be used, in a sentence.
    username = SelectField(
        "User",
        description="The token acts as this account, with its role.",
        validate_choice=False,
    )
    name = StringField("Name", description="What the token is for, e.g. the CMS it is given to.")
    scope = SelectField(
        "Scope",
        choices=[
            SelectChoice(SCOPE_READ, "Read only"),
            SelectChoice(SCOPE_WRITE, "Read and write"),
        ],
        default=SCOPE_READ,
        validate_choice=False,
    )
    expires_at = DateField(
        "Expires on",
        validators=[Optional()],
        invalid_value_message=(  # type: ignore[call-arg]  # newer than the WTForms stubs
            "Expires on must be a date like 2027-01-31; leave it empty for no expiry."
        ),
    )


def attach_errors(form: FlaskForm, error: ValidationError) -> None:
    """Show a service's field errors next to the fields they belong to."""
    for name, message in error.errors.items():
        field = getattr(form, name, None)
        if field is None:
            form.form_errors.append(message)
        else:
            field.errors = [*field.errors, message]
