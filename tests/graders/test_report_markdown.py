"""report.md: table cells cannot be split, prose cannot become markup, code fences cannot be closed early."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from graders.report.markdown import md_code, md_fence, md_text, render_markdown
from graders.report.samples import (
    hostile_function,
    make_report,
    missing_function,
    partial_function_with_where,
    passed_function,
    sample_report,
)
from graders.report.view import build_view

UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def markdown_of(report: dict) -> str:
    return render_markdown(build_view(report))


def table_rows(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("|")]


def test_summary_table_lists_every_function_and_the_total() -> None:
    text = markdown_of(sample_report())
    rows = table_rows(text)
    assert len(rows) == 2 + 5 + 1  # header, rule, functions, total
    assert rows[3] == "| `conv_backward_naive` | partial | 2 / 3 | 0.40 s |"
    assert rows[-1].startswith("| **Total** | 1 of 5 passed | **3 / 8** |")
    assert all(len(UNESCAPED_PIPE.findall(row)) == 5 for row in rows)


def test_pipes_in_names_are_escaped_in_table_cells() -> None:
    function = dict(passed_function(), name="relu|forward`x`", status="pa|ssed")
    rows = table_rows(markdown_of(make_report([function])))
    assert all(len(UNESCAPED_PIPE.findall(row)) == 5 for row in rows)
    assert "relu\\|forward" in rows[2]


def test_only_functions_that_did_not_pass_get_a_section() -> None:
    text = markdown_of(make_report([passed_function(), partial_function_with_where(), missing_function()]))
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## `conv_backward_naive`: partial (2 / 3)",
        "## `spatial_groupnorm_backward`: missing (0 / 2)",
    ]
    assert "the function was not found in the submission" in text


def test_failure_details_are_all_there() -> None:
    text = markdown_of(make_report([partial_function_with_where()]))
    assert "**dx** (0 / 1, 12 cases): dx differs at index (0, 1, 0, 3)" in text
    assert "```python\nimport numpy as np\n" in text
    assert "padded border" in text and "dout was modified in place" in text
    assert "  # . . #\n" in text  # the where-map grid, indented into the list item


def test_hostile_text_cannot_become_markup_or_terminal_control() -> None:
    text = markdown_of(make_report([hostile_function()]))
    assert "\x00" not in text and "\x1b" not in text and "\u202e" not in text
    prose = text.split("````python")[0]
    assert "<script>" not in prose and "\\<script\\>" in prose
    assert "**bold**" not in prose
    # the repro contains ``` so its fence is longer and the code stays verbatim inside it
    assert "````python\nprint('```')\n# <script>" in text


def test_md_text_escapes_block_markers_at_the_start() -> None:
    assert md_text("- not a list") == "\\- not a list"
    assert md_text("1. not ordered") == "1\\. not ordered"
    assert md_text("a\nb\tc") == "a b c"


def test_md_code_survives_backticks() -> None:
    assert md_code("plain") == "`plain`"
    assert md_code("a`b") == "``a`b``"
    assert md_code("`x") == "`` `x ``"


@given(st.text(max_size=30))
def test_fence_is_never_closed_by_its_content(code: str) -> None:
    fenced = md_fence(code)
    fence = fenced.split("\n", 1)[0]
    body = fenced[len(fence) + 1 : -len(fence) - 1]
    assert fenced.endswith("\n" + fence)
    assert fence not in body


@given(st.text(max_size=30))
def test_md_text_keeps_table_cells_whole(text: str) -> None:
    escaped = md_text(text)
    assert "\n" not in escaped
    assert not UNESCAPED_PIPE.search(escaped)
