"""Tests for feedsvc.content.summary: the plain text a feed reader shows under a title."""

from __future__ import annotations

import pytest

from feedsvc.content.html import render_body
from feedsvc.content.summary import derive_summary
from tests.support.content_samples import FORBIDDEN, NASTY

BASE = "https://news.example.com/2024/05/budget/"


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
