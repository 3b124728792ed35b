"""Editor input to feed-safe content: XML-legal text, sanitised HTML, summaries and slugs."""

from __future__ import annotations

import hashlib
import re
import unicodedata
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlsplit

import lxml.html
import markdown
import nh3
from lxml import etree
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

__all__ = [
    "BODY_MAX_LENGTH",
    "SLUG_RE",
    "ContentError",
    "clean_line",
    "clean_text",
    "clean_title",
    "derive_summary",
    "render_body",
    "slugify",
]

BODY_MAX_LENGTH = 200_000

# \A...\Z rather than ^...$: "$" also matches before a trailing "\n", so "news\n" would pass
# a plain re.match() against "^...$".
SLUG_RE = re.compile(r"\A[a-z0-9]+(?:-[a-z0-9]+)*\Z")


class ContentError(ValueError):
    """Input the user has to fix; ``str(error)`` is a full sentence fit to show them."""


# ---------------------------------------------------------------------------------------------
# Plain text
# ---------------------------------------------------------------------------------------------

# XML 1.0 §2.2 Char excludes NUL, C0 controls other than TAB/LF/CR, the surrogates and
# U+FFFE/U+FFFF. §2.2 also "discourages" DEL, the C1 controls and all noncharacters
# (U+FDD0-U+FDEF and U+xFFFE/U+xFFFF in every plane); feed validators flag those, so they go
# too. CR is kept here only so that clean_text() can turn it into LF.
_PLANE_NONCHARACTERS = "".join(rf"\U{plane:04x}fffe\U{plane:04x}ffff" for plane in range(1, 17))
_NOT_XML_TEXT = re.compile(
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
    s = _NOT_XML_TEXT.sub("", s)
    # XML 1.0 §2.11 end-of-line handling: CRLF and lone CR both become LF.
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    # NFC, as W3C Character Model (Charmod-Norm) recommends for content exchanged on the web;
    # it also makes "e" + U+0301 and "é" compare and count the same.
    return unicodedata.normalize("NFC", s)


def _one_line(s: str) -> str:
    return _WHITESPACE_RUN.sub(" ", clean_text(s)).strip()


def _as_subject(field: str) -> str:
    return field[:1].upper() + field[1:]


def _mid_sentence(field: str) -> str:
    # "Section name" -> "section name", but keep acronyms such as "URL" as they are.
    return field if field[1:2].isupper() else field[:1].lower() + field[1:]


def _check_length(value: str, field: str, max_length: int) -> None:
    if len(value) > max_length:
        raise ContentError(f"The {_mid_sentence(field)} is longer than {max_length:,} characters.")


def clean_title(s: str, *, max_length: int = 300) -> str:
    """Return a one-line, plain-text title; markup in it stays literal text, never markup."""
    title = _one_line(s)
    if not title:
        raise ContentError("Title is required.")
    _check_length(title, "title", max_length)
    return title


def clean_line(
    s: str, *, field: str, max_length: int, required: bool = False, multiline: bool = False
) -> str:
    """Clean a short plain-text field (author, section name, ...); ``""`` when optional and blank.

    ``multiline=True`` (for descriptions) keeps line breaks: clean_text() plus strip only.
    """
    value = clean_text(s).strip() if multiline else _one_line(s)
    if not value and required:
        raise ContentError(f"{_as_subject(field)} is required.")
    _check_length(value, field, max_length)
    return value


# ---------------------------------------------------------------------------------------------
# Body: Markdown -> sanitised HTML
# ---------------------------------------------------------------------------------------------

# No h1: the page template and feed readers render the article title as the top heading.
_ALLOWED_TAGS = {
    "p", "br", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "u", "s", "a", "img",
    "ul", "ol", "li", "blockquote", "q", "cite", "code", "pre", "hr", "table", "caption",
    "thead", "tbody", "tfoot", "tr", "th", "td", "figure", "figcaption", "sup", "sub", "abbr",
    "del", "ins", "dl", "dt", "dd",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "ol": {"start"},
    "th": {"colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
}
# Table column alignment (the tables extension emits align= when asked, see render_body);
# any other value of align is dropped.
_ALIGN = {"align": {"left", "center", "right"}}
_ALLOWED_ATTRIBUTE_VALUES = {"th": _ALIGN, "td": _ALIGN}
# Elements whose content is code, not article text: removed together with their content
# rather than unwrapped into visible text.
_DROP_WITH_CONTENT = {
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "noscript",
    "noembed", "noframes", "template", "svg", "math", "textarea", "select",
}  # fmt: skip
_URL_SCHEMES = {"http", "https", "mailto"}


class _DemoteH1(Treeprocessor):
    """Turn Markdown "# Heading" into h2, so an editor's top heading is kept, not unwrapped."""

    def run(self, root: ET.Element) -> None:
        for element in root.iter("h1"):
            element.tag = "h2"


class _DemoteH1Extension(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.treeprocessors.register(_DemoteH1(md), "feedsvc_demote_h1", 1)


def _markdown_to_html(text: str) -> str:
    # "extra" minus footnotes (ids and "#fn:1" links break once several articles share one
    # feed document), attr_list ({: onclick=...}) and md_in_html; no smarty, so the editor's
    # typography (curly quotes, dashes, ellipses) and straight quotes come through as typed.
    extensions = ["abbr", "def_list", "fenced_code", "tables", "sane_lists"]
    md = markdown.Markdown(
        extensions=[*extensions, _DemoteH1Extension()],
        extension_configs={"tables": {"use_align_attribute": True}},  # style= is stripped
    )
    return md.convert(text)


# A start tag exactly as the WHATWG "serializing HTML fragments" algorithm (HTML §13.3),
# which nh3's html5ever serializer implements, writes it: lower-case name, every attribute
# as name="value" with '"' escaped as &quot;.
_START_TAG = re.compile(r'<([a-z][a-z0-9]*)((?:\s+[^\s"\'>/=]+="[^"]*")*)\s*>')
_VOID_TAGS = {"br", "hr", "img"}


def _polyglot_tag(match: re.Match[str]) -> str:
    name, attributes = match.group(1), match.group(2).replace("<", "&lt;")
    return f"<{name}{attributes} />" if name in _VOID_TAGS else f"<{name}{attributes}>"


def _xml_compatible(html: str) -> str:
    # The HTML serializer's only differences from well-formed XML for our allow-list: void
    # elements without "/>", a raw "<" allowed in attribute values (older spec versions), and
    # &nbsp;, which XML does not predefine (XML 1.0 §4.6). Fixing these lets the body go into
    # Atom type="xhtml" (RFC 4287 §3.1.1.3) as well as escaped into RSS/type="html".
    return _START_TAG.sub(_polyglot_tag, html).replace("&nbsp;", "&#160;")


def _parse_fragment(html: str) -> Any:
    """Parse an HTML fragment, returning its <body>; ``html`` must hold only XML-legal chars."""
    # A whole document, not fragment_fromstring(), which raises on a stray "<html>" tag.
    document: Any = lxml.html.document_fromstring(f"<html><body>{html}")
    return document.body


def render_body(markdown_text: str, *, base_url: str) -> str:
    """Render the editor's Markdown to a sanitised HTML fragment with absolute URLs.

    The result is also well-formed XML and contains only XML-legal characters.
    """
    base = urlsplit(base_url)
    if base.scheme not in ("http", "https") or not base.netloc:
        raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url!r}")
    # Cleaning first matters twice: python-Markdown uses STX/ETX (U+0002/U+0003) as its own
    # placeholder markers, so typed ones could splice stashed raw HTML back in; and it keeps
    # XML-illegal characters out of every later stage.
    text = clean_text(markdown_text).strip()
    # Checked on the source, before rendering, so oversize input costs no Markdown time.
    _check_length(text, "body", BODY_MAX_LENGTH)
    html = nh3.clean(
        _markdown_to_html(text),
        tags=_ALLOWED_TAGS,
        clean_content_tags=_DROP_WITH_CONTENT,
        attributes=_ALLOWED_ATTRIBUTES,
        tag_attribute_values=_ALLOWED_ATTRIBUTE_VALUES,
        url_schemes=_URL_SCHEMES,
        # Resolving here, with the same WHATWG URL parser that just checked the scheme,
        # leaves no gap between "what was checked" and "what is written". It handles
        # "/about", "img.png", "#x", "?q" and "//host/x" (which takes base_url's scheme).
        url_relative=("rewrite_with_base", base_url),
        # nh3's default rel="noopener noreferrer" is kept: editors cannot set rel or target
        # themselves, and no reader should learn which feed a click came from.
        link_rel="noopener noreferrer",
    )
    # Character references such as "&#xfffe;" or "&#1;" decode to characters again, so
    # filter once more. No NFC here: on markup it could fuse ">" + U+0338 into U+226F.
    html = _NOT_XML_TEXT.sub("", _xml_compatible(html)).strip()
    root = _parse_fragment(html)
    if not root.text_content().strip() and not root.xpath(".//img[@src]"):
        raise ContentError("Body is required.")
    return html


# ---------------------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------------------


def _shorten(text: str, max_length: int) -> str:
    if len(text) <= max_length:
        return text
    cut = text[: max(max_length - 1, 0)]  # room for the ellipsis
    if not text[len(cut)].isspace():  # the cut splits a word: back up to the last space
        head, space, _ = cut.rpartition(" ")
        cut = head if space and head else cut
    return (cut.rstrip(" ,;:-\u2013\u2014") or cut) + "\u2026"


def derive_summary(html: str, *, max_length: int = 280) -> str:
    """Return a plain-text summary of sanitised HTML: its leading paragraph(s).

    As many whole leading paragraphs as fit in ``max_length``; if the first alone is too long,
    it is cut at a word boundary and ends in "…" (the total stays within ``max_length``).
    Without <p> elements the whole text is used. Entities are decoded ("A & B").
    """
    # Only the XML-illegal characters go here (lxml refuses them); NFC waits for the extracted
    # text, since on markup it could fuse ">" + U+0338 into one character.
    html = _NOT_XML_TEXT.sub("", html)
    if not html.strip():
        return ""
    root = _parse_fragment(html)
    etree.strip_elements(root, "script", "style", with_tail=False)
    for br in root.iter("br"):  # "line<br>line" must not read as "lineline"
        br.tail = " " + (br.tail or "")
    # _one_line() runs clean_text() again: references like "&#xfffe;" decode to forbidden chars.
    paragraphs = [text for p in root.iter("p") if (text := _one_line(p.text_content()))]
    if not paragraphs:
        paragraphs = [_one_line(root.text_content())]
    summary = paragraphs[0]
    for paragraph in paragraphs[1:]:
        if len(summary) + 1 + len(paragraph) > max_length:
            break
        summary = f"{summary} {paragraph}"
    return _shorten(summary, max_length)


# ---------------------------------------------------------------------------------------------
# Slugs
# ---------------------------------------------------------------------------------------------

# Latin letters that NFKD does not decompose into ASCII, spelled the usual way.
_LATIN_FOLD = str.maketrans(
    {"æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "ł": "l", "\u0131": "i"}
)
_NON_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(name: str, *, max_length: int = 80) -> str:
    """Make a URL slug matching SLUG_RE: "Économie & Finance" -> "economie-finance".

    Names with nothing ASCII-foldable (e.g. "新闻", "أخبار") get "s-" plus the first 8 hex
    digits of the SHA-256 of the cleaned, case-folded name: stable for the same name, distinct
    for different names (collisions are left to the caller's uniqueness check, as for any slug).
    """
    text = _one_line(name).casefold()  # casefold() also spells "ß" as "ss"
    if not text:
        raise ContentError("A name is required to make a slug.")
    ascii_text = unicodedata.normalize("NFKD", text.translate(_LATIN_FOLD))
    slug = _NON_SLUG.sub("-", ascii_text.encode("ascii", "ignore").decode("ascii")).strip("-")
    if len(slug) > max_length:
        cut = slug[:max_length]
        if slug[max_length] != "-" and "-" in cut:  # don't leave half a word at the end
            cut = cut.rpartition("-")[0]
        slug = cut.strip("-")
    if not slug:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
        slug = f"s-{digest}"[:max_length].strip("-")
    return slug
