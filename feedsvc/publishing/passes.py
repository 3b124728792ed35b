"""One publishing pass: what changed → snapshot → render → store, each section isolated."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import cast

from flask import Flask
from sqlalchemy import Table, func, or_, select
from sqlalchemy.orm import Session

from feedsvc import urls
from feedsvc.publishing import renderpool
from feedsvc.publishing.changes import sections_due
from feedsvc.publishing.snapshot import Rendered, SectionDocs, prepare_section, prepare_site
from feedsvc.publishing.store import write_documents
from feedsvc.storage.db import transaction
from feedsvc.storage.models import FeedDocument, Section, utcnow

log = logging.getLogger(__name__)
# A full rebuild stores this many sections (or this many bytes of feeds) per transaction:
# few commits, and a bounded amount of rendered output held in memory at once.
BATCH_SECTIONS = 50
BATCH_BYTES = 32 * 1024 * 1024
_DOCUMENTS = cast(Table, FeedDocument.__table__)


@dataclass
class PassResult:
    """What one publishing pass did, for logs, metrics and tests."""

    sections_rendered: list[int] = field(default_factory=list)
    site_rendered: bool = False
    documents_changed: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def run_pass(
    app: Flask,
    *,
    full: bool = False,
    now: datetime | None = None,
    keep_leading: Callable[[], bool] | None = None,
    record: Callable[[Session, PassResult], None] | None = None,
) -> PassResult:
    """One publishing pass: each section isolated, so one bad section never stops the rest.

    keep_leading is asked between sections: a long pass renews the scheduler's lease as it
    goes, and stops (leaving the rest to the new leader) if the lease was lost. record, when
    given, notes the pass's outcome in the database exactly once: inside the transaction of
    its last write when there is one (one commit fewer per tick), else in one of its own.
    """
    started = time.perf_counter()
    now = now or utcnow()
    result = PassResult()
    try:
        recorded = _run_pass(app, result, started, full, now, keep_leading, record)
    finally:
        result.seconds = time.perf_counter() - started
    if record is not None and not recorded:
        with transaction(app) as s:
            record(s, result)
    return result


def _run_pass(
    app: Flask,
    result: PassResult,
    started: float,
    full: bool,
    now: datetime,
    keep_leading: Callable[[], bool] | None,
    record: Callable[[Session, PassResult], None] | None,
) -> bool:
    """run_pass's work, filling result in; True when record already ran (and committed)."""
    with transaction(app, write=False) as s:
        if full:
            due = list(s.scalars(select(Section.id).order_by(Section.id)))
        else:
            due = sections_due(s, now)
        # Paths only: loading the documents themselves would read ~400 KB per tick.
        stored = set(
            s.connection()
            .execute(
                select(_DOCUMENTS.c.path).where(
                    _DOCUMENTS.c.path.in_([urls.site_doc_path("atom"), urls.OPML_PATH])
                )
            )
            .scalars()
        )
        site_missing = urls.site_doc_path("atom") not in stored
        # The OPML list names sections only: redo it when one was created or edited since
        # its last render, not for every article.
        opml_due = full or urls.OPML_PATH not in stored
        if due and not opml_due:
            opml_due = bool(
                s.scalar(
                    select(func.count())
                    .select_from(Section)
                    .where(
                        Section.id.in_(due),
                        or_(
                            Section.rendered_as_of.is_(None),
                            Section.updated_at > Section.rendered_as_of,
                        ),
                    )
                )
            )
    pending: list[SectionDocs] = []

    def store(site: Sequence[Rendered] = (), *, last: bool = False) -> bool:
        """Write the pending batch (and site feeds); True when record ran in its commit."""
        batch = list(pending)
        pending.clear()
        if not batch and not site:
            return False

        def count(outcome: PassResult, changed: int) -> PassResult:
            outcome.sections_rendered.extend(sd.section_id for sd in batch)
            outcome.site_rendered = outcome.site_rendered or bool(site)
            outcome.documents_changed += changed
            return outcome

        finish: Callable[[Session, int], None] | None = None
        if last and record is not None:
            rec = record

            def finish(s: Session, changed: int) -> None:
                # The outcome as it stands once this commits; result itself is counted after.
                outcome = replace(
                    result,
                    sections_rendered=list(result.sections_rendered),
                    failures=dict(result.failures),
                    seconds=time.perf_counter() - started,
                )
                rec(s, count(outcome, changed))

        try:
            changed = write_documents(app, batch, site, before_commit=finish)
        except Exception as exc:  # the batch stays as it was; the next pass tries again
            log.exception("storing rendered feeds failed; the last good feeds stay served")
            reason = f"{type(exc).__name__}: {exc}"
            result.failures.update({f"section:{sd.section_id}": reason for sd in batch})
            if site:
                result.failures["site"] = reason
            return False
        count(result, changed)
        return finish is not None

    # Many sections (a full rebuild, a first start) render in several processes at once;
    # storing stays here, in order, batched.
    outcomes = renderpool.prepare_all(app, due, now, prepare_section)
    try:
        for section_id, outcome in outcomes:
            if keep_leading is not None and not keep_leading():
                # What this pass rendered but did not store is the new leader's to redo.
                log.warning("lost the scheduler lease mid-pass; the new leader carries on")
                return False
            if isinstance(outcome, Exception):  # one section's failure must not stop the others
                log.error(
                    "rendering section %s failed; its last good feeds stay served",
                    section_id,
                    exc_info=outcome,
                )
                result.failures[f"section:{section_id}"] = f"{type(outcome).__name__}: {outcome}"
                continue
            if outcome is None:  # deleted since the pass began
                continue
            pending.append(outcome)
            if len(pending) >= BATCH_SECTIONS or sum(p.size for p in pending) >= BATCH_BYTES:
                store()
    finally:
        outcomes.close()
    site: list[Rendered] = []
    if due or full or site_missing:
        try:
            site = prepare_site(app, now, opml=opml_due)
        except Exception as exc:  # keep serving the last good site feeds
            log.exception("rendering the site-wide feeds failed")
            result.failures["site"] = f"{type(exc).__name__}: {exc}"
    return store(site, last=True)
