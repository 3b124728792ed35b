"""Line charts as server-rendered SVG: no script, no inline style, so the pages' CSP holds.

Colours are SVG presentation attributes (stroke, fill), which a CSP's style-src does not
govern (CSP3 §6.1.3 covers style elements and attributes only); the chart carries its own
<title> and <desc>, and the page shows the same numbers in a table beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

# Distinguishable on white and for the common colour-vision deficiencies (Okabe & Ito, 2008).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999999")
WIDTH, HEIGHT = 840, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 28


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[int]
    colour: str


def _nice_max(peak: int) -> int:
    """A round top for the axis: 1, 2, 5 × a power of ten, at or above the peak."""
    top = 1
    while True:
        for step in (1, 2, 5):
            if step * top >= peak:
                return step * top
        top *= 10


def line_chart(
    chart_id: str, title: str, description: str, days: Sequence[str], series: Sequence[Series]
) -> Markup:
    """An <svg> with one polyline per series over the days (ISO dates, oldest first)."""
    top = _nice_max(max([1, *(v for s in series for v in s.values)]))
    span_x = WIDTH - LEFT - RIGHT
    span_y = HEIGHT - TOP - BOTTOM
    step = span_x / max(1, len(days) - 1)

    def x(i: int) -> float:
        return LEFT + i * step

    def y(v: int) -> float:
        return TOP + span_y * (1 - v / top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        value = round(top * fraction)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            'stroke="#dddddd" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#444444">{value:,}</text>'
        )
    if days:
        marks = sorted({0, len(days) - 1, *range(0, len(days), max(1, len(days) // 6))})
        for i in marks:
            parts.append(
                f'<text x="{x(i):.1f}" y="{HEIGHT - 8}" text-anchor="middle" font-size="11" '
                f'fill="#444444">{escape(days[i][5:])}</text>'
            )
    for s in series:
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s.values))
        parts.append(
            f'<polyline fill="none" stroke="{s.colour}" stroke-width="2" points="{points}">'
            f"<title>{escape(s.label)}</title></polyline>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def swatch(colour: str) -> Markup:
    """A small square of the series' colour, for the legend (decorative: the label says it)."""
    return Markup(
        '<svg class="swatch" width="12" height="12" viewBox="0 0 12 12" aria-hidden="true">'
        f'<rect width="12" height="12" fill="{escape(colour)}"/></svg>'
    )
