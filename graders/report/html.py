"""report.html: one self-contained page (inline CSS, heat maps as data: URIs, no scripts, no external links).

WHY self-contained: the file is mailed, attached to an LMS or opened from a grading archive offline years
later. WHY autoescape plus a Content-Security-Policy: student text is escaped by jinja2, and even if a bug
ever let markup through, the policy forbids scripts and any resource that is not inline.
"""

from __future__ import annotations

from graders.report.heatmap import heatmap_png, png_data_uri
from graders.report.plaintext import DIFFERS_MARK, value_text, values_caption
from graders.report.templating import render_template
from graders.report.text import format_number, format_points, format_seconds
from graders.report.view import STATUS_MEANINGS, CheckView, ReportView


def status_class(status: str) -> str:
    """A CSS class for a status badge; unknown statuses share one neutral style."""
    return f"status-{status}" if status in STATUS_MEANINGS else "status-unknown"


def heatmap_uri(check: CheckView) -> str | None:
    """The heat map of a check's where-map, or None: no map, or the array is small enough that its numbers
    are shown instead (graders/small_values.py)."""
    if check.picture is None:
        return None
    return png_data_uri(heatmap_png(check.picture.values, check.picture.label))


def render_html(view: ReportView) -> str:
    return render_template(
        "report.html.j2",
        autoescape=True,
        filters={
            "points": format_points,
            "number": format_number,
            "seconds": format_seconds,
            "status_class": status_class,
            "value": value_text,
        },
        report=view,
        heatmap_uri=heatmap_uri,
        values_caption=values_caption,
        differs_mark=DIFFERS_MARK,
    )
