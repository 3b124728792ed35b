"""Plain-text summaries of rendered article bodies: their leading paragraphs, cut to fit."""

from __future__ import annotations

from lxml import etree

from feedsvc.content.html import parse_fragment
from feedsvc.content.text import NOT_XML_TEXT, one_line


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
    html = NOT_XML_TEXT.sub("", html)
    if not html.strip():
        return ""
    root = parse_fragment(html)
    etree.strip_elements(root, "script", "style", with_tail=False)
    for br in root.iter("br"):  # "line<br>line" must not read as "lineline"
        br.tail = " " + (br.tail or "")
    # one_line() runs clean_text() again: references like "&#xfffe;" decode to forbidden chars.
    paragraphs = [text for p in root.iter("p") if (text := one_line(p.text_content()))]
    if not paragraphs:
        paragraphs = [one_line(root.text_content())]
    summary = paragraphs[0]
    for paragraph in paragraphs[1:]:
        if len(summary) + 1 + len(paragraph) > max_length:
            break
        summary = f"{summary} {paragraph}"
    return _shorten(summary, max_length)
