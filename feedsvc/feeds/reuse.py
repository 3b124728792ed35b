"""Entry indexes: which bytes of a stored document render which item, for reuse elsewhere."""

from __future__ import annotations

import hashlib
import struct
import sys
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata, resources

from .model import FeedItem

# One index record per entry: the entry's digest, then its offset and length in the document.
_RECORD = struct.Struct("<16sII")
DIGEST_BYTES = 16


def _renderer_salt() -> bytes:
    """What else decides an entry's bytes besides its item: this package's code and the
    libraries it drives. Any change to either makes every stored entry a stranger, so an
    upgrade never splices an old rendering into a new document."""
    salt = hashlib.blake2b(digest_size=DIGEST_BYTES)
    salt.update(repr(sys.version_info[:2]).encode())
    for name in ("feedgen", "lxml", "orjson"):
        salt.update(f"{name}={metadata.version(name)};".encode())
    package = resources.files(__package__ or "feedsvc.feeds")
    for source in sorted((f for f in package.iterdir() if f.name.endswith(".py")), key=str):
        salt.update(source.name.encode() + b"\0" + source.read_bytes())
    return salt.digest()


SALT = _renderer_salt()

# Stored documents of a format, each with its entry index (see index_of), asked for only when
# some entry is missing from the in-process cache: the feed's own last rendering, or another
# feed sharing its items (an archive page takes the entries that left its subscription feed).
Previous = Callable[[str], "Sequence[tuple[bytes, bytes]]"]


def item_digest(item: FeedItem) -> bytes:
    """A digest of everything in the item, stable across processes (hash() is not)."""
    # A frozen dataclass of str, int, bool, tuples, aware datetimes and nested frozen
    # dataclasses: its repr names every field's value exactly, and escapes what UTF-8 cannot
    # encode (lone surrogates), so equal reprs mean equal items.
    return hashlib.blake2b(repr(item).encode(), digest_size=DIGEST_BYTES).digest()


def entry_digest(fmt: str, context: str | None, item: bytes) -> bytes:
    """The digest an entry of this format, feed context and item digest is indexed by."""
    key = hashlib.blake2b(SALT, digest_size=DIGEST_BYTES)
    key.update(f"{fmt}\0{context!r}\0".encode())
    key.update(item)
    return key.digest()


def index_of(start: int, entries: Sequence[bytes], digests: Sequence[bytes], gap: int) -> bytes:
    """The index of a document whose entries begin at start, gap bytes apart."""
    out = bytearray()
    offset = start
    for entry, digest in zip(entries, digests, strict=True):
        out += _RECORD.pack(digest, offset, len(entry))
        offset += len(entry) + gap
    return bytes(out)


def entries_in(document: bytes, index: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(digest, entry bytes) for each entry an index names; nothing from a damaged index."""
    if len(index) % _RECORD.size:
        return
    for digest, offset, length in _RECORD.iter_unpack(index):
        if offset + length > len(document):
            return
        yield digest, document[offset : offset + length]
