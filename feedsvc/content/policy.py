"""The content policy's fingerprint: what stored bodies were rendered with, to know when to redo.

A full rebuild renders every stored article again only when this changed since the last time
it did (an nh3 or markdown-it-py upgrade, a narrower allow-list, a change to feedsvc's own
content code, another BODY_HTML_MAX_BYTES): re-rendering a million bodies takes half an hour
of CPU, too much for the scheduler's hourly full rebuild to spend for nothing.
"""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path

from feedsvc.content import html

_CONTENT_DIR = Path(__file__).parent


def _canonical(value: object) -> object:
    """Sets and dicts in a fixed order: a set's repr follows string hashing, which differs
    from process to process (PYTHONHASHSEED)."""
    if isinstance(value, dict):
        return sorted((repr(k), _canonical(v)) for k, v in value.items())
    if isinstance(value, (set, frozenset)):
        return sorted(repr(_canonical(v)) for v in value)
    return value


def fingerprint(max_html_bytes: int) -> str:
    """A digest of everything a stored body's rendering depends on."""
    digest = hashlib.sha256()
    for package in ("nh3", "markdown-it-py", "mdit-py-plugins"):
        try:
            digest.update(f"{package}={metadata.version(package)};".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{package}=-;".encode())
    # The allow-list as the process holds it, and the content code itself.
    for value in (
        html._ALLOWED_TAGS,
        html._ALLOWED_ATTRIBUTES,
        html._ALLOWED_ATTRIBUTE_VALUES,
        html._URL_SCHEMES,
        html._DROP_WITH_CONTENT,
    ):
        digest.update(repr(_canonical(value)).encode())
    for source in sorted(_CONTENT_DIR.glob("*.py")):
        digest.update(source.name.encode() + source.read_bytes())
    digest.update(str(max_html_bytes).encode())
    return digest.hexdigest()[:32]
