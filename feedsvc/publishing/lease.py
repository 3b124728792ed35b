"""The leader lease: one row that lets exactly one scheduler process render at a time."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from feedsvc.storage.models import RENDER_LEASE, SchedulerLease

# Statements on the lease table go through the Core connection: they run every tick, and the
# ORM session's bulk-UPDATE path costs several times the UPDATE itself.
_LEASES = cast(Table, SchedulerLease.__table__)


def make_holder_id() -> str:
    """host:pid plus a nonce, so a restarted process with a recycled pid is a new holder."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def acquire(session: Session, holder: str, now: datetime, seconds: float) -> bool:
    """Take or renew the lease; True when this holder leads until now + seconds.

    A single conditional UPDATE is atomic on SQLite and PostgreSQL alike: of two processes
    racing for an expired lease, exactly one matches the WHERE clause.
    """
    expires = now + timedelta(seconds=seconds)
    result = session.connection().execute(
        update(_LEASES)
        .where(
            _LEASES.c.name == RENDER_LEASE,
            or_(
                _LEASES.c.holder == holder,
                _LEASES.c.expires_at.is_(None),
                _LEASES.c.expires_at <= now,
            ),
        )
        .values(holder=holder, expires_at=expires)
    )
    if result.rowcount == 1:
        return True
    if session.get(SchedulerLease, RENDER_LEASE) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(SchedulerLease(name=RENDER_LEASE, holder=holder, expires_at=expires))
    except IntegrityError:
        return False  # another process created the row first: it leads
    return True


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
