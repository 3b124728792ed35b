"""The editor's Markdown to HTML: CommonMark, tables and strikethrough, with nesting guards."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token

from feedsvc.content.text import ContentError
from feedsvc.limits import BODY_HTML_MAX_BYTES

# Nesting limits. Past maxNesting markdown-it silently drops the rest of a quote or list, so
# deeper input is refused with a message instead (each list level is two markdown-it levels,
# <ul> and <li>; the 10 spare levels are headroom, the check below fires first).
_MAX_BLOCK_DEPTH = 50
_MARKDOWN_MAX_NESTING = 2 * _MAX_BLOCK_DEPTH + 10
# Brackets nested inside a link or image text. The link and image rules rescan the rest of the
# paragraph at each level, so this bounds the work per "[" (the limit markdown-it itself applies
# is maxNesting, about 110 here). Deeper brackets stay literal text, as past any such limit.
_MAX_INLINE_DEPTH = 8
NESTING_ERROR = "The body nests {what} more than {limit} levels deep."
# Table cells a body may leave out. The table rule fills each row up to the header's width, so
# a 256-column header over 256 rows of "x" (1.5 KB) made 65,536 cells (markdown-it's own cap):
# seconds of work for 1.5 KB. A real article leaves out a few.
_MAX_MISSING_CELLS = 4096
MISSING_CELLS_ERROR = (
    f"The body's tables leave out more than {_MAX_MISSING_CELLS:,} cells: write the rows out "
    "in full, or split the table."
)
# A table's delimiter row (GFM tables §4.10), after any quote markers and indentation: "|-|:-:|".
# Possessive quantifiers keep the match linear on long lines of "-" and "|".
_DELIMITER_ROW = re.compile(
    r"\|?+[ \t]*+:?+-++:?+[ \t]*+(?:\|[ \t]*+:?+-++:?+[ \t]*+)*+\|?+[ \t]*+$"
)
OUTPUT_ERROR = (
    "The body makes more than {limit:,} bytes of HTML, the most an article may have: "
    "shorten it, or repeat long links less (each use of a reference link copies its URL)."
)


class _Markdown(MarkdownIt):
    """CommonMark plus tables and strikethrough; raw HTML passes through for nh3 to sanitise.

    No typographer, so the editor's typography (curly quotes, dashes, ellipses) and straight
    quotes come through as typed; no linkify. No definition lists or abbreviations (raw <dl>
    and <abbr> still work) and no footnotes, whose ids would clash once several articles
    share one feed document.
    """

    def __init__(self) -> None:
        super().__init__(
            "commonmark",
            {"html": True, "typographer": False, "linkify": False},
        )
        self.options["maxNesting"] = _MARKDOWN_MAX_NESTING
        self.enable(["table", "strikethrough"])
        self.inline.ruler.before("text", "feedsvc_depth_cap", _inline_depth_cap)
        self.inline.ruler.before("text", "feedsvc_link_cannot_start", _link_cannot_start)

    def validateLink(self, url: str) -> bool:
        # nh3 alone decides which URLs stay (see html.render_body): "[x](javascript:...)"
        # becomes a link whose href nh3 removes, rather than literal text showing the script.
        return True


def _inline_depth_cap(state: StateInline, silent: bool) -> bool:
    """Past _MAX_INLINE_DEPTH, do what markdown-it does past maxNesting: the rest is text."""
    if state.level < _MAX_INLINE_DEPTH:
        return False
    if silent:  # scanning a link label: give up on it, so the outer "[" stays text
        state.pos = state.posMax
    else:
        state.append_pending(state.src[state.pos])
        state.pos += 1
    return True


def _link_cannot_start(state: StateInline, silent: bool) -> bool:
    """Take "[" or "![" as text at once where no link or image can start there.

    That is where no "]" follows, or no ")" follows (which an inline link needs) while the body
    defines no references (which "[label]" alone could use). The link and image rules would
    scan ahead for every such "[": seconds for a paste of 100,000 "[" or 20,000 "[a](".
    """
    src, pos = state.src, state.pos
    length = 2 if src.startswith("![", pos) else 1 if src[pos] == "[" else 0
    if not length:
        return False
    last = state.html_terminator_last  # last index in the source; one cached rfind per parse
    if last("]") > pos and (last(")") > pos or "references" in state.env):
        return False
    if not silent:
        state.append_pending(src[pos : pos + length])
    state.pos += length
    return True


_QUOTE_OR_LIST_OPEN = {"blockquote_open", "bullet_list_open", "ordered_list_open"}
_QUOTE_OR_LIST_CLOSE = {"blockquote_close", "bullet_list_close", "ordered_list_close"}


def markdown_to_html(text: str, *, max_bytes: int = BODY_HTML_MAX_BYTES) -> str:
    """Render Markdown to HTML for nh3 to sanitise, refusing quotes or lists nested too deep.

    Raises ContentError, before building it, for HTML longer than ``max_bytes`` in UTF-8.
    """
    _check_missing_cells(text)
    # A new parser per call (about 0.1 ms): nothing is shared between gunicorn's threads.
    md = _Markdown()
    env: dict[str, Any] = {}
    tokens = md.parse(text, env)
    depth = 0
    for token in tokens:  # block tokens only; their inline children need no change
        if token.type in _QUOTE_OR_LIST_OPEN:
            depth += 1
            if depth > _MAX_BLOCK_DEPTH:
                raise ContentError(
                    NESTING_ERROR.format(what="quotes or lists", limit=_MAX_BLOCK_DEPTH)
                )
        elif token.type in _QUOTE_OR_LIST_CLOSE:
            depth -= 1
        elif token.tag == "h1":  # "# Heading" is kept as h2, not unwrapped by nh3
            token.tag = "h2"
        elif token.type in ("th_open", "td_open"):
            # style= is stripped by nh3; align= is allowed (see html._ALLOWED_ATTRIBUTE_VALUES).
            style = str(token.attrs.pop("style", ""))
            if style.startswith("text-align:"):
                token.attrs["align"] = style.removeprefix("text-align:")
    return _render_bounded(md, tokens, env, max_bytes)


def _check_missing_cells(text: str) -> None:
    """Refuse tables whose rows leave out more than _MAX_MISSING_CELLS cells, before parsing.

    One pass over the lines. It counts as the table rule fills rows (up to the delimiter row's
    width, until a blank line), and errs towards counting more, never fewer by more than one
    per character of the body.
    """
    missing = columns = 0
    for line in text.split("\n"):
        row = line.lstrip(" \t>")  # a table may sit in a quote or a list item
        if not row.strip():
            columns = 0
        elif _DELIMITER_ROW.match(row):
            columns = _cells(row)
        elif columns:
            missing += max(columns - _cells(row), 0)
            if missing > _MAX_MISSING_CELLS:
                raise ContentError(MISSING_CELLS_ERROR)


def _cells(row: str) -> int:
    row = row.strip()
    pipes = row.count("|") - row.count("\\|")  # "\|" is a literal pipe, not a cell border
    return pipes + 1 - row.startswith("|") - (row.endswith("|") and len(row) > 1)


def _render_bounded(md: MarkdownIt, tokens: Sequence[Token], env: Any, max_bytes: int) -> str:
    """md.renderer.render(tokens), token by token, stopping as soon as the output passes max_bytes.

    The token stream stays about as long as the source, but its rendering need not: each use
    of "[a]" copies the reference's URL and title, so 28 KB of them made 40 MB of HTML. Built
    piece by piece, no more than max_bytes plus one token's rendering is ever held.
    """
    renderer = md.renderer
    assert isinstance(renderer, RendererHTML)  # MarkdownIt's default, which _Markdown keeps
    rules = renderer.rules
    options = md.options
    out: list[str] = []
    size = 0

    def render(stream: Sequence[Token]) -> None:
        nonlocal size
        for i, token in enumerate(stream):
            if token.type == "inline":  # as RendererHTML.render does: its children, in place
                render(token.children or ())
                continue
            rule = rules.get(token.type)
            piece = (
                rule(stream, i, options, env)
                if rule
                else renderer.renderToken(stream, i, options, env)
            )
            size += len(piece) if piece.isascii() else len(piece.encode())
            if size > max_bytes:
                raise ContentError(OUTPUT_ERROR.format(limit=max_bytes))
            out.append(piece)

    render(tokens)
    return "".join(out)
