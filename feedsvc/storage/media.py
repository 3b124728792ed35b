"""The queue of attachments whose type or length the scheduler still has to find."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from feedsvc.storage.models import Base, UTCDateTime, utcnow


class MediaProbe(Base):
    """One article whose attachment waits for a HEAD request (publishing/probes.py).

    A save puts the row here in its own transaction; the leader takes rows whose `due_at`
    has come, and removes each once the article's values are stored (or given up on).
    """

    __tablename__ = "media_probes"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Failed tries so far (a timeout, a refused connection); retried with a growing pause.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
