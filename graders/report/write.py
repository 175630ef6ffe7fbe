"""``write_reports``: every report file for one graded submission, rendered first, then written atomically.

WHY render everything before writing anything: a rendering bug must not leave a folder with a fresh
report.md next to last run's report.html. WHY report.json last: it is the file that tells ``batch --resume``
and course tools that a submission was graded, so when it exists the other files are already in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from graders.report.atomic import write_atomic
from graders.report.gradescope import gradescope_results
from graders.report.html import render_html
from graders.report.jsonsafe import dumps_json
from graders.report.junit import junit_xml
from graders.report.markdown import render_markdown
from graders.report.view import build_view

REPORT_FILES: dict[str, str] = {
    "md": "report.md",
    "html": "report.html",
    "gradescope": "results.json",
    "junit": "junit.xml",
    "json": "report.json",  # last on purpose, see the module docstring
}


def render_reports(report: Mapping[str, Any]) -> dict[str, bytes]:
    """The bytes of every report file, keyed like :data:`REPORT_FILES`. Same report, same bytes."""
    view = build_view(report)
    return {
        "md": render_markdown(view).encode("utf-8"),
        "html": render_html(view).encode("utf-8"),
        "gradescope": dumps_json(gradescope_results(view)).encode("utf-8"),
        "junit": junit_xml(view),
        "json": dumps_json(report).encode("utf-8"),
    }


def write_reports(report: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write report.json, report.md, report.html, results.json (Gradescope) and junit.xml into ``out_dir``
    (created if needed), each atomically; returns their paths keyed "json", "md", "html", "gradescope",
    "junit"."""
    out_dir = Path(out_dir)
    contents = render_reports(report)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for key, filename in REPORT_FILES.items():
        paths[key] = out_dir / filename
        write_atomic(paths[key], contents[key])
    return paths
