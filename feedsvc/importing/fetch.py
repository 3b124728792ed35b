"""A feed's bytes from a URL (public addresses only, bounded in size and time) or a file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

from feedsvc import netguard

# What the importer says it takes; servers that negotiate send a feed rather than a page.
_HEADERS = {
    "User-Agent": "feedsvc (feed import)",
    "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.1",
}


class SourceRefused(Exception):
    """The feed could not be had; the message says why, in a sentence."""


def is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


def fetch_feed(url: str, *, max_bytes: int, timeout: float, allow_private: bool) -> bytes:
    """GET the feed at `url`: every address (redirects too) checked as netguard does, the
    whole exchange within `timeout` seconds, the body at most `max_bytes`."""
    try:
        answer = netguard.fetch(
            url,
            timeout=timeout,
            allow_private=allow_private,
            headers=_HEADERS,
            max_bytes=max_bytes,
        )
    except netguard.Refused as exc:
        raise SourceRefused(f"The feed was not fetched: {exc}.") from None
    except netguard.Failed as exc:
        raise SourceRefused(f"The feed could not be fetched: {exc}.") from None
    if not 200 <= answer.status < 300:
        raise SourceRefused(
            f"The feed could not be fetched: {answer.url} answered {answer.status}."
        )
    return answer.body


def fetch_configured(config: Mapping[str, Any], url: str) -> bytes:
    """fetch_feed within the IMPORT_* settings: the one reading of them, for the command and
    the admin page alike."""
    return fetch_feed(
        url,
        max_bytes=int(config["IMPORT_MAX_BYTES"]),
        timeout=float(config["IMPORT_TIMEOUT"]),
        allow_private=bool(config["IMPORT_ALLOW_PRIVATE"]),
    )


def read_stream(stream: BinaryIO, *, max_bytes: int, name: str = "The file") -> bytes:
    """At most `max_bytes` of an open file or upload (SourceRefused past that)."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise SourceRefused(f"{name} is over the limit of {max_bytes:,} bytes.")
    return data


def read_file(path: str, *, max_bytes: int) -> bytes:
    """A feed saved as a file (a WordPress export, say)."""
    try:
        with Path(path).open("rb") as f:
            return read_stream(f, max_bytes=max_bytes, name=path)
    except OSError as exc:
        raise SourceRefused(f"{path} cannot be read: {exc.strerror or exc}.") from None
