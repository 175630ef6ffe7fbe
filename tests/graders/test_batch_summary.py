"""summary.html read top-down: totals, a students x functions matrix whose cells link to each student's
function section, the entries that need a look, one compact row per function (diagnoses with the students who
hit each), histograms only where scores differ."""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from graders.batch import BatchOptions, run_batch
from graders.batch.histogram import histogram_svg, varies
from graders.batch.outcome import EntryOutcome
from graders.batch.progress import make_progress
from graders.batch.summary import fraction_colour, render_summary, summarise
from tests.graders.conftest import CORRECT_VECTORISED, DENSE_TOML, with_override, write_tree

FUNCTIONS = {"f": 2.0, "g": 4.0}


def report(scores: dict[str, float], statuses: dict[str, str] | None = None,
           diagnoses: dict[str, list[str]] | None = None) -> dict[str, Any]:
    statuses, diagnoses = statuses or {}, diagnoses or {}
    return {"score": sum(scores.values()), "max_score": 6.0, "duration_s": 1.0, "warnings": [],
            "functions": [{"name": name, "score": score, "max_score": FUNCTIONS[name],
                           "status": statuses.get(name, "passed" if score == FUNCTIONS[name] else "partial"),
                           "diagnosis": diagnoses.get(name, []), "student_s": 0.1} for name, score in scores.items()]}


def cells(page: str, student: str) -> list[tuple[str, str, str]]:
    """(background, href, text) of each function cell in ``student``'s matrix row."""
    row = re.search(rf'<tr><td class="student"[^>]*>(?:<a [^>]*>)?{re.escape(student)}<.*?</tr>', page, re.S)
    assert row is not None, student
    return re.findall(r'<td style="background: ([^"]*)"><a href="([^"]*)" title="[^"]*">([^<]*)</a></td>', row[0])


def test_matrix_cells_are_coloured_by_the_share_earned_and_link_to_the_function() -> None:
    outcomes = [
        EntryOutcome("ann", "ann", "graded", report({"f": 2.0, "g": 1.0})),
        EntryOutcome("Zoë", "Zoë.py", "graded", report({"f": 0.0, "g": 4.0}, {"f": "missing"})),
        EntryOutcome("bob", "bob", "failed", error="boom"),
    ]
    page = render_summary(summarise("a2", "A2", FUNCTIONS, 6.0, outcomes))
    assert cells(page, "ann") == [(fraction_colour(1.0), "ann/report.html#fn-f", "2"),
                                  (fraction_colour(0.25), "ann/report.html#fn-g", "1")]
    assert cells(page, "Zoë") == [(fraction_colour(0.0), "Zo%C3%AB/report.html#fn-f", "–"),
                                  (fraction_colour(1.0), "Zo%C3%AB/report.html#fn-g", "4")]
    assert fraction_colour(0.0) == "hsl(0, 62%, 80%)" and fraction_colour(1.0) == "hsl(120, 62%, 80%)"
    assert 'colspan="2">failed: not graded</td>' in page
    # read top-down: totals, then the matrix, then who needs a look, then the functions
    order = [page.index(f'id="{section}"') for section in ("totals", "scores", "attention", "functions", "entries")]
    assert order == sorted(order)


def test_function_rows_name_the_students_behind_each_diagnosis() -> None:
    bug = "dx is off by a factor 3: the mean was taken twice. More words follow."
    outcomes = [
        EntryOutcome("ann", "ann", "graded", report({"f": 0.0, "g": 4.0}, {"f": "failed"}, {"f": [bug]})),
        EntryOutcome("cat", "cat", "graded", report({"f": 0.0, "g": 4.0}, {"f": "failed"},
                                                    {"f": [bug.replace("3", "5")]})),
        EntryOutcome("dan", "dan", "graded", report({"f": 2.0, "g": 4.0})),
    ]
    summary = summarise("a2", "A2", FUNCTIONS, 6.0, outcomes)
    (group,) = summary.functions[0].diagnoses
    assert [s.entry for s in group.students] == ["ann", "cat"]
    assert group.headline == "dx is off by a factor 3: the mean was taken twice."
    page = render_summary(summary)
    row = page.split('<tr id="function-f">', 1)[1].split("</tr>", 1)[0]
    assert '<a href="ann/report.html#fn-f">ann</a>, <a href="cat/report.html#fn-f">cat</a>' in row
    assert ">0 / 2<" not in row and "0.67 / 2" in row and "1 of 3" in row  # mean, full marks
    assert "failed 2, passed 1" in row
    assert row.count("<svg") == 1  # f's scores differ
    g_row = page.split('<tr id="function-g">', 1)[1].split("</tr>", 1)[0]
    assert "<svg" not in g_row and "all 4" in g_row  # everyone got 4: no histogram


def test_entries_with_problems_are_listed_once_with_what_went_wrong() -> None:
    broken = report({"f": 0.0, "g": 0.0}, {"f": "error", "g": "crashed"})
    broken["functions"][0]["blocked_by"] = "layers"
    broken["problems"] = [{"module": "layers", "module_file": "layers.py", "kind": "import", "file": "layers.py",
                           "line": 3, "message": "SyntaxError: invalid syntax", "functions": ["f"]}]
    outcomes = [EntryOutcome("ann", "ann", "graded", broken),
                EntryOutcome("dan", "dan", "graded", report({"f": 2.0, "g": 4.0})),
                EntryOutcome("eve", "eve", "pending", error="not graded: the batch was interrupted first")]
    page = render_summary(summarise("a2", "A2", FUNCTIONS, 6.0, outcomes))
    attention = html_lib.unescape(page.split('id="attention"', 1)[1].split("</table>", 1)[0])
    assert "layers.py did not import: SyntaxError: invalid syntax (line 3); 1 function was not graded" in attention
    assert "g: crashed" in attention and "not graded: the batch was interrupted first" in attention
    assert ">dan<" not in attention
    assert "Incomplete:" in page and "1 of 3 entries were not graded" in page


def test_histogram_svg_is_inline_and_only_drawn_when_scores_vary() -> None:
    assert not varies([3.0, 3.0, 3.0]) and varies([3.0, 2.5]) and not varies([])
    svg = str(histogram_svg([0.0, 0.0, 3.0], 3.0, "scores of <f>"))
    assert svg.startswith("<svg") and svg.endswith("</svg>") and "scores of &lt;f&gt;" in svg
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]
    assert len(heights) == 2 and heights[0] == pytest.approx(2 * heights[1])  # two students at 0, one at 3
    assert "<title>2 students</title>" in svg and "<title>1 student</title>" in svg


# ------------------------------------------------------------------ a real batch: every link lands
def test_every_matrix_link_reaches_an_anchor_of_the_students_report(tmp_path: Path) -> None:
    (tmp_path / "dense.toml").write_text(DENSE_TOML)
    class_dir = tmp_path / "class"
    write_tree(class_dir, {
        "ann/cs231n/layers.py": CORRECT_VECTORISED,
        "ben/cs231n/layers.py": with_override(CORRECT_VECTORISED, """
            def relu_forward(x):
                return np.abs(x), x
        """),
        "Zoë/cs231n/layers.py": "def affine_forward(x, w, b:\n    return x\n",
    })
    out = tmp_path / "out"
    run_batch(class_dir, out, BatchOptions(assignment=str(tmp_path / "dense.toml"), profile="quick", jobs=1),
              progress=make_progress(quiet=True))
    page = (out / "summary.html").read_text()
    links = re.findall(r'href="([^"#]+)/report.html#([^"]+)"', page)
    assert {unquote(entry) for entry, _ in links} == {"ann", "ben", "Zoë"}
    assert len({(e, a) for e, a in links if "fn-" in a}) == 3 * 4  # every student x every function
    for entry, anchor in links:
        target = (out / unquote(entry) / "report.html").read_text()
        assert f'id="{anchor}"' in target, (entry, anchor)
    attention = page.split('id="attention"', 1)[1].split("</table>", 1)[0]
    assert "Zoë" in attention and "did not import" in attention and "ben" not in attention
