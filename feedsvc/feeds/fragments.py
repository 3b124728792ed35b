"""Rendered entries kept by value, so a feed re-renders only the items it has not seen before."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

# Enough for the sections that change between ticks and the site feed (a 50-item section is
# ~0.6 MB over three formats); a full rebuild cycles through it, which costs nothing extra.
DEFAULT_BUDGET_BYTES = 32 * 1024 * 1024


# A serialised entry and its stable digest (reuse.entry_digest), which the entry index of
# every document it goes into records.
Fragment = tuple[bytes, bytes]


class FragmentCache:
    """A thread-safe LRU of serialised entries, bounded by their total size in bytes.

    The key is the item's whole value (FeedItem is frozen, so equal data means equal bytes):
    an edit, a section rename or a new site URL is a different key, never a stale hit.
    """

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[Hashable, Fragment] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Fragment | None:
        with self._lock:
            value = self._entries.get(key)
            if value is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: Fragment) -> None:
        size = len(value[0]) + len(value[1])
        if size > self.budget_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old[0]) + len(old[1])
            self._entries[key] = value
            self._bytes += size
            while self._bytes > self.budget_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= len(evicted[0]) + len(evicted[1])

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._bytes


class ItemKey:
    """A value as a cache key whose hash is worked out once: a feed looks each item up in
    every format, and hashing a FeedItem means hashing its whole text each time."""

    __slots__ = ("_hash", "value")

    def __init__(self, value: Hashable) -> None:
        self.value = value
        self._hash = hash(value)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ItemKey) and self._hash == other._hash and self.value == other.value
        )


def split_xml(
    document: bytes, start_tag: bytes, end_tag: bytes, closing: bytes
) -> tuple[bytes, list[bytes], bytes]:
    """Cut a serialised feed into (head, entries, tail) at its top-level entry elements.

    Safe on serialised XML: a literal "<" only ever starts markup (text and attribute values
    carry it as &lt;, XML 1.0 §2.4), and no element inside an entry shares its name. The head
    and tail depend on the feed's own metadata only, so entries from different renders of the
    same kind of feed concatenate into exactly the document one render would have produced.
    """
    first = document.find(start_tag)
    if first < 0:
        cut = document.rindex(closing)
        return document[:cut], [], document[cut:]
    entries = []
    position = first
    while document.startswith(start_tag, position):
        stop = document.index(end_tag, position) + len(end_tag)
        entries.append(document[position:stop])
        position = stop
    tail = document[position:]
    if tail != closing:
        raise ValueError(f"unexpected content after the last entry: {tail[:80]!r}")
    return document[:first], entries, tail
