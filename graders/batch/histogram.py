"""Score histograms for summary.html as inline SVG.

WHY SVG written by hand instead of matplotlib PNGs: a histogram of a handful of students needs a few bars and
readable labels, not a 30 kB picture whose tick labels shrink with the image. Inline SVG is part of the page
(no resource for the Content-Security-Policy to refuse, nothing to decode), scales crisply, is rendered in
microseconds and its text is the page's font at a size of our choosing. Only numbers and escaped labels go
into it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from markupsafe import Markup, escape

BINS = 10
BAR_COLOUR = "#3b6ea8"


def varies(values: Sequence[float]) -> bool:
    """True when not everyone got the same score: only then does a histogram say anything."""
    return len({round(float(v), 6) for v in values}) > 1


def _label(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def histogram_svg(values: Sequence[float], top: float, label: str, width: int = 220, height: int = 64) -> Markup:
    """Bars of how many students scored in each tenth of [0, top], with the axis ends and the highest count
    labelled; ``label`` names the picture for screen readers."""
    upper = top if top > 0 else 1.0
    counts, _ = np.histogram(np.clip(np.asarray(values, dtype=float), 0.0, upper), bins=BINS, range=(0.0, upper))
    tallest = max(int(counts.max()), 1)
    left, bottom, text_height = 18, 14, 10
    plot_w, plot_h = width - left - 2, height - bottom - 2
    bar_w = plot_w / BINS
    parts = [
        f'<svg class="hist" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
    ]
    for index, count in enumerate(counts.tolist()):
        if not count:
            continue
        bar_h = plot_h * count / tallest
        x, y = left + index * bar_w, 2 + plot_h - bar_h
        parts.append(f'<rect x="{x + 0.5:.1f}" y="{y:.1f}" width="{bar_w - 1:.1f}" height="{bar_h:.1f}" '
                     f'fill="{BAR_COLOUR}"><title>{count} student{"s" if count != 1 else ""}</title></rect>')
    axis_y = 2 + plot_h
    parts += [
        f'<line x1="{left}" y1="{axis_y}" x2="{left + plot_w}" y2="{axis_y}" stroke="#888" stroke-width="1"/>',
        f'<text x="{left}" y="{height - 2}" font-size="{text_height}" fill="#555">0</text>',
        f'<text x="{left + plot_w}" y="{height - 2}" font-size="{text_height}" fill="#555" '
        f'text-anchor="end">{_label(upper)}</text>',
        f'<text x="{left - 3}" y="{2 + text_height - 1}" font-size="{text_height}" fill="#555" '
        f'text-anchor="end">{tallest}</text>',
        "</svg>",
    ]
    return Markup("".join(parts))
