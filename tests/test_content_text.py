"""Tests for feedsvc.content.text: what an editor or a feed reader would notice."""

from __future__ import annotations

import pytest
from lxml import etree

from feedsvc.content.text import ContentError, clean_line, clean_text, clean_title
from tests.support.content_samples import FORBIDDEN, NASTY

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
