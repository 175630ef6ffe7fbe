"""report.md: a Markdown summary a student or TA can read raw or rendered (GitHub, GitLab, VS Code).

The same templates render a Gradescope test's output (``output_format: "md"``): templates/function.md.j2 is a
function's explanation in both, so report.md and Gradescope cannot drift apart.

WHY the escaping: messages are partly student-controlled. In a table cell a ``|`` would split the row, and in
prose ``*``, ``_``, ``[``, ``<`` could turn into emphasis, links or raw HTML. Prose is backslash-escaped
(CommonMark allows escaping any ASCII punctuation), identifiers go in code spans, and code blocks are fenced
with more backticks than the code itself contains, so nothing a student prints can end a fence early.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from graders.report.plaintext import summarize, values_caption, values_table, where_grid
from graders.report.templating import render_template
from graders.report.text import format_number, format_points, format_seconds, one_line
from graders.report.view import FunctionView, ReportView

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~&])")
_LEADING_BULLET = re.compile(r"^([-+=])")  # a bullet list item or a setext heading underline
_LEADING_ORDINAL = re.compile(r"^(\d+)([.)])")  # an ordered list item
_BACKTICK_RUN = re.compile(r"`+")


def md_text(value: str) -> str:
    """Prose on one line with Markdown-significant punctuation escaped (safe in table cells too)."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", one_line(value))
    escaped = _LEADING_BULLET.sub(r"\\\1", escaped)
    return _LEADING_ORDINAL.sub(r"\1\\\2", escaped)


def md_code(value: str) -> str:
    """An inline code span that survives backticks inside ``value``."""
    text = one_line(value)
    if not text:
        return ""
    longest = max((len(run) for run in _BACKTICK_RUN.findall(text)), default=0)
    fence = "`" * (longest + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def md_cell(value: str) -> str:
    """Make already-formatted Markdown (e.g. a code span) safe inside a table cell: GFM splits cells at
    every unescaped ``|``, even inside code spans."""
    return value.replace("|", "\\|")


def md_fence(value: str, language: str = "") -> str:
    """A fenced code block whose fence is longer than any backtick run in ``value``."""
    longest = max((len(run) for run in _BACKTICK_RUN.findall(value)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{value.rstrip()}\n{fence}"


#: The filters every Markdown template uses.
FILTERS: dict[str, Callable[..., Any]] = {
    "md_text": md_text,
    "md_code": md_code,
    "md_cell": md_cell,
    "md_fence": md_fence,
    "points": format_points,
    "number": format_number,
    "seconds": format_seconds,
}
#: Plain-text pictures the templates put in fences.
HELPERS: dict[str, Callable[..., Any]] = {
    "where_grid": where_grid, "values_table": values_table, "values_caption": values_caption,
}


def render_markdown(view: ReportView) -> str:
    return render_template("report.md.j2", autoescape=False, filters=FILTERS, report=view, **HELPERS)


def render_function_markdown(function: FunctionView) -> str:
    """One function's status line and explanation (templates/function.md.j2, the same as report.md's section
    for it): a Gradescope test's output."""
    return render_template("gradescope_test.md.j2", autoescape=False, filters=FILTERS, fn=function,
                           **HELPERS).strip("\n")


def render_summary_markdown(view: ReportView) -> str:
    """The whole submission's summary: the total line as prose, problems and warnings in a code block."""
    first, _, rest = summarize(view).partition("\n")
    return md_text(first) + ("\n\n" + md_fence(rest) if rest.strip() else "")
