"""Hostile request parts for the edge sweeps: values, headers, path arguments, forms, JSON.

WSGI hands the app each header as the request's bytes decoded as ISO-8859-1 (PEP 3333), so
`raw(b"\\xff")` is what a server passes on for a byte that is not UTF-8. Everything here is
built from `app.url_map`, the pages' own forms and the API's own description, so a route
added later is swept without a change here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_from_bytes

from lxml import html
from werkzeug.routing import Rule

LONG = 100_000


def raw(data: bytes) -> str:
    """The WSGI environ string for these bytes (PEP 3333: latin-1, one char per byte)."""
    return data.decode("latin-1")


NOT_UTF8 = raw(b"\xff\xfe\xc3(")

# Text typed into a form field or sent as a JSON string. Each is str: lone surrogates go
# out as the bytes a careless encoder makes of them (ED A0 80), non-UTF-8 bytes as such.
TEXTS: list[str] = [
    "0001-01-01T00:00",
    "9999-12-31T23:59",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
    "2026-03-29T02:30",
    "\x00",
    "a\x00b\r\nc\t",
    "\ud800",
    NOT_UTF8,
    "x" * LONG,
    "-1",
    "99999999999999999999999",
    "1e999",
    "\u202e<script>alert(1)</script>",
]


def wire(text: str) -> bytes:
    """text as request bytes: UTF-8, surrogates as a careless encoder writes them (ED A0 80);
    a raw() string (non-ASCII, all of it below U+0100) as the bytes it stands for."""
    if text.isascii():
        return text.encode()
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def form_body(values: dict[str, str]) -> bytes:
    """application/x-www-form-urlencoded, byte for byte (any test client would re-encode)."""
    return b"&".join(
        quote_from_bytes(wire(k)).encode() + b"=" + quote_from_bytes(wire(v)).encode()
        for k, v in values.items()
    )


# Request headers (environ keys) with hostile values: bytes that are not UTF-8, NULs, huge
# values, numbers at and past their ranges, dates at the calendar's ends.
HEADERS: list[tuple[str, str]] = [
    ("HTTP_COOKIE", raw(b"session=\xff\xfe; other=\xc3(")),
    ("HTTP_COOKIE", "session=" + "A" * 8000),
    ("HTTP_COOKIE", "session=eyJ1c2VyX2lkIjoxfQ.ZZZZZZ.not-a-signature; session=x"),
    ("HTTP_COOKIE", "=;=;;session=\x00"),
    ("HTTP_AUTHORIZATION", raw(b"Bearer \xff\xfe\xc3(")),
    ("HTTP_AUTHORIZATION", raw("Bearer jeton-é-😀".encode())),
    ("HTTP_AUTHORIZATION", "Bearer " + "x" * LONG),
    ("HTTP_AUTHORIZATION", "Basic " + raw(b"\xff")),
    ("HTTP_AUTHORIZATION", "Bearer \x00"),
    ("HTTP_ACCEPT", "text/html;q=nan, application/json;q=1e999, */*;q=-1"),
    ("HTTP_ACCEPT", raw(b"\xff/\xfe;q=\xc3") + ";" * 5000),
    ("HTTP_ACCEPT_ENCODING", "gzip;q=nan, *;q=1e999, br;q=-inf"),
    ("HTTP_ACCEPT_ENCODING", raw(b"gzip\xff;q=0.") + "9" * 5000),
    ("HTTP_ACCEPT_LANGUAGE", raw(b"\xff\xfe-\xc3;q=0.5") + ",x" * 5000),
    ("HTTP_IF_NONE_MATCH", raw(b'W/"\xff", *, ""') + ', W/"' * 5000),
    ("HTTP_IF_MODIFIED_SINCE", "Mon, 01 Jan 0001 00:00:00 GMT"),
    ("HTTP_IF_MODIFIED_SINCE", "Fri, 31 Dec 9999 23:59:59 -1200"),
    ("HTTP_IF_MODIFIED_SINCE", "Thu, 01 Jan 99999999999 99:99:99 GMT"),
    ("HTTP_IF_MODIFIED_SINCE", raw(b"\xff\x00")),
    ("HTTP_IF_MATCH", raw(b'"\xff"')),
    ("HTTP_IF_UNMODIFIED_SINCE", "Mon, 01 Jan 0001 00:00:00 +2359"),
    ("HTTP_RANGE", "bytes=" + "0-0," * 5000),
    ("HTTP_HOST", "x" * 100 + ".example"),
    ("HTTP_HOST", "a..b:99999999999"),
    ("HTTP_HOST", raw(b"\xff\xfe.example")),
    ("HTTP_HOST", "[::1"),
    ("HTTP_ORIGIN", raw(b"https://\xff")),
    ("HTTP_REFERER", raw(b"\xff\x00") * 1000),
    ("HTTP_X_FORWARDED_FOR", raw(b"\xff, ::1, 999.999.999.999, ") + "1," * 5000),
    ("HTTP_X_FORWARDED_FOR", "\x00"),
    ("HTTP_X_FORWARDED_PROTO", raw(b"javascript\xff")),
    ("HTTP_X_FORWARDED_PROTO", "https, " * 5000),
    ("HTTP_USER_AGENT", raw(b"\xff\xfe") + "u" * LONG),
    ("QUERY_STRING", raw(b"\xff\xfe=\xc3(&next=\xff")),
    ("QUERY_STRING", "next=%0d%0aSet-Cookie:%20x&a=%&b=%zz&%ff=%fe&c=%ED%A0%80"),
    ("QUERY_STRING", "limit=99999999999999999999&before_id=%00&section=%00&status=%ED%A0%80"),
    ("QUERY_STRING", "detail=1&limit=-1&section=" + "x" * LONG),
]

# Whole request bodies for routes that take JSON, with the content types they are sent as.
BODIES: list[tuple[str, bytes]] = [
    ("application/json", b"\xff\xfe{}"),
    ("application/json", b"[" * 50_000),
    ("application/json", b'{"a": 1e999999, "b": -0, "c": 123456789012345678901234567890}'),
    ("application/json", b"{" + b'"k": 1, ' * 20_000 + b'"k": 2}'),
    ("application/json", b""),
    ("application/json; charset=" + raw(b"\xff"), b"{}"),
    ("text/plain", b"{}"),
    ("multipart/form-data; boundary=" + "x" * 5000, b"--x\r\n"),
]

# JSON values (as JSON text) for any field of a JSON body, whatever its declared type.
JSON_VALUES: list[str] = [
    # JSON text is Unicode: the bytes that are not UTF-8 go in BODIES; "\ud800" is escaped.
    *(json.dumps(t) for t in TEXTS if t != NOT_UTF8),
    "null",
    "true",
    "2147483648",
    "123456789012345678901234567890",
    "1e400",
    "[]",
    "{}",
]


# --- the app's routes ------------------------------------------------------------------------

_ARGUMENT = re.compile(r"<(?:(?P<conv>[a-z]+)(?:\((?P<opts>[^)]*)\))?:)?(?P<name>\w+)>")
# Path arguments a route's converter lets through, each percent-encoded as a client would.
STRING_ARGS = ["%00", "%FF%FE", "%ED%A0%80", "%0D%0ASet-Cookie:x", "..", "x" * 5000]
INT_ARGS = ["0", "2147483648", "99999999999999999999999"]


@dataclass
class Route:
    """One URL rule: its methods and a URL for it with valid arguments and with hostile ones."""

    rule: Rule
    methods: list[str]
    url: str  # every argument at a valid value (id 1, the first choice, the existing slug)
    hostile_urls: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{','.join(self.methods)} {self.rule.rule}"


def routes(rules: Iterator[Rule], slug: str) -> list[Route]:
    """Every rule of the URL map with its methods (HEAD and OPTIONS included)."""
    out = []
    for rule in rules:
        if rule.endpoint == "static":
            continue
        valid: dict[str, str] = {}
        hostile: list[dict[str, str]] = []
        for m in _ARGUMENT.finditer(rule.rule):
            conv, name = m.group("conv") or "default", m.group("name")
            if conv == "any":
                valid[name] = re.split(r"[,\s]+", m.group("opts").strip())[0].strip("'\"")
            elif conv == "int":
                valid[name] = "1"
                hostile += [{name: v} for v in INT_ARGS]
            else:  # default, string, path: any text
                valid[name] = slug
                hostile += [{name: v} for v in STRING_ARGS]
                if conv == "path":
                    hostile.append({name: "a/%00/..//b"})
        out.append(
            Route(
                rule,
                sorted(rule.methods or ()),
                _fill(rule.rule, valid),
                [_fill(rule.rule, {**valid, **h}) for h in hostile],
            )
        )
    return out


def _fill(rule: str, values: dict[str, str]) -> str:
    return _ARGUMENT.sub(lambda m: values[m.group("name")], rule)


# --- forms -----------------------------------------------------------------------------------


def post_forms(page: str) -> list[tuple[str | None, dict[str, str]]]:
    """The page's POST forms: (action or None, a valid-looking value for every field).

    Empty fields get a plausible value for their type, so that one hostile field at a time
    gets past the others' "required" checks and reaches the code behind them.
    """
    forms = []
    for form in html.fromstring(page).forms:
        if (form.method or "GET").upper() != "POST":
            continue
        values = dict(form.form_values())
        for el in form.inputs:
            name = el.get("name")
            if not name or values.get(name, "").strip():  # an empty textarea holds "\n"
                continue
            if el.tag == "select":
                options = [o.get("value", o.text or "") for o in el.iter("option")]
                values[name] = next((o for o in options if o), "")
            elif el.tag == "textarea" or el.get("type", "text") in ("text", "search", "password"):
                values[name] = "Edge case 1 with enough letters"
            elif el.get("type") == "number":
                values[name] = el.get("min") or "5"
            elif el.get("type") == "email":
                values[name] = "edge@example.org"
        forms.append((form.get("action") or None, values))
    return forms


def csrf_token(page: str) -> str:
    """The CSRF token of any form on the page (one per session, good for every form)."""
    found = html.fromstring(page).xpath('//input[@name="csrf_token"]/@value')
    assert found, "no CSRF token on the page"
    return str(found[0])


# --- JSON bodies from the API's description --------------------------------------------------


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def request_bodies(document: dict[str, Any], path: str, method: str) -> list[tuple[str, str]]:
    """(content type, JSON text) bodies for an operation: a plausible object, then the same
    object with each field in turn at each of JSON_VALUES, then every field at once."""
    operation = document["paths"].get(path, {}).get(method.lower(), {})
    content = operation.get("requestBody", {}).get("content", {})
    out = []
    for media_type, spec in content.items():
        schema = _resolve(document, spec.get("schema", {}))
        props = {k: _resolve(document, v) for k, v in schema.get("properties", {}).items()}
        base = {k: _plausible(v) for k, v in props.items()}
        out.append((media_type, _object(base)))
        for name in props:
            out += [(media_type, _object({**base, name: value})) for value in JSON_VALUES]
        out += [(media_type, _object(dict.fromkeys(props, v))) for v in JSON_VALUES]
    return out


def _plausible(schema: dict[str, Any]) -> str:
    kinds = schema.get("type", "string")
    kind = kinds[0] if isinstance(kinds, list) else kinds
    if "enum" in schema:
        return json.dumps(schema["enum"][0])
    if "oneOf" in schema:
        return "1"
    if kind == "integer":
        return json.dumps(schema.get("minimum", 1))
    if schema.get("format") == "date-time":
        return '"2026-01-01T00:00:00Z"'
    return '"Edge case 1"'


def _object(fields: dict[str, str]) -> str:
    return "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in fields.items()) + "}"
