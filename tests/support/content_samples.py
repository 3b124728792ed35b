"""Awkward editor input shared by the content tests: XML-illegal characters, nasty strings."""

from __future__ import annotations

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
