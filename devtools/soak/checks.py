"""What the soak asserts about feeds: strictly valid bodies, the expected items, whole files."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterable
from pathlib import Path

from lxml import etree

from devtools import procs
from devtools.soak.stack import Site
from feedsvc import urls
from feedsvc.assets import asset_path
from feedsvc.publishing.archivelinks import step_for

# The suite's strict validators (lxml without recovery, feedparser bozo, the Atom RELAX NG
# schema, the JSON Feed schema): one definition of "a valid feed" for tests and soak alike.
from tests.support import feedcheck

# The checker's fetches carry a validator that matches nothing: a full 200 every time, and, as
# a conditional request, never refused by the polling limit when a run keeps it on.
_CHECKER = {"If-None-Match": '"soak-check-matches-nothing"'}
_STRICT = etree.XMLParser(recover=False, resolve_entities=False, no_network=True, huge_tree=True)


def fmt_of(path: str) -> str:
    """rss / atom / json for a feed path (URL or file), from its file name."""
    return urls.FILE_FORMATS[path.rsplit("/", 1)[-1]]


def problems_in_feed(
    path: str, body: bytes, expected: list[str] | None, minimum: int | None = None
) -> list[str]:
    """A full check of one feed body; with `expected`, its entry ids must be exactly those,
    or, with `minimum`, the first of them, at least that many (a feed shows its window and
    fewer than an open-page step more: publishing/archiveopen.py)."""
    try:
        found = [e.id for e in feedcheck.entries(fmt_of(path), body)]
    except (AssertionError, ValueError, etree.LxmlError) as exc:
        return [f"{path}: invalid feed: {type(exc).__name__}: {str(exc)[:300]}"]
    if expected is not None and minimum is not None and len(found) >= minimum:
        expected = expected[: len(found)]
    if expected is not None and found != expected:
        missing = [g for g in expected if g not in found]
        extra = [g for g in found if g not in expected]
        return [
            f"{path}: {len(found)} items, expected {len(expected)}; "
            f"missing {missing[:3]}{'…' if len(missing) > 3 else ''}, extra {extra[:3]}"
        ]
    return []


def whole(name: str, data: bytes) -> str:
    """'' when a file's bytes are complete (the .gz inflates whole, the document parses)."""
    try:
        if name.endswith(".gz"):
            data = gzip.decompress(data)
            name = name[:-3]
        if name.endswith(".json"):
            json.loads(data)
        elif not name.endswith((".xml", ".xsl")):
            # A static asset copied whole (favicon.ico): it must be the release's own bytes.
            return "" if data == asset_path(name).read_bytes() else "not the release's file"
        else:
            etree.fromstring(data, _STRICT)
    except (OSError, EOFError, zlib.error, ValueError, etree.LxmlError) as exc:
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    return ""


def final_files(root: Path) -> Iterable[Path]:
    """Every file of the export under a final name (temp files start with a dot)."""
    for p in root.rglob("*"):
        if p.is_file() and not p.name.startswith("."):
            yield p


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*") if p.is_file()]


def partial_exports(root: Path) -> list[str]:
    """Final-name export files that are not whole documents (read through one open file each,
    so a rename racing the read still yields one complete inode, old or new)."""
    found = []
    for p in final_files(root):
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            continue  # removed or renamed over between listing and opening
        why = whole(p.name, data)
        if why:
            found.append(f"export {p.relative_to(root)} is partial: {why}")
    return found


def expected_items(site: Site) -> dict[str, tuple[list[str], int]]:
    """Each feed path → the guids it may carry, newest first, from the database's rows, and
    how many of them it must: its window, and up to an open-page step less one more."""
    rows = site.published()
    step = int(procs.pinned_settings()["FEEDSVC_ARCHIVE_OPEN_STEP"])
    expected: dict[str, tuple[list[str], int]] = {}

    def newest(guids: list[str], window: int) -> tuple[list[str], int]:
        return guids[: window + step_for(window, step) - 1], min(window, len(guids))

    for section in site.sections:
        mine = newest([g for g, sid, _ in rows if sid == section.id], section.items_per_feed)
        for fmt in urls.FEED_FILES:
            expected[f"/{urls.section_doc_path(section.slug, fmt)}"] = mine
    site_items = newest([g for g, _, _ in rows], site.site_feed_items)
    for fmt in urls.FEED_FILES:
        expected[f"/{urls.site_doc_path(fmt)}"] = site_items
    return expected


def verify_site(site: Site, port: int, export: Path | None, acked: Iterable[str]) -> list[str]:
    """Everything the crash soak promises, checked once: [] when it all holds.

    Every acknowledged article is a row; every served feed (plain and gzip) is valid and
    carries exactly the newest rows; every exported file (and its .gz) is those same bytes.
    """
    rows = {g for g, _, _ in site.published()}
    problems = [f"acknowledged article {g} is not in the database" for g in acked if g not in rows]
    for path, (guids, minimum) in expected_items(site).items():
        status, _, body = procs.http_get(port, path, _CHECKER)
        if status != 200:
            problems.append(f"GET {path}: {status}")
            continue
        problems += problems_in_feed(path, body, guids, minimum)
        status, headers, zipped = procs.http_get(
            port, path, {**_CHECKER, "Accept-Encoding": "gzip"}
        )
        if status != 200 or headers.get("content-encoding") != "gzip":
            problems.append(f"GET {path} (gzip): {status} {headers.get('content-encoding')}")
        elif gzip.decompress(zipped) != body:
            problems.append(f"GET {path}: the gzip variant differs from the plain one")
        if export is None:
            continue
        target = export / path.lstrip("/")
        try:
            on_disk, on_disk_gz = target.read_bytes(), target.with_name(target.name + ".gz")
            if on_disk != body:
                problems.append(f"export {path} differs from the served feed")
            elif gzip.decompress(on_disk_gz.read_bytes()) != body:
                problems.append(f"export {path}.gz differs from the served feed")
        except (OSError, EOFError, zlib.error) as exc:
            problems.append(f"export {path}: {type(exc).__name__}: {exc}")
    return problems
