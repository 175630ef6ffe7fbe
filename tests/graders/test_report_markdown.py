"""report.md: table cells cannot be split, prose cannot become markup, code fences cannot be closed early."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from graders.report.markdown import md_code, md_fence, md_text, render_markdown
from graders.report.samples import (
    IN_PLACE_WARNING,
    STAND_IN_WARNING,
    hostile_function,
    make_report,
    missing_function,
    module_problem_report,
    partial_function_with_values,
    partial_function_with_where,
    passed_function,
    passed_function_with_warning,
    sample_report,
)
from graders.report.view import build_view, first_sentence

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
        "## Where points were lost",
        "## All functions",
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


def unescaped(markdown: str) -> str:
    """The text a reader sees: Markdown's backslash escapes removed."""
    return re.sub(r"\\(.)", r"\1", markdown)


def test_warnings_of_passing_functions_and_of_the_submission_are_listed() -> None:
    report = make_report([passed_function_with_warning(), passed_function()], warnings=[STAND_IN_WARNING])
    text = markdown_of(report)
    section = unescaped(text.split("## Warnings\n", 1)[1])
    assert section.splitlines()[1:3] == [f"- {STAND_IN_WARNING}", f"- `relu_backward` (passed): {IN_PLACE_WARNING}"]
    assert "## `relu_backward`" not in text  # a passing function still gets no section of its own


def test_no_warnings_section_without_warnings() -> None:
    assert "## Warnings" not in markdown_of(make_report([passed_function()]))


def test_a_small_failing_array_is_shown_as_numbers_not_as_a_grid() -> None:
    text = markdown_of(make_report([partial_function_with_values()]))
    table = text.split("  ```text\n", 1)[1].split("  ```", 1)[0].splitlines()
    assert [line.split() for line in table] == [
        ["index", "expected", "got", "difference"],
        ["(0,", "0)", "0", "0", "0"],
        ["(0,", "1)", "0.12573", "-0", "-0.12573", "✗"],
        ["(0,", "2)", "-0.132105", "-0.132105", "0"],
    ]
    assert "✗ marks the 1 entry outside the tolerance (atol 1e-09, rtol 1e-07)" in text
    assert "# . ." not in text and "Where it differs" not in text  # no character grid of a 1x3 map


# ------------------------------------------------------------------ the first screen: total, then what lost points
LOST_LINE = re.compile(r"^- \[`([^`]+)`\]\(#([^)]+)\) (\S+ / \S+): (.*)$")


def lost_points_lines(markdown: str) -> list[str]:
    section = markdown.split("## Where points were lost\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line]


def test_the_report_opens_with_the_total_then_one_line_per_function_that_lost_points() -> None:
    text = markdown_of(sample_report())
    lines = text.splitlines()
    assert lines[0] == "# nngrade report: cs231n-a2" and lines[2] == "Score: **3 / 8** (1 of 5 functions passed)"
    assert text.index("## Where points were lost") < text.index("| Function |") < text.index("## `")
    parsed = [LOST_LINE.match(line) for line in lost_points_lines(text)]
    assert all(parsed)
    assert [(m.group(1), m.group(3)) for m in parsed if m] == [
        ("conv_backward_naive", "2 / 3"), ("spatial_groupnorm_backward", "0 / 2"),
        ("max_pool_forward_naive", "0 / 1"), ("relu_forward", "nan / 1")]  # affine_forward passed: no line
    summaries = [unescaped(m.group(4)) for m in parsed if m]
    assert summaries[0].startswith("The error sits only on the padded border")
    assert summaries[1] == "The function was not found in the submission."
    assert "<script>" not in "\n".join(lost_points_lines(text))  # hostile text stays escaped


def test_every_lost_points_link_lands_on_its_function_heading() -> None:
    text = markdown_of(sample_report())
    for match in (LOST_LINE.match(line) for line in lost_points_lines(text)):
        assert match
        name, target = match.group(1), match.group(2)
        assert target == f"fn-{name}"
        assert text.count(f'<a id="{target}"></a>') == 1
        assert f'<a id="{target}"></a>\n\n## `{name}`:' in text  # the anchor sits right above the section


def test_functions_a_module_problem_kept_from_grading_share_one_line_linking_to_problems() -> None:
    text = markdown_of(module_problem_report())
    assert text.index('<a id="problems"></a>\n\n## Problems') < text.index("## Where points were lost")
    assert lost_points_lines(text) == [
        "- [Not graded](#problems) because `cs231n/layers.py` did not import (0 / 4): `affine_forward`, "
        "`affine_backward`",
        "- [Not graded](#problems) because `cs231n/layer_utils.py` did not import (0 / 1): `affine_relu_forward`",
    ]


def test_no_lost_points_section_when_everything_passed() -> None:
    assert "Where points were lost" not in markdown_of(make_report([passed_function()]))


def test_a_summary_is_the_first_sentence_cut_at_a_word() -> None:
    assert first_sentence("It raised at layers.py, line 3: x. Then fix it.") == "It raised at layers.py, line 3: x."
    assert first_sentence("one\nline  only") == "one line only"
    long = "word " * 100
    cut = first_sentence(long, limit=50)
    assert len(cut) <= 50 and cut.endswith("word…")
