"""Tests for feedsvc.content: what an editor or a feed reader would notice."""

from __future__ import annotations

import pytest
from lxml import etree

from feedsvc.content import (
    BODY_MAX_LENGTH,
    SLUG_RE,
    ContentError,
    clean_line,
    clean_text,
    clean_title,
    derive_summary,
    render_body,
    slugify,
)

BASE = "https://news.example.com/2024/05/budget/"

ARTICLE = (
    "The minister said “we will not raise taxes” – then left the room.\n"
    "Reporters waited.\n"
    "\n"
    "Critics called it ‘a promise, not a plan’ — and pointed to the 2023 deficit…\n"
    "\n"
    'Officials said "it\'s fine" & moved on.'
)

# Characters XML 1.0 forbids or discourages, which must never reach a feed.
FORBIDDEN = [chr(c) for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)]
FORBIDDEN += [chr(c) for c in range(0x7F, 0xA0)]
FORBIDDEN += ["\ud800", "\udbff", "\udc00", "\udfff", "\ufdd0", "\ufdef", "\ufffe", "\uffff"]
FORBIDDEN += ["\U0001fffe", "\U0001ffff", "\U0010fffe", "\U0010ffff"]

NASTY = [
    "",
    " ",
    "\x00",
    "\ud800",
    "a\ud800b\udc00c",
    "\ud83d\ude00",  # a surrogate *pair* as two code points, as from some UTF-16 clients
    "\r\n\r\n",
    "\x02wzxhzdk:0\x03",  # python-Markdown's raw-HTML placeholder (the engine used before)
    "<",
    "&",
    "&nbsp;",
    "&#0;",
    "&#xfffe;",
    "&#xd800;",
    "&#1;",
    "&#x1fffe;",
    "&#x85;",
    "<![CDATA[x]]>",
    "<?xml version='1.0'?>",
    "<!-- c -->",
    "]]>",
    "<p",
    '<a href="',
    "e\u0301",
    "\u202e reversed",
    "🙂 emoji",
    "".join(FORBIDDEN),
    *FORBIDDEN,
]


def parses_as_xml(fragment: str) -> bool:
    root = etree.fromstring(f"<root>{fragment}</root>".encode(), etree.XMLParser(recover=False))
    return root is not None


def urls_in(fragment: str) -> list[str]:
    root = etree.fromstring(f"<root>{fragment}</root>".encode())
    return [str(url) for url in root.xpath("//@href | //@src")]


# ----------------------------------------------------------------------------- clean_text


@pytest.mark.parametrize("char", FORBIDDEN)
def test_clean_text_removes_each_forbidden_character(char: str) -> None:
    assert clean_text(f"a{char}b") == "ab"


def test_clean_text_keeps_tab_newline_and_normalises_line_ends_and_nfc() -> None:
    assert clean_text("a\tb\r\nc\rd\ne") == "a\tb\nc\nd\ne"
    assert clean_text("Cafe\u0301") == "Café"
    assert clean_text("“quoted” – ‘x’ …\u00a0€ 新闻") == "“quoted” – ‘x’ …\u00a0€ 新闻"


@pytest.mark.parametrize("text", NASTY)
def test_clean_text_never_raises_and_is_xml_text(text: str) -> None:
    cleaned = clean_text(text)
    cleaned.encode("utf-8")  # strict: would raise on a surrogate
    root = etree.Element("root")
    root.text = cleaned  # lxml rejects XML-illegal characters here
    assert not set(cleaned) & set(FORBIDDEN)


# ------------------------------------------------------------------------ titles and lines


def test_title_markup_stays_literal_text() -> None:
    assert clean_title("A & B < C") == "A & B < C"
    assert clean_title("<b>Bold</b> &amp; <script>x</script>") == (
        "<b>Bold</b> &amp; <script>x</script>"
    )


def test_title_collapses_whitespace_and_keeps_typography() -> None:
    assert clean_title("  Budget\t“day”\r\n –  live \n") == "Budget “day” – live"
    assert clean_title("10\u00a0km run") == "10\u00a0km run"  # deliberate no-break space


@pytest.mark.parametrize("blank", ["", "   ", "\n\t", "\x00\ufffe", "\ud800"])
def test_title_is_required(blank: str) -> None:
    with pytest.raises(ContentError, match=r"^Title is required\.$"):
        clean_title(blank)


def test_title_length_limit() -> None:
    assert clean_title("x" * 300) == "x" * 300
    with pytest.raises(ContentError, match=r"^The title is longer than 300 characters\.$"):
        clean_title("x" * 301)
    with pytest.raises(ContentError, match="longer than 20 characters"):
        clean_title("x" * 21, max_length=20)


def test_clean_line_names_the_field() -> None:
    assert clean_line("  Jane\n Doe ", field="Author", max_length=50) == "Jane Doe"
    assert clean_line(" \x00 ", field="Author", max_length=50) == ""
    with pytest.raises(ContentError, match=r"^Section name is required\.$"):
        clean_line(" ", field="Section name", max_length=50, required=True)
    with pytest.raises(ContentError, match=r"^The section name is longer than 5 characters\.$"):
        clean_line("abcdef", field="Section name", max_length=5)
    with pytest.raises(ContentError, match=r"^The URL is longer than 5 characters\.$"):
        clean_line("abcdef", field="URL", max_length=5)


def test_multiline_description_keeps_line_breaks() -> None:
    text = "\r\n First line.\r\nSecond\tline.\x0b\n\n"
    assert clean_line(text, field="Description", max_length=500, multiline=True) == (
        "First line.\nSecond\tline."
    )


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
    render_body("x" * BODY_MAX_LENGTH, base_url=BASE)
    with pytest.raises(ContentError, match=r"^The body is longer than 200,000 characters\.$"):
        render_body("x" * (BODY_MAX_LENGTH + 1), base_url=BASE)


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
            id="400-indented-lists",  # 5,000 levels of indent would exceed BODY_MAX_LENGTH
        ),
        pytest.param("<dl>" * 50_000, HTML_TOO_DEEP, id="50k-nested-html"),
        pytest.param(
            ("Word *em* `code` [link](/u) <b>b</b> " * 6_000)[:BODY_MAX_LENGTH],
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


# --------------------------------------------------------------------------- derive_summary


def test_summary_is_plain_text_of_leading_paragraph() -> None:
    html = render_body("A & B <i>said</i>\n“hello”.\n\nSecond para.", base_url=BASE)
    assert derive_summary(html, max_length=20) == "A & B said “hello”."
    assert derive_summary(html) == "A & B said “hello”. Second para."


def test_long_summary_is_cut_at_a_word_boundary() -> None:
    html = render_body(" ".join(["budget"] * 100), base_url=BASE)
    summary = derive_summary(html)
    assert len(summary) <= 280
    assert summary.endswith("budget…")
    assert set(summary[:-1].split()) == {"budget"}


def test_summary_of_one_huge_word_is_still_bounded_and_non_empty() -> None:
    summary = derive_summary("<p>" + "x" * 1000 + "</p>", max_length=50)
    assert summary == "x" * 49 + "…"


def test_summary_without_paragraphs_uses_all_text() -> None:
    assert derive_summary("<ul><li>one</li><li>two &amp; three</li></ul>") == "onetwo & three"
    assert derive_summary("line<br>line") == "line line"
    assert derive_summary("") == ""
    assert derive_summary("<script>x</script>Visible") == "Visible"
    assert derive_summary("<html><body><p>Stray tags</p></body></html>") == "Stray tags"
    assert derive_summary("<html>") == ""


@pytest.mark.parametrize("nasty", NASTY)
def test_summary_never_raises(nasty: str) -> None:
    # "word" first: in CommonMark a line starting "<p " opens a raw HTML block, and the
    # unfinished tag "<p word" is then dropped whole by the sanitiser.
    summary = derive_summary(render_body(f"word {nasty}", base_url=BASE))
    assert "word" in summary
    assert not set(summary) & set(FORBIDDEN)


# -------------------------------------------------------------------------------- slugify


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("World News", "world-news"),
        ("Économie & Finance", "economie-finance"),
        ("  --Sport--  ", "sport"),
        ("Straße", "strasse"),
        ("Ærø Øst", "aero-ost"),
        ("C++ / C#", "c-c"),
        ("Covid-19 Live!", "covid-19-live"),
        ("新闻 2024", "2024"),
    ],
)
def test_slugify(name: str, slug: str) -> None:
    assert slugify(name) == slug
    assert SLUG_RE.match(slug)


@pytest.mark.parametrize("name", ["新闻", "أخبار", "Новости", "!!!", "—", "\ud800新"])
def test_slug_fallback_for_names_without_ascii(name: str) -> None:
    slug = slugify(name)
    assert SLUG_RE.match(slug)
    assert slug.startswith("s-") and len(slug) == 10
    assert slugify(f"  {name} ") == slug  # stable


def test_slug_fallback_differs_per_name() -> None:
    assert slugify("新闻") != slugify("体育")


def test_slug_is_cut_between_words() -> None:
    slug = slugify("word " * 30, max_length=22)
    assert slug == "word-word-word-word"
    assert slugify("x" * 100) == "x" * 80


def test_slugify_blank_name_is_an_error() -> None:
    with pytest.raises(ContentError):
        slugify(" \x00 ")


@pytest.mark.parametrize("bad", ["", "News", "a--b", "-a", "a-", "a b", "news\n", "é", "a_b"])
def test_slug_re_rejects_bad_slugs(bad: str) -> None:
    assert SLUG_RE.match(bad) is None
