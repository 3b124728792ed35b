"""The static export's copies of the site's root files (the feeds' XSLT page, the icon)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from feedsvc.assets import ASSETS, asset_path


def export_assets(root: Path) -> int:
    """Write root/<name> for each asset whose bytes differ there; return how many were written.

    Atomic like the feeds (temp file + rename), 0644, with the source file's mtime: nginx's
    Last-Modified and ETag ("mtime-size") then move only when a release changes the file.
    """
    written = 0
    for name in ASSETS:
        source = asset_path(name)
        data = source.read_bytes()
        target = root / name
        try:
            if target.read_bytes() == data:
                continue
        except OSError:
            pass  # absent or unreadable: written below, which reports a real error
        mtime = int(source.stat().st_mtime)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=root)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                os.fchmod(f.fileno(), 0o644)
                os.utime(f.fileno(), (mtime, mtime))
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written += 1
    return written
