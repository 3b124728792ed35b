"""Hypothesis strategies for what editors and API clients send: any text, any time, any HTML.

Each field's strategy mixes arbitrary Unicode (lone surrogates and unassigned code points
included) with the pieces that have broken feed software before: characters XML 1.0 forbids
or discourages, bidi controls, invisible and combining characters, markup, entity references,
Markdown syntax, and lengths just under, at and over the limits in feedsvc.limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import TypeVar
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from feedsvc import limits
from feedsvc.articles import ArticleInput
from feedsvc.content.text import one_line
from feedsvc.sections import SectionInput

# XML 1.0 §2.2: forbidden (C0 controls but TAB, LF, CR; U+FFFE/U+FFFF; surrogates) and
# discouraged (DEL, C1 controls, noncharacters of every plane).
XML_FORBIDDEN = [chr(c) for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)] + [
    "\ufffe",
    "\uffff",
]
SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff", "\udbff\udfff"]
XML_DISCOURAGED = [
    "\x7f",
    "\x80",
    "\x85",
    "\x9f",
    "\ufdd0",
    "\ufdef",
    "\U0001fffe",
    "\U0010ffff",
]
# Unicode bidi controls (UAX #9): embeddings, overrides, isolates and marks.
BIDI = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)]
# Whitespace the one-line rules treat specially, zero-width and invisible characters, a BOM,
# combining marks (NFC), an astral character, a right-to-left word.
ODD_TEXT = [
    "\t",
    "\n",
    "\r",
    "\r\n",
    " ",
    "\u00a0",
    "\u2007",
    "\u202f",
    "\u2028",
    "\u2029",
    "\u3000",
    "\u200b",
    "\u2060",
    "\ufeff",
    "\u00ad",
    "e\u0301",
    "\u0338",
    ">\u0338",
    "\U0001f600",
    "\U0001d54f",
    "שלום",
    "ß",
    "İ",
]
# Markup, references and CDATA as a title, a name or a body may carry them.
HTML_BITS = [
    "<",
    ">",
    "&",
    '"',
    "'",
    "<>",
    "</",
    "<!",
    "<?",
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "<?xml version='1.0'?>",
    "<!DOCTYPE html>",
    "<b>",
    "</b>",
    "<p>",
    "<div>",
    "</div>",
    "<br/>",
    "<script>alert(1)</script>",
    "<style>p{}</style>",
    "<svg onload=alert(1)>",
    "<math><mi>x</mi></math>",
    '<a href="javascript:alert(1)">',
    '<a href="/relative">x</a>',
    "<img src=x onerror=alert(1)>",
    '<iframe srcdoc="<b>x</b>">',
    "<table><tr><td>x</td></tr></table>",
    "&amp;",
    "&amp",
    "&lt;",
    "&gt;",
    "&quot;",
    "&nbsp;",
    "&notit;",
    "&copy",
    "&#0;",
    "&#1;",
    "&#x0;",
    "&#xd800;",
    "&#xfffe;",
    "&#x110000;",
    "&#128512;",
    "&#x1F600;",
    "&#",
    "&unknown;",
    "AT&T",
    "Q&A",
    "A < B",
    "1 < 2 > 0",
    "%00",
    "\\",
]
MARKDOWN_BITS = [
    "*",
    "_",
    "**",
    "`",
    "```\n",
    "# ",
    "###### ",
    "> ",
    "- ",
    "1. ",
    "\n\n",
    "    ",
    "[a](http://example.com/a)",
    "[a](javascript:alert(1))",
    "[ref]",
    "[ref]: http://example.com/r\n",
    "![img](http://example.com/i.png)",
    "<http://example.com/auto>",
    "| a | b |\n|---|:-:|\n| 1 | 2 |\n",
    "---\n",
    "\\*",
    "~~",
]

# Arbitrary code points, lone surrogates included (hypothesis leaves out category Cs unless
# told otherwise); unassigned (Cn) and private-use (Co) ones are in by default.
ANY_CHAR = st.characters(exclude_categories=())
_PIECES = st.one_of(
    st.text(ANY_CHAR, max_size=8),
    st.sampled_from(XML_FORBIDDEN + SURROGATES + XML_DISCOURAGED),
    st.sampled_from(BIDI),
    st.sampled_from(ODD_TEXT),
    st.sampled_from(HTML_BITS),
)
# Printable characters that survive cleaning one for one: what makes a field exactly so long.
_FILLER = st.sampled_from(["x", "é", "<", "&", "\U0001f600", "ש", "中", "-", "."])
# Text that cleans to nothing: refused where required.
BLANK = ["", " ", "\n\t", "\x00", "\ud800", "\u2028\u2029", "\ufffe\x1b", "\u3000"]
T = TypeVar("T")


def mostly(
    usual: st.SearchStrategy[T], unusual: st.SearchStrategy[T], one_in: int = 10
) -> st.SearchStrategy[T]:
    """``unusual`` once in ``one_in`` draws, ``usual`` otherwise.

    Each field's refusals (blank, too long, out of range) are kept rare, so that most examples
    get as far as the feeds, where the hostile text the usual values carry is what is tested.
    The unusual value is a middle draw: hypothesis favours 0 and the ends of a range.
    """
    return st.integers(0, one_in - 1).flatmap(lambda n: unusual if n == one_in // 2 else usual)


def hostile_text(max_pieces: int = 12) -> st.SearchStrategy[str]:
    """Short text of any code points mixed with the pieces that break feeds and pages."""
    return st.lists(_PIECES, max_size=max_pieces).map("".join)


def visible_text(max_pieces: int = 12) -> st.SearchStrategy[str]:
    """Hostile text with at least one character that survives cleaning: never blank."""
    return st.builds(
        lambda a, x, b: a + x + b,
        hostile_text(max_pieces // 2),
        _FILLER,
        hostile_text(max_pieces // 2),
    )


def sized(limit: int, deltas: tuple[int, ...] = (-1, 0, 1)) -> st.SearchStrategy[str]:
    """Text ``delta`` characters off ``limit`` once cleaned, with hostile ends."""

    def build(head: str, fill: str, delta: int, tail: str) -> str:
        room = limit + delta - len(one_line(head)) - len(one_line(tail))
        return head + fill * room + tail

    return st.builds(
        build,
        st.sampled_from(["", " ", "\x00", "\ud800", "<b>", "\u202e", "\u2060"]),
        _FILLER,
        st.sampled_from(deltas),
        st.sampled_from(["", "\n", "\ufffe", "&amp;", "\u2060", "x\u00a0x"]),
    )


def required_text(limit: int, max_pieces: int = 12) -> st.SearchStrategy[str]:
    """A required plain-text field (title, name): usually hostile but present and within
    ``limit``; sometimes empty, blank or one character too long."""
    return mostly(
        st.one_of(visible_text(max_pieces), sized(limit, (-1, 0))),
        st.one_of(st.sampled_from(BLANK), sized(limit, (1,))),
    )


def optional_text(limit: int, max_pieces: int = 12) -> st.SearchStrategy[str]:
    """An optional plain-text field: empty, blank, hostile, at its limit; sometimes over it."""
    return mostly(
        st.one_of(st.sampled_from(BLANK), hostile_text(max_pieces), sized(limit, (-1, 0))),
        sized(limit, (1,)),
    )


def markdown_bodies(max_pieces: int = 40) -> st.SearchStrategy[str]:
    """Markdown of any kind with raw HTML in it, kept modest in size: the renderer's time is
    not what this measures (tests of pathological Markdown bound that), and hypothesis would
    otherwise grow bodies towards the ones known to take seconds."""
    pieces = st.one_of(_PIECES, st.sampled_from(MARKDOWN_BITS))
    text = st.lists(pieces, max_size=max_pieces).map("".join)
    return mostly(
        st.builds(lambda a, x, b: a + x + b, text, _FILLER, text),
        st.one_of(st.sampled_from(BLANK), text, st.just("x" * (limits.BODY_MAX + 1))),
    )


# Zones with DST gaps and folds, whole-hour and odd offsets, and both ends of the offset range.
ZONES = [
    "Europe/London",
    "Europe/Paris",
    "America/New_York",
    "America/Sao_Paulo",
    "Australia/Lord_Howe",  # half-hour DST shift
    "Asia/Kathmandu",  # +05:45
    "Pacific/Kiritimati",  # +14:00
    "Pacific/Pago_Pago",  # -11:00
    "Pacific/Apia",  # skipped 30 December 2011 entirely
    "Africa/Casablanca",  # DST suspended every Ramadan
]
FIXED_ZONES = [
    UTC,
    timezone(timedelta(hours=14)),
    timezone(timedelta(hours=-12)),
    timezone(timedelta(hours=23, minutes=59)),
    timezone(timedelta(hours=-23, minutes=-59)),
    timezone(timedelta(minutes=1)),
]
_ZONE = st.one_of(st.sampled_from(FIXED_ZONES), st.sampled_from(ZONES).map(ZoneInfo))


def _any_zone() -> st.SearchStrategy[tzinfo]:
    return st.one_of(_ZONE, st.timezones())


def _aware(low: datetime, high: datetime) -> st.SearchStrategy[datetime]:
    # allow_imaginary: times inside a DST gap ("02:30" on a spring-forward night) stay in.
    times = st.datetimes(min_value=low, max_value=high, timezones=_any_zone())
    # Times in a fold (the hour that repeats in autumn): either reading of it.
    return st.builds(lambda t, fold: t.replace(fold=fold), times, st.sampled_from([0, 1]))


def _sunday(year: int, month: int, nth: int) -> int:
    """The day of the month of its nth Sunday (-1: the last)."""
    days = [
        d for d in range(1, 32) if _is_day(year, month, d) and date(year, month, d).weekday() == 6
    ]
    return days[nth if nth < 0 else nth - 1]


def _is_day(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


# DST transitions by rule: (zone, month, nth Sunday, the local hour and minute at which the
# ambiguous or missing stretch starts, its minutes). In the EU since 1996, the US since 2007.
_TRANSITIONS = [
    ("Europe/Paris", 3, -1, 2, 0, 60),  # gap: 02:00-03:00 does not exist
    ("Europe/Paris", 10, -1, 2, 0, 60),  # fold: 02:00-03:00 happens twice
    ("Europe/London", 3, -1, 1, 0, 60),
    ("Europe/London", 10, -1, 1, 0, 60),
    ("America/New_York", 3, 2, 2, 0, 60),
    ("America/New_York", 11, 1, 1, 0, 60),
    ("Australia/Lord_Howe", 10, 1, 2, 0, 30),  # a half-hour gap
    ("Australia/Lord_Howe", 4, 1, 1, 30, 30),  # and a half-hour fold
]


def dst_edges(first_year: int = 2007, last_year: int = 2037) -> st.SearchStrategy[datetime]:
    """Wall-clock times inside a DST gap (which never happen) or fold (which happen twice),
    with either fold value, as an editor in that zone may type them."""

    def build(
        rule: tuple[str, int, int, int, int, int], year: int, into: int, fold: int
    ) -> datetime:
        zone, month, nth, hour, minute, length = rule
        start = datetime(year, month, _sunday(year, month, nth), hour, minute)
        return (start + timedelta(minutes=into % length)).replace(tzinfo=ZoneInfo(zone), fold=fold)

    return st.builds(
        build,
        st.sampled_from(_TRANSITIONS),
        st.integers(first_year, last_year),
        st.integers(0, 59),
        st.sampled_from([0, 1]),
    )


def publish_times() -> st.SearchStrategy[datetime | None]:
    """Publish times: none (now), and aware times in any zone, in the past, the near future,
    the far future, at both ends of the accepted range and across DST changes; sometimes a
    naive time, or one outside the range up to the calendar's ends (datetime.min/max)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    earliest = limits.PUBLISH_AT_EARLIEST.replace(tzinfo=None)
    latest = limits.PUBLISH_AT_LATEST.replace(tzinfo=None)
    day = timedelta(days=1)
    usual = st.one_of(
        st.none(),
        _aware(now - timedelta(days=400), now - timedelta(minutes=1)),
        _aware(earliest + day, latest - day),
        _aware(earliest - day, earliest + day),
        _aware(latest - day, latest + day),
        _aware(now, now + timedelta(days=2)),
        dst_edges(2007, now.year - 1),
        dst_edges(now.year + 1, 2037),
    )
    unusual = st.one_of(st.datetimes(), _aware(datetime.min, datetime.max))  # naive; any
    return mostly(usual, unusual)


def section_inputs() -> st.SearchStrategy[SectionInput]:
    """Section data as the admin form and the API hand it to the sections service."""
    good_slugs = st.one_of(
        st.just(""),  # derived from the name
        st.from_regex(limits.SLUG_RE, fullmatch=True).filter(lambda s: len(s) <= limits.SLUG_MAX),
        st.sampled_from(["a", "a" * limits.SLUG_MAX, " news ", "NEWS"]),
    )
    bad_slugs = st.one_of(
        st.sampled_from(["a" * (limits.SLUG_MAX + 1), "news\n", "-a", "a--b", "../x", "a/b"]),
        st.sampled_from(["é", "\x00x", "x\ud800"]),
        hostile_text(4),
    )
    return st.builds(
        SectionInput,
        name=required_text(limits.SECTION_NAME_MAX),
        slug=mostly(good_slugs, bad_slugs),
        description=optional_text(limits.DESCRIPTION_MAX, max_pieces=20),
        items_per_feed=mostly(
            st.integers(limits.ITEMS_PER_FEED_MIN, limits.ITEMS_PER_FEED_MAX),
            st.sampled_from([0, -1, limits.ITEMS_PER_FEED_MAX + 1, 2**31, -(2**63)]),
        ),
    )


@dataclass(frozen=True)
class ArticleDraft:
    """An article's fields but its section, which is known only once the section is stored."""

    title: str
    body: str
    summary: str
    author: str
    publish_at: datetime | None
    status: str

    def in_section(self, section_id: int) -> ArticleInput:
        return ArticleInput(
            title=self.title,
            section_id=section_id,
            body=self.body,
            summary=self.summary,
            author=self.author,
            publish_at=self.publish_at,
            status=self.status,
        )


def article_drafts() -> st.SearchStrategy[ArticleDraft]:
    """Article data as the admin form and the API hand it to the articles service."""
    return st.builds(
        ArticleDraft,
        title=required_text(limits.TITLE_MAX),
        body=markdown_bodies(),
        summary=optional_text(limits.SUMMARY_MAX, max_pieces=20),
        author=optional_text(limits.AUTHOR_MAX),
        publish_at=publish_times(),
        status=mostly(
            st.sampled_from(
                [limits.STATUS_PUBLISHED, limits.STATUS_PUBLISHED, limits.STATUS_DRAFT]
            ),
            st.sampled_from(["", "Published", "deleted", "draft\n"]),
        ),
    )
