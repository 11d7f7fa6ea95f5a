"""The usage charts, drawn on the server as inline SVG: no script, no library, nothing to load.

Colours come from the stylesheet (``.bar``, ``.axis``, ``.grid``); every bar carries its numbers
in ``data-*`` attributes and a ``<title>`` tooltip, so that tests and screen readers can read
what the picture shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

__all__ = ["Bar", "columns", "nice_max", "rows"]


@dataclass(frozen=True, slots=True)
class Bar:
    key: str
    """What the bar is (a day ``YYYY-MM-DD``, a model id)."""
    label: str
    """What the axis shows under or beside it."""
    value: int
    title: str
    """The tooltip."""


def nice_max(value: int) -> int:
    """The smallest of 1, 2, 2.5, 5 × 10^n at or above ``value`` (1 for nothing), for the axis."""
    if value <= 1:
        return 1
    scale = 1
    while True:
        for step in (1, 2, 2.5, 5):
            top = int(step * scale)
            if top >= value:
                return top
        scale *= 10


def _num(value: int) -> str:
    return f"{value:,}"


def columns(bars: Sequence[Bar], *, name: str, width: int = 720, height: int = 220) -> Markup:
    """A column per bar (days, left to right) with a value axis on the left."""
    left, right, top, bottom = 64, 8, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = nice_max(max((b.value for b in bars), default=0))
    slot = plot_w / max(len(bars), 1)
    gap = min(4.0, slot * 0.2)
    parts = [
        f'<svg class="chart" data-chart="{escape(name)}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(name)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i in range(5):
        value = peak * i // 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_num(value)}</text>')
    every = max(1, round(len(bars) / 10))
    for i, bar in enumerate(bars):
        x = left + i * slot + gap / 2
        h = plot_h * bar.value / peak
        if bar.value > 0:
            h = max(h, 1.5)
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{max(slot - gap, 1):.1f}" '
            f'height="{h:.1f}" data-key="{escape(bar.key)}" data-value="{bar.value}">'
            f"<title>{escape(bar.title)}</title></rect>"
        )
        if i % every == 0 or i == len(bars) - 1:
            parts.append(
                f'<text class="axis" x="{x + (slot - gap) / 2:.1f}" y="{height - 8}" text-anchor="middle">'
                f"{escape(bar.label)}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def rows(bars: Sequence[Bar], *, name: str, width: int = 720, row: int = 26) -> Markup:
    """A horizontal bar per item (models, largest first) with its label and value."""
    label_w, value_w = 250, 110
    plot_w = width - label_w - value_w
    height = max(len(bars), 1) * row + 4
    peak = max((b.value for b in bars), default=0) or 1
    parts = [
        f'<svg class="chart" data-chart="{escape(name)}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(name)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, bar in enumerate(bars):
        y = 2 + i * row
        w = plot_w * bar.value / peak
        if bar.value > 0:
            w = max(w, 1.5)
        label = bar.label if len(bar.label) <= 36 else bar.label[:35] + "…"
        parts.append(
            f'<text class="axis" x="{label_w - 8}" y="{y + row / 2 + 4:.1f}" text-anchor="end">'
            f"<title>{escape(bar.label)}</title>{escape(label)}</text>"
            f'<rect class="bar" x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" '
            f'data-key="{escape(bar.key)}" data-value="{bar.value}"><title>{escape(bar.title)}</title></rect>'
            f'<text class="value" x="{label_w + w + 6:.1f}" y="{y + row / 2 + 4:.1f}">{_num(bar.value)}</text>'
        )
    if not bars:
        parts.append(f'<text class="axis" x="{width / 2}" y="16" text-anchor="middle">No requests yet</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
