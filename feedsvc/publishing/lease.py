"""The leader lease: one row that lets exactly one scheduler process render at a time."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, case, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from feedsvc.storage.models import RENDER_LEASE, SchedulerLease

# Statements on the lease table go through the Core connection: they run every tick, and the
# ORM session's bulk-UPDATE path costs several times the UPDATE itself.
_LEASES = cast(Table, SchedulerLease.__table__)


def make_holder_id() -> str:
    """host:pid plus a nonce, so a restarted process with a recycled pid is a new holder."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def acquire(session: Session, holder: str, now: datetime, seconds: float) -> int | None:
    """Take or renew the lease; this holder's fencing token while it leads, else None.

    A single conditional UPDATE is atomic on SQLite and PostgreSQL alike: of two processes
    racing for an expired lease, exactly one matches the WHERE clause. The token moves up
    by one whenever the lease changes hands and stays put while its holder renews it, so a
    write carrying an older token comes from a leader that has since been replaced
    (fencing: the store refuses it, see store.write_documents).
    """
    expires = now + timedelta(seconds=seconds)
    c = _LEASES.c
    result = session.connection().execute(
        update(_LEASES)
        .where(
            c.name == RENDER_LEASE,
            or_(c.holder == holder, c.expires_at.is_(None), c.expires_at <= now),
        )
        .values(
            holder=holder,
            expires_at=expires,
            # SET expressions see the row as it was: the old holder decides.
            fencing_token=case((c.holder == holder, c.fencing_token), else_=c.fencing_token + 1),
        )
    )
    if result.rowcount == 1:
        return current_token(session)
    if session.get(SchedulerLease, RENDER_LEASE) is not None:
        return None
    try:
        with session.begin_nested():
            session.add(
                SchedulerLease(
                    name=RENDER_LEASE, holder=holder, expires_at=expires, fencing_token=1
                )
            )
    except IntegrityError:
        return None  # another process created the row first: it leads
    return 1


def current_token(session: Session, *, lock: bool = False) -> int:
    """The lease's fencing token (0 before any leader); lock: hold the row until commit.

    A document write locks the row first (SELECT ... FOR UPDATE on PostgreSQL; SQLite's
    BEGIN IMMEDIATE already serialises writers): a new leader's acquire, an UPDATE of the
    same row, then waits for that write to commit, or the write sees the new token. Without
    the lock, under READ COMMITTED, a write could read the old token just before the
    hand-over commits and store its documents just after.
    """
    query = select(_LEASES.c.fencing_token).where(_LEASES.c.name == RENDER_LEASE)
    if lock:
        query = query.with_for_update()
    token = session.connection().execute(query).scalar()
    return int(token or 0)


def release(session: Session, holder: str, now: datetime) -> None:
    """Give the lease up at shutdown, so a standby takes over at its next tick."""
    session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == RENDER_LEASE, SchedulerLease.holder == holder)
        .values(expires_at=now)
    )


def record_run(
    session: Session,
    holder: str,
    now: datetime,
    *,
    error: str = "",
    full: bool = False,
    sections: int = 0,
    documents: int = 0,
    seconds: float = 0.0,
) -> None:
    """Note a finished pass on the lease row: its outcome, and running totals for /metrics."""
    c = _LEASES.c
    values: dict[str, object] = {
        "last_run_at": now,
        "last_error": error,
        "passes_total": c.passes_total + 1,
        "sections_rendered_total": c.sections_rendered_total + sections,
        "documents_changed_total": c.documents_changed_total + documents,
        "pass_seconds_total": c.pass_seconds_total + seconds,
        "last_pass_seconds": seconds,
    }
    if not error:
        values["last_success_at"] = now
        if full:
            values["last_full_rebuild_at"] = now
    session.connection().execute(
        update(_LEASES).where(c.name == RENDER_LEASE, c.holder == holder).values(**values)
    )


def record_export(
    session: Session, holder: str, *, failures: int, error: str, behind_since: datetime | None
) -> None:
    """Note the static export's health on the lease row, for /healthz and /metrics."""
    c = _LEASES.c
    values: dict[str, object] = {
        "export_failures_total": c.export_failures_total + failures,
        "export_behind_since": behind_since,
    }
    if error:
        values["last_export_error"] = error
    session.connection().execute(
        update(_LEASES).where(c.name == RENDER_LEASE, c.holder == holder).values(**values)
    )
