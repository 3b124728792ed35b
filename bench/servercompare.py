"""Web servers compared: the app path's targets against nginx's static file and minimal Flask
on gunicorn (same run, each variant), subscribers one machine serves, and their chart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

# Of a feed reader's polls, the share that are conditional and answered 304 (the feed did not
# change since its last poll). Feedly, NetNewsWire, Miniflux and feedparser all send
# If-None-Match; a newsroom feed changes a few times an hour against polls every 5 minutes.
CONDITIONAL_SHARE = 0.9
POLL_SECONDS = 300

Target = Callable[[str, str, float | None, Callable[[float], bool], str], None]


def subscribers(rate_200: float | None, rate_304: float | None) -> float | None:
    """Readers polling every POLL_SECONDS that one machine answers at these rates: each poll
    costs 1/rate seconds of the whole machine, weighted by the conditional share."""
    if not rate_200 or not rate_304:
        return None
    seconds_per_poll = CONDITIONAL_SHARE / rate_304 + (1 - CONDITIONAL_SHARE) / rate_200
    return POLL_SECONDS / seconds_per_poll


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None when either was not measured."""
    return a / b if a and b else None


def add(
    target: Target,
    rps: Callable[[str, str], float | None],
) -> None:
    """Issue 13's targets, through report.py's `_target`."""
    for variant, floor in (("200", 0.35), ("gzip", 0.35), ("304", 0.5)):
        r = ratio(rps("feedsvc_app", variant), rps("nginx_static", variant))
        target(
            f"13-nginx-{variant}",
            f"app path (make run) {variant} ≥ {floor}× nginx static file",
            r,
            lambda x, floor=floor: x >= floor,  # type: ignore[misc]
            f"{r:.2f}×" if r else "",
        )
    for variant in ("200", "gzip", "304"):
        r = ratio(rps("feedsvc_app", variant), rps("minimal_flask", variant))
        target(
            f"13-flask-{variant}",
            f"app path (make run) {variant} ≥ 1.5× minimal Flask on gunicorn",
            r,
            lambda x: x >= 1.5,
            f"{r:.2f}×" if r else "",
        )
    r = ratio(rps("feedsvc_app", "gzip"), rps("feedsvc_app", "200"))
    target(
        "13-gzip",
        "app path: the gzip variant at least as fast as identity",
        r,
        lambda x: x >= 1.0,
        f"gzip = {r:.2f}× the identity rate" if r else "",
    )


def capacity(servers: dict[str, Any]) -> list[dict[str, Any]]:
    """Subscribers one machine serves on each path measured, from its 200 and 304 rates."""

    def rate(name: str, variant: str) -> float | None:
        v = servers.get(name, {}).get("variants", {}).get(variant, {}).get("rps_median")
        return float(v) if v else None

    rows = []
    for name, entry in servers.items():
        n = subscribers(rate(name, "200"), rate(name, "304"))
        if n is not None:
            rows.append({"server": name, "title": entry.get("title", name), "subscribers": n})
    return sorted(rows, key=lambda r: -r["subscribers"])


def capacity_rows(out: dict[str, Any]) -> list[list[str]]:
    servers = out.get("scenarios", {}).get("serving", {}).get("servers") or {}
    return [
        [r["title"], f"{r['subscribers'] / 1e6:.2f} million"]
        for r in capacity(servers)
        if r["subscribers"] >= 1e5  # generating the feed per request: not a serving path
    ]


CAPACITY_TITLE = (
    f"Subscribers one machine serves, each polling every {POLL_SECONDS // 60} minutes, "
    f"{CONDITIONAL_SHARE:.0%} of polls conditional (answered 304), the rest full 200s"
)


def chart(serving: dict[str, Any], target: Path, date: str) -> Path:
    """Requests/s of every server measured, by variant, on one log axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    servers = serving.get("servers", {})
    names = [n for n in servers if servers[n]["variants"].get("200", {}).get("rps_median")]
    names.sort(key=lambda n: servers[n]["variants"]["200"]["rps_median"])
    fig, ax = plt.subplots(figsize=(10, 0.55 * len(names) + 1.6))
    height = 0.27
    for i, variant in enumerate(("200", "gzip", "304")):
        ys = [k + (i - 1) * height for k in range(len(names))]
        xs = [servers[n]["variants"].get(variant, {}).get("rps_median") or 0 for n in names]
        ax.barh(ys, xs, height=height, label=variant)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels([servers[n]["title"] for n in names], fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("requests/s, median (wrk -t2 -c50, same machine, same run)")
    ax.grid(alpha=0.3, axis="x", which="both")
    ax.legend(title="variant", loc="lower right")
    size = serving.get("feed", {}).get("bytes", 0) / 1000
    ax.set_title(f"Serving one {size:.0f} KB feed ({date})", fontsize=10)
    fig.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=100)
    plt.close(fig)
    return target
