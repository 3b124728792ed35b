"""hypothesis strategies for hostile article bodies: Markdown built to make renderers slow or big.

A body is a sequence of pieces, each a fragment of some construct known to cost renderers time
or output (emphasis runs, link and reference syntax, raw HTML left open or full of attributes,
tables, entities, nesting markers, long runs of one character), repeated a number of times.
Repetition makes a large body cheap to generate and to shrink: a failing 40 KB body shrinks
to a few fragments and counts.
"""

from __future__ import annotations

from hypothesis import strategies as st

# Words and the punctuation that matters to Markdown; the unusual characters stress the
# sanitiser's and the XML stage's character handling.
_WORDS = st.sampled_from(["a", "word", "Ünïcode", "中文", "x y", " ", "\n", "\t", "\u00a0", "🙂"])

_EMPHASIS = st.sampled_from(["*", "**", "***", "_", "__", "~~", "*a", "a*", "_a_", "**a ", " *"])
_LINKS = st.sampled_from(
    [
        "[", "]", "(", ")", "![", "[a]", "[a](", "[a](/u)", "[a](/u \"t\")", "![i](p.png)",
        "[r]", "[r][]", "[a][r]", "[[a](b)](c)", "<http://a", "<http://a.example/>", "](",
        "[a](javascript:alert(1))", "[a](  <u> )", "\\[", "[^1]",
    ]
)  # fmt: skip
_HTML = st.sampled_from(
    [
        "<div>", "</div>", "<div>\n", "<a", "<ab", "<a href=", "<a b c d e", "<a b='", '<a b="',
        "<p onclick=\"alert(1)\">x</p>", "<script>alert(1)</script>", "<script>", "<style>",
        "<img src=x onerror=alert(1)>", "<svg onload=alert(1)>", "<iframe src=//e>",
        "<!--", "-->", "<![CDATA[", "]]>", "<?", "?>", "<!X", "<x/>", "</a>", "<", ">",
        "<table>", "<td>", "<dl>", "<b>", "<i>", "<a href=\"javascript:x\">j</a>",
        "<math><mi xlink:href=x>", "<form action=x>", "<textarea>", "<base href=//e>",
    ]
)  # fmt: skip
_ATTRIBUTE = st.sampled_from(
    [" a", " b=1", " c='x'", ' d="y"', " on=1", " onclick=x", " =", " '", ' "', " /", " style=x"]
)
_TABLE = st.sampled_from(
    ["|", "|a", "|-", "|:-:", "-|", "\n", "|a|b|\n|-|-|\n", "| x |\n", "x\n", "\\|"]
)
_ENTITIES = st.sampled_from(
    [
        "&", "&amp;", "&nbsp;", "&#0;", "&#x0;", "&#1;", "&#xfffe;", "&#xd800;", "&#99999999;",
        "&#x110000;", "&copy", "&lt;script&gt;", "&#", "&#x", "&quot;", "&ThisIsNotOne;",
    ]
)  # fmt: skip
_BLOCKS = st.sampled_from(
    [
        "> ", "- ", "* ", "1. ", "  ", "    ", "\n", "\n\n", "# ", "=\n", "---\n", "```\n",
        "~~~", "`", "``", "\\", "  \n", ">", "-", "+ ",
    ]
)  # fmt: skip
_ONE_CHARACTER = st.sampled_from(list("*_[]()<>!&#`\\|-~> \n=\"'ab"))


@st.composite
def _reference_definitions(draw: st.DrawFn) -> str:
    """A reference with a long URL and title: every use of it copies both into the output."""
    url = "/" + "u" * draw(st.integers(0, 3000))
    title = "t" * draw(st.integers(0, 1000))
    label = draw(st.sampled_from(["r", "R", "a", "r r"]))
    return f'\n[{label}]: {url} "{title}"\n\n' if title else f"\n[{label}]: {url}\n\n"


@st.composite
def _attribute_soup(draw: st.DrawFn) -> str:
    """A raw start tag with many attributes, closed or not."""
    name = draw(st.sampled_from(["a", "img", "p", "div", "x-y", "svg"]))
    attributes = draw(st.lists(_ATTRIBUTE, max_size=30))
    end = draw(st.sampled_from([">", "/>", "", "\n"]))
    return f"<{name}{''.join(attributes)}{end}"


_FRAGMENT = st.one_of(
    _WORDS, _EMPHASIS, _LINKS, _HTML, _attribute_soup(), _TABLE, _ENTITIES, _BLOCKS,
    _reference_definitions(),
)  # fmt: skip


@st.composite
def _piece(draw: st.DrawFn, max_repeat: int) -> str:
    """A run of fragments, repeated: "*a " × 500, "- " × 40, "<a" + "b" × 20,000, …"""
    fragments = draw(st.lists(_FRAGMENT, min_size=1, max_size=4))
    return "".join(fragments) * draw(st.integers(1, max_repeat))


@st.composite
def _long_run(draw: st.DrawFn, max_length: int) -> str:
    """One character many times, as a stuck key or a paste makes it."""
    return draw(_ONE_CHARACTER) * draw(st.integers(1, max_length))


def hostile_markdown(*, max_pieces: int = 12, max_repeat: int = 200) -> st.SearchStrategy[str]:
    """Bodies of a few bytes to some tens of kilobytes, most of them small."""
    piece = st.one_of(_piece(max_repeat), _long_run(max_repeat * 10))
    return st.lists(piece, min_size=1, max_size=max_pieces).map("".join)


# Raw HTML blocks (CommonMark §4.6) pass their lines through as they are, so what follows an
# opener reaches the HTML stages unescaped: a tag left open there, followed by a long run of
# name or attribute characters, is what a backtracking regex chokes on.
_BLOCK_OPENERS = st.sampled_from(["<div>\n", "<table>\n", "<pre>\n", "<!--\n", "<x-y>\n", ""])
_TAG_STARTS = st.sampled_from(["<a", "</a", "<", "<a b", "<a b='", '<a b="', "<a/"])
_TAG_RUNS = st.sampled_from(["b", "-", "b1", " ", "b=", "'", '"', "/", "<a", "b\n"])


def large_hostile_markdown() -> st.SearchStrategy[str]:
    """Bodies of tens of kilobytes: long enough for super-linear work to show as such."""
    repeated = st.tuples(
        st.lists(_FRAGMENT, max_size=3).map("".join),  # a prefix
        st.one_of(_ONE_CHARACTER, st.lists(_FRAGMENT, min_size=1, max_size=3).map("".join)),
        st.integers(20_000, 60_000),  # the length of the repeated part, in characters
        st.lists(_FRAGMENT, max_size=2).map("".join),  # a suffix
    )
    open_tag = st.tuples(
        st.tuples(_BLOCK_OPENERS, _TAG_STARTS).map("".join),
        _TAG_RUNS,
        st.integers(20_000, 60_000),
        st.sampled_from(["", ">", "\n\nText."]),
    )
    return st.one_of(repeated, open_tag).map(
        lambda t: t[0] + (t[1] * (t[2] // len(t[1]) + 1))[: t[2]] + t[3]
    )
