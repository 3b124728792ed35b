"""A command run as if typed in a terminal: its standard streams on a pseudo-terminal."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import termios
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

COLUMNS = 120


@dataclass(frozen=True)
class Screen:
    """What a command wrote to its terminal (stdout and stderr interleaved, as a person sees
    them, carriage returns and escape sequences included) and how it exited."""

    returncode: int
    output: str


def run_in_terminal(
    args: Sequence[str], *, env: Mapping[str, str], cwd: Path, timeout: float
) -> Screen:
    """Run args with stdin, stdout and stderr on a new pseudo-terminal COLUMNS wide."""
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, COLUMNS, 0, 0))
    child_env = {k: v for k, v in env.items() if k not in {"COLUMNS", "LINES"}}
    try:
        proc = subprocess.Popen(
            list(args),
            cwd=cwd,
            env=child_env,
            stdin=follower,
            stdout=follower,
            stderr=follower,
            start_new_session=True,
        )
    finally:
        os.close(follower)  # the child holds it now: EOF on the leader once the child exits
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], deadline - time.monotonic())
            if not ready:
                continue
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO on Linux: every copy of the follower is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        else:
            proc.kill()
            raise AssertionError(f"{args} still ran after {timeout} s: {b''.join(chunks)!r}")
        returncode = proc.wait(timeout=timeout)
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return Screen(returncode, b"".join(chunks).decode("utf-8", "replace"))
