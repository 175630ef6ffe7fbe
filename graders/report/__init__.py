"""Report writers: one graded-submission dict ("nngrade.report/1") in, report files and a console table out.

Public API::

    write_reports(report, out_dir) -> {"json", "md", "html", "gradescope", "junit"} -> Path
    render_terminal_table(report, console=None) -> None

Files: report.json (the dict, strict JSON), report.md, report.html (self-contained, with heat maps),
results.json (Gradescope autograder format) and junit.xml. See the module docstrings for the choices.
"""

from __future__ import annotations

from graders.report.terminal import render_terminal_table
from graders.report.write import REPORT_FILES, render_reports, write_reports

__all__ = ["REPORT_FILES", "render_reports", "render_terminal_table", "write_reports"]
