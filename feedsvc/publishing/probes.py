"""Attachments' type and length: one bounded HEAD request each, to public addresses only."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import delete, select, update

from feedsvc import netguard, tombstones
from feedsvc.articles import feeds_changed
from feedsvc.limits import ATTACHMENT_LENGTH_MAX
from feedsvc.media import MEDIA_TYPE, OCTET_STREAM
from feedsvc.netguard import Failed, Refused
from feedsvc.storage.db import transaction
from feedsvc.storage.media import MediaProbe
from feedsvc.storage.models import Article, utcnow

log = logging.getLogger(__name__)

MAX_REDIRECTS = 3
# A probe that failed for a reason that may pass (a timeout, a 503) is tried this many times,
# RETRY_SECONDS apart and twice as long each time; then the attachment is given 0 bytes.
MAX_ATTEMPTS = 3
RETRY_SECONDS = 60.0
# Probes one run takes at most: the queue drains over several runs, and a run stays short.
BATCH = 20
_RETRY_STATUSES = {408, 429, 500, 502, 503, 504}
_DIGITS = re.compile(r"\A[0-9]{1,16}\Z")
_HEADERS = {"User-Agent": "feedsvc (enclosure check)", "Accept": "*/*"}


@dataclass(frozen=True)
class Found:
    """What a HEAD answer says of the file; None where it says nothing usable."""

    length: int | None
    media_type: str | None


def probe(url: str, *, timeout: float, allow_private: bool = False) -> Found:
    """HEAD `url` (following up to MAX_REDIRECTS redirects, each checked like the first) and
    read Content-Length and Content-Type. The whole probe lasts at most `timeout` seconds.

    Raises Refused (a non-public address without allow_private, a redirect elsewhere than
    http(s), too many redirects) or Failed (netguard.fetch does the asking).
    """
    answer = netguard.fetch(
        url,
        timeout=timeout,
        allow_private=allow_private,
        method="HEAD",
        headers=_HEADERS,
        max_redirects=MAX_REDIRECTS,
    )
    status, headers = answer.status, answer.headers
    if status in _RETRY_STATUSES:
        raise Failed(f"{answer.url} answered {status}", retry=True)
    if not 200 <= status < 300:
        raise Failed(f"{answer.url} answered {status}", retry=False)
    return Found(_length(headers.get("Content-Length")), _type(headers.get("Content-Type")))


def _length(value: str | None) -> int | None:
    text = (value or "").strip()
    if _DIGITS.fullmatch(text) and int(text) <= ATTACHMENT_LENGTH_MAX:
        return int(text)
    return None


def _type(value: str | None) -> str | None:
    media_type = (value or "").split(";", 1)[0].strip().lower()
    return media_type if MEDIA_TYPE.fullmatch(media_type) else None


def _store(app: Flask, article_id: int, url: str, found: Found) -> None:
    """Fill in what the article still lacks, if it still has this attachment; mark its feeds."""
    with transaction(app) as s:
        article = s.get(Article, article_id)
        if article is None or article.attachment_url != url:
            return  # deleted, or given another file meanwhile: that save queued it again
        changed = False
        if article.attachment_length is None:
            article.attachment_length = found.length if found.length is not None else 0
            changed = True
        if not article.attachment_type:
            article.attachment_type = found.media_type or OCTET_STREAM
            changed = True
        s.execute(delete(MediaProbe).where(MediaProbe.article_id == article_id))
        if changed:
            s.flush()
            # Shown where it was shown: an enclosure's length moves no entry in or out.
            feeds_changed(s, article, shown_before=tombstones.shown_in(article))


def _retry_later(app: Flask, article_id: int, attempts: int, now: datetime) -> None:
    pause = timedelta(seconds=RETRY_SECONDS * 2 ** (attempts - 1))
    with transaction(app) as s:
        s.execute(
            update(MediaProbe)
            .where(MediaProbe.article_id == article_id)
            .values(attempts=attempts, due_at=now + pause)
        )


def run_probes(app: Flask, *, budget_seconds: float, now: datetime | None = None) -> int:
    """Probe the attachments that are due, until the batch or the time budget is used up.

    A probe starts only while the budget lasts, and each is bounded by MEDIA_PROBE_TIMEOUT.
    Returns how many were stored (found, or given up on). Never raises for one probe.
    """
    config = app.config
    timeout = float(config["MEDIA_PROBE_TIMEOUT"])
    allow_private = bool(config["MEDIA_PROBE_ALLOW_PRIVATE"])
    stop = time.monotonic() + budget_seconds
    now = now or utcnow()
    with transaction(app, write=False) as s:
        due = s.execute(
            select(MediaProbe.article_id, MediaProbe.attempts, Article.attachment_url)
            .join(Article, Article.id == MediaProbe.article_id)
            .where(MediaProbe.due_at <= now)
            .order_by(MediaProbe.due_at, MediaProbe.article_id)
            .limit(BATCH)
        ).all()
    stored = 0
    for article_id, attempts, url in due:
        if time.monotonic() >= stop:
            break
        try:
            found = probe(url, timeout=timeout, allow_private=allow_private)
            log.info("attachment of article %s: %s bytes, %s", article_id, *_shown(found))
        except Refused as exc:
            log.warning("attachment of article %s not checked: %s", article_id, exc)
            found = Found(None, None)
        except Failed as exc:
            if exc.retry and attempts + 1 < MAX_ATTEMPTS:
                log.info("attachment of article %s: %s; tried again later", article_id, exc)
                _retry_later(app, article_id, attempts + 1, now)
                continue
            log.warning("attachment of article %s: %s; length 0", article_id, exc)
            found = Found(None, None)
        except Exception:  # one bad probe must not stop the others, nor the scheduler
            log.exception("attachment of article %s: probe failed", article_id)
            _retry_later(app, article_id, MAX_ATTEMPTS, now)
            continue
        _store(app, article_id, url, found)
        stored += 1
    return stored


def _shown(found: Found) -> tuple[str, str]:
    return (
        "unknown" if found.length is None else str(found.length),
        found.media_type or "no type",
    )


# A probe run's time budget: it runs beside the publishing passes (its own job, its own
# thread), never inside one, so a slow file server delays no feed; the budget only keeps
# the run short enough for its interval.
RUN_BUDGET_SECONDS = 20.0


def run_job(app: Flask, leading: Callable[[], bool]) -> None:
    """The scheduler's probe job: the leader drains the queue; failures are only logged."""
    if not leading():
        return
    try:
        run_probes(app, budget_seconds=RUN_BUDGET_SECONDS)
    except Exception:  # the database may be away: the next run tries again
        log.exception("attachment probes failed")
