"""Small heat-map PNGs of where a student's array differs from the expected one.

WHY a picture: a message names the worst index; the map shows the pattern (only the padded border, one
channel, every other column) that points at the bug. WHY these settings: the PNG must be reproducible byte
for byte for the same report (``Software`` metadata removed, fixed size and dpi, the default style instead
of the user's matplotlibrc), self-contained (embedded as a data: URI), and produced without pyplot's global
state, so it is safe in threads and never opens a window.
"""

from __future__ import annotations

import base64
import io
import textwrap
import warnings

import numpy as np

FIGURE_INCHES = 3.0
DPI = 80
NONFINITE_COLOUR = "#00b7eb"  # NaN/inf cells: a colour the magma map never uses


def heatmap_png(values: np.ndarray, label: str = "") -> bytes:
    """A PNG of the 2-D ``values`` (NaN/inf cells in cyan) titled with ``label``."""
    grid = np.asarray(values, dtype=np.float64)
    if grid.ndim != 2 or grid.size == 0:
        raise ValueError(f"a heat map needs a non-empty 2-D array, got shape {grid.shape}")

    import matplotlib
    import matplotlib.style
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    masked = np.ma.masked_invalid(grid)
    finite = grid[np.isfinite(grid)]
    low = float(min(finite.min(), 0.0)) if finite.size else 0.0
    high = float(finite.max()) if finite.size else 1.0
    if high <= low:
        high = low + 1.0
    cmap = matplotlib.colormaps["magma"].with_extremes(bad=NONFINITE_COLOUR)

    with matplotlib.style.context("default"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing glyphs for exotic characters in the label
        figure = Figure(figsize=(FIGURE_INCHES, FIGURE_INCHES), dpi=DPI)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        image = axes.imshow(masked, cmap=cmap, vmin=low, vmax=high, interpolation="nearest", aspect="auto")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.tick_params(labelsize=7)
        colorbar = figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
        colorbar.ax.tick_params(labelsize=7)
        if label:
            axes.set_title(textwrap.fill(label, 40, max_lines=2), fontsize=7, parse_math=False)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def png_data_uri(png: bytes) -> str:
    """The PNG as a data: URI for an <img src>, so the HTML report needs no side files."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
