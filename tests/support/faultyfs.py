"""Real file-system faults for a folder: read-only (a bind mount) or full (a small tmpfs).

Tests run as root, for whom chmod stops nothing; a read-only mount and a full tmpfs stop
root too, with the very errors (EROFS, ENOSPC) a production folder would give. Mounting
needs CAP_SYS_ADMIN: without it the test is skipped here and fails under CI (missing_tool).
"""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.nginx import missing_tool

# Big enough for a few sections' feeds before it is filled on purpose.
TMPFS_SIZE = "4m"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)


def _mount(*args: str) -> None:
    done = _run("mount", *args)
    if done.returncode != 0:
        missing_tool(f"mount {' '.join(args)} is not permitted here: {done.stderr.strip()}")


class Fault:
    """A folder that break() makes read-only or full, and repair() mends."""

    def __init__(self, kind: str, folder: Path) -> None:
        self.kind = kind
        self.folder = folder
        self.filler = folder / "filler.bin"
        self.mounted = False

    def prepare(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.kind == "full":
            _mount("-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0755", "tmpfs", str(self.folder))
            self.mounted = True

    def break_(self) -> None:
        if self.kind == "read-only":
            _mount("--bind", str(self.folder), str(self.folder))
            self.mounted = True
            _mount("-o", "remount,bind,ro", str(self.folder))
            return
        chunk = b"\0" * (1 << 16)
        with self.filler.open("wb") as f:
            try:
                while True:
                    f.write(chunk)
                    f.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
        # Not even a small write fits any more.
        probe = self.folder / "probe"
        try:
            probe.write_bytes(b"x" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
        else:
            raise AssertionError("the tmpfs still takes writes")
        finally:
            probe.unlink(missing_ok=True)

    def repair(self) -> None:
        if self.kind == "read-only":
            self._unmount()
        else:
            self.filler.unlink()

    def _unmount(self) -> None:
        if self.mounted:
            done = _run("umount", str(self.folder))
            assert done.returncode == 0, done.stderr
            self.mounted = False


@contextmanager
def faulty_folder(kind: str, folder: Path) -> Iterator[Fault]:
    """kind "read-only" or "full"; whatever was mounted is unmounted on the way out."""
    assert kind in {"read-only", "full"}
    fault = Fault(kind, folder)
    try:
        fault.prepare()
        yield fault
    finally:
        fault._unmount()
