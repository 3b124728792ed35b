"""The two ways a reader may take a feed's plain-text field: as text, or as an HTML fragment."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import html5lib

JOINER = "\u2060"  # U+2060 WORD JOINER, the invisible mark feedsvc.feeds.htmltext inserts
CORPUS_FILE = Path(__file__).parent / "hostile_titles.json"


def corpus() -> list[tuple[str, str]]:
    """The vendored hostile titles as (category, title as posted)."""
    data = json.loads(CORPUS_FILE.read_text("utf-8"))
    return [(category, title) for category, title in data["payloads"]]


def visible(text: str) -> str:
    """The characters a person sees: the text without word joiners (zero-width, invisible)."""
    return text.replace(JOINER, "")


@dataclass(frozen=True)
class HtmlReading:
    """What an HTML5 parser makes of a string: the nodes it built and the text it shows."""

    markup: list[str]  # every element's tag name, and "<!--…-->" for each comment
    text: str  # the fragment's text content

    @property
    def live(self) -> bool:
        return bool(self.markup)


def _is_comment(node: Any) -> bool:
    return node.tag is ElementTree.Comment


def _text_content(node: Any) -> str:
    # DOM textContent: the text of the node and its descendants, comments left out.
    parts = [node.text or ""] if not _is_comment(node) else []
    for child in node:
        parts += [_text_content(child), child.tail or ""]
    return "".join(parts)


def as_html(fragment: str) -> HtmlReading:
    """Parse ``fragment`` as browsers do (WHATWG HTML parsing, through html5lib), in a <div>."""
    root: Any = html5lib.parseFragment(fragment, treebuilder="etree", namespaceHTMLElements=False)
    nodes = [node for node in root.iter() if node is not root]
    markup = ["<!--…-->" if _is_comment(node) else str(node.tag) for node in nodes]
    return HtmlReading(markup, _text_content(root))


def feedparser_reading(value: str, content_type: str = "text/plain") -> HtmlReading:
    """What a reader shows of a value feedparser returns: HTML when feedparser says so
    (its "looks like HTML" guess, or an RSS description), otherwise the text itself."""
    if content_type in ("text/html", "application/xhtml+xml"):
        return as_html(value)
    return HtmlReading([], value)
