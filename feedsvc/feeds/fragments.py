"""Rendered entries kept by value, so a feed re-renders only the items it has not seen before."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence

# Enough for the sections that change between ticks and the site feed (a 50-item section is
# ~0.6 MB over three formats); a full rebuild cycles through it, which costs nothing extra.
DEFAULT_BUDGET_BYTES = 32 * 1024 * 1024


# A serialised entry and its stable digest (reuse.entry_digest), which the entry index of
# every document it goes into records.
Fragment = tuple[bytes, bytes]


class FragmentCache:
    """A thread-safe LRU of serialised entries, bounded by their total size in bytes.

    The key is the item's whole value (FeedItem is frozen, so equal data means equal bytes):
    an edit, a section rename or a new site URL is a different key, never a stale hit. Each
    item holds its entries in every variant rendered (a format, and in RSS the feed author
    that stands in for a missing one), so a feed finds an item once for all its formats.
    """

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[Hashable, dict[Hashable, Fragment]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def lookup(self, keys: Sequence[Hashable]) -> list[dict[Hashable, Fragment]]:
        """Each item's variants (empty when none is cached), marked as just used."""
        found: list[dict[Hashable, Fragment]] = []
        with self._lock:
            entries = self._entries
            for key in keys:
                variants = entries.get(key)
                if variants is None:
                    found.append({})
                else:
                    entries.move_to_end(key)
                    found.append(variants)
        return found

    def count(self, hits: int, misses: int) -> None:
        """Note a render's hits and misses (per entry and format), for tests and metrics."""
        with self._lock:
            self.hits += hits
            self.misses += misses

    def put(self, key: Hashable, variant: Hashable, value: Fragment) -> None:
        size = len(value[0]) + len(value[1])
        if size > self.budget_bytes:
            return
        with self._lock:
            variants = self._entries.get(key)
            if variants is None:
                # A new dict, never the one lookup() handed out for a missing key.
                variants = self._entries[key] = {}
            old = variants.get(variant)
            if old is not None:
                self._bytes -= len(old[0]) + len(old[1])
            variants[variant] = value
            self._entries.move_to_end(key)
            self._bytes += size
            while self._bytes > self.budget_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= sum(len(e) + len(d) for e, d in evicted.values())

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self.hits = self.misses = 0

    def __len__(self) -> int:
        """Entries held, every variant counted."""
        with self._lock:
            return sum(len(v) for v in self._entries.values())

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
