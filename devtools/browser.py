"""Just enough of a browser for real servers: cookies, forms found by label, Post/Redirect/Get."""

from __future__ import annotations

import http.cookiejar
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from lxml import html

TIMEOUT = 10.0


@dataclass(frozen=True)
class Page:
    status: int
    path: str  # where the page was finally read from (after any redirect)
    body: bytes


class FormRejected(AssertionError):
    """The server did not accept a form: it showed it again (with its errors) or sent us to
    log in, instead of redirecting to the next page."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # the 3xx reaches the caller as an HTTPError, Location and all


class Browser:
    """A cookie jar on one server (base: http://127.0.0.1:PORT)."""

    def __init__(self, base: str) -> None:
        self.base = base
        # Its own cookies; copying them into another Browser is how tests steal a session.
        self.cookies = http.cookiejar.CookieJar()
        cookies = urllib.request.HTTPCookieProcessor(self.cookies)
        self.opener = urllib.request.build_opener(cookies)
        self._posting = urllib.request.build_opener(cookies, _NoRedirect())
        self.action = ""  # where the last post() sent its form

    def get(self, path: str) -> tuple[int, bytes]:
        """GET (redirects followed): status and body, whatever the status."""
        try:
            with self.opener.open(self.base + path, timeout=TIMEOUT) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def post(self, path: str, by_label: dict[str, str]) -> tuple[int, str, bytes]:
        """Fill the form on path by its labels and POST it; no redirect followed.

        The answer's status, its Location ("" if none), and its body.
        """
        status, body = self.get(path)
        assert status == 200, (path, status)
        # lxml's stubs know HtmlElement's forms only as plain elements: FormElement is untyped.
        doc: Any = html.fromstring(body)
        form = next(
            f
            for f in doc.forms
            if (f.method or "").upper() == "POST" and not (f.action or "").endswith("/logout")
        )
        values = dict(form.form_values())
        for label, value in by_label.items():
            [node] = form.xpath(".//label[normalize-space()=$t]", t=label)
            [field] = form.xpath(".//*[@id=$i]", i=node.get("for"))
            values[field.get("name")] = value
        self.action = urllib.parse.urljoin(path, form.action or path)
        data = urllib.parse.urlencode(values).encode()
        try:
            with self._posting.open(self.base + self.action, data=data, timeout=TIMEOUT) as r:
                return r.status, "", r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Location", ""), e.read()

    def log_out(self) -> int:
        """Press "Log out" on the admin's front page; the answer's status (302 when done)."""
        status, body = self.get("/admin/")
        assert status == 200, status
        doc: Any = html.fromstring(body)
        [form] = [f for f in doc.forms if (f.action or "").endswith("/logout")]
        data = urllib.parse.urlencode(dict(form.form_values())).encode()
        try:
            with self._posting.open(self.base + form.action, data=data, timeout=TIMEOUT) as r:
                return int(r.status)
        except urllib.error.HTTPError as e:
            return e.code

    def submit(self, path: str, by_label: dict[str, str], *, lands_on: str | None = None) -> Page:
        """Fill the form on path by its labels, POST it, follow the redirect: the next page.

        Raises FormRejected unless the server answers the POST with a redirect (Post/Redirect/
        Get, as every form here does on success) to somewhere other than the form itself or
        the login page, and, with lands_on, to exactly that path.
        """
        status, location, body = self.post(path, by_label)
        action = self.action
        if status not in (301, 302, 303, 307, 308):
            raise FormRejected(f"{action}: {status}, the form again: {_errors(body)}")
        target = urllib.parse.urlsplit(urllib.parse.urljoin(self.base + action, location))
        if target.path in (urllib.parse.urlsplit(action).path, "/admin/login") or (
            lands_on is not None and target.path != lands_on
        ):
            raise FormRejected(f"{action}: redirected to {location!r}, not accepted")
        status, body = self.get(target.path + (f"?{target.query}" if target.query else ""))
        return Page(status, target.path, body)


def _errors(body: bytes) -> list[str]:
    """The error messages a re-shown form carries (class="error")."""
    try:
        doc: Any = html.fromstring(body)
    except Exception:  # an empty or non-HTML body: nothing to quote
        return []
    return [" ".join(e.text_content().split()) for e in doc.find_class("error")]
