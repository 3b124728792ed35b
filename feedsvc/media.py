"""Lead images and attachments as editors give them: checked URLs, alt text, media types."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from sqlalchemy import delete
from sqlalchemy.orm import Session

from feedsvc.content.text import NOT_XML_TEXT, ContentError, clean_line
from feedsvc.limits import ATTACHMENT_LENGTH_MAX, IMAGE_ALT_MAX, MEDIA_TYPE_MAX, MEDIA_URL_MAX
from feedsvc.storage.media import MediaProbe
from feedsvc.storage.models import Article, utcnow

# What the feeds say for an attachment whose type nobody could tell (RFC 2046 §4.5.1).
OCTET_STREAM = "application/octet-stream"

# The type an attachment's file extension stands for: a fixed table, so the same URL gets the
# same type on every machine (the host's mimetypes database differs from one to the next).
EXTENSION_TYPES: dict[str, str] = {
    # audio
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
    "oga": "audio/ogg",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",  # RFC 7845 §9: Opus in Ogg
    "flac": "audio/flac",
    "wav": "audio/wav",
    "weba": "audio/webm",
    # video
    "mp4": "video/mp4",
    "m4v": "video/x-m4v",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "ogv": "video/ogg",
    "mkv": "video/x-matroska",
    # documents
    "pdf": "application/pdf",
    "epub": "application/epub+zip",
    "txt": "text/plain",
    "csv": "text/csv",
    "json": "application/json",
    "zip": "application/zip",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt": "application/vnd.ms-powerpoint",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
    # images
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "avif": "image/avif",
    "svg": "image/svg+xml",
}

# RFC 6838 §4.2 restricted-name, twice: "type/subtype", no parameters.
_NAME = r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}"
MEDIA_TYPE = re.compile(rf"\A{_NAME}/{_NAME}\Z")
# Characters a URL never holds as such (RFC 3986 §2, Appendix C): whitespace, controls, and
# the delimiters that must be percent-encoded; the XML-illegal ones too.
_NOT_IN_URL = re.compile(r'[\s"<>\\^`{|}\x00-\x1f\x7f-\x9f]')
# What quote() leaves alone when making a URL ASCII: every character a URL may hold as such.
_URL_SAFE = "!#$%&'()*+,-./:;=?@[]~_"


class MediaInput(Protocol):
    """The media fields of an article's input (articles.ArticleInput)."""

    @property
    def image_url(self) -> str: ...
    @property
    def image_alt(self) -> str: ...
    @property
    def attachment_url(self) -> str: ...
    @property
    def attachment_type(self) -> str: ...
    @property
    def attachment_length(self) -> int | None: ...


@dataclass(frozen=True)
class Media:
    """The columns of an article's image and attachment, cleaned; field = column."""

    image_url: str = ""
    image_alt: str = ""
    attachment_url: str = ""
    attachment_type: str = ""  # "" : not known yet
    attachment_length: int | None = None  # None: not known yet


def clean_url(raw: str, label: str) -> str:
    """An absolute http(s) URL with a host, as ASCII; "" when blank. Raises ContentError."""
    value = NOT_XML_TEXT.sub("", raw).strip()
    if not value:
        return ""
    if len(value) > MEDIA_URL_MAX:
        raise ContentError(f"{label} is longer than {MEDIA_URL_MAX:,} characters.")
    if _NOT_IN_URL.search(value):
        raise ContentError(
            f'{label} must not contain spaces, control characters or any of < > " \\ ^ ` {{ | }}; '
            "write them percent-encoded (a space is %20)."
        )
    example = "like https://example.org/files/picture.jpg"
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018  (raises ValueError for a port that is no number 0-65535)
    except ValueError:
        raise ContentError(f"{label} is not a valid web address; give one {example}.") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ContentError(f"{label} must start with http:// or https://, {example}.")
    if not host:
        raise ContentError(f"{label} needs a host name, {example}.")
    if parts.username is not None or parts.password is not None:
        raise ContentError(f"{label} must not contain a user name or password.")
    netloc = parts.netloc
    if not host.isascii():
        try:
            ascii_host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise ContentError(f"{label} has a host name that is not a valid domain.") from None
        netloc = ascii_host + (f":{parts.port}" if parts.port is not None else "")
    url = urlunsplit(
        (
            parts.scheme.lower(),
            netloc,
            quote(parts.path, safe=_URL_SAFE),
            quote(parts.query, safe=_URL_SAFE),
            quote(parts.fragment, safe=_URL_SAFE),
        )
    )
    if len(url) > MEDIA_URL_MAX:
        raise ContentError(f"{label} is longer than {MEDIA_URL_MAX:,} characters once encoded.")
    return url


def type_from_extension(url: str) -> str:
    """The media type the URL's file extension stands for (EXTENSION_TYPES), else ""."""
    name = unquote(urlsplit(url).path).rsplit("/", 1)[-1]
    if "." not in name:
        return ""
    return EXTENSION_TYPES.get(name.rsplit(".", 1)[1].lower(), "")


def clean_type(raw: str) -> str:
    """A media type "type/subtype" in lower case, "" when blank. Raises ContentError."""
    value = raw.strip().lower()
    if not value:
        return ""
    if len(value) > MEDIA_TYPE_MAX or not MEDIA_TYPE.fullmatch(value):
        raise ContentError(
            "Attachment type must be a media type like audio/mpeg or application/pdf "
            "(type/subtype, no parameters); leave it empty to have it found."
        )
    return value


def clean_media(data: MediaInput, errors: dict[str, str], stored: Article | None) -> Media:
    """The input's image and attachment, checked and completed; one sentence per bad field
    into errors. `stored` is the article before this save (None for a new one).

    What is not given is filled in: the type from the file extension, or the values already
    found for the same file; what stays unknown is the scheduler's to find (queue_probe).
    Values equal to the stored ones were carried over by the edit form or by a PATCH that only
    changed the URL: with a new file they are found again, without one they simply go.
    """
    found: dict[str, str] = {}
    for name, cleaner in (
        ("image_url", lambda v: clean_url(v, "Image URL")),
        ("image_alt", lambda v: clean_line(v, field="Image alt text", max_length=IMAGE_ALT_MAX)),
        ("attachment_url", lambda v: clean_url(v, "Attachment URL")),
        ("attachment_type", clean_type),
    ):
        try:
            found[name] = cleaner(getattr(data, name) or "")
        except ContentError as exc:
            errors[name] = str(exc)
            found[name] = ""
    length = data.attachment_length
    if length is not None and not 0 <= length <= ATTACHMENT_LENGTH_MAX:
        errors["attachment_length"] = (
            f"Attachment length must be a whole number of bytes from 0 to "
            f"{ATTACHMENT_LENGTH_MAX:,}; leave it empty to have it found."
        )
    old = stored if stored is not None else Article()
    old_url, old_type = old.attachment_url or "", old.attachment_type or ""
    image_url, alt = found["image_url"], found["image_alt"]
    url, media_type = found["attachment_url"], found["attachment_type"]
    # Alt text describes an image, type and length a file: without it they mean nothing.
    if not image_url and "image_url" not in errors and alt and alt != (old.image_alt or ""):
        errors["image_alt"] = "Image alt text needs an Image URL."
    if not url and "attachment_url" not in errors:
        if media_type and media_type != old_type:
            errors.setdefault("attachment_type", "Attachment type needs an Attachment URL.")
        if length is not None and length != old.attachment_length:
            errors.setdefault("attachment_length", "Attachment length needs an Attachment URL.")
    if not url:
        media_type, length = "", None
    elif url == old_url:  # the same file: what was found for it stays
        media_type = media_type or old_type
        length = old.attachment_length if length is None else length
    elif old_url:  # a new file: the old one's values were carried over, not given
        media_type = "" if media_type == old_type else media_type
        length = None if length == old.attachment_length else length
    return Media(
        image_url=image_url,
        image_alt=alt if image_url else "",
        attachment_url=url,
        attachment_type=media_type or type_from_extension(url),
        attachment_length=length,
    )


def needs_probe(article: Article) -> bool:
    """Whether the article's attachment still lacks its type or its length."""
    return bool(article.attachment_url) and (
        article.attachment_length is None or not article.attachment_type
    )


def queue_probe(session: Session, article: Article) -> None:
    """After a save: queue the attachment for the scheduler's HEAD request, or unqueue it.

    Never a network call here: a request only writes this row, in the save's transaction.
    """
    if needs_probe(article):
        now = utcnow()
        session.merge(MediaProbe(article_id=article.id, queued_at=now, attempts=0, due_at=now))
    else:
        session.execute(delete(MediaProbe).where(MediaProbe.article_id == article.id))
