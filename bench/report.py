"""The targets of the issue checked against one run's figures, the tables, and the files."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from bench import machine, servercompare

MIB = 2**20
Row = list[str]


def _get(d: Any, *keys: Any) -> Any:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _target(
    targets: list[dict[str, Any]],
    tid: str,
    text: str,
    value: float | None,
    ok: Callable[[float], bool],
    shown: str,
) -> None:
    targets.append(
        {
            "id": tid,
            "target": text,
            "value": value,
            "shown": shown if value is not None else "not measured",
            "pass": None if value is None else bool(ok(value)),
        }
    )


def targets(out: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target of the issue, each a ratio or figure from this run: pass, fail or None."""
    t: list[dict[str, Any]] = []
    sc = out.get("scenarios", {})
    servers = _get(sc, "serving", "servers") or {}

    def rps(name: str, variant: str) -> float | None:
        v = _get(servers, name, "variants", variant, "rps_median")
        return float(v) if v else None

    ratio = servercompare.ratio

    for variant in ("200", "304"):
        r = ratio(rps("feedsvc_app", variant), rps("minimal_flask", variant))
        _target(
            t,
            f"1-app-{variant}",
            f"app path {variant} ≥ 1.0× minimal Flask from memory (aim 1.5×)",
            r,
            lambda x: x >= 1.0,
            f"{r:.2f}×" if r else "",
        )
    # The polling limit's cost: the app path with the limit counting every request (a burst
    # no run spends) against minimal Flask, and against itself with the limit off.
    r = ratio(rps("feedsvc_app_limited", "200"), rps("minimal_flask", "200"))
    _target(
        t,
        "6-limit-on",
        "app path 200 with the polling limit on ≥ 1.3× minimal Flask",
        r,
        lambda x: x >= 1.3,
        f"{r:.2f}×" if r else "",
    )
    costs = {v: ratio(rps("feedsvc_app_limited", v), rps("feedsvc_app", v)) for v in ("200", "304")}
    r = costs["200"]
    _target(
        t,
        "6-limit-cost",
        "polling limit on costs the app path ≤ 5% of its 200 rate (limit on / off ≥ 0.95)",
        r,
        lambda x: x >= 0.95,
        f"200: {r:.3f}×, 304 (not counted): {costs['304']:.3f}×"
        if r and costs["304"]
        else (f"200: {r:.3f}×" if r else ""),
    )
    servercompare.add(partial(_target, t), rps)
    r = ratio(rps("feedsvc_app", "200"), rps("django_syndication", "200"))
    _target(
        t,
        "1-django",
        "app path 200 ≥ 30× Django syndication",
        r,
        lambda x: x >= 30,
        f"{r:.0f}×" if r else "",
    )
    q = _get(sc, "profile", "cache_hit", "document_queries")
    n = _get(sc, "profile", "cache_hit", "requests")
    _target(
        t,
        "1-no-query",
        "no database query on a cache hit",
        None if q is None else float(q),
        lambda x: x == 0,
        f"{q} document queries in {n} polls",
    )
    r = ratio(rps("feedsvc_app", "304"), rps("feedsvc_app", "200"))
    _target(
        t,
        "1-304-cheaper",
        "app path: 304s cost less than 200s",
        r,
        lambda x: x > 1.0,
        f"304 = {r:.2f}× the 200 rate" if r else "",
    )
    for server, key, front in (
        ("feedsvc_deploy_static", "deploy", "nginx + static export"),
        ("feedsvc_deploy_cache", "cache", "nginx proxy_cache variant"),
    ):
        for variant in ("200", "gzip", "304"):
            r = ratio(rps(server, variant), rps("nginx_static", variant))
            _target(
                t,
                f"2-{key}-{variant}",
                f"deploy path ({front}) {variant} ≥ 0.8× nginx static file",
                r,
                lambda x: x >= 0.8,
                f"{r:.2f}×" if r else "",
            )
    one = _get(sc, "freshness", "ticks", "1") or {}
    for path, label in (("deploy_static", "static export"), ("deploy_cache", "proxy_cache")):
        s = _get(one, "paths", path)
        p99 = s.get("p99_s") if s and not s.get("missed") else None
        _target(
            t,
            f"2-fresh-{path}",
            f"deploy path ({label}) shows a new article in time: p99 < 1.5 s at a 1 s tick"
            ", none missed",
            p99,
            lambda x: x < 1.5,
            f"p99 {p99} s" if p99 is not None else "",
        )
    s = _get(one, "paths", "app")
    p99 = s.get("p99_s") if s and not s.get("missed") else None
    _target(
        t,
        "3-fresh",
        "freshness p99 < 1.5 s at a 1 s tick (app path), none missed",
        p99,
        lambda x: x < 1.5,
        f"p99 {p99} s (p50 {s.get('p50_s') if s else None} s)",
    )
    fr = _get(sc, "regen", "full_rebuild") or {}
    r = fr.get("ratio_cold_to_feedgen")
    _target(
        t,
        "4-rebuild",
        f"full rebuild ({fr.get('archive', '?')}, cold) ≤ 1.5× feedgen alone",
        r,
        lambda x: x <= 1.5,
        f"{r:.2f}× ({_get(fr, 'cold', 'seconds'):.1f} s vs "
        f"{_get(fr, 'feedgen_alone', 'seconds'):.1f} s)"
        if r
        else "",
    )
    scales = _get(sc, "regen", "scales") or {}
    for label, s in scales.items():
        idle = _get(s, "idle_tick_ms", "median")
        changed = _get(s, "changed_tick_ms", "median")
        _target(
            t,
            f"4-idle-{label}",
            f"tick, nothing changed, {label} archive < 10 ms",
            idle,
            lambda x: x < 10,
            f"{idle} ms",
        )
        _target(
            t,
            f"4-changed-{label}",
            f"tick, one section changed, {label} archive < 50 ms",
            changed,
            lambda x: x < 50,
            f"{changed} ms",
        )
    if len(scales) >= 2:
        labels = list(scales)
        for kind in ("idle_tick_ms", "changed_tick_ms"):
            lo = _get(scales[labels[0]], kind, "median")
            hi = _get(scales[labels[-1]], kind, "median")
            r = ratio(hi, lo)
            _target(
                t,
                f"4-flat-{kind}",
                f"{kind.replace('_ms', '').replace('_', ' ')} independent of archive size "
                f"({labels[-1]} ≤ 2× {labels[0]})",
                r,
                lambda x: x <= 2.0,
                f"{r:.2f}×" if r else "",
            )
    if scales:
        plans = _get(scales[list(scales)[-1]], "query_plans") or []
        scans = [p for p in plans if any("articles" in d for d in p["full_scan"])]
        _target(
            t,
            "4-indexes",
            "article queries use indexes (no full scan of articles)",
            float(len(scans)),
            lambda x: x == 0,
            f"{len(scans)} of {len(plans)} SELECTs scan articles",
        )
    mem = sc.get("memory") or {}
    worst = mem.get("worker_peak_rss_max_bytes")
    _target(
        t,
        "5-web-memory",
        f"web worker peak RSS < 150 MiB after serving all {mem.get('documents', '?')} documents",
        worst / MIB if worst else None,
        lambda x: x < 150,
        f"{worst / MIB:.0f} MiB" if worst else "",
    )
    peak = _get(fr, "cold", "peak_rss_bytes")
    workers = _get(fr, "cold", "render_processes") or 0
    worker_peak = _get(fr, "cold", "render_process_peak_rss_bytes") or 0
    _target(
        t,
        "5-scheduler-memory",
        "scheduler peak RSS during the full rebuild (reported)",
        peak / MIB if peak else None,
        lambda x: True,
        (f"{peak / MIB:.0f} MiB" if peak else "")
        + (f" + {workers} render processes ≤ {worker_peak / MIB:.0f} MiB each" if workers else ""),
    )
    chart = _get(sc, "growth", "chart")
    _target(
        t,
        "6-chart",
        "cost-growth chart written",
        1.0 if chart else None,
        lambda x: True,
        str(chart),
    )
    return t


# --- tables ----------------------------------------------------------------------------------


def _fmt_rps(x: Any) -> str:
    return f"{x:,.0f}" if isinstance(x, int | float) else "—"


def serving_rows(out: dict[str, Any]) -> list[Row]:
    servers = _get(out, "scenarios", "serving", "servers") or {}
    rows = []
    for name, entry in servers.items():
        for variant, v in entry["variants"].items():
            ratio = v.get("ratio")
            rows.append(
                [
                    entry["title"],
                    variant,
                    _fmt_rps(v.get("rps_median")),
                    f"{v.get('p99_ms_median', 0):.2f}",
                    f"{ratio:.2f}×" if ratio else "—",
                    entry["reference"] if name != entry["reference"] else "(reference)",
                    _fmt_rps(v.get("rps_best")),
                    f"{v['other_cpu_pct_max']:.0f}%"
                    if v.get("other_cpu_pct_max") is not None
                    else "—",
                ]
            )
    return rows


def freshness_rows(out: dict[str, Any]) -> list[Row]:
    rows = []
    for tick, r in (_get(out, "scenarios", "freshness", "ticks") or {}).items():
        for path, s in r["paths"].items():
            rows.append(
                [
                    f"{tick} s",
                    path,
                    str(s["seen"]),
                    str(s["missed"]),
                    f"{s['p50_s']}" if s["p50_s"] is not None else "—",
                    f"{s['p99_s']}" if s["p99_s"] is not None else "—",
                ]
            )
    return rows


def regen_rows(out: dict[str, Any]) -> list[Row]:
    rows = []
    for label, s in (_get(out, "scenarios", "regen", "scales") or {}).items():
        rows.append(
            [
                label,
                f"{s['idle_tick_ms']['median']} / {s['idle_tick_ms']['p99']}",
                f"{s['changed_tick_ms']['median']} / {s['changed_tick_ms']['max']}",
                str(s["queries_idle_tick"]),
                str(s["queries_changed_tick"]),
                f"{s['database_bytes'] / 2**30:.2f}",
            ]
        )
    return rows


def search_rows(out: dict[str, Any]) -> list[Row]:
    rows = []
    for label, s in (_get(out, "scenarios", "search", "scales") or {}).items():
        for name, q in s["queries"].items():
            rows.append([label, name, f"{q['ms']['median']} / {q['ms']['p99']}", str(q["rows"])])
        if s.get("index_build_s") is not None:
            rows.append(
                [label, "search index built on the cached archive", f"{s['index_build_s']} s", "—"]
            )
    return rows


def rebuild_rows(out: dict[str, Any]) -> list[Row]:
    fr = _get(out, "scenarios", "regen", "full_rebuild")
    if not fr:
        return []
    rows = []
    for key, label in (
        ("cold", "feedsvc full rebuild, cold (every document written)"),
        ("warm", "feedsvc full rebuild, warm (nothing changed)"),
        ("feedgen_alone", "feedgen alone (RSS+Atom) + json.dumps"),
    ):
        r = fr[key]
        times = sorted(x["seconds"] for x in fr.get("runs", {}).get(key, [r]))
        rows.append(
            [
                label,
                f"{r['seconds']:.1f}"
                + (f" ({times[0]:.1f}-{times[-1]:.1f})" if len(times) > 1 else ""),
                f"{r['seconds'] / fr['feedgen_alone']['seconds']:.2f}×",
                f"{r['peak_rss_bytes'] / MIB:.0f}",
            ]
        )
    return rows


def growth_rows(out: dict[str, Any]) -> list[Row]:
    g = _get(out, "scenarios", "growth") or {}
    rows = []
    sizes = _get(g, "serving", "sizes") or {}
    for n, r in (g.get("render") or {}).items():
        serve = sizes.get(n, {})
        app = _get(serve, "servers", "feedsvc_app", "rps_median")
        ngx = _get(serve, "servers", "nginx_static", "rps_median")
        rows.append(
            [
                n,
                f"{r['ms']['rss']} / {r['ms']['atom']} / {r['ms']['json']}",
                f"{r['ms_per_item']}",
                f"{serve.get('bytes', r['bytes']['rss']) / 1024:.0f}",
                _fmt_rps(app),
                _fmt_rps(ngx),
            ]
        )
    return rows


def _text_table(headers: Row, rows: list[Row]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(r: Row) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def _md_table(headers: Row, rows: list[Row]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


SECTIONS: list[tuple[str, Row, Callable[[dict[str, Any]], list[Row]]]] = [
    (servercompare.CAPACITY_TITLE, ["path", "subscribers"], servercompare.capacity_rows),
    (
        "Serving (wrk -t2 -c50; req/s and p99: median of runs; ratio to the reference, same "
        "variant; others: most CPU that other processes on the machine used during one of "
        "the runs, % of one core)",
        ["scenario", "variant", "req/s", "p99 ms", "ratio", "vs", "best req/s", "others"],
        serving_rows,
    ),
    (
        "Freshness (POST returned → article in the served section feed)",
        ["tick", "read through", "seen", "missed", "p50 s", "p99 s"],
        freshness_rows,
    ),
    (
        "Scheduler ticks (1,000 sections; ms median / p99 or max)",
        ["archive", "idle tick ms", "one-change tick ms", "queries idle", "queries change", "GiB"],
        regen_rows,
    ),
    (
        "Admin article list: search, filters, pages (feedsvc.listing.list_page; ms median / p99)",
        ["archive", "request", "ms", "rows"],
        search_rows,
    ),
    (
        "Full rebuild of every section (RSS, Atom, JSON)",
        ["what", "seconds: median (range)", "vs feedgen", "peak RSS MiB"],
        rebuild_rows,
    ),
    (
        "Cost growth (render ms rss/atom/json; serving 200 identity req/s)",
        ["items", "render ms", "ms/item", "KiB", "feedsvc app", "nginx static"],
        growth_rows,
    ),
]


def _target_rows(out: dict[str, Any]) -> list[Row]:
    mark = {True: "PASS", False: "FAIL", None: "—"}
    return [[mark[t["pass"]], t["target"], t["shown"]] for t in out.get("targets", [])]


def _extra_lines(out: dict[str, Any]) -> list[str]:
    lines = []
    busy = {
        name: r.get("other_cpu_pct_of_one_core")
        for name, r in out.get("scenarios", {}).items()
        if r.get("other_cpu_pct_of_one_core")
    }
    inter = out.get("interference") or {}
    if inter.get("steal_pct") is not None:
        lines.append(
            f"CPU steal (the hypervisor running others on our virtual CPUs) over the run: "
            f"{inter['steal_pct']}% of CPU time."
        )
    if busy:
        lines.append(
            "Other work on the machine (mean CPU of processes outside the benchmark, % of one "
            "core): " + ", ".join(f"{k} {v:.0f}%" for k, v in busy.items())
        )
    mem = _get(out, "scenarios", "memory")
    if mem:
        workers = ", ".join(
            f"{w['peak_rss_bytes'] / MIB:.0f} MiB" for w in mem["workers_after"].values()
        )
        lines.append(
            f"Web workers after serving all {mem['documents']} documents of the {mem['archive']} "
            f"archive ({mem['requests']} requests): peak RSS {workers}."
        )
    for name, why in {
        **out.get("skipped", {}),
        **(_get(out, "scenarios", "serving", "skipped") or {}),
    }.items():
        lines.append(f"Skipped {name}: {why}")
    for name, why in out.get("failed", {}).items():
        lines.append(f"FAILED {name}: {why}")
    return lines


def render(out: dict[str, Any], markdown: bool = False) -> str:
    table = _md_table if markdown else _text_table
    m = out["machine"]
    head = f"feedsvc benchmark, {out['date']}, {machine.summary(m)}"
    code = out.get("code", {})
    parts = [
        f"### {head}" if markdown else head,
        f"feedsvc at {code.get('git_commit')} (code hash {code.get('code_sha256')}). "
        + out["note"],
        *(f"WARNING: {w}" for w in out.get("warnings", [])),
    ]
    if out["options"]["smoke"]:
        parts.append("SMOKE RUN: tiny data, short runs; the figures mean nothing.")
    for title, headers, rows_of in SECTIONS:
        rows = rows_of(out)
        if rows:
            parts.append(f"**{title}**" if markdown else title)
            parts.append(table(headers, rows))
    extra = _extra_lines(out)
    if extra:
        parts.append("\n".join(f"- {x}" if markdown else x for x in extra))
    parts.append("**Targets**" if markdown else "Targets")
    parts.append(table(["", "target", "this run"], _target_rows(out)))
    for key, alt in (("serving", "serving"), ("growth", "cost growth")):
        chart = _get(out, "scenarios", key, "chart")
        if chart and markdown:
            parts.append(f"![{alt}]({chart})")
    parts.append(f"Total time: {out.get('total_seconds', 0) / 60:.1f} min.")
    return "\n\n".join(parts) + "\n"


def write(out: dict[str, Any], results_dir: Path) -> list[Path]:
    """latest.json, a dated copy, latest.md (the README's table) and the chart."""
    results_dir.mkdir(parents=True, exist_ok=True)
    written = []
    serving = _get(out, "scenarios", "serving")
    if serving and serving.get("servers"):
        try:
            drawn = servercompare.chart(serving, results_dir / "serving.png", out["date"])
        except ImportError:  # the dev install alone (the smoke test): no matplotlib
            out.setdefault("skipped", {})["serving chart"] = "matplotlib is not installed"
        else:
            written.append(drawn)
            serving["chart"] = "serving.png"
    growth = _get(out, "scenarios", "growth")
    if growth and growth.get("render"):
        from bench.growth import chart

        growth["date"] = out["date"]
        written.append(chart(growth, results_dir / "growth.png"))
        growth["chart"] = "growth.png"
        out["targets"] = targets(out)
    text = json.dumps(out, indent=1, default=str)
    stamp = out["date"].replace(":", "").replace("+0000", "Z")[:17]
    for name in ("latest.json", f"{stamp}.json"):
        (results_dir / name).write_text(text)
        written.append(results_dir / name)
    (results_dir / "latest.md").write_text(render(out, markdown=True))
    written.append(results_dir / "latest.md")
    return written
