"""Security headers on every response: CSP, nosniff, Referrer-Policy, framing and HSTS.

Every list is worked out once per app, when it is built; a response then costs a lookup by
(admin page?, HTML?) and a few header assignments, which replace any value already set, so
no header is ever sent twice. Feed documents served ahead of Flask (web/fastpath.py) get
`transport_headers` inside their own precomputed lists (web/documents.py).
"""

from __future__ import annotations

from flask import Flask, request
from werkzeug.wrappers import Response

from feedsvc.urls import ADMIN_PREFIX

Headers = list[tuple[str, str]]

# MIME sniffing off (Fetch §3.5 "X-Content-Type-Options"): a feed, a JSON error or a text
# answer is never run as a script or a style sheet, nor shown as HTML.
NOSNIFF = ("X-Content-Type-Options", "nosniff")
# Cross-site navigations (a link in an article, a feed link) tell the other site our origin,
# never the page (Referrer Policy §3): what the browsers' own default is, said explicitly.
REFERRER_PUBLIC = "strict-origin-when-cross-origin"
# Admin pages say nothing about themselves to any other site, while same-origin requests keep
# their Referer, which Flask-WTF's CSRF check requires over https (WTF_CSRF_SSL_STRICT).
REFERRER_ADMIN = "same-origin"
# One year, the host only: no includeSubDomains (the newsroom's other hosts are not ours to
# commit) and no preload (a list the operator joins deliberately). RFC 6797 §6.1.
HSTS = ("Strict-Transport-Security", "max-age=31536000")

# CSP3 directives shared by every HTML page. No 'unsafe-inline' anywhere: scripts and styles
# come only from feedsvc/static. default-src 'none' refuses what no page uses (fonts,
# connections, frames, objects, media, workers, manifests); base-uri 'none' keeps an injected
# <base> from re-pointing relative URLs; form-action 'self' keeps forms posting here.
# frame-ancestors 'none' on every page, public ones too: their header carries the editor's
# logout button when logged in, the login form is a page, and no page is meant to be embedded.
_PAGE_COMMON = (
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
)
# Article bodies show images from any host the editor linked (content/html.py allows http and
# https sources); data: is the page's own empty favicon (base.html).
PUBLIC_CSP = "; ".join((*_PAGE_COMMON, "img-src https: http: data:"))
# The admin shows no article images: only our own, so injected markup cannot call out.
ADMIN_CSP = "; ".join((*_PAGE_COMMON, "img-src 'self' data:"))
# X-Frame-Options: the legacy twin of frame-ancestors for browsers without CSP2 (RFC 7034).
NO_FRAMING = ("X-Frame-Options", "DENY")


def is_https(site_url: str) -> bool:
    return site_url.startswith("https://")


def transport_headers(site_url: str) -> Headers:
    """What every response carries, stored feed documents included: nosniff, Referrer-Policy
    and, when the site is served over https, HSTS (never over http: RFC 6797 §7.2)."""
    headers = [NOSNIFF, ("Referrer-Policy", REFERRER_PUBLIC)]
    if is_https(site_url):
        headers.append(HSTS)
    return headers


def header_table(site_url: str) -> dict[tuple[bool, bool], Headers]:
    """The headers for each kind of response, keyed by (admin page, HTML)."""
    base = transport_headers(site_url)
    admin = [(n, REFERRER_ADMIN if n == "Referrer-Policy" else v) for n, v in base]
    return {
        (False, False): base,
        (False, True): [*base, ("Content-Security-Policy", PUBLIC_CSP), NO_FRAMING],
        (True, False): admin,
        (True, True): [*admin, ("Content-Security-Policy", ADMIN_CSP), NO_FRAMING],
    }


def is_admin_path(path: str) -> bool:
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


def init_app(app: Flask) -> None:
    table = header_table(app.config["SITE_URL"])

    # after_request runs for error handlers' responses too (404, 405, CSRF, 500: Flask's
    # finalize_request), so every answer Flask gives carries them.
    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        for name, value in table[is_admin_path(request.path), response.mimetype == "text/html"]:
            headers[name] = value
        return response
