"""The feed bytes the in-memory peers serve: BENCH_FEED (a file) and BENCH_FEED.gz beside it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

CONTENT_TYPE = "application/rss+xml; charset=utf-8"


def load() -> tuple[bytes, bytes, str, str]:
    """(body, gzip body, ETag, gzip ETag): strong tags, quoted, one per encoding."""
    path = Path(os.environ["BENCH_FEED"])
    body = path.read_bytes()
    gz = path.with_name(path.name + ".gz").read_bytes()
    tag = hashlib.sha256(body).hexdigest()[:32]
    return body, gz, f'"{tag}"', f'"{tag}-gz"'
