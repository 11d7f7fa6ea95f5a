"""The SVG charts: scale, bars that carry their numbers, and escaped labels."""

from __future__ import annotations

import re

from unigate.console.charts import Bar, columns, nice_max, rows


def test_nice_max() -> None:
    assert [nice_max(v) for v in (0, 1, 3, 20, 21, 26, 700, 1001)] == [1, 1, 5, 20, 25, 50, 1000, 2000]


def test_columns_scale_to_the_axis() -> None:
    svg = str(columns([Bar("d1", "01", 50, "t"), Bar("d2", "02", 100, "t"), Bar("d3", "03", 0, "t")], name="c"))
    heights = [float(h) for h in re.findall(r'class="bar"[^>]* height="([\d.]+)"', svg)]
    assert heights[1] == 2 * heights[0]
    assert heights[2] == 0
    assert 'data-key="d2" data-value="100"' in svg
    assert ">100</text>" in svg  # the top of the axis


def test_labels_are_escaped() -> None:
    svg = str(rows([Bar("<m>", "<script>alert(1)</script>", 5, "a & b")], name="m"))
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "a &amp; b" in svg
    assert "No requests yet" in str(rows([], name="m"))
