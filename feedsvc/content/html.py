"""Article bodies: the editor's Markdown to sanitised, absolute-linked, XML-compatible HTML."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import lxml.html
import nh3

from feedsvc.content.markdown import NESTING_ERROR, OUTPUT_ERROR, markdown_to_html
from feedsvc.content.text import NOT_XML_TEXT, ContentError, check_length, clean_text
from feedsvc.limits import BODY_HTML, BODY_HTML_MAX_BYTES, BODY_MAX

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
# Table column alignment (markdown_to_html turns the table rule's style= into align=);
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

# Raw HTML elements left open at once. html5ever (inside nh3) spends time proportional to the
# depth on every block tag, so 40,000 unclosed "<div>" took 7 s; a real article needs a few.
_MAX_HTML_DEPTH = 100

# Tags as they may appear in raw HTML, as far as nesting is concerned. Linear in the input:
# "[^<>]" stops each attempt at the next "<", and the possessive "*+" never gives back what
# it took. (With a plain "*", "<a" + "b" * 30,000 and no ">" tried every split of the run
# between the name and the attributes: 17 s.)
_RAW_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*+)([^<>]*+)>")
# Void elements, and elements whose end tag HTML lets authors leave out (the parser closes
# them when a sibling starts): neither nests what follows.
_NOT_NESTING = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
    "source", "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody",
    "tfoot", "option", "optgroup", "colgroup", "caption", "rb", "rt", "rp", "html", "head",
    "body",
}  # fmt: skip


def _check_html_depth(html: str) -> None:
    """Refuse HTML that leaves more than _MAX_HTML_DEPTH elements open at once."""
    open_elements: list[str] = []
    foreign = 0  # inside <svg> or <math>, where "<x/>" does close itself
    for match in _RAW_TAG.finditer(html):
        closing, name = match.group(1), match.group(2).lower()
        self_closing = match.group(3).endswith("/")
        if name in ("svg", "math") and not self_closing:
            foreign = max(foreign - 1, 0) if closing else foreign + 1
        if name in _NOT_NESTING or (self_closing and foreign):
            continue
        if not closing:
            open_elements.append(name)
            if len(open_elements) > _MAX_HTML_DEPTH:
                raise ContentError(
                    NESTING_ERROR.format(what="HTML elements", limit=_MAX_HTML_DEPTH)
                )
        elif name in open_elements:  # a stray end tag closes nothing
            while open_elements.pop() != name:
                pass


# A start or end tag exactly as the WHATWG "serializing HTML fragments" algorithm (HTML §13.3),
# which nh3's html5ever serializer implements, writes it: lower-case name, every attribute
# as name="value" with '"' escaped as &quot;.
_START_TAG = re.compile(r'<([a-z][a-z0-9]*)((?:\s+[^\s"\'>/=]+="[^"]*")*)\s*>')
_TAG = re.compile(r'<(/?)([a-z][a-z0-9]*)((?:\s+[^\s"\'>/=]+="[^"]*")*)\s*>')
_VOID_TAGS = {"br", "hr", "img"}
# Removed when sanitising leaves them without visible content (text other than whitespace, an
# image or a rule): "<p><script>...</script></p>" would otherwise read as a blank gap.
_DROP_IF_BLANK = {
    "p", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "ul", "ol", "li", "dl", "dt", "dd",
    "figure", "figcaption", "caption",
}  # fmt: skip
# Removed when left with no content at all; a space inside still separates words.
_DROP_IF_EMPTY = {
    "a", "strong", "em", "b", "i", "u", "s", "q", "cite", "code", "sup", "sub", "abbr", "del",
    "ins",
}  # fmt: skip


@dataclass
class _OpenElement:
    name: str
    start: int  # index of its start tag in the output list
    visible: bool = False  # holds text other than whitespace, an image or a rule
    anything: bool = False  # holds any text or element at all, even a space or <br>


def _drop_empty_elements(html: str) -> str:
    """Remove the elements sanitising emptied; ``html`` must be nh3's (WHATWG) serialization."""
    out: list[str] = []
    stack: list[_OpenElement] = []

    def holds(visible: bool) -> None:
        if stack:
            stack[-1].visible |= visible
            stack[-1].anything = True

    pos = 0
    for match in _TAG.finditer(html):
        if text := html[pos : match.start()]:
            out.append(text)
            holds(bool(text.strip()))
        pos = match.end()
        closing, name = match.group(1), match.group(2)
        if not closing and name not in _VOID_TAGS:
            stack.append(_OpenElement(name, len(out)))
            out.append(match.group(0))
            continue
        if closing:
            if not stack or stack[-1].name != name:
                return html  # not the serialization this expects: leave it as it is
            element = stack.pop()
            if (name in _DROP_IF_BLANK and not element.visible) or (
                name in _DROP_IF_EMPTY and not element.anything
            ):
                del out[element.start :]
                continue
            visible = element.visible
        else:
            visible = name != "br"
        out.append(match.group(0))
        holds(visible)
    if stack:
        return html
    out.append(html[pos:])
    return "".join(out)


def _polyglot_tag(match: re.Match[str]) -> str:
    name, attributes = match.group(1), match.group(2).replace("<", "&lt;")
    return f"<{name}{attributes} />" if name in _VOID_TAGS else f"<{name}{attributes}>"


def _xml_compatible(html: str) -> str:
    # The HTML serializer's only differences from well-formed XML for our allow-list: void
    # elements without "/>", a raw "<" allowed in attribute values (older spec versions), and
    # &nbsp;, which XML does not predefine (XML 1.0 §4.6). Fixing these lets the body go into
    # Atom type="xhtml" (RFC 4287 §3.1.1.3) as well as escaped into RSS/type="html".
    return _START_TAG.sub(_polyglot_tag, html).replace("&nbsp;", "&#160;")


def parse_fragment(html: str) -> Any:
    """Parse an HTML fragment, returning its <body>; ``html`` must hold only XML-legal chars."""
    # A whole document, not fragment_fromstring(), which raises on a stray "<html>" tag.
    document: Any = lxml.html.document_fromstring(f"<html><body>{html}")
    return document.body


def sanitise(html: str, *, base_url: str) -> str:
    """HTML → the allow-listed, absolute-linked, XML-compatible fragment feeds and pages show.

    The whole policy, applied to any HTML: render_body's output passes through unchanged, so
    the article page runs it again on stored HTML, and a full rebuild falls back on it for a
    stored body whose source no longer renders (rerendering.rerender). Raises
    ContentError for HTML nested deeper than _MAX_HTML_DEPTH.
    """
    base = urlsplit(base_url)
    if base.scheme not in ("http", "https") or not base.netloc:
        raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url!r}")
    _check_html_depth(html)  # before nh3, whose parser is what deep nesting makes slow
    cleaned = nh3.clean(
        html,
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
    return NOT_XML_TEXT.sub("", _xml_compatible(_drop_empty_elements(cleaned))).strip()


def render_body(
    markdown_text: str, *, base_url: str, max_html_bytes: int = BODY_HTML_MAX_BYTES
) -> str:
    """Render the editor's Markdown to a sanitised HTML fragment with absolute URLs.

    The result is also well-formed XML and contains only XML-legal characters. Every render
    sanitises with the current policy: an edit, and a full rebuild (which re-renders every
    stored article, publishing/passes.py), so a policy change reaches every stored body.
    Raises ContentError for a body whose HTML would pass ``max_html_bytes`` (UTF-8), as soon
    as the Markdown stage's output does, so the oversize HTML is never built whole.
    """
    # Cleaning first keeps XML-illegal characters out of every later stage.
    text = clean_text(markdown_text).strip()
    # Checked on the source, before rendering, so oversize input costs no Markdown time.
    check_length(text, "body", BODY_MAX)
    html = sanitise(markdown_to_html(text, max_bytes=max_html_bytes), base_url=base_url)
    # Sanitising can still add a little per element (rel="noopener noreferrer" on links, the
    # base URL on relative ones), so the stored result is measured again.
    return _checked(html, max_html_bytes)


def _checked(html: str, max_html_bytes: int) -> str:
    """A sanitised body as stored: within its byte bound, and with something to read."""
    if len(html.encode()) > max_html_bytes:
        raise ContentError(OUTPUT_ERROR.format(limit=max_html_bytes))
    root = parse_fragment(html)
    if not root.text_content().strip() and not root.xpath(".//img[@src]"):
        raise ContentError("Body is required.")
    return html


def render_html_body(
    html_text: str, *, base_url: str, max_html_bytes: int = BODY_HTML_MAX_BYTES
) -> str:
    """An HTML body (an imported item's) to the same sanitised fragment render_body makes.

    The HTML is taken as HTML, never as Markdown: "*" and indented lines stay what they are.
    The same bounds and the same "Body is required." as a Markdown body.
    """
    text = clean_text(html_text).strip()
    check_length(text, "body", BODY_MAX)
    html = sanitise(text, base_url=base_url)
    return _checked(html, max_html_bytes)


def render_source(
    body_format: str, text: str, *, base_url: str, max_html_bytes: int = BODY_HTML_MAX_BYTES
) -> str:
    """A stored body's source in its format (Article.body_format) to sanitised HTML."""
    render = render_html_body if body_format == BODY_HTML else render_body
    return render(text, base_url=base_url, max_html_bytes=max_html_bytes)
