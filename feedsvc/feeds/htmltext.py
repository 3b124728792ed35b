"""Plain text that shows the same characters whether a reader takes it as text or as HTML."""

from __future__ import annotations

import html
import re
from typing import Final

# U+2060 WORD JOINER: invisible and zero-width (Unicode §23.2, a Default_Ignorable code point),
# and unlike U+200B it adds no line-break opportunity, so "<script" never wraps after the "<".
WORD_JOINER: Final = "\u2060"

# RSS 2.0 says nothing about markup in <title>, <category> or dc:creator, and readers guess:
# feedparser's "looks like HTML" rule, and many readers outright, treat such a field as HTML.
# A joiner after the characters that would start markup makes both readings show the same
# text: an XML reader sees the joiner (invisible), an HTML tokenizer sees a "<" or "&" that
# starts nothing and emits it as text. Escaping once more ("&lt;") would instead show the
# entity to every reader that takes the field as text, as the RSS 2.0 spec itself would.
#
# HTML §13.2.5.6 tag open state: "<" followed by an ASCII letter (start tag), "/" (end tag,
# or a bogus comment that swallows text), "!" (comment, DOCTYPE, CDATA) or "?" (bogus
# comment) is markup, closed or not: "x<y" shows as "x", the unfinished tag dropped at the
# end of input. Any other "<" is text ("A < B", "<3", "<="). "<>" is text to HTML too, but
# SGML's empty start tag to sgmllib-based parsers (feedparser's sanitiser drops it).
# The pattern: such a "<", or any "&" (whether it starts a reference is decided below).
_MARKUP_START: Final = re.compile(r"<(?=[A-Za-z/!?>])|&")

# What html.unescape() looks at (HTML §13.2.5.72 character reference state): a numeric
# reference, or up to 32 name characters, any of whose prefixes may be a legacy name that
# HTML decodes without ";" ("&amp", "&copy", "&notit" -> "¬it").
_REFERENCE_CANDIDATE: Final = re.compile(
    r"&(?:#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)"
)
# Shapes that SGML-era parsers (sgmllib, feedparser's sanitiser) take as a reference although
# HTML does not decode them: any "&#", and "&name;" with an unknown name, which they rewrite
# without its ";". Neither occurs in ordinary text; "AT&T" and "Q&A" stay exactly as typed.
_SGML_REFERENCE: Final = re.compile(r"&(?:#|[A-Za-z][-.A-Za-z0-9]*;)")


def _starts_reference(text: str, at: int) -> bool:
    if _SGML_REFERENCE.match(text, at):
        return True
    candidate = _REFERENCE_CANDIDATE.match(text, at)
    # html.unescape() of the candidate alone decodes exactly what it would decode in place:
    # the candidate never contains another "&", and unescape's own scan starts at the "&".
    return candidate is not None and html.unescape(candidate[0]) != candidate[0]


def html_inert(text: str) -> str:
    """Return ``text`` with a WORD JOINER after each "<" or "&" that would start HTML markup
    or a character reference, so an HTML reading shows exactly the text an XML reading does.

    Deterministic, idempotent, and the identity on text without such a "<" or "&"; removing
    the joiners it added gives back ``text``.
    """
    if "<" not in text and "&" not in text:
        return text  # nearly every title: no scan at all

    def mark(match: re.Match[str]) -> str:
        char = match[0]
        if char == "<" or _starts_reference(text, match.start()):
            return char + WORD_JOINER
        return char

    return _MARKUP_START.sub(mark, text)
