"""Static export: stored feed documents as plain files (and .gz twins) for nginx or a CDN origin."""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import stat
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from feedsvc import urls
from feedsvc.publishing.assetexport import export_assets
from feedsvc.storage.codec import etag_of
from feedsvc.storage.db import transaction
from feedsvc.storage.models import FeedDocument, utcnow

log = logging.getLogger(__name__)

# The only file names the export ever writes; stale-file removal touches nothing else.
EXPORTED_NAMES = frozenset({*urls.FEED_FILES.values(), urls.OPML_PATH})
SECTIONS_DIR = "sections"
# A temp file younger than this may belong to a writer still running (another scheduler during
# a lease hand-over); a real write takes milliseconds, so anything older was interrupted.
TEMP_MIN_AGE_SECONDS = 60.0


def export_root(app: Flask) -> Path | None:
    """The export directory, or None when the export is off (EXPORT_DIR empty)."""
    value = str(app.config.get("EXPORT_DIR") or "")
    return Path(value) if value else None


def _target(root: Path, path: str) -> Path:
    """root/path, refusing anything that could land outside root or collide with temp files."""
    # Defence in depth: slugs are validated upstream, but a bad row must not write elsewhere.
    if not path or "\\" in path or "\0" in path or path.startswith("/"):
        raise ValueError(f"refusing to export to {path!r}: not a plain relative path")
    parts = path.split("/")
    # "..", "." and hidden names (our temp files are ".name.xyz.tmp") are never document paths.
    if any(not part or part.startswith(".") for part in parts):
        raise ValueError(f"refusing to export to {path!r}: empty, dot or '..' component")
    return root.joinpath(*parts)


def _fsync_dir(directory: Path) -> None:
    # A rename or unlink is durable only once its directory entry is on disk.
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_dirs(root: Path, directory: Path) -> None:
    """Create directory (under root) level by level, 0755 whatever the umask, each one durable."""
    missing = []
    while not directory.is_dir() and directory != root:
        missing.append(directory)
        directory = directory.parent
    root.mkdir(mode=0o755, parents=True, exist_ok=True)
    for d in reversed(missing):
        try:
            d.mkdir(mode=0o755)
        except FileExistsError:  # another writer made it first
            continue
        d.chmod(0o755)
        _fsync_dir(d.parent)


def _atomic_write(target: Path, data: bytes, mtime: int) -> None:
    """Readers see the old file or the new one, never a partial one: temp file + rename."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), 0o644)  # mkstemp makes 0600; nginx workers must read it
            # mtime before fsync, so the durable file carries it: nginx's Last-Modified is then
            # the app's, and its ETag (mtime-size) stays put while the bytes do.
            os.utime(f.fileno(), (mtime, mtime))
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def write_document(
    root: Path, path: str, body: bytes, body_gzip: bytes, last_modified: datetime
) -> None:
    """Write root/path and root/path.gz atomically, both with mtime = last_modified."""
    target = _target(root, path)
    _make_dirs(root, target.parent)
    # Whole seconds: HTTP dates have no more, and the app compares If-Modified-Since likewise.
    mtime = int(last_modified.timestamp())
    if not body_gzip:  # never publish an empty .gz: gzip_static would serve it as the feed
        body_gzip = gzip.compress(body, compresslevel=6, mtime=0)
    # The .gz first: whenever a plain file exists, its .gz is at least as new. gzip_static only
    # adds "Vary: Accept-Encoding" when the .gz exists, and a client switching encodings never
    # goes back in time; a brand-new feed is served by the app until both files are in place.
    _atomic_write(target.with_name(target.name + ".gz"), body_gzip, mtime)
    _atomic_write(target, body, mtime)


def remove_document(root: Path, path: str) -> None:
    """Remove root/path and its .gz (plain first, keeping the rule above); drop an empty dir."""
    target = _target(root, path)
    for f in (target, target.with_name(target.name + ".gz")):
        f.unlink(missing_ok=True)
    directory = target.parent
    if directory.is_dir():
        _fsync_dir(directory)
        # A renamed slug leaves sections/<old>/ behind; only that level, never root or sections/.
        if directory.parent.name == SECTIONS_DIR and directory.parent.parent == root:
            # Not empty (another feed, an in-flight temp file) or already gone: leave it.
            with contextlib.suppress(OSError):
                directory.rmdir()


def sweep_temp_files(root: Path, *, min_age: float = TEMP_MIN_AGE_SECONDS) -> int:
    """Delete temp files left by interrupted writes (older than min_age seconds); return count."""
    if not root.is_dir():
        return 0
    removed, now = 0, time.time()
    for tmp in root.rglob(".*.tmp"):
        try:
            st = tmp.lstat()
            # ctime, not mtime: _atomic_write sets the temp file's mtime to the feed's (old) date.
            if stat.S_ISREG(st.st_mode) and now - st.st_ctime >= min_age:
                tmp.unlink()
                removed += 1
        except FileNotFoundError:  # its writer finished (renamed it) meanwhile
            continue
    return removed


def _exported_files(root: Path) -> set[str]:
    """Relative paths of the feed files (and .gz) in root and root/{sections,tags,authors}/*/,
    and in their RFC 5005 archive pages' folders (archive/<n>/)."""
    dirs = [root]
    for folder in (SECTIONS_DIR, *urls.TOPIC_DIRS.values()):
        parent = root / folder
        if parent.is_dir():
            dirs += [d for d in parent.iterdir() if d.is_dir() and not d.is_symlink()]
    dirs += [
        page
        for d in list(dirs)
        if (d / urls.ARCHIVE_DIR).is_dir()
        for page in (d / urls.ARCHIVE_DIR).iterdir()
        if page.is_dir() and not page.is_symlink()
    ]
    names = [n + ext for n in EXPORTED_NAMES for ext in ("", ".gz")]
    return {(d / n).relative_to(root).as_posix() for d in dirs for n in names if (d / n).is_file()}


def _state(file: Path) -> tuple[int, int] | None:
    """(size, mtime in whole seconds), or None when absent or unreadable (then rewritten)."""
    try:
        st = file.stat()
    except OSError:  # absent, or a broken folder: writing it reports the real error
        return None
    return st.st_size, st.st_mtime_ns // 1_000_000_000


def _holds(file: Path, etag: str) -> bool:
    """Whether file's bytes are the document's: size and date alone cannot tell two versions
    stored in the same second at the same length (a crash between storing one and exporting
    it would leave the older file). One hash per file, at start, takeover and full rebuild."""
    try:
        return etag_of(file.read_bytes()) == etag
    except OSError:  # unreadable: rewriting it reports the real error
        return False


@dataclass(frozen=True)
class Stored:
    """A document as a write committed it, for the static export."""

    path: str
    body: bytes
    body_gzip: bytes
    etag: str
    last_modified: datetime


# Paths per IN (...) list: well under SQLite's and PostgreSQL's bound-parameter limits.
_CHUNK = 500
# How often export_paths re-reads a path that changed again while it was being written.
VERIFY_ROUNDS = 3


def _current(app: Flask, paths: Sequence[str]) -> dict[str, str]:
    """path → etag of the documents the database holds now (absent: no such document)."""
    found: dict[str, str] = {}
    with transaction(app, write=False) as s:
        for i in range(0, len(paths), _CHUNK):
            chunk = paths[i : i + _CHUNK]
            rows = s.execute(
                select(FeedDocument.path, FeedDocument.etag).where(FeedDocument.path.in_(chunk))
            )
            found.update({path: etag for path, etag in rows})
    return found


def _load(app: Flask, path: str) -> Stored | None:
    with transaction(app, write=False) as s:
        doc = s.get(FeedDocument, path)
        if doc is None:
            return None
        return Stored(doc.path, doc.body, doc.body_gzip, doc.etag, doc.last_modified)


def export_paths(
    app: Flask, root: Path, paths: Iterable[str], mine: Mapping[str, Stored] | None = None
) -> dict[str, str]:
    """Make each path's files show what the database holds now; return failed paths → why.

    Each path on its own: one unwritable file never stops the others, and a removal is
    attempted like any write. Only the database's current version is ever written (mine,
    the bytes a write just committed, when they still are; else loaded afresh), and each
    path is read again after its files are in place: when a newer version was committed
    meanwhile, it is written too. So a scheduler that stalled between its commit and its
    export, and wakes up after a newer leader exported newer bytes, cannot put older bytes
    back: whatever it writes is re-checked against the database afterwards.
    """
    mine = dict(mine or {})
    failed: dict[str, str] = {}
    todo = sorted(set(paths))
    for _round in range(VERIFY_ROUNDS):
        if not todo:
            break
        current = _current(app, todo)
        done: dict[str, str | None] = {}
        for path in todo:
            try:
                done[path] = _export_one(app, root, path, current.get(path), mine.get(path))
            except ValueError as exc:  # never a document path of ours: nothing to retry
                log.error("static export: %s", exc)
                failed.pop(path, None)
            except OSError as exc:
                failed[path] = f"{path}: {type(exc).__name__}: {exc}"
            else:
                failed.pop(path, None)
        mine = {}
        after = _current(app, list(done))
        todo = [path for path, etag in done.items() if after.get(path) != etag]
    for path in todo:
        failed[path] = f"{path}: changed again {VERIFY_ROUNDS} times while being exported"
    return failed


def _export_one(
    app: Flask, root: Path, path: str, etag: str | None, doc: Stored | None
) -> str | None:
    """Write (or remove) one path's files as the database has it; the etag written, or None."""
    if etag is not None and (doc is None or doc.etag != etag):
        doc = _load(app, path)  # a newer version than ours, or a retry: what is stored now
    if etag is None or doc is None:
        remove_document(root, path)
        return None
    write_document(root, doc.path, doc.body, doc.body_gzip, doc.last_modified)
    return doc.etag


@dataclass
class Synced:
    """What sync did: documents written, files removed, and the paths that failed."""

    written: int = 0
    removed: int = 0
    # path → (when its change was made, why it failed): retried at the next tick.
    failed: dict[str, tuple[datetime, str]] = field(default_factory=dict)


def sync(app: Flask) -> Synced:
    """Bring the export in line with the database, file by file; failures are returned.

    Does nothing when EXPORT_DIR is empty. Safe to run while a leader writes: it never
    deletes a file it did not see before reading the database, and never replaces a file
    with an older version. A folder that cannot be created or written fails each of its
    files, which the caller retries; it never raises for that.
    """
    outcome = Synced()
    root = export_root(app)
    if root is None:
        return outcome
    swept = 0
    try:
        root.mkdir(mode=0o755, parents=True, exist_ok=True)
        swept = sweep_temp_files(root)
        export_assets(root)  # feed.xsl and favicon.ico, for browsers opening a feed
    except OSError as exc:  # each file below fails too, and is reported with its date
        log.error("static export folder %s is unusable: %s: %s", root, type(exc).__name__, exc)
    # Listed before the database is read: a file a leader exports after this is never deleted.
    on_disk = _exported_files(root)
    # Sizes and dates only: bodies are loaded for the documents that need writing.
    columns = (FeedDocument.path, FeedDocument.last_modified, FeedDocument.etag)
    lengths = (FeedDocument.body_length, func.length(FeedDocument.body_gzip))
    with transaction(app, write=False) as s:
        rows = s.execute(select(*columns, *lengths)).all()
    drift: dict[str, datetime] = {}
    wanted: set[str] = set()
    for path, last_modified, etag, size, gz_size in rows:
        try:
            target = _target(root, path)
        except ValueError as exc:
            log.error("static export: %s", exc)
            continue
        wanted.update({path, path + ".gz"})
        mtime = int(last_modified.timestamp())
        plain = _state(target)
        gz = _state(target.with_name(target.name + ".gz"))
        if (
            plain == (size, mtime)
            and gz is not None
            and (gz_size == 0 or gz == (gz_size, mtime))
            and _holds(target, etag)
        ):
            continue
        # Newer on disk: a leader exported a later version after our read; keep it.
        if plain is not None and plain[1] > mtime:
            continue
        drift[path] = last_modified
    now = utcnow()
    stale = {p.removesuffix(".gz") for p in on_disk - wanted}
    failed = export_paths(app, root, [*drift, *stale])
    for path, why in failed.items():
        outcome.failed[path] = (drift.get(path, now), why)
    outcome.written = sum(1 for p in drift if p not in failed)
    outcome.removed = sum(1 for p in stale if p not in failed and p not in drift)
    log.log(
        logging.ERROR if failed else logging.INFO,
        "static export %s: %d written, %d removed, %d temp swept, %d failed%s",
        root,
        outcome.written,
        outcome.removed,
        swept,
        len(failed),
        f" (first: {next(iter(failed.values()))})" if failed else "",
    )
    return outcome


def sync_all(app: Flask) -> int:
    """sync, returning how many documents were written (each is two files: feed and .gz)."""
    return sync(app).written
