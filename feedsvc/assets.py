"""Files served at the site's root by the app and the static export: feed.xsl, favicon.ico.

Their types and cache lifetimes are defined here once, for web/browser.py and the export.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from feedsvc import urls

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"

# file name (also its URL path under the site) → (Content-Type, Cache-Control max-age seconds).
# deploy/nginx.conf names the same types for the exported copies (tests/test_browser_feed.py).
ASSETS: Final[dict[str, tuple[str, int]]] = {
    # XSLT 1.0 registers no type of its own; text/xsl is the one browsers have always taken
    # for <?xml-stylesheet type="text/xsl"?>. An hour: a new release's page shows soon.
    urls.STYLESHEET_PATH: ("text/xsl; charset=utf-8", 3600),
    # The type IANA registered for .ico; a week: it hardly ever changes.
    urls.FAVICON_PATH: ("image/vnd.microsoft.icon", 604800),
}


def asset_path(name: str) -> Path:
    return STATIC_DIR / name
