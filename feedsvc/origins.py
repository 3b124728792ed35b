"""An imported article's origin: its own id, permalink, date and body format, kept by edits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from feedsvc.errors import ValidationError
from feedsvc.limits import BODY_HTML, GUID_MAX


@dataclass(frozen=True)
class Origin:
    """Where an imported article came from (feedsvc/importing/): set at creation, kept by edits."""

    guid: str  # the item's own id (RSS guid, Atom id), at most GUID_MAX: every format's id

    def __post_init__(self) -> None:
        if not 0 < len(self.guid) <= GUID_MAX or self.guid != self.guid.strip():
            raise ValidationError({"guid": f"The id must be 1 to {GUID_MAX} characters."})

    url: str = ""  # its permalink where it came from ("" for none): the feeds' link for it
    revised_at: datetime | None = None  # its own updated date (aware); None: its publish time
    body_format: str = BODY_HTML  # an imported body is HTML, never re-read as Markdown
