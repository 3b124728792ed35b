"""wrk and nginx: Debian's packages, installed with apt-get when missing and we are allowed to.

When they cannot be installed (not root and no sudo, no network, not Debian) the run goes on
and the scenarios that need them are reported as skipped, saying why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

from bench.context import Context
from bench.wrk import wrk_binary
from devtools.nginx import binary as nginx_binary

PACKAGES = {"wrk": "wrk", "nginx": "nginx"}


def _missing() -> list[str]:
    have = {"wrk": wrk_binary(), "nginx": nginx_binary()}
    return [name for name, path in have.items() if path is None]


def _apt_prefix() -> list[str] | None:
    if shutil.which("apt-get") is None:
        return None
    if os.geteuid() == 0:
        return []
    if (
        shutil.which("sudo")
        and subprocess.run(["sudo", "-n", "true"], capture_output=True, timeout=10).returncode == 0
    ):
        return ["sudo", "-n"]
    return None


def ensure_tools(ctx: Context, *, install: bool = True) -> dict[str, Any]:
    missing = _missing()
    report: dict[str, Any] = {"missing_before": missing, "installed": [], "problems": []}
    if not missing:
        return report
    prefix = _apt_prefix() if install else None
    if prefix is None:
        why = "--no-install" if not install else "no apt-get, or not root and no sudo"
        msg = f"{', '.join(missing)} missing and not installed ({why}): those scenarios skip"
        report["problems"].append(msg)
        ctx.log(msg)
        return report
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    packages = [PACKAGES[m] for m in missing]
    ctx.log(f"installing Debian packages {packages} (apt-get)…")
    for args in (
        [*prefix, "apt-get", "update", "-qq"],
        [*prefix, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
    ):
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            msg = f"`{' '.join(args)}` failed: {done.stderr.strip()[-500:]}"
            report["problems"].append(msg)
            ctx.log(msg)
            break
    still = _missing()
    report["installed"] = [m for m in missing if m not in still]
    if still:
        msg = f"still missing after apt-get: {', '.join(still)}: those scenarios skip"
        report["problems"].append(msg)
        ctx.log(msg)
    return report
