"""Plain text from editors: XML-legal characters, LF newlines, NFC; titles and short fields."""

from __future__ import annotations

import re
import unicodedata

from feedsvc.limits import TITLE_MAX


class ContentError(ValueError):
    """Input the user has to fix; ``str(error)`` is a full sentence fit to show them."""


# XML 1.0 §2.2 Char excludes NUL, C0 controls other than TAB/LF/CR, the surrogates and
# U+FFFE/U+FFFF. §2.2 also "discourages" DEL, the C1 controls and all noncharacters
# (U+FDD0-U+FDEF and U+xFFFE/U+xFFFF in every plane); feed validators flag those, so they go
# too. CR is kept here only so that clean_text() can turn it into LF.
_PLANE_NONCHARACTERS = "".join(rf"\U{plane:04x}fffe\U{plane:04x}ffff" for plane in range(1, 17))
NOT_XML_TEXT = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
    + _PLANE_NONCHARACTERS
    + "]"
)

# Whitespace runs to collapse in one-line fields. No-break spaces (U+00A0, U+2007, U+202F) are
# left alone inside the text: editors type them on purpose ("10\u00a0km", French "Prix\u202f:").
_WHITESPACE_RUN = re.compile(r"[^\S\u00a0\u2007\u202f]+")


def clean_text(s: str) -> str:
    """Return ``s`` with XML-illegal and discouraged characters removed, LF newlines, NFC.

    Never raises for any ``str``, including lone surrogates from JSON such as ``"\\ud800"``.
    """
    s = NOT_XML_TEXT.sub("", s)
    # XML 1.0 §2.11 end-of-line handling: CRLF and lone CR both become LF.
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    # NFC, as W3C Character Model (Charmod-Norm) recommends for content exchanged on the web;
    # it also makes "e" + U+0301 and "é" compare and count the same.
    return unicodedata.normalize("NFC", s)


def one_line(s: str) -> str:
    """Return clean_text(s) on one line: each whitespace run as one space, ends stripped."""
    return _WHITESPACE_RUN.sub(" ", clean_text(s)).strip()


def _as_subject(field: str) -> str:
    return field[:1].upper() + field[1:]


def _mid_sentence(field: str) -> str:
    # "Section name" -> "section name", but keep acronyms such as "URL" as they are.
    return field if field[1:2].isupper() else field[:1].lower() + field[1:]


def check_length(value: str, field: str, max_length: int) -> None:
    """Raise ContentError, naming ``field``, if ``value`` is longer than ``max_length``."""
    if len(value) > max_length:
        raise ContentError(f"The {_mid_sentence(field)} is longer than {max_length:,} characters.")


def clean_title(s: str, *, max_length: int = TITLE_MAX) -> str:
    """Return a one-line, plain-text title; markup in it stays literal text, never markup."""
    title = one_line(s)
    if not title:
        raise ContentError("Title is required.")
    check_length(title, "title", max_length)
    return title


def clean_line(
    s: str, *, field: str, max_length: int, required: bool = False, multiline: bool = False
) -> str:
    """Clean a short plain-text field (author, section name, ...); ``""`` when optional and blank.

    ``multiline=True`` (for descriptions) keeps line breaks: clean_text() plus strip only.
    """
    value = clean_text(s).strip() if multiline else one_line(s)
    if not value and required:
        raise ContentError(f"{_as_subject(field)} is required.")
    check_length(value, field, max_length)
    return value
