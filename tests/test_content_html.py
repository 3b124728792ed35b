"""Tests for feedsvc.content.html (and markdown.py through it): what a reader would notice."""

from __future__ import annotations

import pytest
from lxml import etree

from feedsvc.content.html import render_body
from feedsvc.content.text import ContentError
from feedsvc.limits import BODY_MAX
from tests.support.content_samples import FORBIDDEN, NASTY

BASE = "https://news.example.com/2024/05/budget/"

ARTICLE = (
    "The minister said “we will not raise taxes” – then left the room.\n"
    "Reporters waited.\n"
    "\n"
    "Critics called it ‘a promise, not a plan’ — and pointed to the 2023 deficit…\n"
    "\n"
    'Officials said "it\'s fine" & moved on.'
)


def parses_as_xml(fragment: str) -> bool:
    root = etree.fromstring(f"<root>{fragment}</root>".encode(), etree.XMLParser(recover=False))
    return root is not None


def urls_in(fragment: str) -> list[str]:
    root = etree.fromstring(f"<root>{fragment}</root>".encode())
    return [str(url) for url in root.xpath("//@href | //@src")]


# ------------------------------------------------------------------------------ render_body


def test_article_paragraphs_and_typography_come_through_unchanged() -> None:
    html = render_body(ARTICLE, base_url=BASE)
    assert html.count("<p>") == 3
    assert html.startswith("<p>The minister said “we will not raise taxes” – then left")
    assert "‘a promise, not a plan’ — and pointed to the 2023 deficit…</p>" in html
    assert '<p>Officials said "it\'s fine" &amp; moved on.</p>' in html
    assert "&#82" not in html and "&ldquo;" not in html and "&ndash;" not in html
    assert parses_as_xml(html)


@pytest.mark.parametrize(
    ("markdown_text", "gone"),
    [
        ("Hi <script>alert(1)</script> there", ["<script", "alert"]),
        ("<style>p{color:red}</style>Text", ["<style", "color"]),
        ("<img src=x onerror=alert(1)>", ["onerror", "alert"]),
        ('<a href="javascript:alert(1)">x</a>', ["javascript", "alert"]),
        # The URL parser drops the leading space and the tab: javascript:, so no href at all.
        ('<a href=" JaVa\tScRiPt:alert(1)">x</a>', ['href=" java', 'href="java']),
        ('<a href="&#106;avascript:alert(1)">x</a>', ["javascript", "alert"]),
        ('<a href="vbscript:msgbox(1)">x</a>', ["vbscript", "msgbox"]),
        ("[click](javascript:alert(1))", ["javascript", "alert"]),
        ('<iframe src="https://evil.example/"></iframe>Text', ["<iframe", "evil"]),
        ('<object data="x.swf"></object><embed src="y.swf">Text', ["<object", "<embed", ".swf"]),
        ('<form action="/x"><input name="q"></form>Text', ["<form", "<input"]),
        ('<p style="background:url(x)">Text</p>', ["style", "url("]),
        ('<img src="data:image/png;base64,AAAA" alt="pic">', ["data:", "base64"]),
        ('<a href="data:text/html,<script>alert(1)</script>">x</a>', ["data:", "alert"]),
        ('<p onclick="alert(1)" onmouseover="x()">Text</p>', ["onclick", "onmouseover"]),
        ("<svg><script>alert(1)</script></svg>Text", ["<svg", "alert"]),
    ],
)
def test_dangerous_markup_is_removed(markdown_text: str, gone: list[str]) -> None:
    html = render_body(markdown_text + "\n\nSafe text.", base_url=BASE)
    for fragment in gone:
        assert fragment.lower() not in html.lower()
    assert all(url.startswith(("https://", "http://", "mailto:")) for url in urls_in(html))
    assert "Safe text." in html
    assert parses_as_xml(html)


def test_common_article_markup_is_kept() -> None:
    text = (
        "## Background\n\n*em* **strong** `code` <sup>2</sup> <abbr title='x'>X</abbr>\n\n"
        "> quoted\n\n- one\n- two\n\n---\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n\n~~gone~~"
    )
    html = render_body(text, base_url=BASE)
    for fragment in [
        "<h2>Background</h2>",
        "<em>em</em>",
        "<strong>strong</strong>",
        "<code>code</code>",
        "<sup>2</sup>",
        '<abbr title="x">X</abbr>',
        "<blockquote>",
        "<li>one</li>",
        "<hr />",
        '<th align="left">a</th>',
        '<td align="right">2</td>',
        "<s>gone</s>",
    ]:
        assert fragment in html


def test_top_level_heading_becomes_h2() -> None:
    assert render_body("# Big news\n\nText", base_url=BASE).startswith("<h2>Big news</h2>")


def test_relative_urls_become_absolute() -> None:
    html = render_body(
        '[About](/about) ![Chart](img.png) <a href="#notes">n</a> '
        '<a href="//cdn.example.org/f.pdf">f</a> [Ext](https://other.example/x?a=1&b=2)',
        base_url=BASE,
    )
    assert 'href="https://news.example.com/about"' in html
    assert 'src="https://news.example.com/2024/05/budget/img.png"' in html
    assert 'href="https://news.example.com/2024/05/budget/#notes"' in html
    assert 'href="https://cdn.example.org/f.pdf"' in html
    assert 'href="https://other.example/x?a=1&amp;b=2"' in html
    assert 'rel="noopener noreferrer"' in html
    assert 'href="/' not in html and 'src="img' not in html


def test_body_output_is_xml_safe_for_any_nasty_input() -> None:
    for nasty in NASTY:
        text = f"Start {nasty} <b>{nasty}</b> [l](/{nasty}) ![a{nasty}](x.png)\n\n{nasty}"
        html = render_body(text, base_url=BASE)
        html.encode("utf-8")
        assert not set(html) & set(FORBIDDEN), repr(nasty)
        assert parses_as_xml(html), repr(nasty)


def test_body_entities_and_void_elements_are_well_formed_xml() -> None:
    html = render_body("a\u00a0b &nbsp; &copy; line  \nbreak\n\n![x<y](p.png)", base_url=BASE)
    assert "&nbsp;" not in html
    assert "<br />" in html
    assert parses_as_xml(html)


@pytest.mark.parametrize("blank", ["", "  \n\n ", "\x00", "<script>alert(1)</script>", "<!-- -->"])
def test_body_is_required(blank: str) -> None:
    with pytest.raises(ContentError, match=r"^Body is required\.$"):
        render_body(blank, base_url=BASE)


def test_image_only_body_is_accepted() -> None:
    assert "<img" in render_body("![Photo](photo.jpg)", base_url=BASE)


def test_body_length_limit() -> None:
    render_body("x" * BODY_MAX, base_url=BASE)
    with pytest.raises(ContentError, match=r"^The body is longer than 200,000 characters\.$"):
        render_body("x" * (BODY_MAX + 1), base_url=BASE)


@pytest.mark.parametrize("bad_base", ["", "/relative/", "news.example.com", "ftp://x.example/"])
def test_base_url_must_be_absolute_http(bad_base: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        render_body("Text", base_url=bad_base)


def blank_elements(fragment: str) -> list[str]:
    """Elements with no text and no image: what a reader shows as an empty gap."""
    root = etree.fromstring(f"<root>{fragment}</root>".encode())
    return [
        str(element.tag)
        for element in root.iterdescendants()
        if element.tag not in ("br", "hr", "img", "td", "th")
        and not "".join(element.itertext()).strip()
        and not element.xpath(".//img")
    ]


@pytest.mark.parametrize(
    "emptied",
    [
        "<span><script>alert(1)</script></span>",  # a paragraph of nothing but inline HTML
        "<p><iframe src='https://evil.example/'></iframe></p>",
        "> <span><script>alert(1)</script></span>",  # the quote around it goes too
        "[<span><script>alert(1)</script></span>](https://other.example/)",  # and the link
        "- <span><style>p{}</style></span>\n- <span><script>x</script></span>",  # the list
        "## <span><script>alert(1)</script></span>",
    ],
)
def test_elements_emptied_by_sanitising_are_removed(emptied: str) -> None:
    html = render_body(f"Before.\n\n{emptied}\n\nAfter.", base_url=BASE)
    assert not blank_elements(html), html
    assert html.startswith("<p>Before.</p>") and html.endswith("<p>After.</p>")
    assert html.count("<") == 4, html  # nothing but the two paragraphs


def test_list_keeps_the_items_that_survive_sanitising() -> None:
    html = render_body("- Kept\n- <span><script>alert(1)</script></span>\n- Also", base_url=BASE)
    assert html.replace("\n", "") == "<ul><li>Kept</li><li>Also</li></ul>"


def test_content_not_emptied_by_sanitising_stays() -> None:
    html = render_body(
        "a<b> </b>b\n\n![Photo](photo.jpg)\n\n<p>&nbsp;</p>\n\n---\n\n"
        "| x | y |\n|---|---|\n|  | 2 |",
        base_url=BASE,
    )
    assert "a<b> </b>b" in html  # the space still separates the words
    assert '<p><img src="https://news.example.com/2024/05/budget/photo.jpg" alt="Photo" />' in html
    assert "<p>&#160;</p>" in html  # typed by the editor, not left behind by sanitising
    assert "<hr />" in html
    assert "<td></td>" in html  # an empty table cell keeps its column


# ---------------------------------------------------------------------- nesting and cost

QUOTES_OR_LISTS_TOO_DEEP = r"^The body nests quotes or lists more than 50 levels deep\.$"
HTML_TOO_DEEP = r"^The body nests HTML elements more than 100 levels deep\.$"


@pytest.mark.parametrize("marker", ["> ", "- ", "1. ", "> - "])
def test_quotes_and_lists_nest_to_50_levels_without_losing_text(marker: str) -> None:
    repeats = 50 // len(marker.split())
    html = render_body(marker * repeats + "Deepest words.", base_url=BASE)
    assert "Deepest words." in html  # markdown-it alone would drop it past its maxNesting
    assert parses_as_xml(html)
    with pytest.raises(ContentError, match=QUOTES_OR_LISTS_TOO_DEEP):
        render_body(marker * (repeats + 1) + "Deepest words.", base_url=BASE)


def test_raw_html_nesting_is_limited() -> None:
    assert "Deep" in render_body("<div>" * 100 + "Deep", base_url=BASE)
    for too_deep in ["<div>" * 101, "<em>" * 101, "<dl></x>" * 101]:  # stray end tags close nothing
        with pytest.raises(ContentError, match=HTML_TOO_DEEP):
            render_body(f"{too_deep}Deep", base_url=BASE)
    # Void elements, optional end tags and self-closing SVG children nest nothing.
    html = render_body(
        "<p>Alpha" * 300 + "<br>" * 300 + "<svg>" + "<path/>" * 300 + "</svg>" + "<li>Omega" * 300,
        base_url=BASE,
    )
    assert html.count("Alpha") == 300 and html.count("Omega") == 300


def test_brackets_make_links_or_stay_text() -> None:
    html = render_body("[a [b [c] d] e](/u) [x] [ ![i](/i.png) [[[ end", base_url=BASE)
    assert (
        '<a href="https://news.example.com/u" rel="noopener noreferrer">a [b [c] d] e</a>' in html
    )
    assert " [x] [ <img " in html and " [[[ end" in html
    # Deeper than the inline nesting limit, the brackets stay text rather than cost time.
    assert "[" * 12 + "x" + "]" * 12 in render_body(
        "[" * 12 + "x" + "]" * 12 + "(/u)", base_url=BASE
    )


# Each case takes about a second at most on a shared CI core: a regression to super-linear
# cost fails here rather than holding the run until the default per-test timeout.
PATHOLOGICAL_TIMEOUT = 15


# Inputs on which python-Markdown took from seconds to minutes (its issue #798) or raised
# RecursionError. Each must now render, or be refused with a ContentError, in well under a
# second; the test asserts completion only, since wall-clock limits make flaky tests.
@pytest.mark.parametrize(
    ("text", "refused"),
    [
        pytest.param("[" * 100_000, None, id="100k-open-brackets"),
        pytest.param("[" * 100_000 + "]", None, id="100k-open-brackets-one-close"),
        pytest.param("![" * 50_000, None, id="50k-image-openers"),
        pytest.param("*" * 50_000, r"^Body is required\.$", id="50k-asterisks"),  # a rule
        pytest.param("x" + "*" * 50_000 + "x", None, id="50k-asterisks-in-text"),
        pytest.param("[a](" * 20_000, None, id="20k-unclosed-links"),
        pytest.param(">" * 10_000 + " deep", QUOTES_OR_LISTS_TOO_DEEP, id="10k-nested-quotes"),
        pytest.param("<" * 100_000, None, id="100k-less-than"),
        pytest.param("x" + "<![CDATA[" * 20_000, None, id="20k-unclosed-cdata"),
        pytest.param("- " * 5_000 + "deep", QUOTES_OR_LISTS_TOO_DEEP, id="5k-nested-lists"),
        pytest.param(
            "\n".join("  " * level + "- x" for level in range(400)),
            QUOTES_OR_LISTS_TOO_DEEP,
            id="400-indented-lists",  # 5,000 levels of indent would exceed BODY_MAX
        ),
        pytest.param("<dl>" * 50_000, HTML_TOO_DEEP, id="50k-nested-html"),
        pytest.param(
            ("Word *em* `code` [link](/u) <b>b</b> " * 6_000)[:BODY_MAX],
            None,
            id="200k-char-line",
        ),
    ],
)
@pytest.mark.timeout(PATHOLOGICAL_TIMEOUT)
def test_pathological_input_renders_or_is_refused(text: str, refused: str | None) -> None:
    if refused:
        with pytest.raises(ContentError, match=refused):
            render_body(text, base_url=BASE)
    else:
        assert parses_as_xml(render_body(text, base_url=BASE))
