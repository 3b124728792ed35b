"""One publishing pass: what changed → snapshot → render → store, each section isolated."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial

from flask import Flask
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from feedsvc import rerendering
from feedsvc.content import policy as content_policy
from feedsvc.content.text import ContentError
from feedsvc.publishing import archiveopen, archives, housekeeping, renderpool
from feedsvc.publishing.changes import Due, pass_due
from feedsvc.publishing.renderpool import Failed
from feedsvc.publishing.snapshot import Rendered, SectionDocs, prepare_section, prepare_site
from feedsvc.publishing.store import Fenced, digest_early, forget_early, write_documents
from feedsvc.publishing.topicfeeds import TopicDocs, render_topics
from feedsvc.storage.archives import ArchiveScope
from feedsvc.storage.db import transaction
from feedsvc.storage.models import Article, Section, SiteState, utcnow
from feedsvc.storage.topics import Topic

log = logging.getLogger(__name__)
# A full rebuild stores this many sections (or this many bytes of feeds) per transaction:
# few commits, and a bounded amount of rendered output held in memory at once.
BATCH_SECTIONS = 50
BATCH_BYTES = 32 * 1024 * 1024
# A full rebuild re-renders stored articles this many at a time: one short write transaction
# per batch, and only when the batch changed something.
RERENDER_BATCH = 200


@dataclass
class PassResult:
    """What one publishing pass did, for logs, metrics and tests."""

    sections_rendered: list[int] = field(default_factory=list)
    topics_rendered: list[int] = field(default_factory=list)
    site_rendered: bool = False
    documents_changed: int = 0
    articles_rerendered: int = 0  # stored renderings a full rebuild changed
    failures: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


# Asked between sections: whether this process still holds the scheduler's lease.
KeepLeading = Callable[[], bool]
# Notes a pass's outcome in the database, in the session's transaction (lease.record_run).
Record = Callable[[Session, PassResult], None]
# Told that n more steps of a full rebuild are done (rebuild_steps counts them beforehand).
Advance = Callable[[int], None]


def _ignore(_steps: int) -> None:
    """No one follows this pass's progress (the scheduler's passes)."""


def rebuild_steps(app: Flask) -> int:
    """The steps of a full rebuild, counted before it starts, for a progress bar.

    Each stored article re-rendered; each feed (the site's, every section's, tag's and
    author's) once as its RFC 5005 archive advances and once as it is rendered; each open
    archive page. What changes while it runs (an article posted meanwhile) moves the real
    count a little off; the bar then ends short of, or past, its end.
    """
    with transaction(app, write=False) as s:
        counts = [
            s.scalar(select(func.count()).select_from(table)) or 0
            for table in (Article, Section, Topic)
        ]
        open_pages = s.scalar(
            select(func.count()).where(ArchiveScope.open_page, ArchiveScope.backlog.is_(False))
        )
    articles, sections, topics = counts
    return articles + 2 * (1 + sections + topics) + (open_pages or 0)


def run_pass(
    app: Flask,
    *,
    full: bool = False,
    now: datetime | None = None,
    keep_leading: KeepLeading | None = None,
    record: Record | None = None,
    token: int | None = None,
    advance: Advance = _ignore,
    rerender: bool = False,
) -> PassResult:
    """One publishing pass: each section isolated, so one bad section never stops the rest.

    keep_leading is asked between sections: a long pass renews the scheduler's lease as it
    goes, and stops (leaving the rest to the new leader) if the lease was lost. record, when
    given, notes the pass's outcome in the database exactly once (see Pass). token is the
    leader's fencing token, carried by every write: store.Fenced, raised when another
    scheduler has taken the lease since, ends the pass with nothing more stored. advance is
    told of each step done (see rebuild_steps), for a full rebuild's progress bar.

    A full pass first renders every stored article again when the content policy changed
    since that was last done (content/policy.py), or always with rerender (the CLI's --all).
    """
    started = time.perf_counter()
    work = Pass(app, now or utcnow(), started, record, token, advance)
    work.early = not full
    try:
        policy = _policy_to_apply(app, force=rerender) if full else None
        if policy is None or rerender_articles(app, work.result, keep_leading, advance):
            if policy is not None:  # every stored article now renders with it
                with transaction(app) as s:
                    s.execute(update(SiteState).values(content_policy=policy))
            with transaction(app, write=False) as s:
                due = pass_due(s, work.now, full=full)
                removed = housekeeping.deleted_sections(s)
            if housekeeping.before_pass(app, work.now, removed, full=full):
                due = replace(due, site=True, opml=True)  # without the deleted sections
            # RFC 5005 archives first: the subscription documents then link their newest page.
            plan = archives.advance(app, due, work.now, token=token)
            advance(len(due.sections) + len(due.topics) + due.site)
            due = plan.due
            if plan.failure:
                work.result.failures["archive"] = plan.failure
            if work.render_sections(due.sections, keep_leading):
                pages = archiveopen.render_open(app, plan, work.now, token=token)
                work.digest_early(pages)
                advance(len(plan.open_pages))
                work.finish(due, pages, plan.on_commit)
    finally:
        forget_early()
        work.result.seconds = time.perf_counter() - started
    if record is not None and not work.recorded:
        # Nothing was left to write, the last write failed, or the lease was lost.
        with transaction(app) as s:
            record(s, work.result)
    return work.result


def _policy_to_apply(app: Flask, *, force: bool) -> str | None:
    """The content policy a full pass must render every stored article with, or None when
    they all are already (and the pass was not asked to anyway)."""
    policy = content_policy.fingerprint(int(app.config["BODY_HTML_MAX_BYTES"]))
    if force:
        return policy
    with transaction(app, write=False) as s:
        stored = s.scalar(select(SiteState.content_policy))
    return None if stored == policy else policy


def rerender_articles(
    app: Flask,
    result: PassResult,
    keep_leading: KeepLeading | None,
    advance: Advance = _ignore,
) -> bool:
    """Render every stored article again from its source with the current policy.

    A full rebuild's first step: after a sanitising policy change (an nh3 upgrade, a narrower
    allow-list) every stored body and summary is cleaned, its section's revision bumped, and
    the feeds rendered next from the clean rows. Rows it would leave unchanged are not written.
    False when the scheduler's lease was lost on the way.
    """
    base_url = app.config["SITE_URL"] + "/"
    max_html = int(app.config["BODY_HTML_MAX_BYTES"])
    after = 0
    while True:
        if keep_leading is not None and not keep_leading():
            log.warning("lost the scheduler lease while re-rendering articles")
            return False
        with transaction(app, write=False) as s:
            batch = rerendering.stored_batch(s, after, RERENDER_BATCH)
        if not batch:
            return True
        after = batch[-1].id
        changes = []
        for stored in batch:
            try:
                change = rerendering.rerender(stored, base_url=base_url, max_html_bytes=max_html)
            except ContentError as exc:  # stored HTML nobody's source renders: left, reported
                result.failures[f"article:{stored.id}"] = f"{type(exc).__name__}: {exc}"
                continue
            if change is not None:
                changes.append(change)
        if changes:
            with transaction(app) as s:
                stored_count = rerendering.store_rerendered(s, changes)
            result.articles_rerendered += stored_count
            log.info("re-rendered %d stored article(s) with the current policy", stored_count)
        advance(len(batch))


class Pass:
    """One pass's state as it goes: render_sections, flush per batch, finish with the site.

    The record-and-commit protocol. Every flush stores its batch in one transaction of its
    own (write_documents). The run record is written exactly once:

    - when the pass ends with a write (finish: the last batch and the site's documents),
      inside that write's transaction, as its last statement before the commit (one commit
      fewer per tick); it counts what that commit stores, and ``recorded`` turns True only
      once the commit succeeded;
    - otherwise (nothing left to write, that last write failed and rolled back, the lease
      was lost mid-pass) run_pass writes it afterwards, in a transaction of its own;
    - a pass that raises records nothing: the scheduler logs the error.
    """

    def __init__(
        self,
        app: Flask,
        now: datetime,
        started: float,
        record: Record | None,
        token: int | None = None,
        advance: Advance = _ignore,
    ) -> None:
        self.app = app
        self.advance = advance
        self.token = token
        self.now = now
        self.started = started
        self.record = record
        self.result = PassResult()
        self.recorded = False
        self.pending: list[SectionDocs] = []  # rendered, not yet stored
        # A tick's documents nearly all change: their digests start as each feed is rendered
        # (store.digest_early). A full pass leaves most documents as they were: not there.
        self.early = False

    def render_sections(self, due: Sequence[int], keep_leading: KeepLeading | None) -> bool:
        """Render the due sections and store them in batches; False when the lease was lost."""
        # Many sections (a full rebuild, a first start) render in several processes at once;
        # storing stays here, in order, batched.
        outcomes = renderpool.prepare_all(self.app, due, self.now, prepare_section)
        try:
            for outcome in outcomes:
                self.advance(1)
                if keep_leading is not None and not keep_leading():
                    # What this pass rendered but did not store is the new leader's to redo.
                    log.warning("lost the scheduler lease mid-pass; the new leader carries on")
                    return False
                if isinstance(outcome, Failed):  # one section's failure must not stop the others
                    log.error(
                        "rendering section %s failed; its last good feeds stay served",
                        outcome.section_id,
                        exc_info=outcome.error,
                    )
                    self.result.failures[f"section:{outcome.section_id}"] = (
                        f"{type(outcome.error).__name__}: {outcome.error}"
                    )
                    continue
                if outcome.value is None:  # deleted since the pass began
                    continue
                self.pending.append(outcome.value)
                self.digest_early(outcome.value.docs)
                if (
                    len(self.pending) >= BATCH_SECTIONS
                    or sum(p.size for p in self.pending) >= BATCH_BYTES
                ):
                    self.flush(self._take_pending(), ())
        finally:
            outcomes.close()
        return True

    def finish(
        self,
        due: Due,
        extra: Sequence[Rendered] = (),
        on_commit: Callable[[Session], None] | None = None,
    ) -> None:
        """Render the site's documents when due; store them with the last batch, and record."""
        site: list[Rendered] = []
        if due.site:
            try:
                site = prepare_site(self.app, self.now, opml=due.opml)
            except Exception as exc:  # keep serving the last good site feeds
                log.exception("rendering the site-wide feeds failed")
                self.result.failures["site"] = f"{type(exc).__name__}: {exc}"
            self.advance(1)
            self.digest_early(site)
        # Tags and authors: stored in batches, the last one with the site's documents.
        held: list[TopicDocs] = []
        topics = render_topics(self.app, due.topics, self.now, self.result.failures, self.advance)
        for topic_batch in topics:
            self.digest_early([doc for td in topic_batch for doc in td.docs])
            self.flush([], (), topics=held)
            held = topic_batch
        self.flush(
            self._take_pending(), site, last=True, extra=extra, on_commit=on_commit, topics=held
        )

    def flush(
        self,
        batch: list[SectionDocs],
        site: Sequence[Rendered],
        *,
        last: bool = False,
        extra: Sequence[Rendered] = (),
        on_commit: Callable[[Session], None] | None = None,
        topics: Sequence[TopicDocs] = (),
    ) -> None:
        """Store a batch (and the site's documents) in one transaction; the last one records.

        extra: further documents stored with them (open archive pages), not counted as the
        site's; on_commit runs inside that transaction too (the archive's drained touches);
        topics: tags' and authors' feeds, stored and recorded as rendered in it as well.
        """
        if not batch and not site and not extra and not topics:
            return
        before_commit = None
        if last and self.record is not None:
            before_commit = partial(self._record_within, self.record, batch, site)
        if on_commit is not None:
            before_commit = partial(_both, on_commit, before_commit)
        try:
            changed = write_documents(
                self.app,
                batch,
                [*site, *extra],
                token=self.token,
                before_commit=before_commit,
                topics=topics,
            )
        except Fenced:  # not this batch's fault: this process no longer leads
            raise
        except Exception as exc:  # the batch stays as it was; the next pass tries again
            log.exception("storing rendered feeds failed; the last good feeds stay served")
            reason = f"{type(exc).__name__}: {exc}"
            self.result.failures.update({f"section:{sd.section_id}": reason for sd in batch})
            if site:
                self.result.failures["site"] = reason
            self.result.failures.update({f"topic:{t.topic_id}": reason for t in topics})
            return
        _count(self.result, batch, site, changed)
        self.result.topics_rendered.extend(t.topic_id for t in topics)
        if before_commit is not None:
            self.recorded = True  # committed with this write

    def digest_early(self, docs: Sequence[Rendered]) -> None:
        if self.early:
            digest_early(docs)

    def _take_pending(self) -> list[SectionDocs]:
        batch = self.pending
        self.pending = []
        return batch

    def _record_within(
        self,
        record: Record,
        batch: Sequence[SectionDocs],
        site: Sequence[Rendered],
        session: Session,
        changed: int,
    ) -> None:
        """record, inside the last write's transaction: the outcome as it stands once it commits."""
        # A copy: self.result itself is counted only after the commit succeeded.
        outcome = replace(
            self.result,
            sections_rendered=list(self.result.sections_rendered),
            failures=dict(self.result.failures),
            seconds=time.perf_counter() - self.started,
        )
        record(session, _count(outcome, batch, site, changed))


def _both(
    first: Callable[[Session], None],
    then: Callable[[Session, int], None] | None,
    session: Session,
    changed: int,
) -> None:
    first(session)
    if then is not None:
        then(session, changed)


def _count(
    result: PassResult, batch: Sequence[SectionDocs], site: Sequence[Rendered], changed: int
) -> PassResult:
    """Count a stored batch into result (and return it)."""
    result.sections_rendered.extend(sd.section_id for sd in batch)
    result.site_rendered = result.site_rendered or bool(site)
    result.documents_changed += changed
    return result
