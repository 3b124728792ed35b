"""The stored-document codec: deterministic gzip any reader decodes, ETags that follow the bytes."""

from __future__ import annotations

import gzip

from feedsvc.storage.codec import etag_of, gunzip, gzip_of

FEED = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0">' + b"<item/>" * 5000 + b"</rss>"
)


def test_equal_bytes_compress_to_equal_bytes_that_any_gzip_reader_decodes() -> None:
    packed = gzip_of(FEED)
    assert gzip_of(bytes(FEED)) == packed  # no timestamp in the header (RFC 1952 MTIME = 0)
    assert packed[4:8] == b"\x00\x00\x00\x00"
    assert len(packed) < len(FEED) // 10
    assert gzip.decompress(packed) == FEED
    assert gunzip(packed) == FEED
    assert gunzip(gzip.compress(FEED, mtime=0)) == FEED


def test_the_etag_moves_only_when_the_bytes_do() -> None:
    assert etag_of(FEED) == etag_of(bytes(FEED))
    assert etag_of(FEED) != etag_of(FEED + b"\n")
    assert len(etag_of(FEED)) == 32 and int(etag_of(FEED), 16) >= 0  # 128 bits, hex
